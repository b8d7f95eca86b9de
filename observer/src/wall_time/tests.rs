use jiff::{Timestamp, tz::TimeZone};

use super::*;

/// Central European time with its DST rules, from a POSIX TZ string: no tz database needed,
/// so the tests read the same on every machine.
fn berlin() -> TimeZone {
    TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap()
}

fn at(rfc3339: &str) -> Timestamp {
    rfc3339.parse().unwrap()
}

fn ns(rfc3339: &str) -> i128 {
    at(rfc3339).as_nanosecond()
}

#[test]
fn machine_times_are_utc_with_z() {
    assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000000Z");
    assert_eq!(
        rfc3339_utc(1_795_472_847_123_456_789),
        "2026-11-23T22:27:27.123456Z"
    );
    assert_eq!(
        rfc3339_utc(951_782_400_000_000_000),
        "2000-02-29T00:00:00.000000Z"
    );
    assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59.999999Z");
}

#[test]
fn people_get_the_zone_they_asked_for() {
    let winter = ns("2026-12-07T04:25:45.206548913Z");
    let summer = ns("2026-07-01T04:25:45.206548913Z");
    let local = Zone::of(berlin());
    assert_eq!(local.clock_us(winter), "05:25:45.206548");
    assert_eq!(local.clock_us(summer), "06:25:45.206548");
    assert_eq!(local.clock_ms(winter), "05:25:45.206");
    assert_eq!(local.stamp(winter), "2026-12-07T05:25:45.206548+01:00");
    assert_eq!(local.stamp(summer), "2026-07-01T06:25:45.206548+02:00");
    let utc = Zone::utc();
    assert_eq!(utc.clock_us(winter), "04:25:45.206548");
    assert_eq!(utc.stamp(winter), "2026-12-07T04:25:45.206548+00:00");
    assert_eq!(utc.describe(), "UTC");
    assert_eq!(local.describe(), "local time");
}

#[test]
fn crafted_extreme_times_do_not_panic() {
    for wall_ns in [i128::MIN, i128::MAX, i64::MIN.into(), i64::MAX.into()] {
        assert!(!rfc3339_utc(wall_ns).is_empty());
        assert!(!Zone::of(berlin()).clock_ms(wall_ns).is_empty());
    }
}

#[test]
fn since_reads_civil_times_in_the_zone() {
    let now = at("2026-12-07T04:50:00Z");
    let tz = berlin();
    let p = |s: &str| parse_instant(s, now, &tz);
    assert_eq!(p("2026-12-07 05:25"), Ok(at("2026-12-07T04:25:00Z")));
    assert_eq!(p("2026-12-07 05:25:45"), Ok(at("2026-12-07T04:25:45Z")));
    assert_eq!(p("2026-12-07 05:25:45.5"), Ok(at("2026-12-07T04:25:45.5Z")));
    assert_eq!(p("2026-07-01 05:25"), Ok(at("2026-07-01T03:25:00Z")));
    assert_eq!(p("2026-12-07"), Ok(at("2026-12-06T23:00:00Z")));
    assert_eq!(p("05:25"), Ok(at("2026-12-07T04:25:00Z")));
    // An explicit zone wins over the local one.
    assert_eq!(p("2026-12-07 05:25 UTC"), Ok(at("2026-12-07T05:25:00Z")));
    assert_eq!(p("2026-12-07 05:25Z"), Ok(at("2026-12-07T05:25:00Z")));
    assert_eq!(p("2026-11-23T22:27:27Z"), Ok(at("2026-11-23T22:27:27Z")));
    assert_eq!(
        p("2026-11-23T22:27:27.123456Z"),
        Ok(at("2026-11-23T22:27:27.123456Z"))
    );
    assert_eq!(
        p("2026-12-07T05:25:00+01:00"),
        Ok(at("2026-12-07T04:25:00Z"))
    );
    // The same text in UTC.
    assert_eq!(
        parse_instant("2026-12-07 05:25", now, &TimeZone::UTC),
        Ok(at("2026-12-07T05:25:00Z"))
    );
}

#[test]
fn since_reads_words_and_spans_like_journalctl() {
    // 00:30 in Berlin is still the 6th in UTC: "today" is the local day.
    let now = at("2026-12-06T23:30:00Z");
    let tz = berlin();
    let p = |s: &str| parse_instant(s, now, &tz);
    assert_eq!(p("now"), Ok(now));
    assert_eq!(p("today"), Ok(at("2026-12-06T23:00:00Z")));
    assert_eq!(p("yesterday"), Ok(at("2026-12-05T23:00:00Z")));
    assert_eq!(p("tomorrow"), Ok(at("2026-12-07T23:00:00Z")));
    assert_eq!(
        parse_instant("today", now, &TimeZone::UTC),
        Ok(at("2026-12-06T00:00:00Z"))
    );
    assert_eq!(p("-5min"), Ok(at("2026-12-06T23:25:00Z")));
    assert_eq!(p("+1h 30min"), Ok(at("2026-12-07T01:00:00Z")));
    assert_eq!(p("2d ago"), Ok(at("2026-12-04T23:30:00Z")));
    assert_eq!(p("-90"), Ok(at("2026-12-06T23:28:30Z")));
    assert_eq!(p("@1.5"), Ok(at("1970-01-01T00:00:01.5Z")));
    assert_eq!(p("@0"), Ok(at("1970-01-01T00:00:00Z")));
}

#[test]
fn since_across_a_dst_change() {
    let now = at("2026-12-07T04:50:00Z");
    let tz = berlin();
    // 2026-03-29 02:30 does not exist in Berlin (clocks jump 02:00 → 03:00): systemd's mktime
    // reads it as 03:30 CEST, the instant one hour after 01:30 CET.
    assert_eq!(
        parse_instant("2026-03-29 02:30", now, &tz),
        Ok(at("2026-03-29T01:30:00Z"))
    );
    // 2026-10-25 02:30 happens twice: the first (CEST) is taken.
    assert_eq!(
        parse_instant("2026-10-25 02:30", now, &tz),
        Ok(at("2026-10-25T00:30:00Z"))
    );
}

#[test]
fn since_refuses_what_it_cannot_read() {
    let now = at("2026-12-07T04:50:00Z");
    for bad in [
        "",
        "soon",
        "2026-13-01 00:00",
        "2026-02-30",
        "2026-12-07 24:00",
        "2026-12-07 05:61",
        "2026-12-07 05",
        "2026-12-07-01",
        "1:2:3:4",
        "-5 fortnights",
        "-",
        "@",
        "@-1",
        "@1e9",
        "+1.2.3h",
    ] {
        let got = parse_instant(bad, now, &TimeZone::UTC);
        assert!(got.is_err(), "{bad:?} was read as {got:?}");
    }
}

#[test]
fn bounds_keep_both_readings() {
    let b = TimeBound::parse("2026-12-07 05:25 UTC").unwrap();
    assert_eq!(b.wall_ns(true), ns("2026-12-07T05:25:00Z"));
    assert_eq!(b.wall_ns(false), ns("2026-12-07T05:25:00Z"));
    let b = TimeBound::parse("2026-12-07 05:25").unwrap();
    assert_eq!(b.wall_ns(true), ns("2026-12-07T05:25:00Z"));
    assert!(TimeBound::parse("yesterday-ish").is_err());
}

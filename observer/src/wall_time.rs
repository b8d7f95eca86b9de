//! Wall-clock times as the observer writes and reads them.
//!
//! People get local time, as journalctl prints it, so a table row and a journal line of the same
//! moment read the same; `--utc` gives UTC, as `journalctl --utc` does. Programs get RFC 3339
//! UTC with `Z` whatever the zone (JSON `ts`, journal fields, recordings): a recording made in
//! one zone reads the same in another. `--since`/`--until` are read the way journalctl reads
//! them. Every function here is pure: the zone and "now" are arguments, so tests pin both.

use jiff::{
    Span, Timestamp, Zoned,
    civil::{self, DateTime},
    tz::TimeZone,
};

/// The zone times are shown to people in: the system's (TZ, then /etc/localtime), or UTC.
#[derive(Clone, Debug)]
pub struct Zone(TimeZone);

impl Zone {
    pub fn utc() -> Self {
        Self(TimeZone::UTC)
    }

    /// The system's zone, or UTC with `--utc`.
    pub fn from_utc_flag(utc: bool) -> Self {
        if utc {
            Self::utc()
        } else {
            Self(TimeZone::system())
        }
    }

    pub fn of(tz: TimeZone) -> Self {
        Self(tz)
    }

    /// "HH:MM:SS.ffffff": the table's TIME column and its correction lines.
    pub fn clock_us(&self, wall_ns: i128) -> String {
        let t = self.civil(wall_ns);
        format!("{}.{:06}", hms(t), t.subsec_nanosecond() / 1000)
    }

    /// "HH:MM:SS.fff": diagnose stories, the report's rows and chart.
    pub fn clock_ms(&self, wall_ns: i128) -> String {
        let t = self.civil(wall_ns);
        format!("{}.{:03}", hms(t), t.subsec_nanosecond() / 1_000_000)
    }

    /// The whole instant with its offset ("2026-12-07T05:25:45.206548+01:00"), where a reader
    /// may not know which zone the page was made in (the report's tooltips and header).
    pub fn stamp(&self, wall_ns: i128) -> String {
        let z = self.zoned(wall_ns);
        let t = z.datetime();
        format!(
            "{}T{}.{:06}{}",
            t.date(),
            hms(t),
            t.subsec_nanosecond() / 1000,
            offset_text(z.offset().seconds())
        )
    }

    /// How the zone is named to a reader: "UTC", or "local time (Europe/Berlin)".
    pub fn describe(&self) -> String {
        if self.0 == TimeZone::UTC {
            return "UTC".into();
        }
        match self.0.iana_name() {
            Some(name) => format!("local time ({name})"),
            None => "local time".into(),
        }
    }

    fn zoned(&self, wall_ns: i128) -> Zoned {
        instant(wall_ns).to_zoned(self.0.clone())
    }

    fn civil(&self, wall_ns: i128) -> DateTime {
        self.0.to_datetime(instant(wall_ns))
    }
}

/// "+01:00", "-03:30", "+00:00" (RFC 3339's form; jiff's Display would write "+01").
fn offset_text(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let m = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

fn hms(t: DateTime) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// The instant `wall_ns` (nanoseconds since the epoch) names. Only a damaged or crafted
/// recording holds one outside the years -9999..=9999; it is shown as the nearest end.
fn instant(wall_ns: i128) -> Timestamp {
    Timestamp::from_nanosecond(wall_ns).unwrap_or(if wall_ns < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// RFC 3339 UTC with microseconds ("2026-11-23T22:27:27.123456Z"): the machine formats' time.
pub fn rfc3339_utc(wall_ns: i128) -> String {
    let t = TimeZone::UTC.to_datetime(instant(wall_ns));
    format!(
        "{}T{}.{:06}Z",
        t.date(),
        hms(t),
        t.subsec_nanosecond() / 1000
    )
}

/// A `--since`/`--until` bound, resolved both ways when it is parsed: clap parses it before it
/// knows whether `--utc` was given, and "today" or "-5min" must name one "now" either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeBound {
    local_ns: i128,
    utc_ns: i128,
}

impl TimeBound {
    /// The instant in nanoseconds since the epoch, a civil time read as UTC with `--utc`.
    pub fn wall_ns(self, utc: bool) -> i128 {
        if utc { self.utc_ns } else { self.local_ns }
    }

    /// An instant that reads the same in either zone (nanoseconds since the epoch).
    pub fn at(wall_ns: i128) -> Self {
        Self {
            local_ns: wall_ns,
            utc_ns: wall_ns,
        }
    }

    /// For clap: `s` read against the system's zone and UTC, at this moment.
    pub fn parse(s: &str) -> Result<Self, String> {
        let now = Timestamp::now();
        Ok(Self {
            local_ns: parse_instant(s, now, &TimeZone::system())?.as_nanosecond(),
            utc_ns: parse_instant(s, now, &TimeZone::UTC)?.as_nanosecond(),
        })
    }
}

/// An instant as journalctl's `--since` reads it (systemd's parse_timestamp): "YYYY-MM-DD
/// HH:MM[:SS[.frac]]", "YYYY-MM-DD" (midnight), "HH:MM[:SS]" (today), each in `tz` unless it
/// ends in " UTC" or "Z"; RFC 3339 with an offset; "now", "today", "yesterday", "tomorrow";
/// "-5min", "+1h 30min", "2d ago"; "@UNIX_SECONDS".
pub fn parse_instant(s: &str, now: Timestamp, tz: &TimeZone) -> Result<Timestamp, String> {
    let bad = || {
        format!(
            "not a time: {s} (use \"YYYY-MM-DD HH:MM[:SS]\", \"today\", \"yesterday\", \"-5min\" or @UNIX_SECONDS)"
        )
    };
    let t = s.trim();
    let today = || -> Result<Zoned, String> {
        now.to_zoned(tz.clone())
            .start_of_day()
            .map_err(|e| e.to_string())
    };
    let days_from_today = |n: i64| -> Result<Timestamp, String> {
        Ok(today()?
            .checked_add(Span::new().days(n))
            .map_err(|e| e.to_string())?
            .timestamp())
    };
    match t {
        "now" => return Ok(now),
        "today" => return days_from_today(0),
        "yesterday" => return days_from_today(-1),
        "tomorrow" => return days_from_today(1),
        _ => {}
    }
    if let Some(secs) = t.strip_prefix('@') {
        let ns = decimal_ns(secs, 1_000_000_000).ok_or_else(bad)?;
        return Timestamp::from_nanosecond(ns).map_err(|_| bad());
    }
    let relative = if let Some(r) = t.strip_prefix('-') {
        Some((r, -1))
    } else if let Some(r) = t.strip_prefix('+') {
        Some((r, 1))
    } else if let Some(r) = t.strip_suffix(" ago") {
        Some((r, -1))
    } else {
        t.strip_suffix(" left").map(|r| (r, 1))
    };
    if let Some((span, sign)) = relative {
        let ns = span_ns(span).ok_or_else(bad)?;
        return Timestamp::from_nanosecond(now.as_nanosecond() + sign * ns).map_err(|_| bad());
    }
    // RFC 3339 with an offset ("…T22:27:27Z", "…+01:00"), as the JSON's `ts` is written.
    if let Ok(ts) = t.parse::<Timestamp>() {
        return Ok(ts);
    }
    let (civil_text, zone) = match t.strip_suffix(" UTC").or_else(|| t.strip_suffix('Z')) {
        Some(rest) => (rest.trim_end(), &TimeZone::UTC),
        None => (t, tz),
    };
    let dt = civil_time(civil_text, now, zone).ok_or_else(bad)?;
    // A civil time a DST change skips or repeats: the earlier reading, as systemd's mktime does.
    zone.to_ambiguous_timestamp(dt)
        .compatible()
        .map_err(|_| bad())
}

/// "YYYY-MM-DD[ HH:MM[:SS[.frac]]]" or "HH:MM[:SS[.frac]]" (today in `tz`).
fn civil_time(s: &str, now: Timestamp, tz: &TimeZone) -> Option<DateTime> {
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (Some(d), Some(t)),
        None if s.contains(':') => (None, Some(s)),
        None => (Some(s), None),
    };
    let date = match date {
        Some(d) => {
            let mut parts = d.split('-');
            let y: i16 = parts.next()?.parse().ok()?;
            let m: i8 = parts.next()?.parse().ok()?;
            let day: i8 = parts.next()?.parse().ok()?;
            if parts.next().is_some() {
                return None;
            }
            civil::Date::new(y, m, day).ok()?
        }
        None => tz.to_datetime(now).date(),
    };
    let Some(time) = time else {
        return Some(date.to_datetime(civil::Time::midnight()));
    };
    let mut hms = time.trim().split(':');
    let h: i8 = hms.next()?.parse().ok()?;
    let mi: i8 = hms.next()?.parse().ok()?;
    let (sec, ns) = match hms.next() {
        Some(sec) => {
            let ns = decimal_ns(sec, 1_000_000_000)?;
            (
                i8::try_from(ns / 1_000_000_000).ok()?,
                (ns % 1_000_000_000) as i32,
            )
        }
        None => (0, 0),
    };
    if hms.next().is_some() {
        return None;
    }
    let time = civil::Time::new(h, mi, sec, ns).ok()?;
    Some(date.to_datetime(time))
}

/// A non-negative decimal ("12", "1.5") times `unit`, exactly (no float rounding).
fn decimal_ns(s: &str, unit: i128) -> Option<i128> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = int.parse::<i128>().ok()?.checked_mul(unit)?;
    let mut part = 0i128;
    let mut scale = unit;
    for d in frac.bytes().take(18) {
        scale /= 10;
        part += i128::from(d - b'0') * scale;
    }
    whole.checked_add(part)
}

/// A span as systemd writes one ("5min", "1h 30min", "2d", "90s", "1.5h"), in nanoseconds.
fn span_ns(s: &str) -> Option<i128> {
    const SEC: i128 = 1_000_000_000;
    let mut total = 0i128;
    let mut rest = s.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_end);
        let unit_end = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let per = match unit {
            "" | "s" | "sec" | "second" | "seconds" => SEC,
            "ms" | "msec" => SEC / 1000,
            "us" | "usec" => SEC / 1_000_000,
            "m" | "min" | "minute" | "minutes" => 60 * SEC,
            "h" | "hr" | "hour" | "hours" => 3600 * SEC,
            "d" | "day" | "days" => 86_400 * SEC,
            "w" | "week" | "weeks" => 7 * 86_400 * SEC,
            _ => return None,
        };
        total = total.checked_add(decimal_ns(num, per)?)?;
        rest = after.trim_start();
    }
    Some(total)
}

#[cfg(test)]
mod tests;

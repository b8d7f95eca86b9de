use super::*;

/// --since is read in UTC with --utc, wherever --utc stands on the line.
#[test]
fn since_and_utc_together() {
    let filter = |argv: &[&str]| match Cli::try_parse_from(argv).unwrap().command {
        Command::Replay(r) => r.filter,
        other => panic!("{other:?}"),
    };
    let f = filter(&[
        "observer",
        "replay",
        "f.rec",
        "--since",
        "1970-01-01 00:00",
        "--utc",
    ]);
    assert!(f.utc);
    assert_eq!(f.since.map(|b| b.wall_ns(f.utc)), Some(0));
    let f = filter(&["observer", "replay", "--until", "@1.5", "f.rec"]);
    assert_eq!(f.until.map(|b| b.wall_ns(f.utc)), Some(1_500_000_000));
    assert!(Cli::try_parse_from(["observer", "replay", "f", "--since", "soon"]).is_err());
}

#[test]
fn sizes_and_ages() {
    assert_eq!(parse_size("64M"), Ok(64 << 20));
    assert_eq!(parse_size("8192"), Ok(8192));
    assert_eq!(
        parse_size("12"),
        Err("12: sizes start at 4096 bytes".into())
    );
    assert_eq!(
        parse_size("99999999999G"),
        Err("99999999999G: too large (at most 18446744073709551615 bytes)".into())
    );
    assert!(
        parse_size("99999999999999999999")
            .unwrap_err()
            .starts_with("not a size")
    );
    assert_eq!(parse_age("1d"), Ok(Duration::from_secs(86_400)));
    assert_eq!(parse_age("90"), Ok(Duration::from_secs(90)));
}

mod limits {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        Cli::try_parse_from([&["observer"], args].concat()).map_err(|e| e.to_string())
    }

    /// Values that would attach and exit at once, loop for ever or overflow are usage errors,
    /// each saying what is wrong.
    #[test]
    fn nonsense_values_are_usage_errors() {
        for (args, says) in [
            (&["trace", "-n", "0"][..], "must be at least 1"),
            (&["trace", "--duration", "0"], "must be more than 0 seconds"),
            (
                &["diagnose", "--duration", "0.0"],
                "must be more than 0 seconds",
            ),
            (
                &["trace", "--ring-size", "4294967296"],
                "too large: at most 2147483648",
            ),
            (&["trace", "--ring-size", "12k"], "not a byte count"),
            (
                &["record", "-o", "x", "--max-size", "99999999999G"],
                "too large",
            ),
            (
                &["record", "-o", "x", "--keep", "4294967295"],
                "at most 1000 rotated files",
            ),
            (&["replay", "-u", "[", "x.rec"], "unclosed '['"),
            (&["trace", "-u", "foo[.service"], "unclosed '['"),
            (
                &["trace", "--metrics-listen", "localhost"],
                "invalid socket address",
            ),
            (&["trace", "--metrics-max-units", "0"], "must be at least 1"),
            (
                &["record", "-o", "x", "--metrics-max-units", "100001"],
                "at most 100000 units",
            ),
        ] {
            let e = parse(args).expect_err(&format!("{args:?} accepted"));
            assert!(e.contains(says), "{args:?}: {e}");
        }
        assert!(parse(&["trace", "-n", "1", "--duration", "0.5"]).is_ok());
        assert!(parse(&["trace", "--ring-size", "2147483648"]).is_ok());
        assert!(parse(&["record", "-o", "x", "--keep", "1000"]).is_ok());
        assert!(parse(&["replay", "-u", "tb-[a-z]*", "x.rec"]).is_ok());
        assert!(parse(&["trace", "--metrics-listen", "[::1]:9812"]).is_ok());
    }
}

//! Command-line interface. Every subcommand's options live here, so the man page and
//! completions can be generated from one definition.

use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "observer", version, about = "Shows every datagram sent to systemd's notify socket", long_about = None)]
pub struct Cli {
    /// More diagnostics on stderr, including kernel-side logs (aya-log).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Trace notify datagrams live.
    Trace(TraceArgs),
    /// Record notify traffic, unit changes and verdicts to a file, for replay and diagnose.
    Record(RecordArgs),
    /// Show a recording with the same views and filters as trace (no root, BPF or systemd needed).
    Replay(ReplayArgs),
    /// Tell each unit's story in plain words: what it was waiting for, what arrived, what
    /// systemd did with it, and the likely cause with the fix. Live when no FILE is given.
    Diagnose(DiagnoseArgs),
    /// Write one self-contained HTML page for a recording: per unit a timeline of its states,
    /// each message coloured by its verdict, timeouts and MainPID handovers, beside the
    /// diagnose text.
    Report(ReportArgs),
    /// Say which capture strategies this kernel allows, and why any is refused.
    Check {
        /// One JSON document instead of the table (for programs).
        #[arg(long)]
        json: bool,
    },
    /// Attach do-nothing programs where `trace --probe P` hooks, until interrupted: a load run
    /// beside it shows what the kernel charges for the hooks alone, whatever programs run there
    /// (the benches' floor).
    HookFloor {
        /// Capture strategy whose hooks to take; `auto` as for trace.
        #[arg(long, value_enum, default_value_t = Probe::Auto)]
        probe: Probe,
    },
}

#[derive(Args, Debug, Clone)]
pub struct RecordArgs {
    /// The recording file (created 0600; an existing one is rotated to FILE.1 first).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: std::path::PathBuf,
    /// Start a new file when this one reaches SIZE bytes (suffixes K, M, G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "64M")]
    pub max_size: u64,
    /// Start a new file when this one is this old (seconds; suffixes s, m, h, d).
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub max_age: Option<Duration>,
    /// Rotated files to keep (FILE.1 newest … FILE.N oldest; at most 1000).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = parse_keep)]
    pub keep: u32,
    /// fdatasync the file this often (seconds); records are written at once either way.
    #[arg(long, value_name = "SECS", value_parser = parse_secs, default_value = "1")]
    pub sync_every: Duration,
    #[command(flatten)]
    pub trace: TraceArgs,
}

#[derive(Args, Debug, Clone)]
pub struct ReplayArgs {
    /// Recording files (rotated ones too, in any order: they are read oldest first).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<std::path::PathBuf>,
    #[command(flatten)]
    pub filter: ReplayFilter,
    /// One JSON object per line instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// What to show of a recording.
#[derive(Args, Debug, Clone, Default)]
pub struct ReplayFilter {
    /// Only messages for these units (repeatable; globs like journalctl -u).
    #[arg(short = 'u', long = "unit", value_name = "UNIT", value_parser = parse_glob)]
    pub units: Vec<String>,
    /// Only from this time on: RFC 3339 / "YYYY-MM-DD HH:MM[:SS]" (UTC), or @UNIX_SECONDS.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub since: Option<i128>,
    /// Only up to this time (same forms as --since).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub until: Option<i128>,
    /// Only datagrams sent by these PIDs (repeatable).
    #[arg(long = "pid", value_name = "PID")]
    pub pids: Vec<u32>,
    /// Read past damage: skip to the next intact record instead of stopping at the first bad one.
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ReportArgs {
    /// Recording files (rotated ones too: one recording, one page).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// The HTML page to write ("-": stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: std::path::PathBuf,
    #[command(flatten)]
    pub filter: ReplayFilter,
}

#[derive(Args, Debug, Clone)]
pub struct DiagnoseArgs {
    /// Recordings to explain; none: trace live and explain as units settle.
    #[arg(value_name = "FILE")]
    pub files: Vec<std::path::PathBuf>,
    #[command(flatten)]
    pub filter: ReplayFilter,
    /// Live only: stop after this long (seconds); default: until interrupted.
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Live only: watch this socket too (path or @name, repeatable).
    #[arg(long = "socket", value_name = "PATH|@NAME")]
    pub sockets: Vec<String>,
    /// Live only: capture strategy.
    #[arg(long, value_enum, default_value_t = Probe::Auto)]
    pub probe: Probe,
    /// Live only: which containers' managers to ask about their units (as for trace).
    #[arg(long, value_enum, default_value_t = Containers::Trusted)]
    pub containers: Containers,
}

#[derive(Args, Debug, Clone)]
pub struct TraceArgs {
    /// Capture strategy; `auto` picks the best one the running kernel allows.
    #[arg(long, value_enum, default_value_t = Probe::Auto)]
    pub probe: Probe,
    /// Also watch this socket: a path, or @name for an abstract socket (repeatable).
    #[arg(long = "socket", value_name = "PATH|@NAME")]
    pub sockets: Vec<String>,
    /// Treat this process as the reader of the --socket sockets it holds open, as systemd is of
    /// its own: its reads are captured, so events show whether and when it read each datagram
    /// and with which credentials (repeatable).
    #[arg(long = "receiver", value_name = "PID")]
    pub receivers: Vec<u32>,
    /// Watch only the --socket sockets, not the system, user and container managers' ones.
    #[arg(long)]
    pub no_default_sockets: bool,
    /// Which containers' managers to ask about their units (docs/OPERATIONS.md, "Trust model").
    /// Every container's datagrams are shown whatever this says; the others' verdicts are
    /// `unknown`.
    #[arg(long, value_enum, default_value_t = Containers::Trusted)]
    pub containers: Containers,
    /// Only messages for these units (repeatable; globs like journalctl -u).
    #[arg(short = 'u', long = "unit", value_name = "UNIT", value_parser = parse_glob)]
    pub units: Vec<String>,
    /// One JSON object per line instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Exit after this many events (at least 1).
    #[arg(short = 'n', long = "count", value_name = "N", value_parser = parse_count)]
    pub count: Option<u64>,
    /// Exit after this long (seconds, fractions allowed; more than 0).
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Ring buffer size in bytes (a power of two, at least one page).
    #[arg(long, default_value_t = 4 * 1024 * 1024, value_parser = parse_ring_size)]
    pub ring_size: u32,
    /// Structured entries in the systemd journal instead of the table, attached to the sender's
    /// unit (journalctl -u shows them next to the unit's own lines).
    #[arg(long, conflicts_with = "json")]
    pub journal: bool,
    /// With --journal: every event, or only rejections, failed sends and ring drops.
    #[arg(long, value_enum, default_value_t = JournalLevel::All)]
    pub journal_level: JournalLevel,
    /// With --journal: write every entry to the journald of the container whose init
    /// has this host PID. Default: each event goes to the journal of the system whose manager
    /// owns the socket it was sent to (a container's events to that container's journal).
    #[arg(long, value_name = "PID")]
    pub journal_container: Option<u32>,
    #[command(flatten)]
    pub metrics: MetricsArgs,
}

/// Prometheus metrics of the notify traffic (docs/METRICS.md), beside any other output.
#[derive(Args, Debug, Clone)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at http://ADDR/metrics (OpenMetrics or the classic text
    /// format, as the scraper asks), e.g. 127.0.0.1:9812.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Write Prometheus metrics to this file (classic text format, replaced atomically every
    /// 5 s and at exit): a *.prom file in node_exporter's textfile collector directory.
    #[arg(long, value_name = "PATH")]
    pub metrics_file: Option<std::path::PathBuf>,
    /// Managers and units with series of their own (each counts one); later units share
    /// unit="(overflow)".
    #[arg(long, value_name = "N", default_value_t = crate::sink::metrics::UNITS_MAX_DEFAULT,
          value_parser = parse_units_max)]
    pub metrics_max_units: usize,
}

impl Default for MetricsArgs {
    fn default() -> Self {
        Self {
            metrics_listen: None,
            metrics_file: None,
            metrics_max_units: crate::sink::metrics::UNITS_MAX_DEFAULT,
        }
    }
}

impl MetricsArgs {
    /// The sink's configuration; `units`: the run's -u globs.
    pub fn config(&self, units: &[String]) -> crate::sink::metrics::MetricsConfig {
        crate::sink::metrics::MetricsConfig {
            listen: self.metrics_listen,
            file: self.metrics_file.clone(),
            units_max: self.metrics_max_units,
            units: units.to_vec(),
        }
    }
}

/// Most units with series of their own: each costs memory in every scrape and in Prometheus.
const UNITS_MAX_MAX: usize = 100_000;

fn parse_units_max(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) if n <= UNITS_MAX_MAX => Ok(n),
        Ok(_) => Err(format!("{s}: at most {UNITS_MAX_MAX} units")),
        Err(_) => Err(format!("not a number of units: {s}")),
    }
}

/// `--containers`: which containers' managers are spoken to.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Containers {
    /// Those whose user namespace is the host's (their root is the host's root), as root.
    Trusted,
    /// Also those in user namespaces of their own, as the namespace's owner; what they say is
    /// labelled untrusted.
    All,
    /// None: only the host's managers are asked.
    None,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalLevel {
    /// Every event.
    All,
    /// Rejected and undelivered datagrams, and ring-buffer drops.
    Rejections,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Auto,
    Fentry,
    Tracepoint,
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("not a number of seconds: {s}"))?;
    if !(0.0..=1e9).contains(&secs) {
        return Err(format!("out of range: {s}"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `--duration`: a stop that comes before the start is a mistake, not a request.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = parse_secs(s)?;
    if d.is_zero() {
        return Err(format!("{s}: must be more than 0 seconds"));
    }
    Ok(d)
}

/// `-n`: 0 events would stop before anything is shown.
fn parse_count(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("not a number of events: {s}")),
    }
}

/// The largest ring buffer: the largest power of two a u32 (the map's size) holds.
const RING_SIZE_MAX: u64 = 1 << 31;

fn parse_ring_size(s: &str) -> Result<u32, String> {
    let n: u64 = s.parse().map_err(|_| format!("not a byte count: {s}"))?;
    if n > RING_SIZE_MAX {
        return Err(format!(
            "{n} is too large: at most {RING_SIZE_MAX} bytes (2 GiB)"
        ));
    }
    if n < 4096 || !n.is_power_of_two() {
        return Err(format!("{n} is not a power of two of at least 4096"));
    }
    Ok(n as u32)
}

/// Most rotated files kept: rotation renames each one, so a few billion would never end.
const KEEP_MAX: u32 = 1000;

fn parse_keep(s: &str) -> Result<u32, String> {
    match s.parse::<u64>() {
        Ok(n) if n <= u64::from(KEEP_MAX) => Ok(n as u32),
        Ok(_) => Err(format!("{s}: at most {KEEP_MAX} rotated files can be kept")),
        Err(_) => Err(format!("not a number of files: {s}")),
    }
}

/// `-u`: a glob systemd's unit names can be matched against (see unit_glob.rs).
fn parse_glob(s: &str) -> Result<String, String> {
    crate::unit_glob::check(s).map(|()| s.to_owned())
}

/// "64M", "1G", "4096" → bytes.
fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 1u64 << 10),
        Some((i, 'M' | 'm')) => (&s[..i], 1 << 20),
        Some((i, 'G' | 'g')) => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("not a size: {s}"))?;
    match n.checked_mul(mult) {
        None => Err(format!("{s}: too large (at most {} bytes)", u64::MAX)),
        Some(n) if n < 4096 => Err(format!("{s}: sizes start at 4096 bytes")),
        Some(n) => Ok(n),
    }
}

/// "90", "90s", "15m", "12h", "1d" → a duration.
fn parse_age(s: &str) -> Result<Duration, String> {
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1u64),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86_400),
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("not an age: {s}"))?;
    Ok(Duration::from_secs(n.saturating_mul(mult).max(1)))
}

/// A wall-clock instant as nanoseconds since the epoch: "2026-11-24T03:12:00Z",
/// "2026-11-24 03:12[:00[.5]]" (UTC), or "@1795000000".
pub fn parse_time(s: &str) -> Result<i128, String> {
    let bad = || format!("not a time: {s} (use YYYY-MM-DD HH:MM[:SS] in UTC, or @UNIX_SECONDS)");
    if let Some(secs) = s.strip_prefix('@') {
        let f: f64 = secs.parse().map_err(|_| bad())?;
        return Ok((f * 1e9) as i128);
    }
    let t = s.trim_end_matches('Z').replace('T', " ");
    let (date, time) = t.split_once(' ').unwrap_or((&t, "00:00"));
    let d: Vec<i64> = date
        .split('-')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|_| bad())?;
    let [y, mo, da] = d[..] else {
        return Err(bad());
    };
    let mut hms = time.split(':');
    let h: i64 = hms.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let mi: i64 = hms.next().and_then(|x| x.parse().ok()).ok_or_else(bad)?;
    let sec: f64 = hms.next().map_or(Ok(0.0), str::parse).map_err(|_| bad())?;
    if !(1..=12).contains(&mo)
        || !(1..=31).contains(&da)
        || h > 23
        || mi > 59
        || !(0.0..61.0).contains(&sec)
    {
        return Err(bad());
    }
    let days = days_from_civil(y, mo as u32, da as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60;
    Ok(secs as i128 * 1_000_000_000 + (sec * 1e9) as i128)
}

/// (year, month, day) → days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01 00:00"), Ok(0));
        assert_eq!(parse_time("@1.5"), Ok(1_500_000_000));
        assert_eq!(
            parse_time("2026-11-23T22:27:27Z"),
            Ok(1_795_472_847_000_000_000)
        );
        assert_eq!(
            parse_time("2000-02-29 00:00:00"),
            Ok(951_782_400_000_000_000)
        );
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2026-13-01").is_err());
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
}

#[cfg(test)]
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

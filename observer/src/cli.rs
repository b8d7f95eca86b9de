//! Command-line interface. Every subcommand's options live here, so the man page and
//! completions can be generated from one definition.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::wall_time::TimeBound;
// The option values are the domain's own enums (they derive clap's ValueEnum where they
// live), so that nothing below the commands imports this module.
use crate::{capture::Probe, sink::journal::JournalLevel, trust::Containers};

/// `--probe`'s values; the capture layer's own type is `capture::Probe`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeArg {
    Auto,
    Fentry,
    Tracepoint,
}

impl From<ProbeArg> for Probe {
    fn from(p: ProbeArg) -> Self {
        match p {
            ProbeArg::Auto => Probe::Auto,
            ProbeArg::Fentry => Probe::Fentry,
            ProbeArg::Tracepoint => Probe::Tracepoint,
        }
    }
}

/// `--containers`' values; the judge's own type is `trust::Containers`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContainersArg {
    /// Those whose user namespace is the host's (their root is the host's root), as root.
    Trusted,
    /// Also those in user namespaces of their own, as the namespace's owner; what they say is
    /// labelled untrusted.
    All,
    /// None: only the host's managers are asked.
    None,
}

impl From<ContainersArg> for Containers {
    fn from(c: ContainersArg) -> Self {
        match c {
            ContainersArg::Trusted => Containers::Trusted,
            ContainersArg::All => Containers::All,
            ContainersArg::None => Containers::None,
        }
    }
}

/// `--journal-level`'s values; the journal sink's own type is `JournalLevel`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalLevelArg {
    /// Every event.
    All,
    /// Rejected and undelivered datagrams, and ring-buffer drops.
    Rejections,
}

impl From<JournalLevelArg> for JournalLevel {
    fn from(l: JournalLevelArg) -> Self {
        match l {
            JournalLevelArg::All => JournalLevel::All,
            JournalLevelArg::Rejections => JournalLevel::Rejections,
        }
    }
}

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
        #[arg(long, value_enum, default_value_t = ProbeArg::Auto)]
        probe: ProbeArg,
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
    /// Only from this time on, read as journalctl reads it: "YYYY-MM-DD HH:MM[:SS]" (local
    /// time; UTC with --utc or a " UTC" suffix), RFC 3339, "today", "yesterday", "-5min",
    /// "1h ago", or @UNIX_SECONDS.
    #[arg(long, value_name = "TIME", value_parser = TimeBound::parse)]
    pub since: Option<TimeBound>,
    /// Only up to this time (same forms as --since).
    #[arg(long, value_name = "TIME", value_parser = TimeBound::parse)]
    pub until: Option<TimeBound>,
    /// Show times, and read --since/--until, in UTC instead of local time (as journalctl --utc).
    #[arg(long)]
    pub utc: bool,
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
    #[arg(long, value_enum, default_value_t = ProbeArg::Auto)]
    pub probe: ProbeArg,
    /// Live only: which containers' managers to ask about their units (as for trace).
    #[arg(long, value_enum, default_value_t = ContainersArg::Trusted)]
    pub containers: ContainersArg,
}

#[derive(Args, Debug, Clone)]
pub struct TraceArgs {
    /// Capture strategy; `auto` picks the best one the running kernel allows.
    #[arg(long, value_enum, default_value_t = ProbeArg::Auto)]
    pub probe: ProbeArg,
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
    #[arg(long, value_enum, default_value_t = ContainersArg::Trusted)]
    pub containers: ContainersArg,
    /// Only messages for these units (repeatable; globs like journalctl -u).
    #[arg(short = 'u', long = "unit", value_name = "UNIT", value_parser = parse_glob)]
    pub units: Vec<String>,
    /// One JSON object per line instead of the table.
    #[arg(long)]
    pub json: bool,
    /// The table's times in UTC instead of local time (as journalctl --utc); JSON and journal
    /// fields are UTC either way.
    #[arg(long)]
    pub utc: bool,
    /// Exit after this many events (at least 1).
    #[arg(short = 'n', long = "count", value_name = "N", value_parser = parse_count)]
    pub count: Option<u64>,
    /// Exit after this long (seconds, fractions allowed; more than 0).
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Ring buffer size in bytes (a power of two, at least one page).
    #[arg(long, default_value_t = crate::pipeline::RING_SIZE_DEFAULT, value_parser = parse_ring_size)]
    pub ring_size: u32,
    /// Structured entries in the systemd journal instead of the table, attached to the sender's
    /// unit (journalctl -u shows them next to the unit's own lines).
    #[arg(long, conflicts_with = "json")]
    pub journal: bool,
    /// With --journal: every event, or only rejections, failed sends and ring drops.
    #[arg(long, value_enum, default_value_t = JournalLevelArg::All)]
    pub journal_level: JournalLevelArg,
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

#[cfg(test)]
mod tests;

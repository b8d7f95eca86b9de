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
    /// Say which capture strategies this kernel allows, and why any is refused.
    Check,
}

#[derive(Args, Debug, Clone)]
pub struct TraceArgs {
    /// Capture strategy; `auto` picks the best one the running kernel allows.
    #[arg(long, value_enum, default_value_t = Probe::Auto)]
    pub probe: Probe,
    /// Also watch this socket: a path, or @name for an abstract socket (repeatable).
    #[arg(long = "socket", value_name = "PATH|@NAME")]
    pub sockets: Vec<String>,
    /// Watch only the --socket sockets, not the system, user and container managers' ones.
    #[arg(long)]
    pub no_default_sockets: bool,
    /// Only messages for these units (repeatable; globs like journalctl -u).
    #[arg(short = 'u', long = "unit", value_name = "UNIT")]
    pub units: Vec<String>,
    /// One JSON object per line instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Exit after this many events.
    #[arg(short = 'n', long = "count", value_name = "N")]
    pub count: Option<u64>,
    /// Exit after this long (seconds, fractions allowed).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub duration: Option<Duration>,
    /// Ring buffer size in bytes (a power of two, at least one page).
    #[arg(long, default_value_t = 4 * 1024 * 1024, value_parser = parse_ring_size)]
    pub ring_size: u32,
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

fn parse_ring_size(s: &str) -> Result<u32, String> {
    let n: u32 = s.parse().map_err(|_| format!("not a byte count: {s}"))?;
    if n < 4096 || !n.is_power_of_two() {
        return Err(format!("{n} is not a power of two of at least 4096"));
    }
    Ok(n)
}

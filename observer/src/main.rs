//! observer: shows every datagram sent to systemd's notify socket.
//!
//! The pipeline, one module per step: capture (kernel programs) → ring → decode → sinks.
//! `trace` wires them together.

mod btf;
mod capture;
mod check;
mod cli;
mod correlate;
mod decode;
mod delivery;
mod diagnose;
mod judge;
mod manager;
mod notify;
mod preflight;
mod readers;
mod recording;
mod replay;
mod sink;
mod trace;
// Not declared before, so never compiled; manager.rs fills its UnitState.
mod verdict;
mod watch;

use std::process::ExitCode;

use clap::Parser as _;
use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e.into()),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Trace(args) => trace::run(args, cli.verbose).await,
            Command::Record(args) => trace::record(args, cli.verbose).await,
            Command::Replay(args) => replay::run(args),
            Command::Diagnose(args) => diagnose::run(args, cli.verbose).await,
            Command::Check => check::run(),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Errors end the run with one line: what went wrong and, where we know, what to do.
fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("observer: error: {e:#}");
    ExitCode::FAILURE
}

//! The `observer` command: parses the command line and runs one subcommand of the library
//! (lib.rs holds the pipeline).

use std::process::ExitCode;

use clap::Parser as _;
use observer::{
    check,
    cli::{Cli, Command},
    diagnose, hook_floor, replay, report, trace,
};

fn main() -> ExitCode {
    // Started as the journal relay (by the journal sink, under this name): not a user command.
    if let Some(code) = observer::journal_relay_main() {
        return code;
    }
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
            Command::Report(args) => report::run(args),
            Command::Check => check::run(),
            Command::HookFloor { probe } => hook_floor::run(probe).await,
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

//! The `observer` command: parses the command line and runs one subcommand of the library
//! (lib.rs holds the pipeline).

use std::process::ExitCode;

use clap::Parser as _;
use observer::{
    check,
    cli::{Cli, Command},
    diagnose, hook_floor, record, replay, report, safe_text, trace,
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
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        // env_logger's own layout, the message escaped: log lines quote managers and kernels.
        .format(|buf, record| {
            use std::io::Write as _;
            let message = record.args().to_string();
            writeln!(
                buf,
                "[{:<5} {}] {}",
                record.level(),
                record.target(),
                safe_text::text(&message)
            )
        })
        .init();
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
            Command::Record(args) => record::run(args, cli.verbose).await,
            Command::Replay(args) => replay::run(args),
            Command::Diagnose(args) => diagnose::run(args, cli.verbose).await,
            Command::Report(args) => report::run(args),
            Command::Check { json: false } => check::print_table(),
            Command::Check { json: true } => check::print_json(),
            Command::HookFloor { probe } => hook_floor::run(probe.into()).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Errors end the run with one line: what went wrong and, where we know, what to do (escaped:
/// it can quote a file name, a manager or a recording). A reader of our output that went away
/// (`| head`) is no error: the run just ends.
fn fail(e: &anyhow::Error) -> ExitCode {
    if observer::stdout::reader_gone(e) {
        return ExitCode::SUCCESS;
    }
    eprintln!("observer: error: {}", safe_text::text(&format!("{e:#}")));
    ExitCode::FAILURE
}

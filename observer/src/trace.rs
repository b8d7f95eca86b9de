//! `observer trace`: the pipeline (pipeline/) into the table, JSON lines or the journal.

use crate::{
    cli::TraceArgs,
    pipeline::{self, PipelineConfig},
    sink::{Sink, journal::JournalSink},
};

/// `observer trace`: the table, or JSON lines.
pub async fn run(args: TraceArgs, verbose: u8) -> anyhow::Result<()> {
    crate::preflight::check_privileges()?;
    let sink = sink_for(&args)?;
    pipeline::run(&config(&args, verbose, false), sink).await
}

/// The pipeline's configuration from `trace`'s options (`record` takes them too); with
/// `unit_changes`, what units go through is fed to the sink as well.
pub(crate) fn config(args: &TraceArgs, verbose: u8, unit_changes: bool) -> PipelineConfig {
    PipelineConfig {
        probe: args.probe,
        ring_size: args.ring_size,
        sockets: args.sockets.clone(),
        no_default_sockets: args.no_default_sockets,
        receivers: args.receivers.clone(),
        containers: args.containers,
        units: args.units.clone(),
        count: args.count,
        duration: args.duration,
        unit_changes,
        verbose: verbose > 0,
    }
}

/// The sink `trace` writes to: the table, JSON lines (--json) or the journal (--journal).
pub(crate) fn sink_for(args: &TraceArgs) -> std::io::Result<Box<dyn Sink>> {
    Ok(if args.journal {
        Box::new(JournalSink::new(
            args.journal_level,
            args.journal_container,
        )?)
    } else {
        crate::sink::stdout(args.json)
    })
}

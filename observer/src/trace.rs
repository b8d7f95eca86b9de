//! `observer trace`: the pipeline (pipeline/) into the table, JSON lines or the journal, and
//! Prometheus metrics beside them.

use crate::{
    cli::TraceArgs,
    pipeline::{self, PipelineConfig},
    sink::{Sink, journal::JournalSink, metrics::MetricsSink},
};

/// `observer trace`: the table, or JSON lines.
pub async fn run(args: TraceArgs, verbose: u8) -> anyhow::Result<()> {
    crate::preflight::check_privileges()?;
    let mut sink = sink_for(&args)?;
    if let Some(metrics) = metrics_sink(&args)? {
        let sinks: Vec<Box<dyn Sink>> = vec![sink, Box::new(metrics)];
        sink = Box::new(sinks);
    }
    // Start outcomes come from the unit changes: followed when metrics are asked for.
    let unit_changes = args.metrics.config(&args.units).enabled();
    pipeline::run(&config(&args, verbose, unit_changes), sink).await
}

/// The pipeline's configuration from `trace`'s options (`record` takes them too); with
/// `unit_changes`, what units go through is fed to the sink as well.
pub(crate) fn config(args: &TraceArgs, verbose: u8, unit_changes: bool) -> PipelineConfig {
    PipelineConfig {
        probe: args.probe.into(),
        ring_size: args.ring_size,
        sockets: args.sockets.clone(),
        no_default_sockets: args.no_default_sockets,
        receivers: args.receivers.clone(),
        containers: args.containers.into(),
        units: args.units.clone(),
        count: args.count,
        duration: args.duration,
        unit_changes,
        verbose: verbose > 0,
    }
}

/// The metrics sink when --metrics-listen or --metrics-file asks for it (bound and first
/// written here: before the eBPF programs load, so a bad flag fails fast).
pub(crate) fn metrics_sink(args: &TraceArgs) -> anyhow::Result<Option<MetricsSink>> {
    let config = args.metrics.config(&args.units);
    config
        .enabled()
        .then(|| MetricsSink::start(&config))
        .transpose()
}

/// The sink `trace` writes to: the table, JSON lines (--json) or the journal (--journal).
pub(crate) fn sink_for(args: &TraceArgs) -> std::io::Result<Box<dyn Sink>> {
    Ok(if args.journal {
        Box::new(JournalSink::new(
            args.journal_level.into(),
            args.journal_container,
        )?)
    } else {
        crate::sink::stdout(args.json, crate::wall_time::Zone::from_utc_flag(args.utc))
    })
}

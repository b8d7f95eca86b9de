//! `observer record`: the pipeline (pipeline/) into a recording file, with what units go
//! through; also JSON lines on stdout (--json) or entries in the journal (--journal), and
//! Prometheus metrics.

use crate::{
    cli::RecordArgs,
    pipeline,
    recording::writer::{Rotation, Writer},
    sink::{Sink, recording::RecordingSink},
    trace,
};

pub async fn run(args: RecordArgs, verbose: u8) -> anyhow::Result<()> {
    crate::preflight::check_privileges()?;
    let rotation = Rotation {
        max_size: Some(args.max_size),
        max_age: args.max_age,
        keep: args.keep,
    };
    // Before the recording is created: a bad metrics flag leaves no file behind.
    let metrics = trace::metrics_sink(&args.trace)?;
    let writer = Writer::create(&args.output, rotation, args.sync_every)?;
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(RecordingSink::new(writer))];
    // Also JSON lines to stdout (--json), or entries to the journal (--journal).
    if args.trace.json || args.trace.journal {
        sinks.push(trace::sink_for(&args.trace)?);
    }
    if let Some(m) = metrics {
        sinks.push(Box::new(m));
    }
    eprintln!("observer: recording to {}", args.output.display());
    pipeline::run(&trace::config(&args.trace, verbose, true), Box::new(sinks)).await
}

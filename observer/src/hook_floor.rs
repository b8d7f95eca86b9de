//! `observer hook-floor` (the benches' floor): attaches do-nothing programs where
//! `trace --probe P` hooks, prints a `start` record naming them, and waits for SIGINT or SIGTERM.
//! A load run under it costs what the kernel charges for the hooks alone, whatever programs
//! they run: the part of the observer's cost that no change to its programs can remove.

use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};

use crate::capture::{Capture, Probe};

pub async fn run(probe: Probe) -> anyhow::Result<()> {
    // The real programs first: the strategy the kernel allows decides the hooks.
    let capture = Capture::start(probe, 4096 * 16)?;
    let strategy = capture.strategy.to_string();
    let hooks = capture.all_hooks();
    let _floor = capture.into_floor()?;
    println!(
        "{}",
        json!({"record": "start", "floor": true, "strategy": strategy, "hooks": hooks})
    );
    eprintln!(
        "observer: do-nothing programs at {} ({strategy} strategy's hooks); SIGINT or SIGTERM detaches them",
        crate::capture::hook_list(&hooks)
    );
    let (mut int, mut term) = (
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
    );
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

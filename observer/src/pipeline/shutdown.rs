//! The last resort once a stop is asked for: exits the process if the pipeline has not wound
//! down in time. Nothing on the loop waits for a manager (link.rs), so this is not the way out;
//! whatever was recorded is on disk already (one write per record), only the closing summary
//! is missing.

use std::time::Duration;

use tokio::{
    signal::unix::{SignalKind, signal},
    time::{Instant, sleep_until},
};

/// How long the pipeline may take to wind down after a stop request: the last events' wait
/// for their managers (FINAL_WAIT in run.rs) and the sinks' last writes.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Once a stop is asked for (SIGINT, SIGTERM, the --duration deadline), exits the process if the
/// pipeline has not wound down within SHUTDOWN_GRACE.
pub fn spawn_guard(deadline: Option<Instant>) -> anyhow::Result<()> {
    // The deadline is also kept by a thread of its own, which needs nothing of the runtime.
    if let Some(at) = deadline.map(|d| d.into_std() + SHUTDOWN_GRACE) {
        std::thread::Builder::new()
            .name("observer-deadline".into())
            .spawn(move || {
                std::thread::sleep(at.saturating_duration_since(std::time::Instant::now()));
                stop_now();
            })?;
    }
    let mut int = signal(SignalKind::interrupt())?;
    let mut term = signal(SignalKind::terminate())?;
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = async { match deadline { Some(d) => sleep_until(d).await, None => std::future::pending().await } } => {}
        }
        tokio::time::sleep(SHUTDOWN_GRACE).await;
        stop_now();
    });
    Ok(())
}

fn stop_now() -> ! {
    eprintln!("observer: error: did not stop within {SHUTDOWN_GRACE:?} of being asked to; exiting");
    std::process::exit(1);
}

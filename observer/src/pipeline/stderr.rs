//! What a run says on stderr (stdout is the sink's): how it captures, the sockets it watches
//! and how far each manager is believed, and the closing counts.

use crate::{
    capture::Capture,
    safe_text,
    sink::Summary,
    trust::{self, Containers},
    watch::Watched,
};

/// How capture started: strategies refused (why, with `verbose`), the one used, the managers'
/// reads, and every watched socket.
pub fn start(capture: &Capture, watched: &[Watched], verbose: bool, policy: Containers) {
    for (strategy, why) in &capture.refused {
        // Said as a person would; the verifier's words with -v (and in the JSON start record).
        let what = if why.contains("Operation not permitted") {
            format!("this kernel does not allow {strategy} programs")
        } else {
            format!("the {strategy} strategy is not usable on this kernel")
        };
        eprintln!(
            "observer: {what}; using the {} strategy instead{}",
            capture.strategy,
            if verbose { "" } else { " (-v says why)" }
        );
        if verbose {
            eprintln!("observer: {strategy} refused: {why}");
        }
    }
    eprintln!(
        "observer: capturing with the {} strategy ({})",
        capture.strategy,
        crate::capture::hook_list(&capture.hooks)
    );
    for why in &capture.receive_refused {
        eprintln!("observer: managers' reads: refused {why}");
    }
    match &capture.receive {
        Ok(hooks) => eprintln!(
            "observer: managers' reads via {}",
            crate::capture::hook_list(hooks)
        ),
        Err(why) => eprintln!("observer: managers' reads are not captured: {why}"),
    }
    new_watches(&[], watched, policy);
}

/// A line for each socket in `now` that was not in `before`, saying how far its manager is
/// believed and as whom it is asked: at start, and for managers found later (a container
/// started, a user logged in), alike.
pub fn new_watches(before: &[Watched], now: &[Watched], policy: Containers) {
    for w in now.iter().filter(|w| !before.iter().any(|b| b.id == w.id)) {
        let trust = match (w.manager, w.trust) {
            (Some(owner), Some(t)) => {
                format!(
                    ": {}",
                    trust::describe(t, &trust::approach(owner, t, policy))
                )
            }
            _ => String::new(),
        };
        eprintln!(
            "observer: watching {} ({}){}",
            safe_text::text(&w.address),
            safe_text::text(w.owner.label()),
            safe_text::text(&trust)
        );
    }
}

/// The closing counts, where the kernel side gave up on watched datagrams (`faults`: with -v,
/// for "nothing shows here"), and each manager that misbehaved (`troubles`: "LABEL: what").
pub fn summary(summary: &Summary, faults: &[(&str, u64)], troubles: &[String]) {
    eprintln!(
        "observer: {} events, {} dropped (ring buffer full), {} untracked sends, {} malformed records",
        summary.events, summary.dropped, summary.untracked, summary.malformed
    );
    for (what, n) in faults {
        log::info!("kernel faults: {what}: {n}");
    }
    for trouble in troubles {
        eprintln!("observer: manager misbehaved: {trouble}");
    }
}

//! Progress feedback for steps that can take a while (loading the programs: the kernel's verifier
//! can take seconds on a loaded or emulated machine). A spinner on stderr when it is a terminal;
//! nothing at all otherwise, so logs and pipes stay clean.

use std::{io::IsTerminal as _, time::Duration};

use indicatif::{ProgressBar, ProgressStyle};

/// Shows `what` with a spinner until the returned guard is dropped.
pub fn step(what: &str) -> Step {
    if !std::io::stderr().is_terminal() {
        return Step(None);
    }
    let bar = ProgressBar::new_spinner().with_message(format!("observer: {what}"));
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    Step(Some(bar))
}

/// While it lives, the spinner turns; dropped, the line is cleared.
pub struct Step(Option<ProgressBar>);

impl Drop for Step {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// A bar over `len` steps of `what` (replaying, reporting on a large recording); hidden when
/// stderr is not a terminal.
pub fn bar(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("observer: {msg} {bar:30} {pos}/{len} ({eta} left)")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(len)
        .with_style(style)
        .with_message(what.to_owned())
}

/// A bar over `len` bytes of `what` (replaying recordings, read as they are shown).
pub fn byte_bar(len: u64, what: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let style =
        ProgressStyle::with_template("observer: {msg} {bar:30} {bytes}/{total_bytes} ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    ProgressBar::new(len)
        .with_style(style)
        .with_message(what.to_owned())
}

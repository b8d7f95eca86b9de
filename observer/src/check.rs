//! `observer check`: loads each capture strategy in turn and says whether this kernel allows it,
//! so an operator (or the test runner) knows what `--probe auto` will pick and why.

use prettytable::{Table, row};

use crate::{capture::Capture, cli::Probe};

pub fn run() -> anyhow::Result<()> {
    // Without the privileges every strategy fails, and the kernel's refusals would be blamed.
    crate::preflight::check_privileges()?;
    let mut table = Table::new();
    table.set_titles(row!["STRATEGY", "STATUS", "DETAIL"]);
    let mut usable = 0;
    for probe in [Probe::Fentry, Probe::Tracepoint] {
        let name = format!("{probe:?}").to_lowercase();
        match Capture::start(probe, 4096 * 16) {
            Ok(c) => {
                usable += 1;
                table.add_row(row![name, "usable", detail(&c)]);
            }
            Err(e) => {
                let why = format!("{e:#}");
                table.add_row(row![name, "refused", why]);
            }
        }
    }
    table.print(&mut crate::stdout::Stdout)?;
    anyhow::ensure!(usable > 0, "no capture strategy loads on this kernel");
    Ok(())
}

/// The hooks a strategy attached: the sends', then how the managers' reads are seen (and why
/// each cheaper way was not).
fn detail(c: &Capture) -> String {
    let mut lines: Vec<String> = c.hooks.iter().map(ToString::to_string).collect();
    match &c.receive {
        Ok(hooks) => lines.extend(hooks.iter().map(|h| format!("reads: {h}"))),
        Err(why) => lines.push(format!("reads: not captured ({why})")),
    }
    lines.extend(
        c.receive_refused
            .iter()
            .map(|why| format!("  (reads: refused {why})")),
    );
    lines.join("\n")
}

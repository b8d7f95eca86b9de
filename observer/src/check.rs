//! `observer check`: loads each capture strategy in turn and says whether this kernel allows it,
//! so an operator (or the test runner) knows what `--probe auto` will pick and why.

use prettytable::{Table, row};

use crate::{capture::Capture, cli::Probe};

pub fn run() -> anyhow::Result<()> {
    let mut table = Table::new();
    table.set_titles(row!["STRATEGY", "STATUS", "DETAIL"]);
    let mut usable = 0;
    for probe in [Probe::Fentry, Probe::Tracepoint] {
        let name = format!("{probe:?}").to_lowercase();
        match Capture::start(probe, 4096 * 16) {
            Ok(c) => {
                usable += 1;
                table.add_row(row![name, "usable", c.hooks.join("\n")]);
            }
            Err(e) => {
                let why = format!("{e:#}");
                table.add_row(row![name, "refused", why]);
            }
        }
    }
    table.printstd();
    anyhow::ensure!(usable > 0, "no capture strategy loads on this kernel");
    Ok(())
}

//! `observer check`: loads each capture strategy in turn and says whether this kernel allows it,
//! so an operator (or the test runner) knows what `--probe auto` will pick and why. People get
//! a table; programs (xtask) get the same as one JSON document (`--json`).

use std::io::Write as _;

use prettytable::{Table, row};
use serde::Serialize;

use crate::capture::{Capture, Hook, Probe};

/// What `check` found for one strategy.
#[derive(Debug, Serialize)]
pub struct StrategyCheck {
    pub strategy: String,
    #[serde(flatten)]
    pub status: Status,
}

#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    Usable {
        /// The sends' hooks.
        hooks: Vec<Hook>,
        /// How the managers' reads are seen, or why they are not.
        reads: Reads,
        /// Why each cheaper way of seeing the reads was refused.
        reads_refused: Vec<String>,
    },
    Refused {
        why: String,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reads {
    Captured(Vec<Hook>),
    NotCaptured(String),
}

/// The JSON document: `{"strategies": [...]}`, in the order the table lists them.
#[derive(Debug, Serialize)]
struct Report<'a> {
    strategies: &'a [StrategyCheck],
}

pub fn print_table() -> anyhow::Result<()> {
    let checks = check_all()?;
    let mut table = Table::new();
    table.set_titles(row!["STRATEGY", "STATUS", "DETAIL"]);
    for c in &checks {
        match &c.status {
            Status::Usable { .. } => table.add_row(row![c.strategy, "usable", detail(&c.status)]),
            Status::Refused { why } => table.add_row(row![c.strategy, "refused", why]),
        };
    }
    table.print(&mut crate::stdout::Stdout)?;
    any_usable(&checks)
}

pub fn print_json() -> anyhow::Result<()> {
    let checks = check_all()?;
    let mut out = crate::stdout::Stdout;
    serde_json::to_writer(
        &mut out,
        &Report {
            strategies: &checks,
        },
    )?;
    out.write_all(b"\n")?;
    any_usable(&checks)
}

fn check_all() -> anyhow::Result<Vec<StrategyCheck>> {
    // Without the privileges every strategy fails, and the kernel's refusals would be blamed.
    crate::preflight::check_privileges()?;
    Ok([Probe::Fentry, Probe::Tracepoint]
        .into_iter()
        .map(|probe| StrategyCheck {
            strategy: format!("{probe:?}").to_lowercase(),
            status: match Capture::start(probe, 4096 * 16) {
                Ok(c) => Status::Usable {
                    hooks: c.hooks.clone(),
                    reads: match &c.receive {
                        Ok(hooks) => Reads::Captured(hooks.clone()),
                        Err(why) => Reads::NotCaptured(why.clone()),
                    },
                    reads_refused: c.receive_refused.clone(),
                },
                Err(e) => Status::Refused {
                    why: format!("{e:#}"),
                },
            },
        })
        .collect())
}

fn any_usable(checks: &[StrategyCheck]) -> anyhow::Result<()> {
    anyhow::ensure!(
        checks
            .iter()
            .any(|c| matches!(c.status, Status::Usable { .. })),
        "no capture strategy loads on this kernel"
    );
    Ok(())
}

/// The hooks a strategy attached: the sends', then how the managers' reads are seen (and why
/// each cheaper way was not).
fn detail(status: &Status) -> String {
    let Status::Usable {
        hooks,
        reads,
        reads_refused,
    } = status
    else {
        return String::new();
    };
    let mut lines: Vec<String> = hooks.iter().map(ToString::to_string).collect();
    match reads {
        Reads::Captured(hooks) => lines.extend(hooks.iter().map(|h| format!("reads: {h}"))),
        Reads::NotCaptured(why) => lines.push(format!("reads: not captured ({why})")),
    }
    lines.extend(
        reads_refused
            .iter()
            .map(|why| format!("  (reads: refused {why})")),
    );
    lines.join("\n")
}

#[cfg(test)]
mod tests;

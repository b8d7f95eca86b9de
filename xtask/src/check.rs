//! What `observer check --json` says of each capture strategy, for the lanes and the bench
//! that pick strategies by it.

use std::{path::Path, process::Command};

use anyhow::Context as _;
use serde_json::Value;

pub struct Strategy {
    /// `fentry`, `tracepoint`.
    pub name: String,
    /// `usable` or `refused`.
    pub status: String,
}

impl Strategy {
    pub fn usable(&self) -> bool {
        self.status == "usable"
    }
}

/// Every strategy `observer check --json` lists, in its order. `check` fails when none is
/// usable, after printing them all: its document is read either way.
pub fn strategies(observer: &Path) -> anyhow::Result<Vec<Strategy>> {
    let out = Command::new(observer)
        .args(["check", "--json"])
        .output()
        .with_context(|| format!("running {} check --json", observer.display()))?;
    let doc: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{} check --json: {}",
            observer.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })?;
    let list = doc["strategies"]
        .as_array()
        .context("check --json: no strategies")?;
    Ok(list
        .iter()
        .map(|s| Strategy {
            name: s["strategy"].as_str().unwrap_or_default().to_owned(),
            status: s["status"].as_str().unwrap_or_default().to_owned(),
        })
        .collect())
}

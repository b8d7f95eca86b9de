//! What one run of the pipeline is asked to do. The commands build it from their options
//! (trace.rs and record.rs from `trace`'s, live diagnose from its own), so that no command-line
//! type reaches the pipeline.

use std::time::Duration;

use crate::{capture::Probe, trust::Containers};

/// The ring buffer's size unless asked otherwise (`--ring-size`).
pub const RING_SIZE_DEFAULT: u32 = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Capture strategy (`auto`: the best the kernel allows).
    pub probe: Probe,
    /// The ring buffer's size in bytes (a power of two, at least one page).
    pub ring_size: u32,
    /// Sockets to watch besides the managers' own: paths, or @names.
    pub sockets: Vec<String>,
    /// Watch only `sockets`, not the system, user and container managers' ones.
    pub no_default_sockets: bool,
    /// Processes whose reads of the `sockets` they hold are captured, as a manager's are.
    pub receivers: Vec<u32>,
    /// Which containers' managers are asked about their units.
    pub containers: Containers,
    /// Only events of these units (globs as journalctl -u takes them); empty: every unit.
    pub units: Vec<String>,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// Feed the sink what units go through too (recordings and live diagnose tell unit stories).
    pub unit_changes: bool,
    /// `-v`: why a strategy was refused, and the kernel programs' logs.
    pub verbose: bool,
}

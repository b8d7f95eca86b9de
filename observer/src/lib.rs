//! observer: shows every datagram sent to systemd's notify socket.
//!
//! One module per step: capture (kernel programs) → ring → decode → pairing (each send with the
//! manager's reads) → judge (correlate, the manager over D-Bus, verdict) → sinks. `pipeline`
//! wires them into a loop that also writes back to the kernel and corrects events shown
//! earlier; `trace`, `record` and live `diagnose` run it, and main.rs is the command line
//! around them. The code map and the invariants:
//! docs/ARCHITECTURE.md.
//!
//! A library so that the fuzz targets (/fuzz) can reach the parsers. Public: what main.rs and
//! the fuzz targets call, and what their signatures name. The rest stays private, so the
//! dead-code lint still tells what the binary never uses.

pub mod check;
pub mod cli;
pub mod diagnose;
pub mod hook_floor;
pub mod notify;
pub mod record;
pub mod recording;
pub mod replay;
pub mod report;
pub mod safe_text;
pub mod said;
pub mod stdout;
pub mod systemd_basic;
pub mod trace;
pub mod verdict;
pub mod wall_time;

mod btf;
mod capture;
mod correlate;
mod decode;
#[cfg(test)]
mod dist_files;
mod idle;
mod judge;
mod link;
mod look_as;
mod manager;
mod output_file;
mod pairing;
mod pipeline;
mod preflight;
mod progress;
mod replay_filter;
mod sink;
mod socket_readers;
mod trust;
mod unit_glob;
mod watch;

#[cfg(test)]
mod snapshot_tests;

/// The journal sink's relay (sink/journal.rs): main.rs runs it when started under its name.
pub use sink::relay_main as journal_relay_main;

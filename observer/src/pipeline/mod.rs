//! The loop behind `trace`, `record` and live `diagnose`: capture → ring → decode → pairing
//! with the manager's reads → judge → sinks, and back: it writes to the kernel while it runs
//! (the watched sockets after each rescan, the readers, whether the collector sleeps). The
//! commands build a [`PipelineConfig`] from their options and hand it a sink; nothing here
//! knows the command line. The life of one datagram, step by step: docs/ARCHITECTURE.md.
//!
//! - config.rs: what a run is asked to do;
//! - run.rs: the loop: the ring's wakeups, the drain timer and sleep, rescans, signals,
//!   `--duration`, winding down;
//! - collector.rs: ring → decode → pairing → judge → sink, in each socket's order;
//!   lifecycle.rs: a datagram's steps through it (held → judged → shown → corrected), as types;
//! - rescan.rs: which sockets to watch as managers come and go, and whose reads to capture;
//! - stderr.rs: what the run says on stderr; shutdown.rs: the last resort when it does not
//!   stop; kernel_log.rs: `-v`'s kernel logs.

mod collector;
mod config;
mod kernel_log;
mod lifecycle;
mod rescan;
mod run;
mod shutdown;
mod stderr;

pub use config::{PipelineConfig, RING_SIZE_DEFAULT};
pub use run::run;

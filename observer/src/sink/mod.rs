//! Where judged events go: the table, JSON lines, the journal, a recording (and live
//! `diagnose`'s `LiveSink`). Every sink is given the same view of an event (view.rs: the
//! event, its judgement and its socket, looked up); a sink may also take the later corrections
//! of the manager's read (`delivery`), unit changes and drops.

pub mod journal;
pub mod json;
pub mod metrics;
pub mod recording;
mod relay;
pub mod table;
mod view;

pub use relay::relay_main;
pub use view::{Corrected, Shown, SocketView};

use crate::{
    decode::Event,
    manager::UnitChange,
    pairing::{Delivered, Delivery},
    watch::Watched,
};

/// What a sink is told once capture runs.
pub struct Start<'a> {
    pub strategy: String,
    /// As text: a replay shows what its recording says, hooks this observer does not know too.
    pub hooks: &'a [String],
    pub refused: &'a [(String, String)],
    pub watched: &'a [Watched],
}

/// How the capture and the managers are doing, told every rescan (RESCAN_EVERY in
/// pipeline/run.rs).
pub struct Health {
    /// Watched sockets that belong to a service manager.
    pub managers_watched: usize,
    /// Of those, the managers that cannot be asked about their units now.
    pub managers_unreachable: usize,
    /// Sends the kernel programs could not follow to the end, in total so far.
    pub untracked: u64,
}

/// How the run ended.
pub struct Summary {
    pub events: u64,
    pub dropped: u64,
    pub untracked: u64,
    pub malformed: u64,
}

pub trait Sink {
    fn start(&mut self, start: &Start<'_>) -> std::io::Result<()>;
    /// A judged event, with its socket looked up.
    fn event(&mut self, shown: &Shown<'_>) -> std::io::Result<()>;
    /// A unit of `manager` changed (only sinks that keep unit stories care).
    fn unit(&mut self, _manager: &str, _change: &UnitChange) -> std::io::Result<()> {
        Ok(())
    }
    /// `new` more datagrams were lost because the ring buffer was full; `total` so far.
    fn drops(&mut self, new: u64, total: u64) -> std::io::Result<()>;
    fn finish(&mut self, summary: &Summary) -> std::io::Result<()>;
    /// The capture's and managers' state (only the metrics sink cares).
    fn health(&mut self, _health: &Health) -> std::io::Result<()> {
        Ok(())
    }
    /// Called after each batch: push buffered output out.
    fn flush(&mut self) -> std::io::Result<()>;
    /// The collector has shown everything the kernel had and sleeps until the next record
    /// (idle.rs): what a program driving the observer waits for before it measures or sends.
    fn idle(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    /// A datagram already shown unread was read by its manager, or will never be.
    fn delivery(&mut self, _corrected: &Corrected<'_>) -> std::io::Result<()> {
        Ok(())
    }
}

/// The manager-side delay for people: `3.2ms`, `2.8s`; `unread` when never read, `-` when
/// unknown.
pub fn delay_text(d: &Delivery) -> String {
    match (d.delivered, d.queue_delay_us) {
        (Delivered::Yes, Some(us)) if us < 1_000 => format!("{us}µs"),
        (Delivered::Yes, Some(us)) if us < 1_000_000 => format!("{:.1}ms", us as f64 / 1e3),
        (Delivered::Yes, Some(us)) => format!("{:.1}s", us as f64 / 1e6),
        (Delivered::No, _) => "unread".into(),
        _ => "-".into(),
    }
}

/// Wall-clock time of the manager's read of `ev`.
pub fn read_wall_ns(ev: &Event, d: &Delivery) -> Option<i128> {
    d.read_mono_ns
        .map(|r| ev.wall_ns + (r as i128 - ev.mono_ns as i128))
}

/// Several sinks at once (`record --json`: the file and stdout).
impl Sink for Vec<Box<dyn Sink>> {
    fn start(&mut self, start: &Start<'_>) -> std::io::Result<()> {
        self.iter_mut().try_for_each(|s| s.start(start))
    }
    fn event(&mut self, shown: &Shown<'_>) -> std::io::Result<()> {
        self.iter_mut().try_for_each(|s| s.event(shown))
    }
    fn unit(&mut self, manager: &str, change: &UnitChange) -> std::io::Result<()> {
        self.iter_mut().try_for_each(|s| s.unit(manager, change))
    }
    fn drops(&mut self, new: u64, total: u64) -> std::io::Result<()> {
        self.iter_mut().try_for_each(|s| s.drops(new, total))
    }
    fn finish(&mut self, summary: &Summary) -> std::io::Result<()> {
        self.iter_mut().try_for_each(|s| s.finish(summary))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.iter_mut().try_for_each(|s| s.flush())
    }
    fn health(&mut self, health: &Health) -> std::io::Result<()> {
        self.iter_mut().try_for_each(|s| s.health(health))
    }
    fn idle(&mut self) -> std::io::Result<()> {
        self.iter_mut().try_for_each(|s| s.idle())
    }
    fn delivery(&mut self, corrected: &Corrected<'_>) -> std::io::Result<()> {
        self.iter_mut().try_for_each(|s| s.delivery(corrected))
    }
}

/// The sink for stdout: the table (its times in `zone`), or JSON lines (`json`).
pub fn stdout(json: bool, zone: crate::wall_time::Zone) -> Box<dyn Sink> {
    if json {
        Box::new(json::JsonSink::new(crate::stdout::Stdout))
    } else {
        Box::new(table::TableSink::new(crate::stdout::Stdout, zone))
    }
}

/// `result` for people: bytes sent, or the errno's name.
pub fn result_text(result: i64) -> String {
    if result >= 0 {
        format!("ok {result}")
    } else {
        crate::systemd_basic::errno_list::result_errno_name(result)
    }
}

#[cfg(test)]
mod tests;

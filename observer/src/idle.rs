//! When the collector stops its drain timer. The kernel wakes it only once an eighth of the
//! ring waits (observer-ebpf's send/emit.rs), so while datagrams come it drains every 50 ms; with
//! none coming those ticks would be its only work, twenty wakeups a second on a machine that
//! may have nothing to say for days. After a while of finding nothing it tells the kernel it
//! sleeps, and the next record wakes it (`Capture::set_collector_asleep`). A record the kernel
//! output just as the collector fell asleep, having read the flag before it was set, wakes
//! nobody: the drain at the next rescan (every 2 s) finds it and wakes the collector.

/// Timed drains in a row that found nothing before the collector sleeps (1 s at 50 ms).
pub const EMPTY_DRAINS_BEFORE_SLEEP: u32 = 20;

/// Whether the collector drains on its timer or sleeps until the kernel wakes it.
#[derive(Debug, Default)]
pub struct Idle {
    empty_drains: u32,
    asleep: bool,
}

impl Idle {
    pub fn asleep(&self) -> bool {
        self.asleep
    }

    /// After a timed drain that took `records` from the ring, with `all_shown` when no event
    /// waits to be judged (those need the timer): whether to fall asleep now. The caller then
    /// tells the kernel, drains once more (a record output just before the kernel learnt it
    /// would wake nobody) and calls [`Self::fell_asleep`] with what that took.
    pub fn after_drain(&mut self, records: usize, all_shown: bool) -> bool {
        if records > 0 || !all_shown {
            self.empty_drains = 0;
            return false;
        }
        self.empty_drains += 1;
        self.empty_drains >= EMPTY_DRAINS_BEFORE_SLEEP
    }

    /// The last drain before sleeping took `records`: asleep if none (else the caller tells
    /// the kernel it is awake again).
    pub fn fell_asleep(&mut self, records: usize) -> bool {
        self.empty_drains = 0;
        self.asleep = records == 0;
        self.asleep
    }

    /// The kernel woke the collector, or it found records some other way: back to the timer.
    /// Returns whether it was asleep.
    pub fn wake(&mut self) -> bool {
        self.empty_drains = 0;
        std::mem::take(&mut self.asleep)
    }
}

#[cfg(test)]
mod tests;

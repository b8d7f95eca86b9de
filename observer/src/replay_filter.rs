//! What `-u`, `--since`, `--until` and `--pid` keep of a recording, as replay, diagnose and
//! report (and live diagnose) apply them alike.

use crate::{cli::ReplayFilter, recording::records::EventRecord, unit_glob};

impl ReplayFilter {
    pub fn in_time(&self, wall_ns: i128) -> bool {
        self.since.is_none_or(|t| wall_ns >= t.wall_ns(self.utc))
            && self.until.is_none_or(|t| wall_ns <= t.wall_ns(self.utc))
    }

    /// The zone this command shows times in: local, or UTC with `--utc`.
    pub fn zone(&self) -> crate::wall_time::Zone {
        crate::wall_time::Zone::from_utc_flag(self.utc)
    }

    pub fn keeps_unit(&self, unit: Option<&str>) -> bool {
        self.units.is_empty()
            || unit.is_some_and(|u| self.units.iter().any(|g| unit_glob::matches(g, u)))
    }

    pub fn keeps(&self, e: &EventRecord) -> bool {
        self.in_time(e.event.wall_ns)
            && (self.pids.is_empty() || self.pids.contains(&e.event.pid))
            && self.keeps_unit(e.unit.as_deref())
    }
}

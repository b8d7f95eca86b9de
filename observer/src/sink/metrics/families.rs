//! The metric families and their labels. Every label value is one of a fixed set (an enum), a
//! unit name under the cap (cap.rs), a watched manager's name, or an errno name: never payload
//! text. Names and HELP texts are what docs/METRICS.md lists.

use std::sync::{Arc, atomic::AtomicU64};

use prometheus_client::{
    encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
        info::Info,
    },
    registry::{Registry, Unit},
};

use super::{cap::Names, starts::StartOutcome};
use crate::{judge::Outcome, verdict::Kind};

/// The judgement of a datagram as the `verdict` label: the names `--json`'s `verdict` has.
impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

impl EncodeLabelValue for StartOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        EncodeLabelValue::encode(&self.as_str(), encoder)
    }
}

/// The verdict's kind (`not_main_pid`, `accepted`, …) as JSON output names it; `none` when no
/// rules were applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KindLabel(pub Option<Kind>);

impl EncodeLabelValue for KindLabel {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        // Serialized at scrape time only: the names are serde's, the same as --json's "kind".
        let name = match self.0 {
            Some(k) => crate::recording::records::kind_name(k),
            None => "none".into(),
        };
        EncodeLabelValue::encode(&name.as_str(), encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct DatagramLabels {
    pub manager: Arc<str>,
    pub unit: Arc<str>,
    pub verdict: Outcome,
    pub kind: KindLabel,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct UnitLabels {
    pub manager: Arc<str>,
    pub unit: Arc<str>,
}

impl From<Names> for UnitLabels {
    fn from(n: Names) -> Self {
        UnitLabels {
            manager: n.manager,
            unit: n.unit,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub manager: Arc<str>,
    pub unit: Arc<str>,
    pub outcome: StartOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ErrnoLabels {
    pub errno: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every metric the observer exports, registered once.
pub struct Families {
    pub datagrams: Family<DatagramLabels, Counter>,
    pub send_failures: Family<ErrnoLabels, Counter>,
    pub ring_drops: Counter,
    pub untracked: Counter,
    pub queue_delay: Histogram,
    pub start_attempts: Family<UnitLabels, Counter>,
    pub start_outcomes: Family<OutcomeLabels, Counter>,
    pub last_ready: Family<UnitLabels, FloatGauge>,
    pub last_watchdog: Family<UnitLabels, FloatGauge>,
    pub watchdog_sec: Family<UnitLabels, FloatGauge>,
    pub managers_watched: Gauge,
    pub managers_unreachable: Gauge,
    pub units_overflowed: Counter,
}

impl Families {
    pub fn register(registry: &mut Registry) -> Self {
        let f = Families {
            datagrams: Family::default(),
            send_failures: Family::default(),
            ring_drops: Counter::default(),
            untracked: Counter::default(),
            // 10 µs … ~42 s: a manager busy for a moment to one stuck in a long job.
            queue_delay: Histogram::new(exponential_buckets(1e-5, 4.0, 12)),
            start_attempts: Family::default(),
            start_outcomes: Family::default(),
            last_ready: Family::default(),
            last_watchdog: Family::default(),
            watchdog_sec: Family::default(),
            managers_watched: Gauge::default(),
            managers_unreachable: Gauge::default(),
            units_overflowed: Counter::default(),
        };
        let r = registry;
        r.register(
            "observer_notify_datagrams",
            "Datagrams sent to a watched notify socket, by manager, unit (the one systemd looks up for the sender), verdict and the verdict's kind",
            f.datagrams.clone(),
        );
        r.register(
            "observer_notify_send_failures",
            "Sends to a watched notify socket that failed, by errno (systemd never received these)",
            f.send_failures.clone(),
        );
        r.register(
            "observer_ring_dropped_datagrams",
            "Datagrams not captured because the ring buffer was full",
            f.ring_drops.clone(),
        );
        r.register(
            "observer_untracked_sends",
            "Sends the kernel programs saw start but could not follow to the end",
            f.untracked.clone(),
        );
        r.register_with_unit(
            "observer_notify_queue_delay",
            "Time from the start of a send until the manager read the datagram",
            Unit::Seconds,
            f.queue_delay.clone(),
        );
        r.register(
            "observer_unit_start_attempts",
            "Times a unit entered activating, from the manager's unit changes",
            f.start_attempts.clone(),
        );
        r.register(
            "observer_unit_start_outcomes",
            "Start attempts that ended, by outcome (success, timeout, exit-code, …)",
            f.start_outcomes.clone(),
        );
        r.register(
            "observer_unit_last_ready_timestamp_seconds",
            "When the unit's last accepted READY=1 was sent (Unix time)",
            f.last_ready.clone(),
        );
        r.register(
            "observer_unit_last_watchdog_timestamp_seconds",
            "When the unit's last accepted WATCHDOG=1 was sent (Unix time)",
            f.last_watchdog.clone(),
        );
        r.register_with_unit(
            "observer_unit_watchdog",
            "The unit's WatchdogSec= as its manager reports it",
            Unit::Seconds,
            f.watchdog_sec.clone(),
        );
        r.register(
            "observer_managers_watched",
            "Service managers whose notify sockets are watched",
            f.managers_watched.clone(),
        );
        r.register(
            "observer_managers_unreachable",
            "Watched managers the observer cannot ask about their units now (verdicts are unknown)",
            f.managers_unreachable.clone(),
        );
        r.register(
            "observer_metrics_units_overflowed",
            "Series updates sent to the unit=\"(overflow)\" series because the unit cap was reached",
            f.units_overflowed.clone(),
        );
        r.register(
            "observer_build",
            "The observer's own build",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("aya", "0.16.0"),
            ]),
        );
        f
    }
}

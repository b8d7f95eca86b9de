//! The workloads, and the nload arguments that run each (`Ctx::nload_args()`).

use super::{Ctx, PAYLOAD, config::Config};

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Workload {
    Other,
    Notify,
    Sustained,
    DevNull,
    RecvEmpty,
}

impl Workload {
    pub(super) const TIMED: [Workload; 4] = [
        Workload::Other,
        Workload::Notify,
        Workload::DevNull,
        Workload::RecvEmpty,
    ];

    pub(super) fn key(self) -> &'static str {
        match self {
            Self::Other => "a",
            Self::Notify => "b",
            Self::Sustained => "c",
            Self::DevNull => "d",
            Self::RecvEmpty => "e",
        }
    }

    pub(super) fn title(self) -> &'static str {
        match self {
            Self::Other => "(a) other AF_UNIX dgrams",
            Self::Notify => "(b) notify dgrams, watched",
            Self::Sustained => "(c) sustained notify rate",
            Self::DevNull => "(d) write /dev/null",
            Self::RecvEmpty => "(e) recvmsg, not a manager",
        }
    }

    /// Whether the observer has this workload's messages to report.
    pub(super) fn captured(self) -> bool {
        matches!(self, Self::Notify | Self::Sustained)
    }

    /// Whether this configuration reports this workload's messages (its expected event count
    /// is then the number sent, otherwise 0).
    pub(super) fn captured_by(self, c: &Config) -> bool {
        match (self, c) {
            (_, Config::Untraced | Config::Floor { .. }) => false,
            (w, _) if w.captured() => true,
            // strace cannot filter on the destination: it prints every sendto.
            (Self::Other, Config::Strace) => true,
            _ => false,
        }
    }
}

impl Ctx {
    /// nload's arguments for a run of `w` (`count` messages; (c) sends at its rate instead).
    pub(super) fn nload_args(&self, w: Workload, count: u64) -> Vec<String> {
        let watched = self.watched.display().to_string();
        let mut a: Vec<String> = match w {
            // The watched socket exists (the observer needs it to start) but gets nothing.
            Workload::Other => vec![
                "--to".into(),
                self.other.display().to_string(),
                "--bind".into(),
                "--idle".into(),
                watched,
                "--reader".into(),
                "process".into(),
            ],
            Workload::Notify | Workload::Sustained => vec![
                "--to".into(),
                watched,
                "--bind".into(),
                "--reader".into(),
                "process".into(),
            ],
            Workload::DevNull => vec!["--devnull".into(), "--idle".into(), watched],
            Workload::RecvEmpty => vec!["--recvmsg-empty".into(), "--idle".into(), watched],
        };
        if w == Workload::Sustained {
            a.extend([
                "--rate".into(),
                self.rate.to_string(),
                "--seconds".into(),
                self.sustain_secs.to_string(),
            ]);
        } else {
            a.extend(["--count".into(), count.to_string()]);
        }
        a.extend(["--payload".into(), PAYLOAD.into(), "--wait".into()]);
        if !w.captured() {
            // See nload's --pin: where the scheduler puts sender and reader moves a send's cost
            // by more than a tracer adds. Not where a tracer has messages to keep up with: on a
            // two-CPU machine it would then only get what the pinned two leave it.
            a.push("--pin".into());
        }
        a
    }
}

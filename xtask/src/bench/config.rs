//! The configurations a workload runs under: untraced, the observer, do-nothing programs at the
//! observer's hooks, bpftrace, strace.

#[derive(Clone, PartialEq, Eq)]
pub(super) enum Config {
    Untraced,
    Observer {
        probe: String,
        ring_size: Option<u32>,
        /// With --metrics-listen and --metrics-file (issue 19): what the metrics sink adds.
        metrics: bool,
    },
    /// `observer hook-floor`: what the kernel charges for that strategy's hooks alone.
    Floor {
        probe: String,
    },
    Bpftrace,
    Strace,
}

impl Config {
    /// The observer with its metrics sink on: run on the workloads it has events for only.
    pub(super) fn has_metrics(&self) -> bool {
        matches!(self, Self::Observer { metrics: true, .. })
    }

    pub(super) fn label(&self) -> String {
        match self {
            Self::Untraced => "untraced".into(),
            Self::Observer {
                probe,
                ring_size: None,
                metrics: false,
            } => format!("observer {probe}"),
            Self::Observer {
                probe,
                ring_size: None,
                metrics: true,
            } => format!("observer {probe} + metrics"),
            Self::Observer {
                probe,
                ring_size: Some(r),
                ..
            } => format!("observer {probe}, ring {r} B"),
            Self::Floor { probe } => format!("empty programs, {probe} hooks"),
            Self::Bpftrace => "bpftrace one-liner".into(),
            Self::Strace => "strace -f".into(),
        }
    }
}

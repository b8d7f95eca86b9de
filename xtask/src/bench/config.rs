//! The configurations a workload runs under: untraced, the observer, do-nothing programs at the
//! observer's hooks, bpftrace, strace.

#[derive(Clone, PartialEq, Eq)]
pub(super) enum Config {
    Untraced,
    Observer {
        probe: String,
        ring_size: Option<u32>,
    },
    /// `observer hook-floor`: what the kernel charges for that strategy's hooks alone.
    Floor {
        probe: String,
    },
    Bpftrace,
    Strace,
}

impl Config {
    pub(super) fn label(&self) -> String {
        match self {
            Self::Untraced => "untraced".into(),
            Self::Observer {
                probe,
                ring_size: None,
            } => format!("observer {probe}"),
            Self::Observer {
                probe,
                ring_size: Some(r),
            } => format!("observer {probe}, ring {r} B"),
            Self::Floor { probe } => format!("empty programs, {probe} hooks"),
            Self::Bpftrace => "bpftrace one-liner".into(),
            Self::Strace => "strace -f".into(),
        }
    }
}

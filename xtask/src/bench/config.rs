//! The configurations a workload runs under: untraced, the observer, bpftrace, strace.

#[derive(Clone, PartialEq, Eq)]
pub(super) enum Config {
    Untraced,
    Observer {
        probe: String,
        ring_size: Option<u32>,
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
            Self::Bpftrace => "bpftrace one-liner".into(),
            Self::Strace => "strace -f".into(),
        }
    }
}

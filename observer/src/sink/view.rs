//! What a sink is given to show: an event or a correction, with the watched socket it went to
//! already looked up (by the collector, or by replay from a recording's session), so that no
//! sink needs the watch list.

use std::borrow::Cow;

use crate::{
    correlate::Owner,
    decode::Event,
    judge::Judgement,
    pairing::Correction,
    trust::Trust,
    watch::{SocketOwner, Watched},
};

/// The watched socket a datagram went to, as the sinks show it.
#[derive(Debug, Clone)]
pub struct SocketView<'a> {
    /// The SOCKET column: a `--socket`'s address, a manager's socket by its manager's name,
    /// `watch N` when the socket is not known.
    pub label: Cow<'a, str>,
    /// The manager that owns the socket, when it is a manager's.
    pub manager: Option<Owner>,
    /// How far that manager is believed (trust.rs).
    pub trust: Option<Trust>,
}

impl<'a> SocketView<'a> {
    /// The socket of watch id `id`, from its entry in the watch list (None: not known).
    pub fn of(id: u32, watched: Option<&'a Watched>) -> Self {
        let Some(w) = watched else {
            return Self {
                label: format!("watch {id}").into(),
                manager: None,
                trust: None,
            };
        };
        let label = match &w.owner {
            SocketOwner::Explicit => w.address.as_str(),
            SocketOwner::Manager(name) => name.as_str(),
        };
        Self {
            label: label.into(),
            manager: w.manager,
            trust: w.trust,
        }
    }

    /// Whether the socket's manager is untrusted (trust.rs).
    pub fn untrusted(&self) -> bool {
        matches!(self.trust, Some(Trust::Untrusted { .. }))
    }
}

/// A judged event, ready to be shown.
pub struct Shown<'a> {
    pub event: &'a Event,
    pub judgement: &'a Judgement,
    pub socket: SocketView<'a>,
}

#[cfg(test)]
impl<'a> Shown<'a> {
    /// `event` as shown when its socket is not in the watch list.
    pub fn unknown_socket(event: &'a Event, judgement: &'a Judgement) -> Self {
        Self {
            event,
            judgement,
            socket: SocketView::of(event.watch_id, None),
        }
    }
}

/// What became of a datagram shown earlier as not read yet (pairing.rs), ready to be shown.
pub struct Corrected<'a> {
    pub correction: &'a Correction,
    pub socket: SocketView<'a>,
}

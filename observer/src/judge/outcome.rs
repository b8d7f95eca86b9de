//! What the observer concluded about one datagram, as every view names it: the JSON `verdict`
//! key, the journal's `OBSERVER_VERDICT`, the table's VERDICT column and recordings. The names
//! are a public contract (users filter on them): `as_str()` and serde give the same spelling.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The manager's rules accept it.
    Accepted,
    /// The manager's rules reject it (and systemd logs why).
    Rejected,
    /// The send failed: systemd never received the datagram.
    NotDelivered,
    /// Not judged: no manager's socket, no answer from the manager, no unit state.
    #[default]
    Unknown,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Accepted,
        Outcome::Rejected,
        Outcome::NotDelivered,
        Outcome::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::NotDelivered => "not-delivered",
            Outcome::Unknown => "unknown",
        }
    }

    /// The outcome of a verdict of the manager's rules.
    pub fn of_verdict(accepted: bool) -> Outcome {
        if accepted {
            Outcome::Accepted
        } else {
            Outcome::Rejected
        }
    }

    /// An outcome as a recording spells it; a name this observer does not know (a newer
    /// observer's, or a damaged file's) reads as `Unknown`, as replay always took it.
    pub fn from_recorded(name: &str) -> Outcome {
        Outcome::ALL
            .into_iter()
            .find(|o| o.as_str() == name)
            .unwrap_or(Outcome::Unknown)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests;

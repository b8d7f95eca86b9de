//! Who a watched socket belongs to. A manager's socket is shown by the manager's name; one
//! given with `--socket` belongs to no known manager, is shown by its address, and is kept
//! across rescans for as long as it exists.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketOwner {
    /// A manager's socket, named for people: "system manager", "user manager (uid 1000)",
    /// "container 1234", …
    Manager(String),
    /// Given with `--socket`.
    Explicit,
}

/// How an explicit socket's owner is written wherever owners are shown as text (the start
/// record, recordings' sessions).
const EXPLICIT: &str = "--socket";

impl SocketOwner {
    pub fn label(&self) -> &str {
        match self {
            SocketOwner::Manager(name) => name,
            SocketOwner::Explicit => EXPLICIT,
        }
    }

    /// The owner `label()` wrote (a recording's session names owners so).
    pub fn from_label(label: &str) -> SocketOwner {
        if label == EXPLICIT {
            SocketOwner::Explicit
        } else {
            SocketOwner::Manager(label.to_owned())
        }
    }

    pub fn is_explicit(&self) -> bool {
        *self == SocketOwner::Explicit
    }
}

impl fmt::Display for SocketOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

#[cfg(test)]
mod tests;

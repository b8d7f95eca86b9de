//! Mirrors systemd's src/basic/unit-def.c: the tables of names units and their settings take.

use serde::Serialize;

/// `NotifyAccess=` values (`notify_access_table`, src/basic/unit-def.c:303 v252.39).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyAccess {
    None,
    Main,
    Exec,
    All,
}

impl NotifyAccess {
    /// `notify_access_from_string()`: exact, lower-case.
    pub fn from_value(v: &[u8]) -> Option<NotifyAccess> {
        match v {
            b"none" => Some(NotifyAccess::None),
            b"main" => Some(NotifyAccess::Main),
            b"exec" => Some(NotifyAccess::Exec),
            b"all" => Some(NotifyAccess::All),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyAccess::None => "none",
            NotifyAccess::Main => "main",
            NotifyAccess::Exec => "exec",
            NotifyAccess::All => "all",
        }
    }
}

/// `unit_type_table` (src/basic/unit-def.c): the suffixes a unit name can have.
pub const UNIT_TYPES: &[&str] = &[
    "service",
    "mount",
    "swap",
    "socket",
    "target",
    "device",
    "automount",
    "timer",
    "path",
    "slice",
    "scope",
];

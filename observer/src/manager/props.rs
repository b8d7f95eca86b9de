//! D-Bus property values as the rest of the module uses them, the ExecMain* record, systemd's
//! version number and unit names from object paths.

use std::collections::HashMap;

use zbus::OwnedVariant;

use crate::{
    said::{self, Kind},
    verdict::{ExecMain, ServiceType},
};

pub(super) fn prop_u32(m: &HashMap<String, OwnedVariant>, k: &str) -> Option<u32> {
    m.get(k).and_then(|v| u32::try_from(v).ok())
}

pub(super) fn prop_u64(m: &HashMap<String, OwnedVariant>, k: &str) -> Option<u64> {
    m.get(k).and_then(|v| u64::try_from(v).ok())
}

pub(super) fn prop_str(m: &HashMap<String, OwnedVariant>, k: &str) -> Option<String> {
    m.get(k)
        .and_then(|v| <&str>::try_from(v).ok())
        .map(str::to_owned)
}

/// `was` updated with the ExecMain* properties in `p` (all of them in a full read and in systemd's
/// PropertiesChanged, which carries every EMITS_CHANGE property of the interface). Unlike MainPID
/// they survive the main process's exit, with systemd's own timestamps: see `verdict::ExecMain`.
pub(super) fn exec_main(
    was: Option<ExecMain>,
    p: &HashMap<String, OwnedVariant>,
) -> Option<ExecMain> {
    let mut e = was.unwrap_or(ExecMain {
        pid: 0,
        start_us: 0,
        exit_us: 0,
    });
    let pid = prop_u32(p, "ExecMainPID");
    let start = prop_u64(p, "ExecMainStartTimestampMonotonic");
    let exit = prop_u64(p, "ExecMainExitTimestampMonotonic");
    if pid.is_none() && start.is_none() && exit.is_none() {
        return was;
    }
    e.pid = pid.unwrap_or(e.pid);
    e.start_us = start.unwrap_or(e.start_us);
    e.exit_us = exit.unwrap_or(e.exit_us);
    Some(e)
}

pub(super) fn service_type(s: &str) -> Option<ServiceType> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

/// "252.39-1~deb12u2" → 252; also "v256", "257~rc2".
pub fn parse_version(s: &str) -> Option<u32> {
    let s = s.trim().trim_start_matches(['v', 'V']);
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

/// The unit an object path names, if systemd's rules allow the name (said.rs).
pub fn unit_from_object_path(path: &str) -> Option<String> {
    said::unit_from_object_path(path)
}

/// A string property of a set systemd knows (said.rs): as sent, or marked `unrecognised:`.
pub(super) fn prop_value(m: &HashMap<String, OwnedVariant>, k: &str, kind: Kind) -> Option<String> {
    prop_str(m, k).map(|v| said::value(kind, &v))
}

/// A free-text property, its control characters escaped (said.rs).
pub(super) fn prop_text(m: &HashMap<String, OwnedVariant>, k: &str) -> Option<String> {
    prop_str(m, k).map(|v| said::text(&v))
}

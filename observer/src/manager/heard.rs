//! One signal from a manager's connection, decoded and checked (said.rs) before the watcher acts
//! on it (`heard()`): a unit name that systemd's rules refuse is dropped, and counted as said
//! wrong; job results are kept marked when systemd never sends them.

use std::collections::HashMap;

use zbus::{OwnedObjectPath, OwnedVariant, message::Type as MsgType};

use super::{UnitChange, props::prop_str};
use crate::said::{self, Kind};

/// A signal, as the watcher uses it.
pub(super) enum Heard {
    /// JobNew: a job for `unit`, whose type is read from `job`.
    JobNew { unit: String, job: OwnedObjectPath },
    /// JobRemoved: `unit`'s job finished with `result` (marked if unknown).
    JobRemoved { unit: String, result: String },
    /// Manager.Reloading(false): a daemon-reload finished.
    Reloaded,
    /// PropertiesChanged of `iface` on `unit`'s object `path`.
    Changed {
        path: String,
        unit: String,
        iface: String,
        changed: HashMap<String, OwnedVariant>,
        invalidated: Vec<String>,
    },
    /// Something systemd never sends (a unit name its rules refuse, a path that decodes to
    /// one): ignored, and counted.
    Wrong,
    /// Anything else: ignored.
    Other,
}

type Changed = (String, HashMap<String, OwnedVariant>, Vec<String>);

/// What `msg` says, checked.
pub(super) fn heard(msg: &zbus::Message) -> Heard {
    let header = msg.header();
    if header.message_type() != MsgType::Signal {
        return Heard::Other;
    }
    let member = header.member().map(|m| m.as_str().to_owned());
    let path = header.path().map(|p| p.as_str().to_owned());
    let checked = |unit: String| said::unit_name(&unit).then_some(unit);
    match member.as_deref() {
        Some("JobNew") => match msg.body().deserialize::<(u32, OwnedObjectPath, String)>() {
            Ok((_, job, unit)) => {
                checked(unit).map_or(Heard::Wrong, |unit| Heard::JobNew { unit, job })
            }
            Err(_) => Heard::Other,
        },
        Some("JobRemoved") => {
            match msg
                .body()
                .deserialize::<(u32, OwnedObjectPath, String, String)>()
            {
                Ok((_, _, unit, result)) => {
                    checked(unit).map_or(Heard::Wrong, |unit| Heard::JobRemoved {
                        unit,
                        result: said::value(Kind::JobResult, &result),
                    })
                }
                Err(_) => Heard::Other,
            }
        }
        Some("Reloading") => match msg.body().deserialize::<(bool,)>() {
            Ok((false,)) => Heard::Reloaded,
            _ => Heard::Other,
        },
        Some("PropertiesChanged") => {
            let Some(path) = path.filter(|p| p.starts_with(super::UNIT_PREFIX)) else {
                return Heard::Other;
            };
            let Some(unit) = said::unit_from_object_path(&path) else {
                return Heard::Wrong;
            };
            match msg.body().deserialize::<Changed>() {
                Ok((iface, changed, invalidated)) => Heard::Changed {
                    path,
                    unit,
                    iface,
                    changed,
                    invalidated,
                },
                Err(_) => Heard::Other,
            }
        }
        _ => Heard::Other,
    }
}

/// Every string the watcher keeps from the D-Bus message in `bytes` (its unit names, states,
/// results and texts), for the `said` fuzz target: none may hold a control character, and each
/// unit name must pass systemd's rules.
pub fn strings_kept(bytes: &[u8]) -> Vec<String> {
    use zbus::wire::{
        Endian,
        serialized::{Context, Data},
    };
    let endian = match bytes.first() {
        Some(b'B') => Endian::Big,
        _ => Endian::Little,
    };
    let data = Data::new(bytes.to_vec(), Context::new(endian, 0));
    // SAFETY: the bytes carry no fds; an invalid encoding is an error, which is what is tested.
    let Ok(msg) = (unsafe { zbus::Message::from_bytes(data) }) else {
        return Vec::new();
    };
    match heard(&msg) {
        Heard::JobNew { unit, .. } => vec![unit],
        Heard::JobRemoved { unit, result } => vec![unit, result],
        Heard::Changed {
            unit,
            iface,
            changed,
            ..
        } => {
            let mut out = vec![unit.clone()];
            if let Some(c) = UnitChange::from_signal(&unit, &iface, &changed, 0) {
                out.extend(
                    [c.active_state, c.sub_state, c.result, c.status_text]
                        .into_iter()
                        .flatten(),
                );
            }
            out.extend(prop_str(&changed, "SubState").map(|s| said::value(Kind::SubState, &s)));
            out
        }
        Heard::Reloaded | Heard::Wrong | Heard::Other => Vec::new(),
    }
}

#[cfg(test)]
mod tests;

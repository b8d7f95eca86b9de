//! Which service manager a cgroup path belongs to and the unit that manager finds for it, as
//! `manager_get_unit_by_cgroup()` (src/core/cgroup.c) does from the manager's own root cgroup.
//!
//! The unit is derived from the path like systemd's `cg_path_get_unit()` and
//! `cg_path_get_user_unit()` (src/basic/cgroup-util.c), relative to the root cgroup of the service
//! manager that received the message: "/" for the host's, the cgroup of PID 1 minus "/init.scope"
//! for a container's (`cg_get_root_path()`), `…/user@UID.service` for a user manager.

use std::{fs, io};

use crate::systemd_basic::cgroup_util::{
    cg_path_get_slice, cg_path_get_unit, root_of_init_cgroup, skip_slices, skip_user_manager,
    strip_root,
};

/// What a service manager finds for a cgroup path (`manager_get_unit_by_cgroup()`: the cgroup's
/// unit, else the nearest ancestor's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnitMatch {
    /// A unit: "foo.service", "init.scope", "session-2.scope", "foo@bar\x2dbaz.service".
    Unit(String),
    /// Only slices above the sender (a process placed in a slice cgroup): the manager finds the
    /// deepest slice, which has no notify handler ("not a service").
    Slice(String),
    /// The manager's root cgroup itself, or a cgroup that is no unit's. systemd 252 finds no unit
    /// ("Cannot find unit for notify message"); later versions fall back to "-.slice".
    Root,
    /// Not below this manager's root cgroup: it cannot map the sender to any unit.
    Outside,
}

/// The unit for `path` in the system manager whose root cgroup is `root` ("/" for the host's):
/// `cg_shift_path()` then `cg_path_get_unit()`, with the manager's walk-up for slices.
pub fn unit_in(path: &str, root: &str) -> UnitMatch {
    let Some(shifted) = strip_root(path, root) else {
        return UnitMatch::Outside;
    };
    if let Some(u) = cg_path_get_unit(shifted) {
        return UnitMatch::Unit(u);
    }
    match cg_path_get_slice(shifted).as_str() {
        "-.slice" => UnitMatch::Root,
        s => UnitMatch::Slice(s.to_owned()),
    }
}

/// A service manager, as far as the cgroup tree tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// The host's system manager.
    System,
    /// The system manager of a container, by the host PID of its PID 1.
    Container { leader: u32 },
    /// A user manager (`user@UID.service`), on the host or in a container.
    User { uid: u32, container: Option<u32> },
}

/// A system manager and its root cgroup (as a path in our view of the cgroup2 tree).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerRoot {
    pub owner: Owner,
    pub cgroup: String,
}

impl ManagerRoot {
    /// The host's system manager. Its root is "/" (on a systemd host PID 1 is in /init.scope).
    pub fn host() -> ManagerRoot {
        ManagerRoot {
            owner: Owner::System,
            cgroup: "/".into(),
        }
    }

    /// A container's system manager: `cg_get_root_path()` as it runs inside, seen from here —
    /// the cgroup of its PID 1 minus "/init.scope" (e.g. "/machine.slice/systemd-nspawn@x.service/
    /// payload", or "/observer-testbed/NAME/payload" in the testbed).
    pub fn container(leader: u32) -> io::Result<ManagerRoot> {
        Self::of_process(Owner::Container { leader }, leader)
    }

    /// A manager's root cgroup from its own process (host PID): its cgroup minus "/init.scope".
    /// For a user manager that is its user@UID.service cgroup.
    pub fn of_process(owner: Owner, host_pid: u32) -> io::Result<ManagerRoot> {
        let text = fs::read_to_string(format!("/proc/{host_pid}/cgroup"))?;
        let own = text
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no cgroup2 entry"))?;
        Ok(ManagerRoot {
            owner,
            cgroup: root_of_init_cgroup(own).to_owned(),
        })
    }
}

/// Which manager a cgroup belongs to, and its unit there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub owner: Owner,
    pub unit: UnitMatch,
    /// For a user manager's unit: the system manager's unit that contains it ("user@1000.service"),
    /// which is what the system manager would find for the same sender.
    pub system_unit: Option<String>,
}

/// Places `path` with the innermost of `roots` (system managers) that contains it, then inside a
/// user manager when the path runs through "user@UID.service". None if no root contains it.
pub fn place(path: &str, roots: &[ManagerRoot]) -> Option<Placement> {
    let root = roots
        .iter()
        .filter(|r| strip_root(path, &r.cgroup).is_some())
        .max_by_key(|r| r.cgroup.trim_end_matches('/').len())?;
    let system = unit_in(path, &root.cgroup);
    let shifted = strip_root(path, &root.cgroup)?;
    let container = match root.owner {
        Owner::Container { leader } => Some(leader),
        _ => None,
    };
    if let Some((uid, rest)) = skip_user_manager(skip_slices(shifted)) {
        let unit = match cg_path_get_unit(rest) {
            Some(u) => UnitMatch::Unit(u),
            None => match cg_path_get_slice(rest).as_str() {
                "-.slice" => UnitMatch::Root,
                s => UnitMatch::Slice(s.to_owned()),
            },
        };
        let system_unit = match system {
            UnitMatch::Unit(u) => Some(u),
            _ => None,
        };
        return Some(Placement {
            owner: Owner::User { uid, container },
            unit,
            system_unit,
        });
    }
    Some(Placement {
        owner: root.owner,
        unit: system,
        system_unit: None,
    })
}

#[cfg(test)]
mod tests;

//! cgroup id → cgroup path → unit: which unit, of which service manager, a sender belongs to.
//!
//! The kernel records the sender's cgroup id; `cgroup_ids.rs` turns it into a path in the
//! cgroup2 tree (`cgroup_mount.rs` says where that tree is mounted), and `placement.rs` finds
//! the manager whose tree holds the path and the unit it names there, by systemd's own rules
//! (`systemd_basic::cgroup_util`, a port of src/basic/cgroup-util.c).
#![cfg_attr(
    not(test),
    expect(
        dead_code,
        reason = "API for the unit/verdict pipeline of issue 3, wired in next"
    )
)]

mod cgroup_ids;
mod cgroup_mount;
pub mod placement;

pub use self::{
    cgroup_ids::Resolver,
    cgroup_mount::Cgroup2,
    placement::{ManagerRoot, Owner, UnitMatch, unit_in},
};

use std::ffi::CString;

use super::*;
use crate::{
    correlate::{ManagerRoot, UnitMatch, cgroup_mount::join_cgroup, unit_in},
    systemd_basic::cgroup_util::root_of_init_cgroup,
};

fn root() -> bool {
    // SAFETY: geteuid() has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The cgroup id of a directory as the kernel hands it out in a file handle: the same number
/// bpf_get_current_cgroup_id() returns for tasks in it.
fn handle_id(dir: &Path) -> u64 {
    let c = CString::new(dir.as_os_str().as_bytes()).unwrap();
    let mut h = KernfsHandle {
        handle_bytes: 8,
        handle_type: 0,
        id: 0,
    };
    let mut mount_id = 0;
    // SAFETY: valid C string; the handle has room for the 8 bytes announced.
    let r = unsafe {
        libc::name_to_handle_at(
            libc::AT_FDCWD,
            c.as_ptr(),
            (&raw mut h).cast(),
            &mut mount_id,
            0,
        )
    };
    assert_eq!(r, 0, "name_to_handle_at: {}", io::Error::last_os_error());
    assert_eq!(h.handle_type, FILEID_KERNFS);
    h.id
}

/// Real cgroups on this host: make one, resolve its inode back to the path (by handle and by
/// walk), remove it and see it reported gone with its last path.
#[test]
fn resolves_real_cgroups() {
    let Ok(fs) = Cgroup2::find() else {
        eprintln!("skipped: no cgroup2 mount");
        return;
    };
    if !root() {
        eprintln!("skipped: creating cgroups needs root");
        return;
    }
    let name = format!("observer-correlate-test-{}", std::process::id());
    let dir = fs.mount.join(&name);
    let sub = dir.join("x.slice").join("foo@a\\x2db.service");
    fs::create_dir_all(&sub).unwrap();
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = fs::remove_dir(self.0.join("x.slice").join("foo@a\\x2db.service"));
            let _ = fs::remove_dir(self.0.join("x.slice"));
            let _ = fs::remove_dir(&self.0);
        }
    }
    let _cleanup = Cleanup(dir.clone());
    let ino = fs::metadata(&sub).unwrap().ino();
    assert_eq!(handle_id(&sub), ino, "cgroup id is the directory inode");
    let want = join_cgroup(&fs.root, &format!("{name}/x.slice/foo@a\\x2db.service"));

    // Indexed by the walk in new(): a hit, verified by stat.
    let mut r = Resolver::new(fs.clone());
    assert_eq!(r.resolve(ino), Resolved::Live(want.clone()));
    assert_eq!(
        unit_in(&want, &join_cgroup(&fs.root, &name)),
        UnitMatch::Unit("foo@a\\x2db.service".into())
    );

    // Created after the index: found by handle, and by walk where handles are off.
    let late = dir.join("late.service");
    fs::create_dir(&late).unwrap();
    let late_ino = fs::metadata(&late).unwrap().ino();
    let late_path = join_cgroup(&fs.root, &format!("{name}/late.service"));
    assert_eq!(
        r.by_handle(late_ino).unwrap(),
        Some(late_path.clone()),
        "open_by_handle_at"
    );
    assert_eq!(r.resolve(late_ino), Resolved::Live(late_path.clone()));
    let mut walker = Resolver::new(fs.clone());
    walker.handles = false;
    walker.cache.remove(&late_ino);
    assert_eq!(walker.resolve(late_ino), Resolved::Live(late_path.clone()));

    // Removed: the cached path is still reported, and not verified again.
    fs::remove_dir(&late).unwrap();
    assert_eq!(r.resolve(late_ino), Resolved::Gone(Some(late_path.clone())));
    assert_eq!(r.resolve(late_ino), Resolved::Gone(Some(late_path)));
    // Never seen and already gone: by handle (ESTALE) and by a complete walk.
    let never = dir.join("never.service");
    fs::create_dir(&never).unwrap();
    let never_ino = fs::metadata(&never).unwrap().ino();
    fs::remove_dir(&never).unwrap();
    assert_eq!(r.resolve(never_ino), Resolved::Gone(None));
    assert_eq!(walker.resolve(never_ino), Resolved::Gone(None));
    // A new cgroup of the same name gets a new id; the old id stays gone.
    fs::create_dir(&never).unwrap();
    let again = fs::metadata(&never).unwrap().ino();
    assert_ne!(again, never_ino);
    assert_eq!(r.resolve(never_ino), Resolved::Gone(None));
    assert!(matches!(r.resolve(again), Resolved::Live(_)));
    fs::remove_dir(&never).unwrap();
    // Our own cgroup (the root one here, or wherever the test runs).
    let own = fs::read_to_string("/proc/self/cgroup").unwrap();
    let own = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap()
        .to_owned();
    let own_ino = fs::metadata(r.cgroup2().dir(&own)).unwrap().ino();
    assert_eq!(r.resolve(own_ino).path(), Some(own.as_str()));
    // Any process works as a "leader" for reading its root: ours is its cgroup minus nothing.
    let me = ManagerRoot::container(std::process::id()).unwrap();
    assert_eq!(me.cgroup, root_of_init_cgroup(&own));
}

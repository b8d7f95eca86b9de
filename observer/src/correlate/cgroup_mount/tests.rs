use super::*;

#[test]
fn mountinfo_and_paths() {
    let hybrid = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                      40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n\
                      41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    let m = Cgroup2::from_mountinfo(hybrid).unwrap();
    assert_eq!(m.mount, Path::new("/sys/fs/cgroup/unified"));
    assert_eq!(
        m.dir("/system.slice/a.service"),
        Path::new("/sys/fs/cgroup/unified/system.slice/a.service")
    );
    assert_eq!(m.dir("/"), Path::new("/sys/fs/cgroup/unified"));
    // Optional fields before "-"; a bind mount elsewhere loses to the canonical place; a
    // subtree mount maps paths through its root; octal escapes.
    let unified = "50 1 0:40 / /mnt/my\\040cg rw shared:9 - cgroup2 cgroup2 rw\n\
                       29 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
    assert_eq!(
        Cgroup2::from_mountinfo(unified).unwrap().mount,
        Path::new("/sys/fs/cgroup")
    );
    let sub = "50 1 0:40 /payload /mnt/my\\040cg rw - cgroup2 cgroup2 rw\n";
    let s = Cgroup2::from_mountinfo(sub).unwrap();
    assert_eq!(
        (s.mount.to_str(), s.root.as_str()),
        (Some("/mnt/my cg"), "/payload")
    );
    assert_eq!(
        s.dir("/payload/init.scope"),
        Path::new("/mnt/my cg/init.scope")
    );
    assert_eq!(s.path_of(Path::new("init.scope")), "/payload/init.scope");
    assert_eq!(s.path_of(Path::new("")), "/payload");
    assert!(Cgroup2::from_mountinfo("31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n").is_none());
    assert_eq!(strip_root("/a/b", "/"), Some("/a/b"));
    assert_eq!(strip_root("/a/b", "/a"), Some("/b"));
    assert_eq!(strip_root("/a", "/a/"), Some("/"));
    assert_eq!(strip_root("/ab", "/a"), None);
}

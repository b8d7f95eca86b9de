use super::*;

#[test]
fn unit_from_path_like_cg_path_get_unit() {
    #[rustfmt::skip]
        let cases: &[(&str, Option<&str>)] = &[
            ("/system.slice/foo.service", Some("foo.service")),
            ("/system.slice/foo.service/", Some("foo.service")),
            ("/system.slice/foo.service/sub/dir", Some("foo.service")),
            ("system.slice/foo.service", Some("foo.service")),
            ("//system.slice//foo.service", Some("foo.service")),
            ("/foo.service", Some("foo.service")),
            ("/init.scope", Some("init.scope")),
            ("/system.slice/system-getty.slice/getty@tty1.service", Some("getty@tty1.service")),
            ("/system.slice/system-foo.slice/foo@bar\\x2dbaz.service", Some("foo@bar\\x2dbaz.service")),
            ("/system.slice/foo@a@b.service", Some("foo@a@b.service")),
            ("/system.slice/foo@.service", None), // template: never a running unit
            ("/system.slice/@foo.service", None),
            ("/system.slice/_cpu.service", Some("cpu.service")), // cg_escape()d
            ("/system.slice/_.foo.service", Some(".foo.service")),
            ("/system.slice/dev-hugepages.mount", Some("dev-hugepages.mount")),
            ("/system.slice/run-r1.scope", Some("run-r1.scope")),
            ("/system.slice/foo.socket", Some("foo.socket")),
            ("/system.slice/foo.bogus", None),
            ("/system.slice/foo", None),
            ("/system.slice/a b.service", None),
            ("/system.slice/föö.service", None),
            ("/system.slice/.service", None),
            ("/system.slice", None),
            ("/user.slice/user-1000.slice", None),
            ("/a.slice/b.service.slice", None),
            ("/system.slice/x.slice.service", Some("x.slice.service")),
            ("/", None),
            ("", None),
            ("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", Some("user@1000.service")),
            ("/user.slice/user-1000.slice/session-3.scope", Some("session-3.scope")),
            ("/machine.slice/systemd-nspawn@x.service/payload/system.slice/foo.service", Some("systemd-nspawn@x.service")),
            ("/observer-testbed/t1/payload/system.slice/foo.service", None),
            ("/system.slice/foo.service.d/x", None), // "service.d" is no unit type
        ];
    let long = format!("/{}.service", "a".repeat(248));
    assert_eq!(
        cg_path_get_unit(&long),
        None,
        "names of 256 bytes are too long"
    );
    let ok = format!("/{}.service", "a".repeat(247));
    assert_eq!(cg_path_get_unit(&ok).map(|u| u.len()), Some(255));
    for (path, want) in cases {
        assert_eq!(cg_path_get_unit(path).as_deref(), *want, "{path}");
    }
}

#[test]
fn user_unit_like_cg_path_get_user_unit() {
    #[rustfmt::skip]
        let cases: &[(&str, Option<&str>)] = &[
            ("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service", Some("foo.service")),
            ("/user.slice/user-1000.slice/user@1000.service/init.scope", Some("init.scope")),
            ("/user.slice/user-1000.slice/user@1000.service/app.slice/app-x@y.service/sub", Some("app-x@y.service")),
            ("/user.slice/user-1000.slice/user@1000.service/session.slice/dbus.service", Some("dbus.service")),
            ("/user.slice/user-1000.slice/user@1000.service/app.slice", None),
            ("/user.slice/user-1000.slice/user@1000.service", None),
            ("/user.slice/user-1000.slice/session-3.scope", None),
            ("/user.slice/user-1000.slice/session-3.scope/foo.service", Some("foo.service")),
            ("/user.slice/user-1000.slice/user@abc.service/app.slice/foo.service", None),
            ("/user.slice/user-1000.slice/user@4294967295.service/foo.service", None),
            ("/user.slice/user-1000.slice/user@65535.service/foo.service", None),
            ("/system.slice/foo.service", None),
            ("/user@0.service/foo.service", Some("foo.service")),
        ];
    for (path, want) in cases {
        assert_eq!(cg_path_get_user_unit(path).as_deref(), *want, "{path}");
    }
}

#[test]
fn slices() {
    assert_eq!(cg_path_get_slice("/"), "-.slice");
    assert_eq!(
        cg_path_get_slice("/system.slice/foo.service"),
        "system.slice"
    );
    assert_eq!(
        cg_path_get_slice("/user.slice/user-1000.slice/session-1.scope"),
        "user-1000.slice"
    );
    assert_eq!(cg_path_get_slice("/observer-testbed/x"), "-.slice");
}

#[test]
fn init_cgroup_to_root() {
    assert_eq!(root_of_init_cgroup("/init.scope"), "/");
    assert_eq!(
        root_of_init_cgroup("/observer-testbed/t1/payload/init.scope"),
        "/observer-testbed/t1/payload"
    );
    assert_eq!(
        root_of_init_cgroup("/machine.slice/x/payload/system.slice"),
        "/machine.slice/x/payload"
    );
    assert_eq!(root_of_init_cgroup("/odd"), "/odd");
}

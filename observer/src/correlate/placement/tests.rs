use super::*;

#[test]
fn unit_relative_to_manager_root() {
    let nspawn = "/machine.slice/systemd-nspawn@x.service/payload";
    let p = "/machine.slice/systemd-nspawn@x.service/payload/system.slice/foo.service";
    assert_eq!(unit_in(p, nspawn), UnitMatch::Unit("foo.service".into()));
    assert_eq!(
        unit_in(p, "/"),
        UnitMatch::Unit("systemd-nspawn@x.service".into())
    );
    assert_eq!(
        unit_in(&format!("{nspawn}/init.scope"), nspawn),
        UnitMatch::Unit("init.scope".into())
    );
    assert_eq!(unit_in(nspawn, nspawn), UnitMatch::Root);
    assert_eq!(
        unit_in(&format!("{nspawn}/system.slice"), nspawn),
        UnitMatch::Slice("system.slice".into())
    );
    assert_eq!(
        unit_in("/machine.slice/systemd-nspawn@x.service/supervisor", nspawn),
        UnitMatch::Outside
    );
    // Whole components only: "payload2" is not below "payload".
    assert_eq!(
        unit_in(&format!("{nspawn}2/foo.service"), nspawn),
        UnitMatch::Outside
    );
    let tb = "/observer-testbed/t1/payload";
    assert_eq!(
        unit_in(
            "/observer-testbed/t1/payload/system.slice/tb-notify-python.service",
            tb
        ),
        UnitMatch::Unit("tb-notify-python.service".into())
    );
    assert_eq!(
        unit_in("/observer-testbed/t1/payload/system.slice/tb.service", "/"),
        UnitMatch::Root
    );
    assert_eq!(unit_in("/", "/"), UnitMatch::Root);
    assert_eq!(
        unit_in("/user.slice/user-1000.slice", "/"),
        UnitMatch::Slice("user-1000.slice".into())
    );
}

#[test]
fn placement_picks_innermost_manager() {
    let roots = [
        ManagerRoot::host(),
        ManagerRoot {
            owner: Owner::Container { leader: 4242 },
            cgroup: "/machine.slice/systemd-nspawn@x.service/payload".into(),
        },
    ];
    let at = |p: &str| place(p, &roots).unwrap();
    let c = at("/machine.slice/systemd-nspawn@x.service/payload/system.slice/foo.service");
    assert_eq!(c.owner, Owner::Container { leader: 4242 });
    assert_eq!(c.unit, UnitMatch::Unit("foo.service".into()));
    let s = at("/machine.slice/systemd-nspawn@x.service/supervisor");
    assert_eq!(
        (s.owner, s.unit),
        (
            Owner::System,
            UnitMatch::Unit("systemd-nspawn@x.service".into())
        )
    );
    let u = at("/user.slice/user-1000.slice/user@1000.service/app.slice/foo.service");
    assert_eq!(
        u.owner,
        Owner::User {
            uid: 1000,
            container: None
        }
    );
    assert_eq!(u.unit, UnitMatch::Unit("foo.service".into()));
    assert_eq!(u.system_unit.as_deref(), Some("user@1000.service"));
    let cu = at(
        "/machine.slice/systemd-nspawn@x.service/payload/user.slice/user-0.slice/user@0.service/init.scope",
    );
    assert_eq!(
        cu.owner,
        Owner::User {
            uid: 0,
            container: Some(4242)
        }
    );
    assert_eq!(cu.unit, UnitMatch::Unit("init.scope".into()));
    let sess = at("/user.slice/user-1000.slice/session-2.scope");
    assert_eq!(
        (sess.owner, sess.unit),
        (Owner::System, UnitMatch::Unit("session-2.scope".into()))
    );
    assert!(place("/x", &roots[1..]).is_none());
}

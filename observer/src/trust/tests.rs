use super::*;

#[test]
fn uid_maps() {
    // unshare -Ur as uid 65534: inside 0 is outside 65534.
    assert_eq!(
        map_uid("         0      65534          1\n", 65534),
        Some(0)
    );
    assert_eq!(map_uid("         0      65534          1\n", 0), None);
    // rootless podman: 0 → 1000, 1..65536 → 100000…
    let map = "0 1000 1\n1 100000 65536\n";
    assert_eq!(map_uid(map, 1000), Some(0));
    assert_eq!(map_uid(map, 100_000), Some(1));
    assert_eq!(map_uid(map, 165_535), Some(65536));
    assert_eq!(map_uid(map, 165_536), None);
    assert_eq!(map_uid("garbage\n", 0), None);
}

#[test]
fn ourselves_and_the_host_are_trusted() {
    assert_eq!(Trust::of(Owner::System), Trust::Root);
    assert_eq!(
        Trust::of(Owner::Container {
            leader: std::process::id()
        }),
        Trust::Root
    );
    assert_eq!(
        Trust::of(Owner::User {
            uid: 1000,
            container: None
        }),
        Trust::User { uid: 1000 }
    );
    // Gone: never trusted.
    assert_eq!(
        Trust::of(Owner::Container { leader: u32::MAX }),
        Trust::Untrusted { owner: None }
    );
}

#[test]
fn untrusted_containers_are_asked_only_with_all_and_never_as_root() {
    let c = Owner::Container { leader: 4242 };
    let t = Trust::Untrusted { owner: Some(1000) };
    for policy in [Containers::Trusted, Containers::None] {
        let why = approach(c, t, policy).unwrap_err();
        assert!(why.contains("user namespace of uid 1000"), "{why}");
    }
    match approach(c, t, Containers::All) {
        Ok(Approach::Owner { uid, leader, .. }) => assert_eq!((uid, leader), (1000, 4242)),
        other => panic!("{other:?}"),
    }
    assert!(approach(c, Trust::Untrusted { owner: None }, Containers::All).is_err());
    assert_eq!(
        approach(c, Trust::Root, Containers::Trusted),
        Ok(Approach::RootInPidns { leader: 4242 })
    );
    assert!(approach(c, Trust::Root, Containers::None).is_err());
    assert_eq!(
        approach(Owner::System, Trust::Root, Containers::None),
        Ok(Approach::Root)
    );
    assert!(
        Trust::Untrusted { owner: Some(7) }
            .label()
            .is_some_and(|l| l == "untrusted: user namespace of uid 7")
    );
}

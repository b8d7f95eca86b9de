use super::*;

#[test]
fn kernel_dev_encoding() {
    // st_dev for 8:1 (userspace encoding 0x801) → kernel MKDEV(8, 1).
    assert_eq!(kernel_dev(0x801), (8 << 20) | 1);
    assert_eq!(kernel_dev(libc::makedev(259, 3)), (259 << 20) | 3);
}

#[test]
fn path_key_is_zero_padded_and_bounded() {
    let k = path_key(b"/run/systemd/notify").unwrap();
    assert_eq!(&k.path[..19], b"/run/systemd/notify");
    assert!(k.path[19..].iter().all(|b| *b == 0));
    assert!(path_key(&[b'a'; SUN_PATH_MAX]).is_none());
}

#[test]
fn abstract_keys_start_with_nul() {
    let r = Request::explicit("@observer-test");
    let keys = path_keys(&r).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].path[0], 0);
    assert_eq!(&keys[0].path[1..14], b"observer-test");
}

#[test]
fn path_matches_go_to_the_manager_in_the_senders_pid_namespace() {
    let w = |id, pidns| Watched {
        id,
        owner: SocketOwner::Manager(format!("container {id}")),
        address: "/run/systemd/notify".into(),
        key: SocketKey {
            ino: u64::from(id),
            dev: 1,
            _pad: 0,
        },
        path_keys: vec![],
        manager: Some(Owner::Container { leader: id }),
        pidns_ino: Some(pidns),
        trust: Some(Trust::Root),
    };
    let watched = [w(1, 4026531836), w(2, 4026532500)];
    // The kernel matched the first owner of the string; the sender lives in container 2.
    assert_eq!(
        disambiguate(1, "/run/systemd/notify", 4026532500, &watched),
        2
    );
    assert_eq!(
        disambiguate(1, "/run/systemd/notify", 4026531836, &watched),
        1
    );
    // A sender in no manager's namespace, or another address: left as the kernel said.
    assert_eq!(disambiguate(1, "/run/systemd/notify", 7, &watched), 1);
    assert_eq!(disambiguate(2, "/other", 4026531836, &watched), 2);
}

#[test]
fn nothing_to_watch_says_what_to_do() {
    assert_eq!(
        WatchError::NothingToWatch.to_string(),
        "no systemd notify socket found (is systemd running here?); pass --socket PATH to watch another socket"
    );
    // A host without systemd, asked for nothing else: nothing resolves, and trace stops there.
    assert!(resolve(&[], &[], 0).unwrap().is_empty());
}

#[test]
fn explicit_missing_socket_is_a_clear_error() {
    let err = resolve(&[Request::explicit("/nonexistent/notify")], &[], 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--socket /nonexistent/notify: no such socket"
    );
}

#[test]
fn stream_sockets_are_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("observer-watch-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("stream");
    let _ = std::fs::remove_file(&path);
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let err = resolve(&[Request::explicit(path.to_str().unwrap())], &[], 0).unwrap_err();
    assert!(
        err.to_string()
            .contains("a stream socket (SOCK_STREAM or SOCK_SEQPACKET)"),
        "{err}"
    );
    let dgram = dir.join("dgram");
    let _ = std::fs::remove_file(&dgram);
    let _sock = std::os::unix::net::UnixDatagram::bind(&dgram).unwrap();
    assert!(resolve(&[Request::explicit(dgram.to_str().unwrap())], &[], 0).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ids_are_never_reused() {
    let dir = std::env::temp_dir().join(format!("observer-watch-ids-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bind = |name: &str| {
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        (Request::explicit(path.to_str().unwrap()), sock)
    };
    let (a, _a) = bind("a");
    let (b, _b) = bind("b");
    let first = resolve(&[a.clone(), b], &[], 0).unwrap();
    assert_eq!(first.iter().map(|w| w.id).collect::<Vec<_>>(), [1, 2]);
    // b (id 2, the highest) goes away; at the next rescan c comes, and must not get 2.
    let highest = highest_id(&first);
    let second = resolve(std::slice::from_ref(&a), &first, highest).unwrap();
    assert_eq!(second.iter().map(|w| w.id).collect::<Vec<_>>(), [1]);
    let (c, _c) = bind("c");
    let third = resolve(&[a, c], &second, highest.max(highest_id(&second))).unwrap();
    assert_eq!(third.iter().map(|w| w.id).collect::<Vec<_>>(), [1, 3]);
    std::fs::remove_dir_all(&dir).unwrap();
}

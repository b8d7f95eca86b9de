use super::*;

#[test]
fn net_unix_lines_by_path() {
    let text = "Num       RefCount Protocol Flags    Type St Inode Path\n\
             0000000000000000: 00000002 00000000 00000000 0002 01 33217 /run/systemd/notify\n\
             0000000000000000: 00000002 00000000 00000000 0002 01 33218 /run/other\n\
             0000000000000000: 00000003 00000000 00000000 0001 03 33219\n";
    assert_eq!(net_unix_inodes(text, &["/run/systemd/notify"]), [33217]);
    assert!(net_unix_inodes(text, &["/nope"]).is_empty());
}

#[test]
fn this_process_holds_its_own_socket_and_others_do_not() {
    let dir = std::env::temp_dir().join(format!("observer-readers-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.sock");
    let _ = fs::remove_file(&path);
    let _sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    let meta = fs::metadata(&path).unwrap();
    let w = Watched {
        id: 7,
        owner: crate::watch::SocketOwner::Explicit,
        address: path.display().to_string(),
        key: observer_common::SocketKey {
            ino: meta.ino(),
            dev: 1,
            _pad: 0,
        },
        path_keys: vec![],
        manager: None,
        trust: None,
        pidns_ino: None,
    };
    let me = std::process::id();
    assert_eq!(
        find(std::slice::from_ref(&w), &[me]),
        [Reader {
            tgid: me,
            watch_id: 7
        }]
    );
    // PID 1 (or whatever it is here) does not hold our socket.
    assert!(find(&[w], &[1]).is_empty());
    fs::remove_dir_all(&dir).unwrap();
}

use std::os::unix::{fs::PermissionsExt as _, net::UnixDatagram};

use super::*;

#[test]
fn looks_as_the_user_and_sees_only_what_the_user_may() {
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (drops to another uid)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("observer-look-as-{}", std::process::id()));
    // dir (root's, 0700) / run (the user's) / notify
    let run = dir.join("run");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&run, Some(65534), Some(65534)).unwrap();
    let path = run.join("notify");
    let _s = UnixDatagram::bind(&path).unwrap();
    let seen = stat_as(65534, 65534, None, &path).expect("a socket the user can see");
    assert!(seen.is_socket);
    assert_eq!(seen.uid, 0, "root made it");
    let meta = std::fs::metadata(&path).unwrap();
    use std::os::unix::fs::MetadataExt as _;
    assert_eq!((seen.dev, seen.ino), (meta.dev(), meta.ino()));
    // Root could walk there; the user cannot.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(stat_as(65534, 65534, None, &path), None);
    // Root opens the user's directory first, then the user looks from it.
    let seen = stat_as(65534, 65534, Some(&run), Path::new("notify"));
    assert_eq!(seen.map(|s| s.ino), Some(meta.ino()));
    std::fs::remove_dir_all(&dir).unwrap();
}

use super::*;

fn dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("observer-out-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn new_and_existing_files_end_0600_with_the_new_content() {
    let d = dir("plain");
    let p = d.join("report.html");
    write_private(&p, b"first, longer").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    write_private(&p, b"second").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"second");
    let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn symlinks_fifos_and_hard_links_are_refused_untouched() {
    let d = dir("special");
    let victim = d.join("victim");
    std::fs::write(&victim, b"keep me").unwrap();
    let link = d.join("link.html");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let e = write_private(&link, b"x").unwrap_err().to_string();
    assert!(
        e.ends_with("is a symbolic link; refusing to follow it"),
        "{e}"
    );
    let dangling = d.join("dangling.html");
    std::os::unix::fs::symlink(d.join("nowhere"), &dangling).unwrap();
    assert!(write_private(&dangling, b"x").is_err());
    assert!(!d.join("nowhere").exists());

    let hard = d.join("hard.html");
    std::fs::hard_link(&victim, &hard).unwrap();
    let e = write_private(&hard, b"x").unwrap_err().to_string();
    assert!(e.contains("other hard links"), "{e}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");

    let fifo = d.join("fifo.html");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid path string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let e = write_private(&fifo, b"x").unwrap_err().to_string();
    assert!(e.contains("a FIFO"), "{e}");
    let e = write_private(Path::new("/dev/null"), b"x")
        .unwrap_err()
        .to_string();
    assert!(e.contains("a device"), "{e}");
    std::fs::remove_dir_all(&d).unwrap();
}

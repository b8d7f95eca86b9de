use super::*;

#[test]
fn replaces_whole_and_leaves_no_temporary() {
    let dir = std::env::temp_dir().join(format!("observer-textfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("observer.prom");
    write(&path, "a 1\n").unwrap();
    write(&path, "b 2\n").unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "b 2\n");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o644);
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "{left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_directory_is_an_error() {
    let e = write(Path::new("/nonexistent-observer-dir/x.prom"), "").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
}

use std::time::{Duration, Instant};

use super::*;
use crate::recording::{frame, records::Session};

fn recording(bodies: &[&[u8]]) -> Vec<u8> {
    let mut bytes = frame::header().to_vec();
    for b in bodies {
        bytes.extend(frame::encode(b));
    }
    bytes
}

fn temp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("observer-reader-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn bytes_read_like_the_file_they_came_from() {
    let drops = br#"{"drops":{"new":1,"total":2}}"#;
    let bytes = recording(&[drops, b"{\"from-a-newer-observer\":1}", drops]);
    let path = std::env::temp_dir().join(format!("observer-reader-{}.rec", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let (mut from_file, mut from_bytes) = (Reading::default(), Reading::default());
    read_file(&path, false, &mut from_file).unwrap();
    read_bytes(&path, &bytes, false, &mut from_bytes).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(from_file.records, from_bytes.records);
    assert_eq!(from_bytes.records.len(), 2);
    assert_eq!(from_bytes.unknown, 1);
    assert!(from_bytes.damage.is_empty());
}

#[test]
fn damage_is_skipped_only_when_forced() {
    let drops: &[u8] = br#"{"drops":{"new":1,"total":2}}"#;
    let mut bytes = recording(&[drops, drops, drops]);
    let second = frame::HEADER_LEN + frame::FRAME_OVERHEAD + drops.len();
    bytes[second + 13] ^= 0x40;
    for (force, kept) in [(false, 1), (true, 2)] {
        let mut r = Reading::default();
        read_bytes(Path::new("x.rec"), &bytes, force, &mut r).unwrap();
        assert_eq!(r.records.len(), kept, "force {force}");
        assert_eq!(r.damage.len(), 1);
        assert_eq!(r.damage[0].offset, second as u64);
        assert!(r.damage[0].to_string().starts_with("x.rec: at byte "));
    }
    let e = read_bytes(Path::new("x.rec"), b"", false, &mut Reading::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.rec: at byte 0: empty file: not a recording"
    );
}

#[test]
fn a_torn_last_record_says_how_much_of_it_is_there() {
    let drops: &[u8] = br#"{"drops":{"new":1,"total":2}}"#;
    let bytes = recording(&[drops, drops]);
    let mut r = Reading::default();
    read_bytes(Path::new("x.rec"), &bytes[..bytes.len() - 5], false, &mut r).unwrap();
    assert_eq!(r.records.len(), 1);
    let left = frame::FRAME_OVERHEAD + drops.len() - 5;
    assert!(
        r.damage[0].what.starts_with(&format!(
            "truncated: the file ends inside a record ({left} bytes"
        )),
        "{}",
        r.damage[0]
    );
}

/// A FIFO would block a plain open forever, /dev/zero would never end: both are refused at
/// once with one line, as is a directory.
#[test]
fn only_regular_files_are_read() {
    let d = temp("special");
    let fifo = d.join("fifo.rec");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid path string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let started = Instant::now();
    for (path, says) in [
        (fifo.as_path(), "is not a regular file"),
        (Path::new("/dev/zero"), "is not a regular file"),
        (d.as_path(), "is a directory"),
    ] {
        let e = read_file(path, false, &mut Reading::default()).unwrap_err();
        assert!(e.what.starts_with(says), "{path:?}: {e}");
        assert!(!e.to_string().contains('\n'));
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    std::fs::remove_dir_all(&d).unwrap();
}

/// A 1 GiB sparse file is called what it is after its header, not after reading a gigabyte.
#[test]
fn a_huge_file_that_is_no_recording_is_refused_from_its_header() {
    let d = temp("sparse");
    let path = d.join("big.rec");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let started = Instant::now();
    let e = read_file(&path, true, &mut Reading::default()).unwrap_err();
    assert_eq!(e.what, "not a recording (bad magic)");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // A recording whose tail is a sparse gigabyte: read up to it, the rest reported once.
    std::fs::write(&path, recording(&[br#"{"drops":{"new":1,"total":2}}"#])).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let mut r = Reading::default();
    read_file(&path, false, &mut r).unwrap();
    assert_eq!((r.records.len(), r.damage.len()), (1, 1));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    std::fs::remove_dir_all(&d).unwrap();
}

fn session(started: &str, file_started: Option<&str>) -> Vec<u8> {
    crate::recording::to_body(&Record::Session(Session {
        started: started.into(),
        file_started: file_started.map(Into::into),
        host: "h".into(),
        kernel: "k".into(),
        observer_version: "0".into(),
        strategy: "tracepoint".into(),
        hooks: vec![],
        watched: vec![],
        realtime_minus_monotonic_ns: 0,
    }))
    .unwrap()
}

/// `replay FILE*` lists FILE, FILE.1, FILE.2: they are read oldest first, by when each file
/// was begun, and older recordings (every file with the session's start) by their number.
#[test]
fn rotated_files_are_read_oldest_first() {
    let d = temp("order");
    let drops = |n: u64| format!(r#"{{"drops":{{"new":{n},"total":{n}}}}}"#).into_bytes();
    let start = "2026-11-24T03:00:00.000000Z";
    let files = [
        ("notify.rec", Some("2026-11-24T03:20:00.000000Z"), 3),
        ("notify.rec.1", Some("2026-11-24T03:10:00.000000Z"), 2),
        ("notify.rec.2", None, 1),
    ];
    for (name, begun, n) in files {
        std::fs::write(
            d.join(name),
            recording(&[&session(start, begun), &drops(n)]),
        )
        .unwrap();
    }
    let paths: Vec<PathBuf> = files.iter().map(|f| d.join(f.0)).collect();
    let order = |r: &Reading| -> Vec<u64> {
        r.records
            .iter()
            .filter_map(|(_, _, r)| match r {
                Record::Drops { new, .. } => Some(*new),
                _ => None,
            })
            .collect()
    };
    assert_eq!(order(&read_all(&paths, false)), [1, 2, 3]);
    // Written before files carried their own start: FILE.2, FILE.1, FILE.
    for (name, _, n) in files {
        std::fs::write(d.join(name), recording(&[&session(start, None), &drops(n)])).unwrap();
    }
    assert_eq!(order(&read_all(&paths, false)), [1, 2, 3]);
    std::fs::remove_dir_all(&d).unwrap();
}

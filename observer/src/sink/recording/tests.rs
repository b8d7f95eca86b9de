use std::time::Duration;

use super::*;
use crate::{
    judge::Judgement,
    recording::{
        reader,
        records::tests::sample_event,
        writer::{Rotation, Writer},
    },
};

fn dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("observer-rec-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn start(sink: &mut RecordingSink) {
    sink.start(&Start {
        strategy: "tracepoint".into(),
        hooks: &[],
        refused: &[],
        watched: &[],
    })
    .unwrap();
}

/// FILE.1 cannot be made (a directory is in its way): the first record past --max-size
/// ends the recording with one error, and the file does not grow past it.
#[test]
fn a_failed_rotation_stops_the_recording_with_one_error() {
    let d = dir("rotfail");
    let path = d.join("notify.rec");
    std::fs::create_dir_all(d.join("notify.rec.1/in-the-way")).unwrap();
    let rotation = Rotation {
        max_size: Some(4096),
        max_age: None,
        keep: 1,
    };
    let mut sink = RecordingSink::new(Writer::create(&path, rotation, Duration::MAX).unwrap());
    start(&mut sink);
    let (ev, j) = (sample_event(), Judgement::default());
    let mut written = 0;
    let err = loop {
        match sink.event(&Shown::unknown_socket(&ev, &j)) {
            Ok(()) => written += 1,
            Err(e) => break e.to_string(),
        }
        assert!(written < 100, "never rotated");
    };
    assert!(err.starts_with("rotating the recording: "), "{err}");
    assert!(
        err.ends_with("stopped, so as not to grow it past --max-size"),
        "{err}"
    );
    let size = std::fs::metadata(&path).unwrap().len();
    let one = crate::recording::to_body(&Record::event(&ev, &j))
        .unwrap()
        .len() as u64
        + 12;
    assert!(size < 4096 + one, "{size}");
    std::fs::remove_dir_all(&d).unwrap();
}

/// Each rotated file says when it was begun, so readers put FILE* in time order.
#[test]
fn rotated_files_carry_their_own_start() {
    let d = dir("rotstart");
    let path = d.join("notify.rec");
    let rotation = Rotation {
        max_size: Some(4096),
        max_age: None,
        keep: 5,
    };
    let mut sink = RecordingSink::new(Writer::create(&path, rotation, Duration::MAX).unwrap());
    start(&mut sink);
    let (mut ev, j) = (sample_event(), Judgement::default());
    for i in 0..20 {
        ev.pid = i;
        sink.event(&Shown::unknown_socket(&ev, &j)).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let sessions = |p: &std::path::Path| {
        let mut r = reader::Reading::default();
        reader::read_file(p, false, &mut r).unwrap();
        r.records
            .into_iter()
            .filter_map(|(_, _, r)| match r {
                Record::Session(s) => Some(s),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let files: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(d.join("notify.rec.2").exists(), "{files:?}");
    let oldest = (1..=5)
        .map(|n| d.join(format!("notify.rec.{n}")))
        .rfind(|p| p.exists())
        .unwrap();
    let (first, rotated) = (sessions(&oldest), sessions(&path));
    assert!(first[0].file_started.is_none(), "the session's first file");
    assert_eq!(rotated.len(), 1);
    assert_eq!(rotated[0].started, first[0].started, "one session");
    let begun = rotated[0].file_started.clone().unwrap();
    assert!(
        begun > first[0].started,
        "{begun} after {}",
        first[0].started
    );
    // Listed the way a shell glob lists them, they are read oldest first.
    let mut paths: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let pids: Vec<u32> = reader::read_all(&paths, false)
        .records
        .into_iter()
        .filter_map(|(_, _, r)| match r {
            Record::Event(e) => Some(e.event.pid),
            _ => None,
        })
        .collect();
    assert_eq!(pids, (0..20).collect::<Vec<_>>(), "{files:?}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn record_refuses_symlinks_and_fifos_at_its_path() {
    let d = dir("special");
    let rotation = Rotation {
        max_size: None,
        max_age: None,
        keep: 1,
    };
    let victim = d.join("victim");
    std::fs::write(&victim, b"keep me").unwrap();
    let link = d.join("link.rec");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let e = Writer::create(&link, rotation, Duration::MAX)
        .err()
        .unwrap();
    assert!(e.to_string().contains("is a symbolic link"), "{e}");
    let fifo = d.join("fifo.rec");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid path string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let e = Writer::create(&fifo, rotation, Duration::MAX)
        .err()
        .unwrap();
    assert!(e.to_string().contains("a FIFO"), "{e}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    assert!(link.is_symlink() && !d.join("link.rec.1").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

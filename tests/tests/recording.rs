//! Recordings with the real observer: what `observer record` writes, `observer replay` shows
//! the same (events, units, verdicts), a SIGKILLed recorder keeps every record it wrote,
//! rotation loses nothing, and damaged files are reported by file and offset with every
//! intact record before the damage still shown. Root only (the recorder loads BPF programs).

use std::{
    fs,
    os::unix::{fs::PermissionsExt, net::UnixDatagram, process::CommandExt},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    thread,
    time::Duration,
};

use observer_tests::{observer::Observer, require_root, unique, workspace_bin};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

struct Sockets {
    dir: PathBuf,
    path: String,
    closed: String,
    _rx: UnixDatagram,
}

impl Sockets {
    fn new(tag: &str) -> Sockets {
        let dir = std::env::temp_dir().join(unique(tag));
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let path = dir.join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o777)).unwrap();
        // Read everything, as a manager does: a full queue would block the senders.
        let drain = rx.try_clone().unwrap();
        drain
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let alive = path.clone();
        thread::spawn(move || {
            let mut buf = vec![0u8; 8192];
            while drain.recv(&mut buf).is_ok() || alive.exists() {}
        });
        let closed = dir.join("closed.sock");
        drop(UnixDatagram::bind(&closed).unwrap());
        Sockets {
            path: path.display().to_string(),
            closed: closed.display().to_string(),
            dir,
            _rx: rx,
        }
    }

    fn args(&self) -> Vec<&str> {
        vec![
            "--no-default-sockets",
            "--socket",
            &self.path,
            "--socket",
            &self.closed,
        ]
    }
}

impl Drop for Sockets {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn nsend(args: &[&str]) {
    let out = Command::new(workspace_bin("nsend"))
        .args(args)
        .output()
        .expect("run nsend");
    assert!(
        out.status.success(),
        "nsend {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A mix of what the capture tests send: several syscalls, ancillary data, another user, an
/// oversized datagram and a failing send. Returns how many events it makes.
fn send_mix(s: &Sockets) -> usize {
    let to = s.path.as_str();
    nsend(&["--to", to, "READY=1\nSTATUS=plain"]);
    nsend(&[
        "--to",
        to,
        "--part",
        "READY=1\n",
        "--part",
        "STATUS=a",
        "--part",
        "\nX_Y=z",
    ]);
    nsend(&[
        "--to",
        to,
        "--creds",
        &format!("{}:0:0", std::process::id()),
        "--fds",
        "2",
        "FDSTORE=1",
    ]);
    nsend(&["--to", to, "--user", "65534:65534", "WATCHDOG=1"]);
    nsend(&["--to", to, "--size", "5000"]);
    nsend(&["--to", to, "--mmsg", "3", "MAINPID=1"]);
    nsend(&["--to", to, "--connect", "--write", "STOPPING=1"]);
    nsend(&["--to", &s.closed, "READY=1"]);
    1 + 1 + 1 + 1 + 1 + 3 + 1 + 1
}

fn observer(args: &[&str]) -> Output {
    Command::new(workspace_bin("observer"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run observer")
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON {l:?}: {e}")))
        .collect()
}

fn events(records: &[Value]) -> Vec<Value> {
    records
        .iter()
        .filter(|r| r["record"] == "event")
        .cloned()
        .collect()
}

/// An event without its timestamps: two observers stamp the same send each with their own
/// program run, nanoseconds apart.
fn without_ts(mut v: Value) -> Value {
    let o = v.as_object_mut().unwrap();
    o.remove("ts");
    o.remove("mono_ns");
    v
}

fn replay_json(files: &[&Path], extra: &[&str]) -> (Vec<Value>, Output) {
    let mut args = vec!["replay", "--json"];
    args.extend(extra);
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    args.extend(names.iter().map(String::as_str));
    let out = observer(&args);
    (events(&json_lines(&out)), out)
}

/// Records real traffic next to a plain `trace`, replays it: the same events, units and
/// verdicts, field for field (the timestamps aside: each observer's programs stamp the send themselves).
#[test]
#[ignore = "needs root: run through cargo xtask test recording"]
fn replay_shows_what_trace_showed() {
    require_root!();
    let s = Sockets::new("rt");
    let file = s.dir.join("r.rec");
    let mut tracer = Observer::start_with(&s.args());
    let mut recorder = Observer::record(&file, &s.args());
    let n = send_mix(&s);
    let traced = tracer.events(n, WAIT);
    let recorded = recorder.events(n, WAIT);
    let rest = recorder.stop();
    assert!(rest.iter().any(|r| r["record"] == "summary"));
    let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "recordings are private");

    let (replayed, out) = replay_json(&[&file], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        replayed, recorded,
        "replay prints exactly what the recorder printed"
    );
    let a: Vec<Value> = replayed.into_iter().map(without_ts).collect();
    let b: Vec<Value> = traced.into_iter().map(without_ts).collect();
    assert_eq!(a, b, "replay equals what trace showed live");

    // The filters of trace, offline.
    let (only, _) = replay_json(&[&file], &["--pid", &a[0]["pid"].to_string()]);
    assert_eq!(only.len(), 1);
    let last = recorded[n - 1]["ts"].as_str().unwrap();
    let (late, _) = replay_json(&[&file], &["--since", last]);
    assert!(
        late.len() < n && !late.is_empty(),
        "--since {last}: {}",
        late.len()
    );
    let (early, _) = replay_json(&[&file], &["--until", "2000-01-01 00:00"]);
    assert!(early.is_empty());
    // Without --json: the table, no root needed.
    let out = run_as_nobody(&["replay", &file.display().to_string()], &file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("VERDICT")
            && table.contains("ECONNREF")
            && table.contains("STATUS=\"plain\""),
        "{table}"
    );
}

/// Runs observer as uid 65534 (a recording is read without root; or, for a 0600 file of
/// root's, is refused).
fn run_as_nobody(args: &[&str], file: &Path) -> Output {
    let copy = file.with_extension("nobody");
    fs::copy(file, &copy).unwrap();
    std::os::unix::fs::chown(&copy, Some(65534), Some(65534)).unwrap();
    let args: Vec<String> = args
        .iter()
        .map(|a| {
            if Path::new(a) == file {
                copy.display().to_string()
            } else {
                a.to_string()
            }
        })
        .collect();
    Command::new(workspace_bin("observer"))
        .args(&args)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap()
}

/// SIGKILL mid-stream: every record the recorder wrote before it died reads back (it prints
/// each event only after writing it), and the file ends at most in one torn record.
#[test]
#[ignore = "needs root: run through cargo xtask test recording"]
fn sigkilled_recorder_keeps_every_record_it_wrote() {
    require_root!();
    let s = Sockets::new("kill");
    let file = s.dir.join("k.rec");
    let mut recorder = Observer::record(&file, &s.args());
    let to = s.path.clone();
    let sender = thread::spawn(move || {
        nsend(&["--to", &to, "--repeat", "20000", "--size", "300"]);
    });
    let mut seen = recorder.events(200, WAIT);
    seen.extend(
        recorder
            .kill()
            .into_iter()
            .filter(|r| r["record"] == "event"),
    );
    sender.join().unwrap();
    let (back, out) = replay_json(&[&file], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("observer: error:"))
        .collect();
    assert!(
        errors.len() <= 1,
        "at most one torn record at the end: {err}"
    );
    if let Some(e) = errors.first() {
        assert!(e.contains("truncated"), "only truncation, no damage: {e}");
    }
    assert!(
        back.len() >= seen.len(),
        "{} read back, {} seen",
        back.len(),
        seen.len()
    );
    assert_eq!(
        &back[..seen.len()],
        &seen[..],
        "every written record, in order, unchanged"
    );
}

/// --max-size rotates into FILE.1 … FILE.N; replaying them in any order gives every event,
/// oldest first.
#[test]
#[ignore = "needs root: run through cargo xtask test recording"]
fn rotated_files_replay_in_time_order() {
    require_root!();
    let s = Sockets::new("rot");
    let file = s.dir.join("rot.rec");
    let args = [&s.args()[..], &["--max-size", "8K", "--keep", "50"]].concat();
    let mut recorder = Observer::record(&file, &args);
    for i in 0..30 {
        nsend(&[
            "--to",
            &s.path,
            &format!("STATUS=message {i:02} {}", "x".repeat(500)),
        ]);
    }
    let recorded = recorder.events(30, WAIT);
    recorder.stop();
    let mut files: Vec<PathBuf> = fs::read_dir(&s.dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.display().to_string().contains("rot.rec"))
        .collect();
    assert!(files.len() > 3, "rotated: {files:?}");
    files.sort();
    files.reverse();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (back, out) = replay_json(&refs, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(back, recorded);
}

/// Damaged files: one line naming the file and byte offset, and every intact record before the
/// damage still shown; --force goes on after damage.
#[test]
#[ignore = "needs root: run through cargo xtask test recording"]
fn damaged_recordings_are_reported_and_read_up_to_the_damage() {
    require_root!();
    let s = Sockets::new("bad");
    let file = s.dir.join("good.rec");
    let mut recorder = Observer::record(&file, &s.args());
    for i in 0..5 {
        nsend(&["--to", &s.path, &format!("STATUS={i}")]);
    }
    recorder.events(5, WAIT);
    recorder.stop();
    let good = fs::read(&file).unwrap();
    let (all, _) = replay_json(&[&file], &[]);
    assert_eq!(all.len(), 5);
    // Where each frame starts (sync word "REC\x1e").
    let frames: Vec<usize> = (16..good.len())
        .filter(|&i| good[i..].starts_with(b"REC\x1e"))
        .collect();

    let check = |name: &str, bytes: &[u8], extra: &[&str], events: usize, want: &str| {
        let f = s.dir.join(name);
        fs::write(&f, bytes).unwrap();
        let (ev, out) = replay_json(&[&f], extra);
        let err = String::from_utf8_lossy(&out.stderr);
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("observer: error:"))
            .collect();
        assert_eq!(errors.len(), 1, "{name}: one error line: {err}");
        assert!(
            errors[0].contains(&f.display().to_string()) && errors[0].contains(want),
            "{name}: {} should name the file and say {want:?}",
            errors[0]
        );
        assert!(
            !out.status.success(),
            "{name}: the exit status says the file was not read whole"
        );
        assert_eq!(ev.len(), events, "{name}: intact events before the damage");
    };
    // Cut inside the last frame (the End record): all events shown.
    check(
        "truncated.rec",
        &good[..good.len() - 3],
        &[],
        5,
        "truncated",
    );
    // Cut inside the 4th event's frame (frames: session, 5 events, end).
    let fourth = frames[4];
    check(
        "cut.rec",
        &good[..fourth + 20],
        &[],
        3,
        &format!("at byte {fourth}: truncated"),
    );
    let mut flipped = good.clone();
    flipped[frames[2] + 40] ^= 0x10;
    let at = frames[2];
    check(
        "flipped.rec",
        &flipped,
        &[],
        1,
        &format!("at byte {at}: damaged"),
    );
    check(
        "flipped-force.rec",
        &flipped,
        &["--force"],
        4,
        &format!("at byte {at}: damaged"),
    );
    let mut magic = good.clone();
    magic[..8].copy_from_slice(b"GARBAGE!");
    check("magic.rec", &magic, &[], 0, "at byte 0: not a recording");
    let mut future = good.clone();
    future[8] = 99;
    check("future.rec", &future, &[], 0, "version 99 is newer");
    check("empty.rec", b"", &[], 0, "empty file");
    let d = s.dir.join("adir.rec");
    fs::create_dir_all(&d).unwrap();
    let (_, out) = replay_json(&[&d], &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is a directory") && !out.status.success(),
        "{err}"
    );
    // No permission: root's 0600 file read as nobody.
    let out = Command::new(workspace_bin("observer"))
        .args(["replay", &file.display().to_string()])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Permission denied") && err.contains("good.rec") && !out.status.success(),
        "{err}"
    );
    // Several files: the bad one is reported, the good one still shown.
    let (ev, out) = replay_json(&[&s.dir.join("magic.rec"), &file], &[]);
    assert_eq!(ev.len(), 5);
    assert!(!out.status.success());
}

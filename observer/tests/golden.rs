//! A recording made for real (data/golden.rec, by scripts/golden-recording) replays to exactly
//! the JSON lines checked in beside it (data/golden.jsonl): the recording format, replay's
//! re-judging and the JSON view stay what they were. No root, no BPF.
//!
//! When a change of output is meant (a new JSON key, a verdict rule, a citation), make
//! golden.jsonl again from the same recording and commit it with the change:
//!     cargo run -p observer -- replay --json observer/tests/data/golden.rec > observer/tests/data/golden.jsonl
//! When the recording format itself changes on purpose, make both again with
//! scripts/golden-recording (as root), and keep a recording of the old format readable.

use std::{path::Path, process::Command};

#[test]
fn the_golden_recording_replays_to_the_golden_json_lines() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let out = Command::new(env!("CARGO_BIN_EXE_observer"))
        .args(["replay", "--json"])
        .arg(data.join("golden.rec"))
        .output()
        .expect("run observer replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = String::from_utf8(out.stdout).expect("UTF-8 JSON lines");
    let want = std::fs::read_to_string(data.join("golden.jsonl")).expect("golden.jsonl");
    for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {} differs", n + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count(), "{got}");
}

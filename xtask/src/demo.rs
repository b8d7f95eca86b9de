//! `cargo xtask demo`: the observer's live view of a real systemd (257 by default, in a container
//! booted by scripts/testbed, because this machine's PID 1 is not systemd) starting units that
//! notify correctly, from the wrong process, and never. At the end, for each unit, what
//! `journalctl -u` shows at systemd's default log level beside what the observer made of it: from
//! 256 on systemd logs a refused notification at debug level only, so its journal says nothing
//! about why a unit hangs, and the observer does.

use std::{
    path::Path,
    process::{Command, Stdio},
    thread::sleep,
    time::Duration,
};

use anyhow::Context as _;

use crate::build::{self, workspace_root};

const NAME: &str = "observer-demo";
/// Units from tests/testbed/units, in the order they are started.
const UNITS: [&str; 4] = [
    "tb-notify-python.service",
    "tb-notify-child-nobody.service",
    "tb-notify-child-nobody-all.service",
    "tb-notify-never.service",
];

/// Stops the container however the demo ends.
struct Container;

impl Drop for Container {
    fn drop(&mut self) {
        let _ = testbed(&["stop", NAME]).status();
    }
}

fn testbed(args: &[&str]) -> Command {
    let mut c = Command::new(workspace_root().join("scripts/testbed"));
    c.args(args);
    c
}

pub fn run(seconds: u32, systemd: u32) -> anyhow::Result<()> {
    build::run(Command::new("cargo").args(["build", "--release", "-p", "observer"]))?;
    let version = systemd.to_string();
    build::run(&mut testbed(&["--systemd", &version, "rootfs"]))?;
    let _ = testbed(&["stop", NAME]).stderr(Stdio::null()).status();
    // systemd's own log level: the journal as users have it.
    let out = testbed(&["--systemd", &version, "start", NAME])
        .env("TESTBED_LOG_LEVEL", "default")
        .output()
        .context("scripts/testbed start")?;
    anyhow::ensure!(
        out.status.success(),
        "testbed start failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _container = Container;
    let leader = String::from_utf8_lossy(&out.stdout).trim().to_string();
    eprintln!("xtask: systemd {systemd} is PID 1 of container {NAME} (host PID {leader})");
    let units_dir = workspace_root().join("tests/testbed/units");
    let files: Vec<String> = UNITS
        .iter()
        .map(|u| units_dir.join(u).display().to_string())
        .collect();
    let mut install = testbed(&["install-unit", NAME]);
    install.args(&files);
    build::run(&mut install)?;

    let observer_bin = build::target_dir().join("release/observer");
    let recording = std::env::temp_dir().join(format!("observer-demo-{}.rec", std::process::id()));
    let mut observer = Command::new(&observer_bin)
        .args(["trace", "--duration", &seconds.to_string()])
        .spawn()
        .context("starting the observer")?;
    // A recorder beside the live table, for the story of each unit at the end. Its first JSON
    // line (the start record) says it is attached and following the manager.
    let mut recorder = Command::new(&observer_bin)
        .args(["record", "--json", "-o"])
        .arg(&recording)
        .args(["--duration", &seconds.to_string(), "-u", "tb-*"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the recorder")?;
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let out = recorder.stdout.take().context("the recorder's stdout")?;
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(out).lines();
        let _ = lines.next();
        let _ = ready_tx.send(());
        lines.for_each(drop);
    });
    let _ = ready.recv_timeout(Duration::from_secs(120));
    sleep(Duration::from_secs(2));
    for unit in UNITS {
        eprintln!("xtask: systemctl start {unit}");
        testbed(&["exec", NAME, "--", "systemctl", "start", "--no-block", unit]).status()?;
        sleep(Duration::from_secs(1));
    }
    let status = observer.wait()?;
    let _ = recorder.wait();
    println!(
        "\n== What systemd {systemd}'s journal says at its default log level, and what the observer saw"
    );
    for unit in UNITS {
        side_by_side(unit, &observer_bin, &recording)?;
    }
    let _ = std::fs::remove_file(&recording);
    anyhow::ensure!(status.success(), "the observer failed");
    Ok(())
}

/// `journalctl -u UNIT` in the container, then `observer diagnose -u UNIT` of the recording.
fn side_by_side(unit: &str, observer: &Path, recording: &Path) -> anyhow::Result<()> {
    let state = testbed(&[
        "exec",
        NAME,
        "--",
        "systemctl",
        "show",
        "-p",
        "ActiveState,Result",
        "--value",
        unit,
    ])
    .output()?;
    let state = String::from_utf8_lossy(&state.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(", ");
    println!("\n● {unit} ({state})");
    let journal = testbed(&["journal", NAME, "-u", unit, "-o", "short-precise"]).output()?;
    println!("  journalctl -u {unit}:");
    for line in String::from_utf8_lossy(&journal.stdout).lines() {
        println!("    {line}");
    }
    let story = Command::new(observer)
        .args(["diagnose", "-u", unit])
        .arg(recording)
        .output()?;
    println!("  observer diagnose:");
    for line in String::from_utf8_lossy(&story.stdout).lines() {
        println!("    {line}");
    }
    Ok(())
}

//! `cargo xtask demo`: the observer's live view of a real systemd (252, in a container booted by
//! scripts/testbed, because this machine's PID 1 is not systemd) starting units that notify
//! correctly, from the wrong process, and never.

use std::{
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

pub fn run(seconds: u32) -> anyhow::Result<()> {
    build::run(Command::new("cargo").args(["build", "--release", "-p", "observer"]))?;
    build::run(&mut testbed(&["rootfs"]))?;
    let _ = testbed(&["stop", NAME]).stderr(Stdio::null()).status();
    let out = testbed(&["start", NAME])
        .output()
        .context("scripts/testbed start")?;
    anyhow::ensure!(
        out.status.success(),
        "testbed start failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _container = Container;
    let leader = String::from_utf8_lossy(&out.stdout).trim().to_string();
    eprintln!("xtask: systemd 252 is PID 1 of container {NAME} (host PID {leader})");
    let units_dir = workspace_root().join("tests/testbed/units");
    let files: Vec<String> = UNITS
        .iter()
        .map(|u| units_dir.join(u).display().to_string())
        .collect();
    let mut install = testbed(&["install-unit", NAME]);
    install.args(&files);
    build::run(&mut install)?;

    let mut observer = Command::new(workspace_root().join("target/release/observer"))
        .args(["trace", "--duration", &seconds.to_string()])
        .spawn()
        .context("starting the observer")?;
    sleep(Duration::from_secs(3));
    for unit in UNITS {
        eprintln!("xtask: systemctl start {unit}");
        testbed(&["exec", NAME, "--", "systemctl", "start", "--no-block", unit]).status()?;
        sleep(Duration::from_secs(1));
    }
    let status = observer.wait()?;
    eprintln!("\nxtask: what systemd did with them:");
    for unit in UNITS {
        testbed(&[
            "exec",
            NAME,
            "--",
            "systemctl",
            "show",
            "-p",
            "Id,ActiveState,SubState,Result,NotifyAccess",
            unit,
        ])
        .status()?;
    }
    anyhow::ensure!(status.success(), "the observer failed");
    Ok(())
}

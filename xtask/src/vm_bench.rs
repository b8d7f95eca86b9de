//! What the fentry strategy costs, measured where it can run: this host refuses fentry, so the
//! load runs inside QEMU guests on Debian 12's 6.1 and Debian 13's 6.12 kernels
//! (scripts/vm/run), untraced and under each strategy, interleaved. Emulated time says nothing about a real machine, so the
//! guest runs with `--icount` on one CPU: its clock advances one ns per instruction executed,
//! which turns nload's timings into instructions per message, whole system (sender, reader,
//! kernel, hooks, collector) and sender's own. Those are exact and repeatable to 0.1 % whatever
//! the host is doing; they do not weigh cache misses or branch mispredictions.
//! Workloads: (a) AF_UNIX datagrams to a socket nobody watches, and (e) recvmsg(2) on an empty
//! socket by a process that is not a manager, both as in `cargo xtask bench`.
//! Configurations: untraced, each strategy, and each strategy's hooks with do-nothing programs
//! (`observer hook-floor`): what the kernel charges for the hooks whatever they run.

use std::{fs, process::Command};

use anyhow::Context as _;
use serde_json::Value;

use crate::build::{self, workspace_root};

/// `S-floor`: do-nothing programs where strategy S hooks (`observer hook-floor`), what the kernel
/// charges for the hooks alone.
const CONFIGS: [&str; 5] = [
    "untraced",
    "fentry",
    "fentry-floor",
    "tracepoint",
    "tracepoint-floor",
];

/// One workload: its name, and nload's arguments (sockets under /tmp/b in the guest).
const WORKLOADS: [(&str, &str); 2] = [
    (
        "(a) other AF_UNIX dgrams",
        "--to /tmp/b/other --bind --idle /tmp/b/watched --reader process --payload READY=1",
    ),
    (
        "(e) recvmsg, not a manager",
        "--recvmsg-empty --idle /tmp/b/watched",
    ),
];

pub fn run(runs: usize, count: u64) -> anyhow::Result<()> {
    anyhow::ensure!(runs >= 1, "--runs must be at least 1");
    let release = build::bench_binaries()?;
    let mut tables = Vec::new();
    // 6.1, where the tracepoint strategy falls back to syscall tracepoints, and 6.12, where it
    // runs as on this host (tp_btf only): the VM lane's kernels.
    for (suite, distro) in crate::vm::KERNELS {
        eprintln!("xtask: booting {distro}'s kernel under QEMU (TCG, --icount) for the bench");
        let out = Command::new(workspace_root().join("scripts/vm/run"))
            .args(["--kernel", suite, "--timeout", "3600", "--mem", "2G"])
            .args(["--icount", "--smp", "1"])
            .arg("--file")
            .arg(release.join("observer"))
            .arg("--file")
            .arg(release.join("nload"))
            .args(["--", "sh", "-c", &guest_script(runs, count)])
            .output()
            .context("running scripts/vm/run")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let results = parse(&text);
        anyhow::ensure!(
            !results.is_empty(),
            "the {distro} guest reported no results: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let kernel = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("@@KERNEL "))
            .unwrap_or("?")
            .to_string();
        let table = table(&results, runs, count, &format!("{distro}'s {kernel}"));
        println!("{table}");
        tables.push(table);
    }
    let dir = crate::build::target_dir().join("bench");
    fs::create_dir_all(&dir)?;
    fs::write(dir.join("vm.md"), tables.join("\n"))?;
    eprintln!("xtask: wrote {}", dir.join("vm.md").display());
    Ok(())
}

/// Runs every workload × configuration `runs` times, each run starting with the next
/// configuration; prints `@@RESULT <workload#> <config> <nload's JSON>` per run. The load binds
/// its sockets and waits; the observer attaches; then the load is released (as the host bench)
/// and ends when the fifo on its stdin closes (so the observer must not inherit its writer).
fn guest_script(runs: usize, count: u64) -> String {
    let mut s = String::from(
        "echo \"@@KERNEL $(uname -r)\"; mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null; \
         attach() { i=0; until [ -e /tmp/b/idle ] || grep -q 'observer: do-nothing' /tmp/b/err; do \
           i=$((i+1)); [ $i -gt 1200 ] && { echo '@@FAIL attach'; cat /tmp/b/err; return 1; }; sleep 0.5; done; }; ",
    );
    for run in 0..runs {
        for (w, (_, args)) in WORKLOADS.iter().enumerate() {
            for i in 0..CONFIGS.len() {
                let config = CONFIGS[(i + run) % CONFIGS.len()];
                let n = if w == 0 { count } else { count * 5 };
                s.push_str(&format!(
                    "rm -rf /tmp/b; mkdir /tmp/b; mkfifo /tmp/b/go; \
                     nload {args} --count {n} --wait </tmp/b/go >/tmp/b/out 2>&1 & L=$!; exec 3>/tmp/b/go; \
                     until grep -q ready /tmp/b/out; do sleep 0.2; done; "
                ));
                let observer = match config.strip_suffix("-floor") {
                    _ if config == "untraced" => None,
                    Some(probe) => Some(format!("hook-floor --probe {probe}")),
                    None => Some(format!(
                        "trace --json --no-default-sockets --socket /tmp/b/watched --probe {config}"
                    )),
                };
                // As in the host bench (tracer.rs, spawn_observer), the load starts once the
                // collector sleeps (its `idle` record), as it does on a machine where it has run
                // for a while. Its output is read through a pipe, as the host bench reads it.
                if let Some(observer) = &observer {
                    s.push_str(&format!(
                        "mkfifo /tmp/b/obs; \
                         {{ grep -m1 -q '\"record\":\"idle\"' && touch /tmp/b/idle; cat >/dev/null; }} </tmp/b/obs 3>&- & \
                         observer {observer} >/tmp/b/obs 2>/tmp/b/err 3>&- & O=$!; attach; "
                    ));
                }
                s.push_str("echo go >&3; exec 3>&-; wait $L; ");
                if observer.is_some() {
                    s.push_str("kill -INT $O; wait $O; ");
                }
                s.push_str(&format!(
                    "echo \"@@RESULT {w} {config} $(tail -n 1 /tmp/b/out)\"; "
                ));
            }
        }
    }
    s
}

/// (workload index, config, instructions/msg, sender's instructions/msg) per run (under
/// --icount a guest ns is one instruction).
fn parse(text: &str) -> Vec<(usize, String, f64, f64)> {
    text.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("@@RESULT ")?;
            let mut it = rest.splitn(3, ' ');
            let w: usize = it.next()?.parse().ok()?;
            let config = it.next()?.to_string();
            let v: Value = serde_json::from_str(it.next()?).ok()?;
            Some((
                w,
                config,
                v["ns_per_msg"].as_f64()?,
                v["cpu_ns_per_msg"].as_f64()?,
            ))
        })
        .collect()
}

fn table(results: &[(usize, String, f64, f64)], runs: usize, count: u64, kernel: &str) -> String {
    let mut t = format!(
        "Instructions executed, counted by QEMU (TCG --icount, one CPU), {kernel} kernel, \
         {runs} interleaved runs, {count} datagrams for (a), {} calls for (e); medians. \
         \"whole system\" counts every instruction between the load's first and last message \
         (sender, reader, kernel, hooks, the observer's collector); \"sender\" only the \
         sending thread's (kernel included).\n\n\
         | workload | configuration | instr/msg, whole system | × untraced | instr/msg, sender | × untraced |\n\
         | -------- | ------------- | ----------------------: | ---------: | ----------------: | ---------: |\n",
        count * 5
    );
    for (w, (name, _)) in WORKLOADS.iter().enumerate() {
        let median_of = |config: &str, cpu: bool| {
            let mut v: Vec<f64> = results
                .iter()
                .filter(|r| r.0 == w && r.1 == config)
                .map(|r| if cpu { r.3 } else { r.2 })
                .collect();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied()
        };
        let (Some(base), Some(base_cpu)) =
            (median_of("untraced", false), median_of("untraced", true))
        else {
            continue;
        };
        for config in CONFIGS {
            let (Some(ns), Some(cpu)) = (median_of(config, false), median_of(config, true)) else {
                t.push_str(&format!("| {name} | {config} | failed | | | |\n"));
                continue;
            };
            t.push_str(&format!(
                "| {name} | {config} | {ns:.0} | {:.3} | {cpu:.0} | {:.3} |\n",
                ns / base,
                cpu / base_cpu
            ));
        }
    }
    t
}

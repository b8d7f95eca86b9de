//! Project tasks: `cargo xtask test | lint | dist | demo | bench | vm-test | vm-systemd |
//! vm-bench | fuzz` (run through `./x`, which installs what is missing first). Each task prints
//! what it runs, so a failure names the step.

mod bench;
mod build;
mod check;
mod demo;
mod dist;
mod fuzz;
mod libtest;
mod lint;
mod test;
mod vm;
mod vm_bench;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

/// One test lane; ARGS go to its test executable (a test name filter, --nocapture, …).
#[derive(Subcommand)]
enum Lane {
    /// The capture tests on this kernel, with each strategy it allows.
    Capture {
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Recording round trips, rotation, damaged files.
    Recording {
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Hostile input: hand-made recordings, special files, rewritten buffers, bad flags.
    Hostile {
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Hostile and hung namespaces: fake managers set up as an unprivileged user would.
    Namespaces {
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Every scenario against real systemd in a container (VERDICTS_SCENARIO=NAME for one).
    Verdicts {
        /// 252, 254, 257 or 262; repeat for several (default: all).
        #[arg(long = "systemd")]
        versions: Vec<u32>,
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// The .deb, the hardened service and the journal sink in a real systemd container.
    Ship {
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// The D-Bus client (observer/src/manager) against a real systemd 252 container: a unit
    /// test of the library, kept out of the unit lane because it boots a container.
    Manager {
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Prometheus metrics: a real Prometheus scraping the observer beside real systemd 257,
    /// promtool on the output and the shipped rules, bad flags, stuck scrapers.
    Metrics {
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// The capture tests in QEMU guests on Debian's stock kernels (fentry and tracepoint).
    Vm {
        /// bookworm (6.1) or trixie (6.12); repeat for both (default: both).
        #[arg(long = "kernel")]
        kernels: Vec<String>,
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// The verdict tests in a QEMU guest whose PID 1 is systemd 257 (Debian 13, 6.12), with the
    /// observer from the .deb: auto (→ fentry) and --probe tracepoint, then the packaged
    /// recording service. VERDICTS_SCENARIO and VERDICTS_DUMP reach the guest.
    VmSystemd {
        /// fentry or tracepoint; repeat for both (default: both).
        #[arg(long = "probe")]
        probes: Vec<String>,
        #[arg(last = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand)]
enum Task {
    /// Every lane: unit tests, fuzz, capture on this kernel, record/replay, hostile input and
    /// namespaces, real-systemd verdicts, package/service/journal, and the VM lanes.
    Test {
        /// Skip the VM lanes (fentry on Debian 12's 6.1 and Debian 13's 6.12 under QEMU).
        #[arg(long)]
        no_vm: bool,
        /// One lane only, e.g. `test capture -- sendmmsg`, `test verdicts --systemd 257 --
        /// verdicts_match`, `test vm --kernel trixie -- io_uring`.
        #[command(subcommand)]
        lane: Option<Lane>,
    },
    /// cargo fmt --check, then clippy -D warnings on userspace and on the eBPF crate.
    Lint,
    /// Man pages and completions from cli.rs into dist/, the release binary, the .deb
    /// (target/debian/).
    Dist,
    /// Only the VM lanes: the capture tests with each strategy on Debian 12's and 13's kernels.
    VmTest,
    /// The fentry strategy's cost where it runs (this host refuses fentry): workloads (a) and
    /// (e) inside the QEMU guest, untraced and under each strategy. Emulated: ratios only.
    /// Writes target/bench/vm.md.
    VmBench {
        /// Interleaved runs of each workload × configuration (the table shows medians).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Datagrams per run of (a); (e) makes 5× as many calls.
        #[arg(long, default_value_t = 20_000)]
        count: u64,
    },
    /// Only the fuzz lane: each cargo-fuzz target (fuzz/) from its seeds and what earlier
    /// runs found (fuzz/corpus).
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = fuzz::TEST_SECONDS)]
        seconds: u32,
    },
    /// Boot a real systemd in a container and watch its notify traffic live.
    Demo {
        /// How long to watch, in seconds.
        #[arg(long, default_value_t = 25)]
        seconds: u32,
        /// Which systemd to boot: 252, 254, 257 or 262. 257 is where the journal, at its default
        /// level, says nothing about why a unit hangs.
        #[arg(long, default_value_t = 257)]
        systemd: u32,
    },
    /// What the observer costs, next to untraced, a bpftrace one-liner and strace (root).
    /// Prints a table and writes target/bench/results.{json,md}.
    Bench {
        /// Interleaved runs of each timed workload (the table shows medians).
        #[arg(long, default_value_t = 11)]
        runs: usize,
        /// For development: 2 runs, 20 000 messages per run, 2 s of sustained rate.
        #[arg(long)]
        quick: bool,
        /// Messages per timed run of workloads (a) and (b); (d) sends 5× as many.
        #[arg(long)]
        count: Option<u64>,
        /// Workload (c): messages per second.
        #[arg(long, default_value_t = 100_000)]
        rate: u64,
        /// Workload (c): how long, in seconds.
        #[arg(long, default_value_t = 10.0)]
        sustain_secs: f64,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Test { no_vm, lane: None } => test::run(!no_vm),
        Task::Test {
            lane: Some(lane), ..
        } => test::run_only(match lane {
            Lane::Capture { args } => test::Only::Capture(args),
            Lane::Recording { args } => test::Only::Recording(args),
            Lane::Hostile { args } => test::Only::Hostile(args),
            Lane::Namespaces { args } => test::Only::Namespaces(args),
            Lane::Verdicts { versions, args } => test::Only::Verdicts(versions, args),
            Lane::Ship { args } => test::Only::Ship(args),
            Lane::Metrics { args } => test::Only::Metrics(args),
            Lane::Manager { args } => test::Only::Manager(args),
            Lane::Vm { kernels, args } => test::Only::Vm(kernels, args),
            Lane::VmSystemd { probes, args } => test::Only::VmSystemd(probes, args),
        }),
        Task::Lint => lint::run(),
        Task::VmTest => {
            let bins = build::release_binaries()?;
            let results = vm::run_capture_tests(&bins)?;
            test::report(&results)
        }
        Task::VmBench { runs, count } => vm_bench::run(runs, count),
        Task::Fuzz { seconds } => test::report(&[fuzz::run(seconds)?]),
        Task::Demo { seconds, systemd } => demo::run(seconds, systemd),
        Task::Dist => dist::run_dist(true).map(|_| ()),
        Task::Bench {
            runs,
            quick,
            count,
            rate,
            sustain_secs,
        } => bench::run(bench::Options {
            runs,
            quick,
            count,
            sustain_secs,
            rate,
        }),
    }
}

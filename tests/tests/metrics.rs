//! Prometheus metrics (issue 19), end to end: the real observer, the real-systemd testbed
//! (`OBSERVER_SYSTEMD`, 257 in `cargo xtask test metrics`) running the seed's units, and a real
//! Prometheus (Debian's 2.42) scraping the observer and evaluating the shipped alerting rules;
//! promtool checks the endpoint's output, the textfile and the rules.

use std::{
    io::Write as _,
    net::TcpStream,
    path::PathBuf,
    process::Command,
    thread::sleep,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use observer_tests::{
    observer::Observer,
    prometheus::{Prometheus, check_metrics, curl, dist_rules, free_port, promtool},
    require_root,
    testbed::Testbed,
    workspace_bin,
};
use serde_json::Value;

const NOBODY: &str = "tb-notify-child-nobody.service"; // User=nobody: READY=1 rejected, times out
const NEVER: &str = "tb-notify-never.service"; // Type=notify, never sends READY=1: times out
const PYTHON: &str = "tb-notify-python.service"; // READY=1 from the main process: accepted
const WATCHDOG: &str = "tb-notify-watchdog.service"; // WatchdogSec=2, three pings, then silence

fn units_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testbed/units")
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// The one value of an instant-vector answer (NaN when there is not exactly one series).
fn single(answer: &[(Value, f64)]) -> f64 {
    match answer {
        [(_, v)] => *v,
        _ => f64::NAN,
    }
}

/// The units `alert` is pending or firing for, among the series of `manager` (a label matcher),
/// once it is for any (Prometheus evaluates the rules every second).
fn alerting(prom: &Prometheus, alert: &str, manager: &str) -> Vec<String> {
    let q = format!("ALERTS{{alertname=\"{alert}\",{manager}}}");
    let a = prom.query_until(&q, Duration::from_secs(20), |a| !a.is_empty());
    eprintln!("prometheus: {q} = {a:?}");
    a.iter()
        .filter_map(|(l, _)| l["unit"].as_str().map(str::to_owned))
        .collect()
}

#[test]
#[ignore = "needs root: run through cargo xtask test metrics"]
fn prometheus_sees_rejections_and_start_timeouts() {
    require_root!();
    let tb = Testbed::start(&format!("observer-metrics-{}", std::process::id()));
    tb.install_units(&[NOBODY, NEVER, PYTHON, WATCHDOG].map(|u| units_dir().join(u)));
    let ours = tb.manager_label();

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let textfile = std::env::temp_dir().join(format!("observer-{}.prom", std::process::id()));
    let _ = std::fs::remove_file(&textfile);
    let mut obs = Observer::start_with(&[
        "-u",
        "tb-*",
        "--metrics-listen",
        &listen,
        "--metrics-file",
        textfile.to_str().expect("UTF-8 path"),
    ]);
    assert!(
        obs.start["watching"].to_string().contains(&ours),
        "the testbed's manager is watched: {}",
        obs.start["watching"]
    );
    let rules = dist_rules("observer-alerts.yml");
    let prom = Prometheus::start(&listen, &[&rules]);
    let up = prom.query_until("up{job=\"observer\"}", Duration::from_secs(30), |a| {
        single(a) == 1.0
    });
    assert_eq!(single(&up), 1.0, "Prometheus scrapes the observer: {up:?}");

    let before = now_s();
    for unit in [NOBODY, NEVER, PYTHON, WATCHDOG] {
        tb.exec(&["systemctl", "start", "--no-block", unit]);
    }
    for (unit, state) in [
        (NOBODY, "failed"),
        (NEVER, "failed"),
        (PYTHON, "active"),
        (WATCHDOG, "failed"),
    ] {
        assert_eq!(tb.wait_state(unit, state, Duration::from_secs(30)), state);
    }
    let after = now_s();
    // What the observer printed: the count Prometheus must show.
    let events: Vec<Value> = obs
        .events_until_quiet(Duration::from_secs(2))
        .into_iter()
        .filter(|e| e["socket"] == ours.as_str())
        .collect();
    let rejected = events
        .iter()
        .filter(|e| e["unit"] == NOBODY && e["verdict"] == "rejected")
        .count() as f64;
    assert!(
        rejected >= 1.0,
        "the nobody unit's READY=1 is rejected: {events:#?}"
    );

    let m = format!("manager=\"{ours}\"");
    let q = format!(
        "sum(observer_notify_datagrams_total{{{m},unit=\"{NOBODY}\",verdict=\"rejected\"}})"
    );
    let a = prom.query_until(&q, Duration::from_secs(30), |a| single(a) == rejected);
    eprintln!("prometheus: {q} = {a:?}");
    assert_eq!(single(&a), rejected, "{q}");

    let q = format!("observer_unit_start_outcomes_total{{{m},unit=\"{NEVER}\"}}");
    let a = prom.query_until(&q, Duration::from_secs(30), |a| {
        a.len() == 1 && a[0].0["outcome"] == "timeout"
    });
    eprintln!("prometheus: {q} = {a:?}");
    assert_eq!(a.len(), 1, "one outcome of the never-notifying unit: {a:?}");
    assert_eq!(a[0].0["outcome"], "timeout", "{a:?}");
    assert_eq!(a[0].1, 1.0, "{a:?}");

    let q = format!("observer_unit_start_attempts_total{{{m},unit=\"{NEVER}\"}}");
    assert_eq!(single(&prom.query(&q)), 1.0, "{q}");
    let q =
        format!("observer_unit_start_outcomes_total{{{m},unit=\"{PYTHON}\",outcome=\"success\"}}");
    assert_eq!(single(&prom.query(&q)), 1.0, "{q}");
    let q = format!("observer_unit_last_ready_timestamp_seconds{{{m},unit=\"{PYTHON}\"}}");
    let ready = single(&prom.query(&q));
    assert!(
        (before - 1.0..=after + 1.0).contains(&ready),
        "{q} = {ready}, not in [{before}, {after}]"
    );
    // A rejected READY=1 is no readiness.
    let q = format!("observer_unit_last_ready_timestamp_seconds{{{m},unit=\"{NOBODY}\"}}");
    assert!(prom.query(&q).is_empty(), "{q}");

    // Failed sends by errno and the queue delay carry no manager label: other testbeds on this
    // machine may add to them, never take away.
    let eperm = events.iter().filter(|e| e["error"] == "EPERM").count() as f64;
    assert!(
        eperm >= 1.0,
        "systemd-notify as nobody fails with EPERM first: {events:#?}"
    );
    let q = "observer_notify_send_failures_total{errno=\"EPERM\"}";
    let a = prom.query_until(q, Duration::from_secs(10), |a| single(a) >= eperm);
    assert!(
        single(&a) >= eperm,
        "{q} = {a:?}, the observer printed {eperm}"
    );
    let read = events
        .iter()
        .filter(|e| e["delivered"] == true && e["queue_delay_us"].is_u64())
        .count() as f64;
    assert!(read >= 1.0, "the manager's reads are captured: {events:#?}");
    let q = "observer_notify_queue_delay_seconds_count";
    let a = prom.query_until(q, Duration::from_secs(10), |a| single(a) >= read);
    assert!(
        single(&a) >= read,
        "{q} = {a:?}, the observer printed {read} read events"
    );

    // The shipped rules, evaluated by this Prometheus on what it scraped: the start that timed
    // out after a rejection alerts; the one that timed out without any does not.
    assert_eq!(
        alerting(&prom, "NotifyStartTimedOutAfterRejection", &m),
        [NOBODY]
    );
    assert_eq!(alerting(&prom, "NotifyRejected", &m), [NOBODY]);

    // The watchdog unit: its last accepted ping stays (it went down by its watchdog), older
    // than its WatchdogSec=2: NotifyWatchdogLate fires.
    let q = format!("observer_unit_watchdog_seconds{{{m},unit=\"{WATCHDOG}\"}}");
    let a = prom.query_until(&q, Duration::from_secs(20), |a| single(a) == 2.0);
    eprintln!("prometheus: {q} = {a:?}");
    assert_eq!(single(&a), 2.0, "{q}");
    let q = format!("observer_unit_last_watchdog_timestamp_seconds{{{m},unit=\"{WATCHDOG}\"}}");
    let ping = single(&prom.query(&q));
    assert!(
        (before..=after + 1.0).contains(&ping),
        "{q} = {ping}, not in [{before}, {after}]"
    );
    assert_eq!(alerting(&prom, "NotifyWatchdogLate", &m), [WATCHDOG]);

    // promtool on the endpoint's classic text output; OpenMetrics when asked for it.
    let url = format!("http://{listen}/metrics");
    let text = curl(&[&url]);
    assert!(text.status.success(), "GET {url}: {text:?}");
    for l in String::from_utf8_lossy(&text.stdout)
        .lines()
        .filter(|l| l.contains("tb-notify") || l.starts_with("observer_managers"))
    {
        eprintln!("endpoint: {l}");
    }
    check_metrics("endpoint", &text.stdout);
    let om = curl(&[
        "-D",
        "-",
        "-H",
        "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        &url,
    ]);
    let om = String::from_utf8_lossy(&om.stdout).into_owned();
    assert!(
        om.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text")
            && om.ends_with("# EOF\n"),
        "{om}"
    );

    // The textfile: rewritten at exit with the final counts, readable, and promtool-clean.
    obs.stop();
    let file = std::fs::read(&textfile).expect("the textfile was written");
    check_metrics("textfile", &file);
    let file = String::from_utf8_lossy(&file).into_owned();
    let series = format!(
        "observer_notify_datagrams_total{{manager=\"{ours}\",unit=\"{NOBODY}\",verdict=\"rejected\",kind=\"not_main_pid\"}} {rejected}"
    );
    assert!(file.contains(&series), "{series} in\n{file}");
    let _ = std::fs::remove_file(&textfile);
}

#[test]
fn the_shipped_rules_pass_their_tests() {
    let test = dist_rules("observer-alerts.test.yml");
    let out = promtool(&["test", "rules", test.to_str().expect("path")], b"");
    eprintln!(
        "promtool test rules: {:?} {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool test rules");
    let rules = dist_rules("observer-alerts.yml");
    let out = promtool(&["check", "rules", rules.to_str().expect("path")], b"");
    assert!(out.status.success(), "promtool check rules: {out:?}");
}

/// Runs `observer trace ARGS` and returns (exit code, stderr lines).
fn observer_fails(args: &[&str]) -> (Option<i32>, Vec<String>) {
    let start = Instant::now();
    let out = Command::new(workspace_bin("observer"))
        .args(args)
        .output()
        .expect("run observer");
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{args:?} took long"
    );
    let lines = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_owned)
        .collect();
    (out.status.code(), lines)
}

#[test]
#[ignore = "needs root: run through cargo xtask test metrics"]
fn bad_metrics_flags_are_one_line_errors() {
    require_root!();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let (code, lines) = observer_fails(&["trace", "--metrics-listen", &addr]);
    assert_eq!(code, Some(1), "{lines:?}");
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!(
            "observer: error: --metrics-listen {addr}: cannot listen there:"
        )),
        "{lines:?}"
    );
    let _ = std::fs::remove_file("/tmp/observer-metrics-never.rec");
    let (code, lines) = observer_fails(&[
        "record",
        "-o",
        "/tmp/observer-metrics-never.rec",
        "--metrics-file",
        "/nonexistent-observer-dir/observer.prom",
    ]);
    assert_eq!(code, Some(1), "{lines:?}");
    let last = lines.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("observer: error: --metrics-file /nonexistent-observer-dir/observer.prom: cannot write it:"),
        "{lines:?}"
    );
    // Refused before the recording was created.
    assert!(!std::path::Path::new("/tmp/observer-metrics-never.rec").exists());
    let (code, lines) = observer_fails(&["trace", "--metrics-listen", "localhost"]);
    assert_eq!(code, Some(2), "{lines:?}");
}

/// Scrapers that connect and never ask (or ask and never read) hold nothing up: the run still
/// ends at --duration, well within the shutdown grace.
#[test]
#[ignore = "needs root: run through cargo xtask test metrics"]
fn stuck_scrapers_do_not_hold_up_the_run() {
    require_root!();
    let dir = std::env::temp_dir().join(format!("observer-metrics-stuck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let sock = dir.join("notify");
    let _receiver = std::os::unix::net::UnixDatagram::bind(&sock).expect("bind");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut obs = Observer::start(&[
        "--socket",
        sock.to_str().expect("path"),
        "--duration",
        "4",
        "--metrics-listen",
        &listen,
    ]);
    // --duration counts from the start record (the programs are loaded by then).
    let started = Instant::now();
    // A scrape works first.
    let ok = curl(&[&format!("http://{listen}/metrics")]);
    assert!(ok.status.success(), "{ok:?}");
    let mut stuck = Vec::new();
    for i in 0..40 {
        if let Ok(mut s) = TcpStream::connect(&listen) {
            if i % 2 == 0 {
                // Half a request, never finished.
                let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n");
            }
            stuck.push(s);
        }
    }
    let (status, lines) = obs.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status}: {lines:?}");
    let took = started.elapsed();
    // The shutdown guard would end it 3 s after the deadline with exit 1: well before that.
    assert!(
        took < Duration::from_millis(4_000 + 2_500),
        "ended after {took:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("did not stop")),
        "{lines:?}"
    );
    drop(stuck);
    sleep(Duration::from_millis(10));
    let _ = std::fs::remove_dir_all(&dir);
}

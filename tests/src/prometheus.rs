//! A real Prometheus server (Debian's `prometheus` package, installed by scripts/setup), run by
//! the test itself: its own config, a temporary storage directory, a loopback port. The
//! package's own service is never used. Its HTTP API and promtool are reached with curl and the
//! promtool binary, as an operator would.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    thread::sleep,
    time::{Duration, Instant},
};

use serde_json::Value;

pub const PROMETHEUS: &str = "/usr/bin/prometheus";
pub const PROMTOOL: &str = "/usr/bin/promtool";

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// The repository's dist/prometheus/FILE.
pub fn dist_rules(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../dist/prometheus")
        .join(file)
}

pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (host:port) every second as job "observer", with
    /// `rules` loaded (evaluated every second too); waits until it is ready.
    pub fn start(target: &str, rules: &[&Path]) -> Prometheus {
        let dir = std::env::temp_dir().join(format!(
            "observer-prometheus-{}-{}",
            std::process::id(),
            free_port()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data")).expect("prometheus dir");
        let rule_files: String = rules
            .iter()
            .map(|r| format!("  - {}\n", r.display()))
            .collect();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n{rule_files}\
             scrape_configs:\n  - job_name: observer\n    static_configs:\n      - targets: ['{target}']\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).expect("prometheus.yml");
        let port = free_port();
        let child = Command::new(PROMETHEUS)
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {PROMETHEUS} (scripts/setup installs it): {e}"));
        let mut p = Prometheus { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !curl(&[&format!("http://127.0.0.1:{port}/-/ready")])
            .status
            .success()
        {
            if let Some(status) = p.child.try_wait().expect("wait prometheus") {
                panic!("prometheus exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "prometheus not ready in 60 s");
            sleep(Duration::from_millis(200));
        }
        p
    }

    /// `/api/v1/query` of an instant vector: each series' labels and value.
    pub fn query(&self, promql: &str) -> Vec<(Value, f64)> {
        let out = curl(&[
            "-G",
            &format!("http://127.0.0.1:{}/api/v1/query", self.port),
            "--data-urlencode",
            &format!("query={promql}"),
        ]);
        let body: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("query {promql}: not JSON ({e}): {out:?}"));
        assert_eq!(body["status"], "success", "query {promql}: {body}");
        body["data"]["result"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        let v = s["value"][1].as_str().and_then(|v| v.parse().ok());
                        (s["metric"].clone(), v.unwrap_or(f64::NAN))
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asks `promql` until `good` holds for its answer (Prometheus scrapes and evaluates every
    /// second; a loaded machine may be late), at most `timeout`; returns the last answer.
    pub fn query_until(
        &self,
        promql: &str,
        timeout: Duration,
        good: impl Fn(&[(Value, f64)]) -> bool,
    ) -> Vec<(Value, f64)> {
        let deadline = Instant::now() + timeout;
        loop {
            let answer = self.query(promql);
            if good(&answer) || Instant::now() > deadline {
                return answer;
            }
            sleep(Duration::from_millis(500));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `curl -sS ARGS` (fails on HTTP errors).
pub fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--fail", "--max-time", "10"])
        .args(args)
        .output()
        .expect("run curl")
}

/// `promtool ARGS` with `stdin` as its input; its output and status.
pub fn promtool(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(PROMTOOL)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {PROMTOOL}: {e}"));
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(stdin)
        .expect("promtool stdin");
    child.wait_with_output().expect("promtool")
}

/// `promtool check metrics` on `text` (the classic text format), printed; fails the test unless
/// it passes. `what`: where the text came from, for the message.
pub fn check_metrics(what: &str, text: &[u8]) {
    let lint = promtool(&["check", "metrics"], text);
    eprintln!(
        "promtool check metrics ({what}): {:?} {}{}",
        lint.status,
        String::from_utf8_lossy(&lint.stdout),
        String::from_utf8_lossy(&lint.stderr)
    );
    assert!(
        lint.status.success(),
        "promtool check metrics on the {what}"
    );
}

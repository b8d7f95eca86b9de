//! Reading a child's output: a tracer's lines counted per kind (`Output`), nload's JSON lines.

use std::{
    collections::VecDeque,
    io::{BufRead, BufReader, Read},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc::{Receiver, channel},
    },
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use super::SYNC;

/// How a tracer's output lines are counted.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// `observer trace --json`: `event` records; `start`, `idle` and `summary` remembered.
    Observer,
    /// The one-liner's `E pid comm payload` lines; "Attaching", "Lost N events".
    Bpftrace,
    /// strace: one line per traced sendto/sendmsg call.
    Strace,
    /// Diagnostics: only kept for error messages.
    Plain,
}

/// A reader thread's counts over one pipe. Event lines are only counted, never kept: the
/// reader must keep up with 100 000 lines/s without growing.
pub(super) struct Output {
    kind: Kind,
    pub(super) events: AtomicU64,
    pub(super) lost: AtomicU64,
    pub(super) attached: AtomicBool,
    /// The observer's collector said it sleeps (its `idle` record).
    pub(super) asleep: AtomicBool,
    pub(super) synced: AtomicBool,
    eof: AtomicBool,
    pub(super) summary: Mutex<Option<Value>>,
    /// The last non-event lines.
    other: Mutex<VecDeque<String>>,
}

impl Output {
    pub(super) fn watch(pipe: impl Read + Send + 'static, kind: Kind) -> Arc<Output> {
        let o = Arc::new(Output {
            kind,
            events: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            attached: AtomicBool::new(false),
            asleep: AtomicBool::new(false),
            synced: AtomicBool::new(false),
            eof: AtomicBool::new(false),
            summary: Mutex::new(None),
            other: Mutex::new(VecDeque::new()),
        });
        let o2 = o.clone();
        thread::spawn(move || {
            let mut r = BufReader::with_capacity(1 << 20, pipe);
            let mut line = Vec::with_capacity(4096);
            while matches!(r.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                o2.line(&line);
                line.clear();
            }
            o2.eof.store(true, Ordering::Release);
        });
        o
    }

    fn line(&self, raw: &[u8]) {
        let text = match std::str::from_utf8(raw) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(raw),
        };
        let l = text.trim_end();
        let event = match self.kind {
            Kind::Observer => {
                if l.contains(r#""record":"event""#) {
                    true
                } else {
                    if let Ok(v) = serde_json::from_str::<Value>(l) {
                        match v["record"].as_str() {
                            Some("start") => self.attached.store(true, Ordering::Release),
                            Some("idle") => self.asleep.store(true, Ordering::Release),
                            Some("summary") => *self.summary.lock().unwrap() = Some(v),
                            _ => {}
                        }
                    }
                    false
                }
            }
            Kind::Bpftrace => {
                if l.starts_with("Attaching ") {
                    self.attached.store(true, Ordering::Release);
                    false
                } else if l.starts_with("E ") && l.ends_with(SYNC) {
                    self.synced.store(true, Ordering::Release);
                    return;
                } else if let Some(n) = l
                    .strip_prefix("Lost ")
                    .and_then(|r| r.strip_suffix(" events"))
                    .and_then(|n| n.trim().parse::<u64>().ok())
                {
                    self.lost.fetch_add(n, Ordering::Relaxed);
                    false
                } else {
                    // A payload's later lines are part of the event line before them.
                    l.starts_with("E ")
                }
            }
            Kind::Strace => l.contains("sendto(") || l.contains("sendmsg("),
            Kind::Plain => false,
        };
        if event {
            self.events.fetch_add(1, Ordering::Relaxed);
        } else if !l.is_empty() && (self.kind != Kind::Bpftrace || !l.starts_with("STATUS=")) {
            let mut other = self.other.lock().unwrap();
            other.push_back(l.to_string());
            if other.len() > 20 {
                other.pop_front();
            }
        }
    }

    /// The last diagnostic lines, for error messages.
    pub(super) fn tail(&self) -> String {
        let v: Vec<String> = self.other.lock().unwrap().iter().cloned().collect();
        if v.is_empty() {
            "(no output)".into()
        } else {
            v.join(" | ")
        }
    }

    /// Until `expected` events were seen and, after that or short of it, nothing new came for
    /// `quiet`; at most `limit`.
    pub(super) fn wait_events(&self, expected: u64, quiet: Duration, limit: Duration) {
        let start = Instant::now();
        let (mut last, mut since) = (self.events.load(Ordering::Relaxed), Instant::now());
        loop {
            thread::sleep(Duration::from_millis(10));
            let n = self.events.load(Ordering::Relaxed);
            if expected > 0 && n >= expected {
                return;
            }
            if n != last {
                (last, since) = (n, Instant::now());
            } else if since.elapsed() >= quiet || start.elapsed() >= limit {
                return;
            }
        }
    }

    pub(super) fn wait_eof(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while !self.eof.load(Ordering::Acquire) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Lines of a pipe, on a channel.
pub(super) fn line_channel(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line that is a JSON object, within `limit`.
pub(super) fn recv_json(rx: &Receiver<String>, limit: Duration) -> anyhow::Result<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .map_err(|e| anyhow::anyhow!("no line within {limit:?} ({e})"))?;
        if let Ok(v) = serde_json::from_str::<Value>(&line)
            && v.is_object()
        {
            return Ok(v);
        }
    }
}

//! The metrics sink: judged events, the capture's counters and unit changes, as Prometheus
//! metrics — served over HTTP (`--metrics-listen`, serve.rs) and/or written for node_exporter's
//! textfile collector (`--metrics-file`, textfile.rs). The registry and both exposition formats
//! are prometheus-client's; this module only decides what to count under which labels.

mod cap;
mod families;
mod serve;
mod starts;
mod textfile;

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::Context as _;
use prometheus_client::{encoding, registry::Registry};

use self::{
    cap::{Cap, UnitCap},
    families::{DatagramLabels, ErrnoLabels, Families, KindLabel, OutcomeLabels, UnitLabels},
    starts::{StartStep, Starts},
};
use super::{Corrected, Health, Shown, Sink, Start, Summary};
use crate::{
    judge::Outcome,
    manager::UnitChange,
    notify::{self, Key},
    pairing::{Delivered, Delivery},
};

/// Distinct (manager, unit) pairs with series of their own, by default.
pub const UNITS_MAX_DEFAULT: usize = 1000;
/// Distinct errno values with series of their own (the kernel's are fewer).
const ERRNOS_MAX: usize = 64;
/// How often the textfile is rewritten (node_exporter reads it at each scrape).
const TEXTFILE_EVERY: Duration = Duration::from_secs(5);

/// What the command line asked for, without clap's types.
#[derive(Debug, Clone, Default)]
pub struct MetricsConfig {
    pub listen: Option<SocketAddr>,
    pub file: Option<PathBuf>,
    /// The unit cap (see cap.rs).
    pub units_max: usize,
    /// `-u` globs: unit changes of other units are not followed (events are filtered already).
    pub units: Vec<String>,
}

impl MetricsConfig {
    pub fn enabled(&self) -> bool {
        self.listen.is_some() || self.file.is_some()
    }
}

/// The exposition format of one scrape or file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    /// Prometheus text format 0.0.4: what node_exporter's textfile collector and promtool read.
    Text,
}

impl Format {
    /// From an HTTP Accept header: OpenMetrics when it is listed (with a q above 0), else text.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let wants_openmetrics = accept.is_some_and(|a| {
            a.split(',').any(|range| {
                let mut parts = range.split(';').map(str::trim);
                let media = parts.next().unwrap_or_default();
                let q_zero = parts.any(|p| {
                    p.strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                        .is_some_and(|q| q <= 0.0)
                });
                media.eq_ignore_ascii_case("application/openmetrics-text") && !q_zero
            })
        });
        if wants_openmetrics {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => encoding::prometheus_text::CONTENT_TYPE,
        }
    }

    pub fn encode(self, registry: &Registry) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        match self {
            Format::OpenMetrics => encoding::text::encode(&mut out, registry)?,
            Format::Text => encoding::prometheus_text::encode(&mut out, registry)?,
        }
        Ok(out)
    }
}

pub struct MetricsSink {
    registry: Arc<Registry>,
    f: Families,
    units: UnitCap,
    errnos: Cap<String>,
    /// Start attempts of each manager's units (only units under the cap are followed).
    starts: HashMap<String, Starts>,
    globs: Vec<String>,
    file: Option<PathBuf>,
    /// A textfile write is under way (the next one waits for the next tick).
    writing: Arc<AtomicBool>,
    untracked_seen: u64,
    overflow_seen: u64,
}

impl MetricsSink {
    /// Binds the listener and writes the textfile once, so that an address that cannot be bound
    /// or a directory that cannot be written is an error at start; then serves and rewrites in
    /// the background.
    pub fn start(config: &MetricsConfig) -> anyhow::Result<MetricsSink> {
        let listener = config.listen.map(serve::bind).transpose()?;
        let mut registry = Registry::default();
        let f = Families::register(&mut registry);
        let registry = Arc::new(registry);
        if let Some(path) = &config.file {
            let text = Format::Text.encode(&registry)?;
            textfile::write(path, &text)
                .with_context(|| format!("--metrics-file {}: cannot write it", path.display()))?;
        }
        if let Some(l) = listener {
            serve::spawn(l, registry.clone())?;
        }
        let sink = MetricsSink {
            registry,
            f,
            units: UnitCap::new(config.units_max),
            errnos: Cap::new(ERRNOS_MAX),
            starts: HashMap::new(),
            globs: config.units.clone(),
            file: config.file.clone(),
            writing: Arc::new(AtomicBool::new(false)),
            untracked_seen: 0,
            overflow_seen: 0,
        };
        if sink.file.is_some() {
            sink.spawn_textfile_writer();
        }
        Ok(sink)
    }

    /// Rewrites the textfile every TEXTFILE_EVERY, off the loop; a write still under way (a
    /// slow disk) makes the next tick skip rather than pile up.
    fn spawn_textfile_writer(&self) {
        let (registry, writing) = (self.registry.clone(), self.writing.clone());
        let Some(path) = self.file.clone() else {
            return;
        };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TEXTFILE_EVERY);
            let mut warned = false;
            loop {
                tick.tick().await;
                if writing.swap(true, Ordering::AcqRel) {
                    continue;
                }
                let (registry, path, writing) = (registry.clone(), path.clone(), writing.clone());
                let done = tokio::task::spawn_blocking(move || {
                    let r = Format::Text
                        .encode(&registry)
                        .map_err(std::io::Error::other)
                        .and_then(|t| textfile::write(&path, &t));
                    writing.store(false, Ordering::Release);
                    r
                })
                .await;
                if let Ok(Err(e)) = done
                    && !warned
                {
                    // Once: the directory may come back; the pipeline goes on either way.
                    log::warn!("--metrics-file: cannot write it: {e}");
                    warned = true;
                }
            }
        });
    }

    fn count_overflow(&mut self) {
        let refused = self.units.refused();
        self.f.units_overflowed.inc_by(refused - self.overflow_seen);
        self.overflow_seen = refused;
    }

    fn delay(&self, d: &Delivery) {
        if let (Delivered::Yes, Some(us)) = (d.delivered, d.queue_delay_us) {
            self.f.queue_delay.observe(us as f64 / 1e6);
        }
    }

    /// Managers and untracked sends, from the pipeline's rescan.
    fn set_health(&mut self, h: &Health) {
        self.f.managers_watched.set(h.managers_watched as i64);
        self.f
            .managers_unreachable
            .set(h.managers_unreachable as i64);
        if h.untracked > self.untracked_seen {
            self.f.untracked.inc_by(h.untracked - self.untracked_seen);
            self.untracked_seen = h.untracked;
        }
    }
}

/// Whether the payload has this key's field set to `1` as systemd reads it (the first of
/// repeated keys wins).
fn says_one(fields: &[notify::Field], key: Key) -> bool {
    fields
        .iter()
        .any(|f| f.key == key && !f.shadowed && f.raw_value() == b"1")
}

impl Sink for MetricsSink {
    fn start(&mut self, start: &Start<'_>) -> std::io::Result<()> {
        let managers: std::collections::HashSet<_> =
            start.watched.iter().filter_map(|w| w.manager).collect();
        self.f.managers_watched.set(managers.len() as i64);
        Ok(())
    }

    fn event(&mut self, shown: &Shown<'_>) -> std::io::Result<()> {
        let (ev, j) = (shown.event, shown.judgement);
        let names = self.units.label(&shown.socket.label, j.unit.as_deref());
        let verdict = j.outcome;
        self.f
            .datagrams
            .get_or_create(&DatagramLabels {
                manager: names.manager.clone(),
                unit: names.unit.clone(),
                verdict,
                kind: KindLabel(j.verdict.as_ref().map(|v| v.kind)),
            })
            .inc();
        if ev.result < 0 {
            let name = crate::systemd_basic::errno_list::result_errno_name(ev.result);
            let errno = if self.errnos.admit(&name) {
                name
            } else {
                "other".into()
            };
            self.f
                .send_failures
                .get_or_create(&ErrnoLabels { errno })
                .inc();
        }
        self.delay(&j.delivery);
        // Parsed (as systemd splits and unescapes it) only when it may say either.
        let may_say = |what: &[u8]| ev.payload.windows(what.len()).any(|w| w == what);
        if verdict == Outcome::Accepted
            && !names.overflowed()
            && (may_say(b"READY=1") || may_say(b"WATCHDOG=1"))
        {
            let fields = notify::parse(&ev.payload);
            let at = ev.wall_ns as f64 / 1e9;
            let labels = UnitLabels::from(names);
            if says_one(&fields, Key::Ready) {
                self.f.last_ready.get_or_create(&labels).set(at);
            }
            if says_one(&fields, Key::Watchdog) {
                self.f.last_watchdog.get_or_create(&labels).set(at);
            }
        }
        self.count_overflow();
        Ok(())
    }

    fn unit(&mut self, manager: &str, change: &UnitChange) -> std::io::Result<()> {
        // Starts are a service's: the notify protocol is theirs alone.
        if !change.unit.ends_with(".service")
            || (!self.globs.is_empty()
                && !self
                    .globs
                    .iter()
                    .any(|g| crate::unit_glob::matches(g, &change.unit)))
        {
            return Ok(());
        }
        let names = self.units.label(manager, Some(&change.unit));
        self.count_overflow();
        if names.overflowed() {
            // Not followed: what is kept per unit must stay bounded.
            return Ok(());
        }
        let labels = UnitLabels::from(names);
        // 0: no watchdog (no series, rather than a WatchdogSec of 0 s).
        match change.watchdog_usec {
            Some(0) => {
                self.f.watchdog_sec.remove(&labels);
            }
            Some(us) => {
                self.f
                    .watchdog_sec
                    .get_or_create(&labels)
                    .set(us as f64 / 1e6);
            }
            None => {}
        }
        let starts = self.starts.entry(manager.to_owned()).or_default();
        let steps = starts.take(change);
        // Down for another reason than its watchdog (stopped, crashed): its last ping says
        // nothing about a watchdog any more (NotifyWatchdogLate would fire for ever).
        if matches!(change.active_state.as_deref(), Some("inactive" | "failed"))
            && starts.result(&change.unit) != Some("watchdog")
        {
            self.f.last_watchdog.remove(&labels);
        }
        for step in steps {
            match step {
                StartStep::Began => self.f.start_attempts.get_or_create(&labels).inc(),
                StartStep::Ended(outcome) => self
                    .f
                    .start_outcomes
                    .get_or_create(&OutcomeLabels {
                        manager: labels.manager.clone(),
                        unit: labels.unit.clone(),
                        outcome,
                    })
                    .inc(),
            };
        }
        Ok(())
    }

    fn drops(&mut self, new: u64, _total: u64) -> std::io::Result<()> {
        self.f.ring_drops.inc_by(new);
        Ok(())
    }

    fn delivery(&mut self, corrected: &Corrected<'_>) -> std::io::Result<()> {
        self.delay(&corrected.correction.delivery);
        Ok(())
    }

    fn health(&mut self, h: &Health) -> std::io::Result<()> {
        self.set_health(h);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }

    /// The last state goes to the textfile before the process ends.
    fn finish(&mut self, summary: &Summary) -> std::io::Result<()> {
        self.set_health(&Health {
            managers_watched: self.f.managers_watched.get() as usize,
            managers_unreachable: self.f.managers_unreachable.get() as usize,
            untracked: summary.untracked,
        });
        if let Some(path) = &self.file {
            let text = Format::Text
                .encode(&self.registry)
                .map_err(std::io::Error::other)?;
            textfile::write(path, &text)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

//! `--journal`: each event as a structured journal entry, written over journald's native
//! protocol (the `libsystemd` crate, pure Rust). `OBJECT_PID=` names the sender as its manager
//! sees it, and the unit judged at send time is named in `OBJECT_SYSTEMD_UNIT=` (journald could
//! not look it up once the sender exited), so `journalctl -u foo.service` shows the observer's
//! verdict next to the unit's own lines. An entry is written once, when its event is judged:
//! the later corrections of the manager's read (`Sink::delivery`) are not journalled.
//!
//! Which journal: the one of the system whose manager owns the socket the datagram went to — a
//! container's events go to the container's journald, where its units and PIDs make sense — or
//! the one of `--journal-container PID`. libsystemd always writes to /run/systemd/journal/socket,
//! so another system's journal is reached through a relay process chrooted into that system's
//! root (relay.rs), fed without waiting.

use std::{
    collections::HashMap,
    io,
    path::{Path, PathBuf},
};

use libsystemd::logging::{Priority, journal_send};

use super::{Shown, Sink, SocketView, Start, Summary, relay::Relay};
use crate::{
    correlate::Owner,
    judge::{Judgement, Outcome},
    notify,
    systemd_basic::errno_list::result_errno_name,
    trust::Trust,
    verdict::Kind,
    wall_time::rfc3339_utc as rfc3339,
};

/// journald's socket, relative to a system's root.
const SOCKET: &str = "run/systemd/journal/socket";

/// One fixed MESSAGE_ID per outcome (generated once; never change them: users filter on them,
/// e.g. `journalctl MESSAGE_ID=…`).
fn message_id(outcome: Outcome, kind: Option<Kind>) -> &'static str {
    match (outcome, kind) {
        (Outcome::NotDelivered, _) => "5ad9c8a5bdd7451bb21c089aefeb7ad1",
        (Outcome::Unknown, _) | (_, None) => "df8ecd31a50b4916a6456abdaeeb0ad9",
        (_, Some(k)) => match k {
            Kind::Accepted => "0d8eb8dd4ae64c8094957fc7fcddd845",
            Kind::Barrier => "ed6a2e19c4e8414ba726b96ddd574e01",
            Kind::ControlTruncated => "795b2e6547d1468485723b817701ffae",
            Kind::Oversize => "a7373c8394a44761a7d7b1e7fb5a9cdb",
            Kind::NoCredentials => "df2cdb28c42947088abbe52c555feed5",
            Kind::SenderDied => "a4b59a4745d649718bb3dbf0bc8a68eb",
            Kind::EmbeddedNul => "eb4afb3b6e5d481480bdd2ae74719765",
            Kind::SplitFailed => "f8ca64775b944c8a9f36ae2918fffa8f",
            Kind::BarrierExtraFields => "5e827f83a326447980c31779d9bc9f38",
            Kind::BarrierBadFds => "25f48b9c63f0490596e31173a8b02118",
            Kind::NoUnit => "6e6d7720cf1741b7a7d3b6c995fd32cf",
            Kind::NotAService => "d84b5b67a0d6448ea91abc7b24cb3aba",
            Kind::AccessNone => "9e12d6ccef884de98c8af35318c59c03",
            Kind::NotMainPid => "5ae9da0f2ccf420fbd776a5f6519b811",
            Kind::MainPidUnknown => "6c1b95c7163f4a99bc8a5344e0035734",
            Kind::NotExecPid => "ca6f92e4cddd457ca36dbe015287f35b",
            Kind::ExecPidsUnknown => "9848d35dfb7542d3a3bb196cf25f2759",
        },
    }
}

/// Ring-buffer drops: datagrams the observer lost.
const DROPS_MESSAGE_ID: &str = "75650bce3ba54caf9d4f6eee5763c0b0";

/// One journal entry before it is sent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub priority: u8,
    pub message: String,
    pub fields: Vec<(String, String)>,
}

impl Entry {
    /// The entry as it is written: MESSAGE and every field escaped (safe_text), since they
    /// quote senders, managers and payloads and `journalctl` shows them as they are.
    fn escaped(&self) -> Entry {
        Entry {
            priority: self.priority,
            message: crate::safe_text::text(&self.message).into_owned(),
            fields: self
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), crate::safe_text::text(v).into_owned()))
                .collect(),
        }
    }

    pub(super) fn send(&self) -> io::Result<()> {
        let entry = self.escaped();
        let priority = match entry.priority {
            3 => Priority::Error,
            4 => Priority::Warning,
            5 => Priority::Notice,
            6 => Priority::Info,
            _ => Priority::Debug,
        };
        journal_send(
            priority,
            &entry.message,
            entry.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        )
        .map_err(|e| io::Error::other(e.to_string()))
    }
}

/// Which journal an entry goes to: ours, or the one under another root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Route {
    Here,
    /// A trusted container's root, with the host PID of its init (whose PID namespace the
    /// relay joins).
    Root(PathBuf, u32),
    /// Ours, for an untrusted container (docs/OPERATIONS.md, "Trust model"): no relay ever runs
    /// as root in its namespaces, and its journald is not ours to wait for. A failure is not
    /// fatal.
    Untrusted,
}

impl Route {
    fn of(leader: u32) -> Route {
        Route::Root(PathBuf::from(format!("/proc/{leader}/root")), leader)
    }

    fn root(&self) -> &Path {
        match self {
            Route::Here | Route::Untrusted => Path::new("/"),
            Route::Root(r, _) => r,
        }
    }

    /// Which journal, for people and for counting the entries of a journal given up.
    fn key(&self) -> PathBuf {
        match self {
            Route::Untrusted => "/ (entries about untrusted containers)".into(),
            other => other.root().to_path_buf(),
        }
    }
}

/// `--journal-level`: which events are journalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JournalLevel {
    /// Every event.
    All,
    /// Rejected and undelivered datagrams, and ring-buffer drops.
    Rejections,
}

pub struct JournalSink {
    level: JournalLevel,
    /// `--journal-container`: every entry goes there.
    fixed: Option<Route>,
    writers: HashMap<PathBuf, Relay>,
    /// Roots whose journal failed (warned about once; their entries are counted, not sent).
    broken: HashMap<PathBuf, u64>,
}

impl JournalSink {
    /// Fails at once, with one line, when the journal to write to is not there: the one of
    /// `--journal-container`, else ours, which takes the drops and the host managers' events
    /// (a container's may come and go while the observer runs, and are reported then).
    pub fn new(level: JournalLevel, container: Option<u32>) -> io::Result<Self> {
        if let Some(leader) = container
            && let Trust::Untrusted { owner } = Trust::of(Owner::Container { leader })
        {
            return Err(io::Error::other(format!(
                "container {leader} runs in a user namespace of {} (untrusted): the observer does not write to its journal as root",
                owner.map_or_else(|| "an unknown owner".into(), |u| format!("uid {u}"))
            )));
        }
        let fixed = container.map(Route::of);
        let root = fixed.as_ref().unwrap_or(&Route::Here).root();
        reachable(&root.join(SOCKET))?;
        Ok(Self {
            level,
            fixed,
            writers: HashMap::new(),
            broken: HashMap::new(),
        })
    }

    fn route_for(&self, socket: &SocketView<'_>) -> Route {
        if let Some(r) = &self.fixed {
            return r.clone();
        }
        if socket.untrusted() {
            return Route::Untrusted;
        }
        match socket.manager {
            Some(Owner::Container { leader })
            | Some(Owner::User {
                container: Some(leader),
                ..
            }) => Route::of(leader),
            _ => Route::Here,
        }
    }

    /// Sends `entry`; a failure of the journal chosen by `--journal-container` (or ours) ends the
    /// run, one of a container's (it may have just stopped) is reported once and counted.
    fn write(&mut self, route: &Route, entry: &Entry) -> io::Result<()> {
        let root = route.key();
        if let Some(n) = self.broken.get_mut(&root) {
            *n += 1;
            return Ok(());
        }
        let result = match route {
            Route::Here | Route::Untrusted => entry.send(),
            Route::Root(r, leader) => {
                let (r, leader) = (r.clone(), *leader);
                self.writer(&r, leader).and_then(|w| w.send(entry.clone()))
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) if Some(route) == self.fixed.as_ref() || *route == Route::Here => {
                // The same words as a container's journal given up below: a stalled relay
                // can fail here (its answer late) or after the entry was queued (at finish).
                Err(io::Error::other(format!(
                    "the journal under {} failed: {e}",
                    root.display()
                )))
            }
            Err(e) => {
                // The error can be the relay's answer, from inside that container: escaped.
                let why = crate::safe_text::text(&e.to_string()).into_owned();
                eprintln!(
                    "observer: the journal under {} failed ({why}); its entries are dropped from now on",
                    root.display()
                );
                self.writers.remove(&root);
                self.broken.insert(root, 1);
                Ok(())
            }
        }
    }

    fn writer(&mut self, root: &Path, leader: u32) -> io::Result<&mut Relay> {
        if !self.writers.contains_key(root) {
            let w = Relay::spawn(root.to_path_buf(), leader)?;
            self.writers.insert(root.to_path_buf(), w);
        }
        Ok(self.writers.get_mut(root).expect("just inserted"))
    }
}

/// Whether a journald reads `socket`: a datagram socket connects to it (nothing is sent).
fn reachable(socket: &Path) -> io::Result<()> {
    let probe = std::os::unix::net::UnixDatagram::unbound()?;
    probe.connect(socket).map_err(|e| {
        let why = match e.kind() {
            io::ErrorKind::NotFound => "no journald socket".to_string(),
            _ => format!("no journald reading the socket ({e})"),
        };
        io::Error::other(format!(
            "{why} at {}: is systemd-journald running there?",
            socket.display()
        ))
    })
}

/// Whether `--journal-level` lets this event through.
fn wanted(level: JournalLevel, j: &Judgement) -> bool {
    match level {
        JournalLevel::All => true,
        JournalLevel::Rejections => matches!(j.outcome, Outcome::Rejected | Outcome::NotDelivered),
    }
}

/// The journal entry for one event.
pub fn event_entry(shown: &Shown<'_>) -> Entry {
    let (ev, j) = (shown.event, shown.judgement);
    let v = j.verdict.as_ref();
    let payload = notify::escape(&ev.payload);
    // The PID as the unit's own journal lines give it (the manager's namespace).
    let pid = j.sender_pid.unwrap_or(ev.pid);
    let who = match &j.unit {
        Some(u) => format!("{u}: notification from PID {pid} ({})", ev.comm),
        None => format!("notification from PID {pid} ({})", ev.comm),
    };
    let (priority, message) = match (j.outcome, v) {
        (Outcome::Rejected, Some(v)) if v.hint.is_empty() => {
            (4, format!("{who} REJECTED: {}", v.reason))
        }
        (Outcome::Rejected, Some(v)) => {
            (4, format!("{who} REJECTED: {} (fix: {})", v.reason, v.hint))
        }
        (Outcome::Accepted, _) => (6, format!("{who} accepted: {payload}")),
        (Outcome::NotDelivered, _) => (
            4,
            format!(
                "{who} not delivered: {}",
                j.note.as_deref().unwrap_or("the send failed")
            ),
        ),
        (outcome, _) => (
            5,
            format!(
                "{who} {outcome}: {}",
                j.note.as_deref().unwrap_or("not judged")
            ),
        ),
    };
    let mut fields: Vec<(&'static str, String)> = vec![
        (
            "MESSAGE_ID",
            message_id(j.outcome, v.map(|v| v.kind)).into(),
        ),
        ("SYSLOG_IDENTIFIER", "observer".into()),
        ("OBSERVER_VERDICT", j.outcome.as_str().into()),
        ("OBSERVER_PAYLOAD", payload),
        ("OBSERVER_SENDER_HOST_PID", ev.pid.to_string()),
        ("OBSERVER_SENDER_UID", ev.uid.to_string()),
        ("OBSERVER_SENDER_COMM", ev.comm.clone()),
        ("OBSERVER_SOCKET", shown.socket.label.to_string()),
        ("OBSERVER_RESULT", ev.result.to_string()),
        ("OBSERVER_SENT_AT", rfc3339(ev.wall_ns)),
    ];
    // An untrusted container's entry goes to our journal: its PIDs are ours, and its unit names
    // are no unit of ours.
    let ours = shown.socket.untrusted();
    if let Some(pid) = j.sender_pid {
        fields.push(("OBSERVER_SENDER_PID", pid.to_string()));
    }
    // journald resolves it in its own PID namespace: the manager's, hence sender_pid.
    if let Some(pid) = if ours { Some(ev.pid) } else { j.sender_pid } {
        fields.push(("OBJECT_PID", pid.to_string()));
    }
    if let Some(u) = &j.unit {
        fields.push(("OBSERVER_UNIT", u.clone()));
    }
    if let Some(u) = j.unit.as_ref().filter(|_| !ours) {
        // journald derives OBJECT_SYSTEMD_UNIT from OBJECT_PID only while that process lives,
        // and the typical rejected sender (systemd-notify) has exited by now. The unit judged
        // here is the one systemd looked up at send time, so it is named directly (journalctl -u
        // matches it for entries from root).
        let object_unit = match shown.socket.manager {
            Some(Owner::User { .. }) => "OBJECT_SYSTEMD_USER_UNIT",
            _ => "OBJECT_SYSTEMD_UNIT",
        };
        fields.push((object_unit, u.clone()));
    }
    if ev.result < 0 {
        fields.push(("OBSERVER_ERRNO", result_errno_name(ev.result)));
    }
    if let Some(v) = v {
        fields.push(("OBSERVER_KIND", kind_name(v.kind)));
        fields.push(("OBSERVER_REASON", v.reason.clone()));
        fields.push(("OBSERVER_SYSTEMD_LOG_LEVEL", format!("{:?}", v.log_level)));
        if !v.hint.is_empty() {
            fields.push(("OBSERVER_HINT", v.hint.clone()));
        }
    }
    if let Some(n) = &j.note {
        fields.push(("OBSERVER_NOTE", n.clone()));
    }
    Entry {
        priority,
        message,
        fields: owned(fields),
    }
}

fn owned(fields: Vec<(&'static str, String)>) -> Vec<(String, String)> {
    fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// The kind as in JSON output (`not_main_pid`).
fn kind_name(k: Kind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Sink for JournalSink {
    fn start(&mut self, _: &Start<'_>) -> io::Result<()> {
        Ok(())
    }

    fn event(&mut self, shown: &Shown<'_>) -> io::Result<()> {
        if !wanted(self.level, shown.judgement) {
            return Ok(());
        }
        let route = self.route_for(&shown.socket);
        self.write(&route, &event_entry(shown))
    }

    fn drops(&mut self, new: u64, total: u64) -> io::Result<()> {
        let entry = Entry {
            priority: 4,
            message: format!(
                "{new} notify datagrams lost: the ring buffer was full ({total} so far)"
            ),
            fields: owned(vec![
                ("MESSAGE_ID", DROPS_MESSAGE_ID.into()),
                ("SYSLOG_IDENTIFIER", "observer".into()),
                ("OBSERVER_DROPPED", new.to_string()),
                ("OBSERVER_TOTAL_DROPPED", total.to_string()),
            ]),
        };
        let route = self.fixed.clone().unwrap_or(Route::Here);
        self.write(&route, &entry)
    }

    fn finish(&mut self, _: &Summary) -> io::Result<()> {
        // A relay that failed after its last entry was queued: said here, with what it lost.
        for (root, relay) in &self.writers {
            if let Some(why) = relay.failure() {
                eprintln!(
                    "observer: the journal under {} failed ({why}); {} entries were not written",
                    root.display(),
                    relay.unwritten()
                );
            }
        }
        for (root, n) in &self.broken {
            eprintln!(
                "observer: {n} journal entries for {} were not written",
                root.display()
            );
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;

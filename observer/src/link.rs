//! One manager as the judge reaches it (`Link`): connected and read by tasks of their own, so
//! the collector's loop never waits for a manager. Events wait for a manager's answer a bounded
//! time (`CONNECT_WAIT`, `ANSWER_WAIT`); a manager that does not answer in time only makes its
//! own units' verdicts `unknown`, with the reason, and is remembered for the exit summary.
//! While a manager is late, its events no longer wait at all; a failed connection is tried
//! again, less and less often.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use tokio::sync::oneshot::{self, error::TryRecvError};

use crate::{
    correlate::{ManagerRoot, Owner},
    manager::{Approach, Manager, Target, UnitReader, Watcher},
    notify::NotifyAccess,
    said,
    verdict::{SystemdVersion, UnitState},
};

/// How long an event may wait for its manager's first connection.
pub const CONNECT_WAIT: Duration = Duration::from_secs(3);
/// How long an event may wait for its manager's answer about a unit. A real systemd answers
/// nothing while it reloads (`daemon-reload` on a large host, or any under emulation, takes
/// seconds) and reads notify messages again only afterwards, so this is sd-bus's own default
/// method-call timeout, which systemctl waits too. Only the events of the manager's own socket
/// wait meanwhile (trace.rs), and a manager that lets it run out is not waited for again.
pub const ANSWER_WAIT: Duration = Duration::from_secs(25);
/// The whole of connecting (handshake, version, subscription), in the background.
const CONNECT_MAX: Duration = Duration::from_secs(5);
/// A read in the background gives up after this (its event stopped waiting before).
const READ_MAX: Duration = Duration::from_secs(30);
/// The first wait before a failed manager is tried again; it doubles with each failure in a row.
const RETRY_AFTER: Duration = Duration::from_secs(5);
const RETRY_MAX: Duration = Duration::from_secs(60);
/// Answers nobody came for are forgotten after this.
const DONE_KEPT: Duration = Duration::from_secs(30);

/// A connected manager and what judging its messages needs.
pub struct Connected {
    pub watcher: Watcher,
    pub version: SystemdVersion,
    pub root: ManagerRoot,
    /// Units that announced STOPPING=1 in an accepted message, with the main PID they had then:
    /// systemd's `s->notify_state`, which from v259 keeps a stopping service from becoming ready
    /// again. A new main PID (the next start) ends it (judge.rs).
    pub stopping: std::sync::Mutex<std::collections::HashMap<String, Option<u32>>>,
}

/// Whether the caller of `Link::connected()` / `Link::unit_state()` can come back later for
/// an answer that is not there yet, and if not, why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Patience {
    /// Ask again in a moment (`Answer::Wait`).
    Wait,
    /// The observer is stopping: what is missing makes the verdict `unknown`.
    Stopping,
    /// So many datagrams wait already that this one may not (memory stays bounded).
    Crowded,
}

impl Patience {
    /// The note of a verdict left `unknown` because the caller could not wait.
    fn why_not(self) -> Option<&'static str> {
        match self {
            Patience::Wait => None,
            Patience::Stopping => Some("the observer stopped before the manager answered"),
            Patience::Crowded => {
                Some("too many datagrams were waiting to wait for the manager's answer")
            }
        }
    }
}

/// What a link can tell now.
pub enum Answer<T> {
    Ready(T),
    /// Not yet: ask again in a moment.
    Wait,
    /// Not at all, and why (the verdict is `unknown`).
    No(String),
}

/// Why connecting failed; `late` when the manager did not answer in time (misbehaviour, for
/// the exit summary) rather than refused or was not there.
pub struct Failure {
    pub why: String,
    pub late: bool,
}

/// A task's answer, and the task (aborted when the answer is no longer wanted).
struct Pending<T> {
    rx: oneshot::Receiver<T>,
    since: Instant,
    task: tokio::task::JoinHandle<()>,
}

impl<T: Send + 'static> Pending<T> {
    fn spawn(work: impl Future<Output = T> + Send + 'static) -> Self {
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            let _ = tx.send(work.await);
        });
        Pending {
            rx,
            since: Instant::now(),
            task,
        }
    }

    /// Some(answer) once there is one; Some(None) when the task ended without one.
    fn try_take(&mut self) -> Option<Option<T>> {
        match self.rx.try_recv() {
            Ok(v) => Some(Some(v)),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Closed) => Some(None),
        }
    }
}

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum State {
    /// Never spoken to (the trust model, `--containers`), and why.
    NotAsked(String),
    Connecting {
        pending: Pending<Result<Connected, Failure>>,
        /// Events may wait for it (a first connection, not a retry, not waited out yet).
        awaited: bool,
        /// Why the last attempt failed (told to events while a retry runs).
        before: Option<String>,
    },
    Up(Box<Connected>),
    Down {
        since: Instant,
        why: String,
    },
}

/// A unit read: running, or its answer until an event takes it.
enum Read {
    Running(Pending<Result<UnitState, String>>),
    Done(Result<UnitState, String>, Instant),
}

pub struct Link {
    owner: Owner,
    target: Target,
    collect_changes: bool,
    state: State,
    reads: HashMap<String, Read>,
    /// Failures in a row, for the retry's backoff.
    failures: u32,
    /// Set when a read was not answered in time, cleared by the next answer: meanwhile events
    /// do not wait for this manager.
    late: Option<String>,
    /// What the manager failed to answer in time, for the exit summary: the last time's reason
    /// and how many times.
    unanswered: Option<(String, u32)>,
}

impl Link {
    /// Starts connecting to the manager of `owner` at `target`; with `Err`, never (why).
    pub fn new(owner: Owner, target: Result<Target, String>, collect_changes: bool) -> Link {
        let (target, state) = match target {
            Ok(t) => (t, None),
            Err(why) => {
                // Never used: nothing is connected to.
                let t = Target {
                    approach: Approach::Root,
                    ..Target::bus(None)
                };
                (t, Some(State::NotAsked(why)))
            }
        };
        let mut link = Link {
            owner,
            target,
            collect_changes,
            state: State::Down {
                since: Instant::now(),
                why: String::new(),
            },
            reads: HashMap::new(),
            failures: 0,
            late: None,
            unanswered: None,
        };
        match state {
            Some(s) => link.state = s,
            None => link.connect(true, None),
        }
        link
    }

    fn connect(&mut self, awaited: bool, before: Option<String>) {
        let (owner, target, collect) = (self.owner, self.target.clone(), self.collect_changes);
        let pending = Pending::spawn(async move {
            match tokio::time::timeout(CONNECT_MAX, open(owner, &target, collect)).await {
                Ok(r) => r,
                Err(_) => Err(Failure {
                    why: format!("the manager did not answer within {CONNECT_MAX:?} of connecting"),
                    late: true,
                }),
            }
        });
        self.state = State::Connecting {
            pending,
            awaited,
            before,
        };
    }

    /// Takes what the background tasks have done: a connection made or failed, reads answered
    /// or late; and starts a retry that is due.
    pub fn poll(&mut self) {
        let backoff = self.backoff();
        match &mut self.state {
            State::Connecting { pending, .. } => match pending.try_take() {
                None => {}
                Some(Some(Ok(c))) => {
                    self.state = State::Up(Box::new(c));
                    self.failures = 0;
                }
                Some(Some(Err(f))) => self.down(f),
                Some(None) => self.down(Failure {
                    why: "connecting ended without an answer".into(),
                    late: false,
                }),
            },
            State::Down { since, why } if since.elapsed() >= backoff => {
                let why = why.clone();
                self.connect(false, Some(why));
            }
            _ => {}
        }
        let mut answered = false;
        let mut late = None;
        self.reads.retain(|unit, r| match r {
            Read::Running(p) => match p.try_take() {
                None if p.since.elapsed() >= ANSWER_WAIT => {
                    late.get_or_insert_with(|| {
                        format!("the manager did not answer about {unit} within {ANSWER_WAIT:?}")
                    });
                    true
                }
                None => true,
                Some(answer) => {
                    answered = true;
                    let answer = answer.unwrap_or_else(|| Err("the read was abandoned".into()));
                    *r = Read::Done(answer, Instant::now());
                    true
                }
            },
            Read::Done(_, at) => at.elapsed() < DONE_KEPT,
        });
        if answered {
            self.late = None;
        }
        if let Some(why) = late
            && self.late.is_none()
        {
            self.note_unanswered(&why);
            self.late = Some(why);
        }
    }

    fn backoff(&self) -> Duration {
        RETRY_AFTER
            .saturating_mul(1 << self.failures.saturating_sub(1).min(8))
            .min(RETRY_MAX)
    }

    fn down(&mut self, f: Failure) {
        if f.late {
            self.note_unanswered(&f.why);
        }
        self.failures += 1;
        self.reads.clear();
        self.state = State::Down {
            since: Instant::now(),
            why: f.why,
        };
    }

    fn note_unanswered(&mut self, why: &str) {
        let n = self.unanswered.as_ref().map_or(0, |(_, n)| *n);
        self.unanswered = Some((why.to_owned(), n + 1));
    }

    /// The connection, once it is there. With `Patience::Wait` the caller can come back later
    /// (else a connection still being made is a `No`).
    pub fn connected(&mut self, patience: Patience) -> Answer<&Connected> {
        self.poll();
        match &mut self.state {
            State::Up(c) => Answer::Ready(c),
            State::NotAsked(why) | State::Down { why, .. } => Answer::No(why.clone()),
            State::Connecting {
                pending,
                awaited,
                before,
            } => {
                if *awaited && pending.since.elapsed() >= CONNECT_WAIT {
                    // Waited out: from now on events do not wait for this connection.
                    *awaited = false;
                }
                if *awaited && patience == Patience::Wait {
                    return Answer::Wait;
                }
                Answer::No(before.clone().unwrap_or_else(|| {
                    format!(
                        "the manager has not answered in {:.0?} of connecting",
                        pending.since.elapsed()
                    )
                }))
            }
        }
    }

    /// The connection if it is up, without waiting or retrying.
    pub fn up(&self) -> Option<&Connected> {
        match &self.state {
            State::Up(c) => Some(c),
            _ => None,
        }
    }

    /// `unit`'s state at CLOCK_MONOTONIC `t_ns`. A unit seen for the first time is read in the
    /// background: its history starts there, so its first message is judged against its state
    /// then. `Ready(Err)`: the manager answered with an error (judged without the state).
    pub fn unit_state(
        &mut self,
        unit: &str,
        t_ns: u64,
        patience: Patience,
    ) -> Answer<Result<UnitState, String>> {
        if !unit.ends_with(".service") {
            // Only services handle notify messages; the verdict needs just the name.
            return Answer::Ready(Ok(UnitState::new(unit, NotifyAccess::None)));
        }
        self.poll();
        let Some(c) = self.up() else {
            return Answer::No("the manager is not connected".into());
        };
        if let Some(st) = c.watcher.unit_state_at(unit, t_ns) {
            return Answer::Ready(Ok(st));
        }
        let reader = c.watcher.reader();
        match self.reads.remove(unit) {
            Some(Read::Done(answer, _)) => {
                // Tracked now (or the manager named it otherwise: then its state as read).
                let up = self.up().and_then(|c| c.watcher.unit_state_at(unit, t_ns));
                Answer::Ready(answer.map(|st| up.unwrap_or(st)))
            }
            Some(Read::Running(p)) => {
                let waited = p.since.elapsed();
                self.reads.insert(unit.to_owned(), Read::Running(p));
                if let Some(why) = &self.late {
                    Answer::No(why.clone())
                } else if let Some(why) = patience.why_not() {
                    Answer::No(why.into())
                } else if waited >= ANSWER_WAIT {
                    // poll() has just marked it late, or is about to.
                    Answer::No(format!("the manager did not answer within {ANSWER_WAIT:?}"))
                } else {
                    Answer::Wait
                }
            }
            None => {
                self.start_read(unit, reader);
                match (&self.late, patience.why_not()) {
                    (Some(why), _) => Answer::No(why.clone()),
                    (None, None) => Answer::Wait,
                    (None, Some(why)) => Answer::No(why.into()),
                }
            }
        }
    }

    /// Reads `unit` in full in the background unless it is known or being read (the feed of
    /// unit changes wants a service's settings once).
    pub fn read_once(&mut self, unit: &str) {
        let Some(c) = self.up() else { return };
        if c.watcher.cached(unit).is_some() || self.reads.contains_key(unit) {
            return;
        }
        let reader = c.watcher.reader();
        self.start_read(unit, reader);
    }

    fn start_read(&mut self, unit: &str, reader: UnitReader) {
        let name = unit.to_owned();
        let p = Pending::spawn(async move {
            match tokio::time::timeout(READ_MAX, reader.track(&name)).await {
                Ok(r) => r.map_err(|e| said_err(&e)),
                Err(_) => Err(format!("no answer in {READ_MAX:?}")),
            }
        });
        self.reads.insert(unit.to_owned(), Read::Running(p));
    }

    /// What this manager did wrong — not answering in time, saying what systemd never says —
    /// for the exit summary; None when nothing.
    pub fn trouble(&self) -> Option<String> {
        let late = self.late_trouble();
        let wrong = self
            .up()
            .map(|c| c.watcher.said_wrong())
            .filter(|n| *n > 0)
            .map(|n| format!("sent {n} signals naming units systemd's rules refuse (ignored)"));
        match (late, wrong) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        }
    }

    fn late_trouble(&self) -> Option<String> {
        let still = match &self.state {
            State::Connecting { pending, .. } if pending.since.elapsed() >= CONNECT_WAIT => {
                Some(format!(
                    "had not finished connecting after {:.0?}",
                    pending.since.elapsed()
                ))
            }
            _ => None,
        };
        match (&self.unanswered, still) {
            (Some((why, n)), _) => Some(format!("{why} ({n} times)")),
            (None, Some(s)) => Some(s),
            (None, None) => None,
        }
    }
}

/// Connects to a manager and starts following its units.
async fn open(owner: Owner, target: &Target, collect_changes: bool) -> Result<Connected, Failure> {
    let refused = |why: String| Failure { why, late: false };
    let manager = Manager::connect(target).await.map_err(|e| Failure {
        late: is_timeout(&e),
        why: format!("cannot reach the manager over D-Bus: {}", said_err(&e)),
    })?;
    let root = match owner {
        Owner::System => Ok(ManagerRoot::host()),
        Owner::Container { leader } => ManagerRoot::container(leader),
        // A user manager's units live below its own cgroup (user@UID.service).
        Owner::User { .. } => manager
            .ns_to_host_pid(manager.manager_pid())
            .ok_or_else(|| std::io::Error::other("the user manager's process is not visible"))
            .and_then(|pid| ManagerRoot::of_process(owner, pid)),
    }
    .map_err(|e| refused(format!("the root cgroup of {owner:?}: {e}")))?;
    let (_, version) = manager.version().await.map_err(|e| Failure {
        late: is_timeout(&e),
        why: format!("cannot read the manager's version: {}", said_err(&e)),
    })?;
    let watcher = manager.watch().await.map_err(|e| Failure {
        late: is_timeout(&e),
        why: format!("cannot follow the manager's units: {}", said_err(&e)),
    })?;
    if collect_changes {
        watcher.collect_changes();
    }
    Ok(Connected {
        watcher,
        version,
        root,
        stopping: Default::default(),
    })
}

/// An error's text, which may quote the manager (a D-Bus error's name and message): its
/// control characters escaped (said.rs).
fn said_err(e: &anyhow::Error) -> String {
    said::text(&format!("{e:#}"))
}

/// Whether an error says the peer did not answer in time (rather than refused).
fn is_timeout(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
            || matches!(c.downcast_ref::<zbus::Error>(), Some(zbus::Error::InputOutput(io)) if io.kind() == std::io::ErrorKind::TimedOut)
            || c.to_string().contains("no answer in")
    })
}

#[cfg(test)]
mod tests;

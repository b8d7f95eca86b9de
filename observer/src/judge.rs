//! Pipeline step after decode: correlate each datagram with its unit and judge it as the manager
//! that owns the socket will. This is the stateful part (cgroup cache, D-Bus connections, unit
//! history); the rules themselves are the pure `verdict::judge()`.

mod outcome;

use std::collections::HashMap;

pub use outcome::Outcome;

use crate::{
    correlate::{Cgroup2, Owner, Resolver, UnitMatch, unit_in},
    decode::Event,
    link::{Answer, Connected, Link, Patience},
    manager::{Approach, Manager, Target, UnitChange},
    pairing::{Delivered, Delivery},
    trust::{self, Containers, Trust},
    verdict::{self, Message, NotifyState, PidFacts, Sender, SystemdVersion, UnitState, Verdict},
    watch::Watched,
};

/// What the observer concluded about one datagram.
#[derive(Debug, Clone, Default)]
pub struct Judgement {
    /// The unit systemd will look up for the sender (None: no unit, or unknown).
    pub unit: Option<String>,
    pub outcome: Outcome,
    /// Present when the manager's rules were applied.
    pub verdict: Option<Verdict>,
    /// Why there is no verdict, or what limits it.
    pub note: Option<String>,
    /// What the verdict was computed from, for recordings (replay judges again from these).
    pub inputs: Option<VerdictInputs>,
    /// What became of the datagram on the manager's side: read or not, how late, with which
    /// credentials (see pairing.rs).
    pub delivery: Delivery,
    /// The sending process's own PID as its manager sees it (in the manager's PID namespace),
    /// when a manager was reached and the sender is visible there: the journal sink's OBJECT_PID.
    pub sender_pid: Option<u32>,
}

/// Everything `verdict::judge()` needs besides the datagram itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictInputs {
    pub sender: Sender,
    pub unit_state: Option<UnitState>,
    pub version: SystemdVersion,
}

/// The datagram as `verdict::judge()` takes it.
fn message_of(ev: &Event, sender: &Sender) -> Message {
    Message {
        payload: ev.payload.clone(),
        len: ev.len as usize,
        truncated: ev.truncated(),
        fds: ev.fds,
        creds_attached: sender.pid.is_some(),
        control_truncated: ev.flags & observer_common::flags::CONTROL_TRUNCATED != 0,
        sent_ns: Some(ev.mono_ns),
    }
}

/// The verdict on `ev` from its inputs: live (`Judge::judge_with`, once it has gathered them) and
/// for a recording (replay judges again from the recorded inputs, no manager needed) alike.
pub fn rejudge(ev: &Event, unit: Option<String>, inputs: &VerdictInputs) -> Judgement {
    let v = verdict::judge(
        &message_of(ev, &inputs.sender),
        &inputs.sender,
        inputs.unit_state.as_ref(),
        inputs.version,
    );
    Judgement {
        unit,
        outcome: Outcome::of_verdict(v.accepted),
        verdict: Some(v),
        note: None,
        inputs: Some(inputs.clone()),
        delivery: Delivery::default(),
        sender_pid: None,
    }
}

pub struct Judge {
    resolver: Option<Resolver>,
    /// Each manager, connected and read in the background (link.rs): judging never waits.
    links: HashMap<Owner, Link>,
    /// Each manager's name for people ("system manager", "container 1234", …), from the sockets.
    labels: HashMap<Owner, String>,
    /// How far each manager is believed, from the sockets (trust.rs).
    trusts: HashMap<Owner, Trust>,
    /// `--containers`: which containers' managers are spoken to.
    policy: Containers,
    /// Keep a feed of unit changes (recordings, diagnose).
    collect_changes: bool,
    /// Units whose full state the feed asked for once (a failed read is not retried per change).
    asked: std::collections::HashSet<(Owner, String)>,
}

impl Judge {
    pub fn new() -> Self {
        Self {
            resolver: Cgroup2::find().ok().map(Resolver::new),
            links: HashMap::new(),
            labels: HashMap::new(),
            trusts: HashMap::new(),
            policy: Containers::Trusted,
            collect_changes: false,
            asked: Default::default(),
        }
    }

    /// Which containers' managers to speak to (`--containers`; default: the trusted ones).
    pub fn with_containers(mut self, policy: Containers) -> Self {
        self.policy = policy;
        self
    }

    /// Also follow what units go through (state, Result, jobs), for `take_unit_changes`.
    pub fn with_unit_changes(mut self) -> Self {
        self.collect_changes = true;
        self
    }

    /// Unit changes since the last call, by manager label. A service seen for the first time
    /// is read in full (its Type, NotifyAccess, timeouts) in the background, which comes with
    /// a later call.
    pub fn take_unit_changes(&mut self) -> Vec<(String, UnitChange)> {
        let mut out = Vec::new();
        for (owner, link) in &mut self.links {
            link.poll();
            let Some(c) = link.up() else { continue };
            let (changes, dropped) = c.watcher.take_changes();
            if dropped > 0 {
                log::warn!("{dropped} unit changes were not recorded (too many at once)");
            }
            let label = self
                .labels
                .get(owner)
                .cloned()
                .unwrap_or_else(|| format!("{owner:?}"));
            for ch in changes {
                if !ch.full && self.asked.insert((*owner, ch.unit.clone())) {
                    link.read_once(&ch.unit);
                }
                out.push((label.clone(), ch));
            }
        }
        out
    }

    /// Starts connecting to the managers of these sockets, so that unit histories (MainPID,
    /// state) start before their first message: a MAINPID= handover in a unit's very first
    /// message is then judged against the MainPID before it. Never waits: see `busy()`.
    pub fn prepare(&mut self, watched: &[Watched]) {
        for w in watched {
            let Some(owner) = w.manager else { continue };
            self.labels.insert(owner, w.owner.label().to_owned());
            if let Some(t) = w.trust {
                self.trusts.insert(owner, t);
            }
            self.link(owner);
        }
    }

    /// The managers that misbehaved (did not answer in time, said what systemd never says),
    /// for the exit summary: "LABEL: what".
    pub fn troubles(&mut self) -> Vec<String> {
        self.links.values_mut().for_each(Link::poll);
        let mut out: Vec<String> = self
            .links
            .iter()
            .filter_map(|(owner, l)| {
                let label = self
                    .labels
                    .get(owner)
                    .cloned()
                    .unwrap_or_else(|| format!("{owner:?}"));
                l.trouble().map(|t| format!("{label}: {t}"))
            })
            .collect();
        out.sort();
        out
    }

    /// How many of these managers are not connected now, or not spoken to at all
    /// (`--containers`): their verdicts are `unknown` meanwhile. For the metrics.
    pub fn unreachable(&mut self, managers: &[Owner]) -> usize {
        managers
            .iter()
            .filter(|o| {
                self.links.get_mut(o).is_none_or(|l| {
                    l.poll();
                    l.up().is_none()
                })
            })
            .count()
    }

    fn link(&mut self, owner: Owner) -> &mut Link {
        let (collect, policy) = (self.collect_changes, self.policy);
        let trust = *self.trusts.entry(owner).or_insert_with(|| Trust::of(owner));
        self.links.entry(owner).or_insert_with(|| {
            let target = trust::approach(owner, trust, policy).map(|a| target_of(owner, a));
            Link::new(owner, target, collect)
        })
    }

    /// The note on a verdict made from what an untrusted manager said.
    fn untrusted_note(&self, owner: Owner) -> Option<String> {
        match self.trusts.get(&owner) {
            Some(Trust::Untrusted { owner }) => Some(format!(
                "judged from what an untrusted manager says (user namespace of uid {})",
                owner.map_or_else(|| "?".into(), |u| u.to_string())
            )),
            _ => None,
        }
    }

    /// Judges `ev` knowing what became of it on the manager's side: when the manager read it,
    /// the credentials it received are the ones its rules see. None: its manager's answer is
    /// not there yet, ask again in a moment (only with `Patience::Wait`: otherwise what is
    /// missing makes the verdict `unknown`).
    pub fn judge_delivered(
        &mut self,
        ev: &Event,
        socket: Option<&Watched>,
        delivery: Delivery,
        patience: Patience,
    ) -> Option<Judgement> {
        let mut j = self.judge_with(ev, socket, &delivery, patience)?;
        j.delivery = delivery;
        if j.verdict.is_some()
            && let Some(label) = socket
                .and_then(|w| w.manager)
                .and_then(|o| self.untrusted_note(o))
        {
            j.note = Some(match j.note.take() {
                Some(n) => format!("{label}; {n}"),
                None => label,
            });
        }
        Some(j)
    }

    fn judge_with(
        &mut self,
        ev: &Event,
        socket: Option<&Watched>,
        delivery: &Delivery,
        patience: Patience,
    ) -> Option<Judgement> {
        let Some(owner) = socket.and_then(|w| w.manager) else {
            return Some(Judgement {
                outcome: Outcome::Unknown,
                note: Some("not a manager's socket".into()),
                ..Default::default()
            });
        };
        // Resolve the cgroup first: the sender may be gone, its cgroup with it, any moment now.
        let cgroup_path = self
            .resolver
            .as_mut()
            .and_then(|r| r.resolve(ev.cgroup_id).path().map(str::to_owned));
        let link = self.link(owner);
        let conn = match link.connected(patience) {
            Answer::Ready(c) => c,
            Answer::Wait => return None,
            Answer::No(why) => {
                return Some(Judgement {
                    outcome: Outcome::Unknown,
                    note: Some(why),
                    ..Default::default()
                });
            }
        };
        let sender_pid = own_pid_as_manager_sees_it(ev, conn.watcher.manager());
        let unit_match = cgroup_path.map(|path| unit_in(&path, &conn.root.cgroup));
        let unit_name = match &unit_match {
            Some(UnitMatch::Unit(u)) | Some(UnitMatch::Slice(u)) => Some(u.clone()),
            Some(UnitMatch::Root | UnitMatch::Outside) => None,
            // The cgroup was gone before we could look it up (the sender's unit stopped at
            // once): its name, recorded in the kernel at send time, still tells the unit.
            None => unit_from_recorded_names(ev),
        };
        if ev.result < 0 {
            let errno = crate::systemd_basic::errno_list::result_errno_name(ev.result);
            return Some(Judgement {
                unit: unit_name,
                outcome: Outcome::NotDelivered,
                note: Some(format!(
                    "the send failed with {errno}: systemd never received this datagram"
                )),
                sender_pid,
                ..Default::default()
            });
        }
        // What the manager received, when its read was seen; else what it will see, predicted.
        let sender = match (delivery.delivered, delivery.manager_creds) {
            (_, Some(c)) => Sender {
                pid: Some(c.pid).filter(|p| *p != 0),
                uid: c.uid,
                gid: c.gid,
                alive: delivery.sender_alive,
                exited: delivery.sender_exited,
            },
            (Delivered::Yes, None) => Sender {
                pid: None,
                uid: ev.uid,
                gid: ev.gid,
                alive: None,
                exited: false,
            },
            _ => sender_as_manager_sees_it(ev, conn.watcher.manager()),
        };
        // systemd looks the unit up from the PID in the credentials (manager_get_units_for_pidref()),
        // which a privileged sender may set to another process's (`systemd-notify --pid=`,
        // sd_pid_notify()): then that process's unit is the one that judges the message.
        let unit_name = match sender.pid {
            Some(claimed) if sender_pid.is_some_and(|own| own != claimed) => {
                unit_of_pid(claimed, conn).or(unit_name)
            }
            _ => unit_name,
        };
        let unit_state = match &unit_name {
            Some(u) => match link.unit_state(u, ev.mono_ns, patience) {
                Answer::Ready(r) => Some(r),
                Answer::Wait => return None,
                // Not answered in time: a verdict without the unit's state would be a guess.
                Answer::No(why) => {
                    return Some(Judgement {
                        unit: unit_name,
                        outcome: Outcome::Unknown,
                        note: Some(why),
                        sender_pid,
                        ..Default::default()
                    });
                }
            },
            None => None,
        };
        if patience == Patience::Wait
            && let Some(Ok(st)) = &unit_state
            && awaits_main_pid_signal(st, &sender, ev.mono_ns)
        {
            return None;
        }
        let conn = link.up()?;
        let mut note = None;
        let unit_state = match unit_state {
            Some(Ok(mut st)) => {
                st.mainpid_target = mainpid_target(ev, conn);
                st.notify_state = announced(conn, &st);
                Some(st)
            }
            Some(Err(e)) => {
                note = Some(format!("unit state unavailable ({e}); judged without it"));
                None
            }
            None => None,
        };
        let inputs = VerdictInputs {
            sender,
            unit_state,
            version: conn.version,
        };
        let judgement = rejudge(ev, unit_name, &inputs);
        remember_stopping(conn, ev, &judgement);
        Some(Judgement {
            note,
            sender_pid,
            ..judgement
        })
    }
}

/// Where to reach the manager of `owner`, as `approach` says (trust.rs).
fn target_of(owner: Owner, approach: Approach) -> Target {
    let target = match (owner, &approach) {
        // Root never looks at an untrusted container's files: its manager's private socket is
        // where systemd puts it, and the owner's child finds out whether it is there.
        (Owner::Container { leader }, Approach::Owner { .. }) => Target {
            socket: format!("/proc/{leader}/root/run/systemd/private").into(),
            p2p: true,
            leader: Some(leader),
            approach: approach.clone(),
        },
        (Owner::System, _) => Target::host(),
        (Owner::Container { leader }, _) => Target::container(leader),
        (Owner::User { uid, container }, _) => Target::user(uid, container),
    };
    Target { approach, ..target }
}

/// What systemd checks about the PID a `MAINPID=` field names (`service_notify_message()`):
/// whether it exists or is a zombie, which unit's cgroup holds it, and its parent. Read now, a
/// moment after the send: the new main process has normally just been forked and is alive.
fn mainpid_target(ev: &Event, conn: &Connected) -> Option<PidFacts> {
    let field = crate::notify::parse(&ev.payload)
        .into_iter()
        .find(|f| f.name == "MAINPID")?;
    let pid = crate::systemd_basic::parse_util::parse_pid(field.value.as_bytes()).ok()?;
    let m = conn.watcher.manager();
    let gone = PidFacts {
        pid,
        exists: false,
        zombie: false,
        unit: None,
        ppid: None,
        ppid_late: false,
    };
    let Some(host) = m.ns_to_host_pid(pid) else {
        return Some(gone);
    };
    let Some(stat) = stat_after_comm(host) else {
        return Some(gone);
    };
    let mut fields = stat.split_whitespace();
    let zombie = fields.next() == Some("Z");
    let ppid = fields
        .next()
        .and_then(|p| p.parse().ok())
        .and_then(|p| m.host_to_ns_pid(p));
    let unit = unit_of_host_pid(host, conn);
    // The sender gone (reaped or a zombie) by now: its children were re-parented meanwhile.
    let ppid_late = !matches!(process_state(ev.pid).as_deref(), Some(s) if s != "Z");
    Some(PidFacts {
        pid,
        exists: true,
        zombie,
        unit,
        ppid,
        ppid_late,
    })
}

/// /proc/PID/stat of a host PID after "pid (comm)" — comm may hold spaces and parentheses, so
/// split after the last ')': "S ppid …". None once the process is reaped.
fn stat_after_comm(host_pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{host_pid}/stat")).ok()?;
    Some(stat.rsplit_once(')')?.1.to_owned())
}

/// The state letter in /proc/PID/stat ("R", "S", "Z", …) of a host PID; None once it is reaped.
fn process_state(host_pid: u32) -> Option<String> {
    stat_after_comm(host_pid)?
        .split_whitespace()
        .next()
        .map(str::to_owned)
}

/// The unit whose cgroup holds `pid` (in the manager's PID namespace), read now.
fn unit_of_pid(pid: u32, conn: &Connected) -> Option<String> {
    unit_of_host_pid(conn.watcher.manager().ns_to_host_pid(pid)?, conn)
}

/// The unit whose cgroup holds host PID `host`, read now.
fn unit_of_host_pid(host: u32, conn: &Connected) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{host}/cgroup")).ok()?;
    let path = text.lines().find_map(|l| l.strip_prefix("0::"))?;
    match unit_in(path, &conn.root.cgroup) {
        UnitMatch::Unit(u) => Some(u),
        _ => None,
    }
}

/// `s->notify_state` as far as the latch needs it: Stopping after an accepted STOPPING=1 of the
/// unit's current main process.
fn announced(conn: &Connected, st: &UnitState) -> Option<NotifyState> {
    let stopping = conn.stopping.lock().ok()?;
    (stopping.get(&st.id) == Some(&st.main_pid)).then_some(NotifyState::Stopping)
}

/// Notes an accepted message with STOPPING=1 (service_notify_message(): `strv_contains(tags,
/// "STOPPING=1")` sets NOTIFY_STOPPING whatever the state).
fn remember_stopping(conn: &Connected, ev: &Event, j: &Judgement) {
    let (Some(v), Some(inputs)) = (&j.verdict, &j.inputs) else {
        return;
    };
    let Some(st) = &inputs.unit_state else {
        return;
    };
    let stopped = v.accepted
        && crate::notify::parse(&ev.payload)
            .iter()
            .any(|f| f.raw == b"STOPPING=1");
    if let (true, Ok(mut map)) = (stopped, conn.stopping.lock()) {
        map.insert(st.id.clone(), st.main_pid);
    }
}

/// The PID systemd will see in SCM_CREDENTIALS: the one the sender attached (in its own PID
/// namespace, translated by the kernel), else the sender's own; None when it is not visible in
/// the manager's PID namespace (the manager then gets no valid credentials). The sender's PID in
/// its namespace was taken in the kernel at send time: a sender that exits at once still counts.
fn sender_as_manager_sees_it(ev: &Event, m: &Manager) -> Sender {
    let same_ns = ev.pidns_ino != 0 && m.pid_ns().ns.1 == u64::from(ev.pidns_ino);
    let pid = match (ev.creds, same_ns) {
        (Some(c), true) => Some(c.pid),
        (None, true) => Some(ev.ns_pid),
        // A sender in an outer namespace (e.g. the host writing into a container's socket).
        (Some(c), false) => m.host_to_ns_pid(c.pid),
        (None, false) => m.host_to_ns_pid(ev.pid),
    };
    let (uid, gid) = ev.creds.map(|c| (c.uid, c.gid)).unwrap_or((ev.uid, ev.gid));
    Sender {
        pid: pid.filter(|p| *p != 0),
        uid,
        gid,
        alive: None,
        exited: false,
    }
}

/// The sender's own PID (not the one its credentials may claim) in the manager's PID namespace.
fn own_pid_as_manager_sees_it(ev: &Event, m: &Manager) -> Option<u32> {
    let same_ns = ev.pidns_ino != 0 && m.pid_ns().ns.1 == u64::from(ev.pidns_ino);
    if same_ns {
        Some(ev.ns_pid)
    } else {
        m.host_to_ns_pid(ev.pid)
    }
    .filter(|p| *p != 0)
}

/// The unit named by the sender's cgroup directory or its parent, as recorded at send time.
fn unit_from_recorded_names(ev: &Event) -> Option<String> {
    [&ev.cgroup_name, &ev.cgroup_parent_name]
        .into_iter()
        .find(|n| {
            crate::systemd_basic::cgroup_util::cg_path_get_unit(&format!("/{n}")).as_deref()
                == Some(n.as_str())
        })
        .cloned()
}

/// How long a message only the main PID may send waits for the MainPID of a unit whose main
/// process is not known yet (see `awaits_main_pid_signal`).
const MAIN_PID_SIGNAL_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether `sender`'s message, sent at `sent_ns`, should wait for a MainPID signal: systemd
/// queues its bus signals behind the work at hand, so a new main process's MainPID can come
/// after the datagrams it sent (seen under emulation, later than the collector's JUDGE_AFTER:
/// READY=1 judged "main PID which is currently not known"). Only its own socket's events wait
/// with it, for MAIN_PID_SIGNAL_WAIT at most; then it is judged with what is known.
fn awaits_main_pid_signal(st: &UnitState, sender: &Sender, sent_ns: u64) -> bool {
    let access = st.notify_access_override.unwrap_or(st.notify_access);
    st.main_pid.is_none()
        && sender.pid.is_some()
        && matches!(
            access,
            crate::notify::NotifyAccess::Main | crate::notify::NotifyAccess::Exec
        )
        && crate::manager::monotonic_ns().saturating_sub(sent_ns)
            < MAIN_PID_SIGNAL_WAIT.as_nanos() as u64
}

#[cfg(test)]
mod tests;

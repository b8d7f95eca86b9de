//! A unit's timeline, from its diagnose story (diagnose/story.rs): the state segments, each
//! datagram as a mark with its verdict, the timeouts and the MainPID handovers. Pure: the
//! chart (chart.rs) and the page (html.rs) draw what this says.

use crate::{
    diagnose::story::{Attempt, Item},
    judge::Outcome,
    notify::{self, Key},
    recording::{records::EventRecord, rejudge::judgement_of},
};

/// What a span of the unit's life was, by systemd's ActiveState.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Activating,
    Active,
    Reloading,
    Deactivating,
    Failed,
    Inactive,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Activating,
        State::Active,
        State::Reloading,
        State::Deactivating,
        State::Failed,
        State::Inactive,
    ];

    /// The CSS class and legend word.
    pub fn name(self) -> &'static str {
        match self {
            State::Activating => "activating",
            State::Active => "active",
            State::Reloading => "reloading",
            State::Deactivating => "deactivating",
            State::Failed => "failed",
            State::Inactive => "inactive",
        }
    }

    pub fn colour(self) -> (u8, u8, u8) {
        match self {
            State::Activating => (0xFF, 0xE0, 0x82),
            State::Active => (0xA5, 0xD6, 0xA7),
            State::Reloading => (0x90, 0xCA, 0xF9),
            State::Deactivating => (0xCE, 0x93, 0xD8),
            State::Failed => (0xEF, 0x9A, 0x9A),
            State::Inactive => (0xE0, 0xE0, 0xE0),
        }
    }

    /// ActiveState when the change has it, else from the service SubState
    /// (`service_state_table` in systemd's service.c).
    fn of(active: Option<&str>, sub: &str) -> State {
        match active {
            Some("activating") => return State::Activating,
            Some("active") => return State::Active,
            Some("reloading") => return State::Reloading,
            Some("deactivating") => return State::Deactivating,
            Some("failed") => return State::Failed,
            Some("inactive") => return State::Inactive,
            _ => {}
        }
        match sub {
            "condition"
            | "start-pre"
            | "start"
            | "start-post"
            | "auto-restart"
            | "auto-restart-queued" => State::Activating,
            "running" | "exited" => State::Active,
            "failed" => State::Failed,
            "dead" => State::Inactive,
            s if s.starts_with("reload") || s == "refresh-extensions" => State::Reloading,
            _ => State::Deactivating,
        }
    }
}

/// What became of a datagram, as the mark's colour says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    Rejected,
    /// The send failed: systemd never received it.
    NotDelivered,
    /// Sent by the unit's processes to another manager's socket (or found for another unit).
    Elsewhere,
    Unknown,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Verdict::Accepted,
        Verdict::Rejected,
        Verdict::NotDelivered,
        Verdict::Elsewhere,
        Verdict::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::NotDelivered => "not-delivered",
            Verdict::Elsewhere => "elsewhere",
            Verdict::Unknown => "unknown",
        }
    }

    pub fn colour(self) -> (u8, u8, u8) {
        match self {
            Verdict::Accepted => (0x2E, 0x7D, 0x32),
            Verdict::Rejected => (0xC6, 0x28, 0x28),
            Verdict::NotDelivered => (0xEF, 0x6C, 0x00),
            Verdict::Elsewhere => (0x15, 0x65, 0xC0),
            Verdict::Unknown => (0x75, 0x75, 0x75),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted by systemd",
            Verdict::Rejected => "rejected by systemd",
            Verdict::NotDelivered => "send failed: never received",
            Verdict::Elsewhere => "sent to another socket or unit",
            Verdict::Unknown => "no verdict",
        }
    }
}

/// Colours of the marks that are not datagrams.
pub const TIMEOUT_COLOUR: (u8, u8, u8) = (0x21, 0x21, 0x21);
pub const MAINPID_COLOUR: (u8, u8, u8) = (0x6A, 0x1B, 0x9A);

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub from_ns: i128,
    pub to_ns: i128,
    pub state: State,
    /// The SubState, as systemd names it.
    pub sub_state: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub wall_ns: i128,
    pub pid: u32,
    pub comm: String,
    pub verdict: Verdict,
    /// The datagram's fields, shortened (notify::summary).
    pub text: String,
    /// systemd's words for a rejection, the errno of a failed send, or where it went.
    pub why: String,
    /// It asks for a MainPID handover (`MAINPID=`).
    pub mainpid: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FlagKind {
    /// The start timed out (Result=timeout before the unit was up).
    StartTimeout,
    Watchdog,
    /// Some other timeout (stop, runtime): Result=timeout after the start.
    Timeout,
    /// The manager's MainPID changed to this PID.
    MainPid(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Flag {
    pub wall_ns: i128,
    pub kind: FlagKind,
}

impl Flag {
    /// The CSS class and table word.
    pub fn class(&self) -> &'static str {
        match self.kind {
            FlagKind::StartTimeout => "start-timeout",
            FlagKind::Watchdog => "watchdog-timeout",
            FlagKind::Timeout => "timeout",
            FlagKind::MainPid(_) => "mainpid",
        }
    }

    pub fn label(&self) -> String {
        match self.kind {
            FlagKind::StartTimeout => "start timeout".into(),
            FlagKind::Watchdog => "watchdog timeout".into(),
            FlagKind::Timeout => "timeout".into(),
            FlagKind::MainPid(p) => format!("MainPID {p}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    pub segments: Vec<Segment>,
    pub messages: Vec<Message>,
    pub flags: Vec<Flag>,
    /// The span the items cover.
    pub first_ns: i128,
    pub last_ns: i128,
}

/// The timeline of the attempts the diagnose text tells.
pub fn of(attempts: &[&Attempt]) -> Timeline {
    let mut t = Timeline {
        first_ns: i128::MAX,
        last_ns: i128::MIN,
        ..Default::default()
    };
    let mut main_pid = None;
    for a in attempts {
        let mut timed_out = false;
        for item in &a.items {
            let at = item.wall_ns();
            t.first_ns = t.first_ns.min(at);
            t.last_ns = t.last_ns.max(at);
            match item {
                Item::Change(c, _) => {
                    if let Some(sub) = c.sub_state.as_deref() {
                        let state = State::of(c.active_state.as_deref(), sub);
                        if let Some(open) = t.segments.last_mut() {
                            open.to_ns = at;
                        }
                        let same = t
                            .segments
                            .last()
                            .is_some_and(|s| s.state == state && s.sub_state == sub);
                        if !same {
                            t.segments.push(Segment {
                                from_ns: at,
                                to_ns: at,
                                state,
                                sub_state: sub.to_owned(),
                            });
                        }
                    }
                    if let Some(p) = c.main_pid.filter(|p| *p != 0 && Some(*p) != main_pid) {
                        main_pid = Some(p);
                        t.flags.push(Flag {
                            wall_ns: at,
                            kind: FlagKind::MainPid(p),
                        });
                    }
                    if !timed_out && let Some(kind) = timeout(a, c) {
                        timed_out = true;
                        t.flags.push(Flag { wall_ns: at, kind });
                    }
                }
                Item::Event(e) => t.messages.push(message(e, None)),
                Item::Elsewhere(e, to) => t.messages.push(message(e, Some(to))),
            }
        }
    }
    // The last state lasts to the end of what is shown.
    if let Some(open) = t.segments.last_mut() {
        open.to_ns = t.last_ns;
    }
    if t.first_ns > t.last_ns {
        t.first_ns = 0;
        t.last_ns = 0;
    }
    t
}

/// The moment an attempt's timeout shows: the first change leaving the start (or, for the
/// watchdog, the running) state once systemd's `Result=` for the attempt says it timed out.
fn timeout(a: &Attempt, c: &crate::manager::UnitChange) -> Option<FlagKind> {
    let kind = match a.result.as_deref()? {
        "timeout" if a.started_ns.is_none() => FlagKind::StartTimeout,
        "timeout" => FlagKind::Timeout,
        "watchdog" => FlagKind::Watchdog,
        _ => return None,
    };
    let leaving = c
        .sub_state
        .as_deref()
        .is_some_and(|s| s.starts_with("stop") || s.starts_with("final") || s == "failed");
    let says = c.result.as_deref() == a.result.as_deref();
    (leaving || says).then_some(kind)
}

fn message(e: &EventRecord, elsewhere: Option<&String>) -> Message {
    let fields = e.event.fields();
    let j = judgement_of(e);
    let verdict = match (elsewhere, j.outcome) {
        (Some(_), _) => Verdict::Elsewhere,
        (None, Outcome::Accepted) => Verdict::Accepted,
        (None, Outcome::Rejected) => Verdict::Rejected,
        (None, Outcome::NotDelivered) => Verdict::NotDelivered,
        (None, Outcome::Unknown) => Verdict::Unknown,
    };
    let why = match (elsewhere, verdict, &j.verdict) {
        (Some(to), _, _) => format!("sent to {to}"),
        (None, Verdict::Rejected, Some(v)) => v.reason.clone(),
        (None, Verdict::NotDelivered, _) => format!(
            "send failed with {}",
            crate::systemd_basic::errno_list::result_errno_name(e.event.result)
        ),
        _ => j.note.clone().unwrap_or_default(),
    };
    Message {
        wall_ns: e.event.wall_ns,
        pid: e.event.pid,
        comm: e.event.comm.clone(),
        verdict,
        text: notify::summary(&fields),
        why,
        mainpid: fields.iter().any(|f| f.key == Key::MainPid),
    }
}

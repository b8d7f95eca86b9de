//! Judges whether systemd accepted a notify datagram, and what it made of each field, the way the
//! service manager does it in a given version. Pure logic: everything systemd would look up at
//! receive time (unit, main/control PID, state, …) comes in through `UnitState` and `Sender`.
//!
//! Mirrors, in order: `manager_dispatch_notify_fd()` (src/core/manager.c; from v258 its receive
//! checks moved to `notify_recv_with_fds()` in src/shared/notify-recv.c), `manager_process_barrier_fd()`,
//! `manager_invoke_notify_message()`, `service_notify_message_authorized()` and
//! `service_notify_message()` (src/core/service.c).
//!
//! Sources read: Debian source packages v252.39, v254.26, v257.13, v262 (file:line below refer to
//! those), and a v255-era git snapshot (8017ed7e). Versions not read are mapped onto these by the
//! `V_*` gates; each gate says where the change was seen. Changes whose exact release is inferred,
//! not read, are marked "inferred".
//!
//! Layout: this file holds the types and `judge()`; `manager_c` mirrors src/core/manager.c (the
//! receive checks, barriers, handing the message to its unit), `service_c` mirrors
//! src/core/service.c (who may notify, then each field), and `citations` says where each
//! mirrored statement is and how to get a refused message through.

mod citations;
mod manager_c;
mod service_c;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use self::manager_c::manager_dispatch_notify_fd;
use crate::notify::{Field, Key, NotifyAccess};

/// Type=notify-reload, MONOTONIC_USEC= and "STOPPING= wins over READY= over RELOADING=" (NEWS
/// "CHANGES WITH 253"; code read in v254.26; v252.39 still scans backwards).
const V_NOTIFY_RELOAD: u32 = 253;

/// NOTIFYACCESS= runtime override (systemd PR #26214, merged for v254; service.c:4521 v254.26).
/// Also the debug line for barriers (manager.c:2683 v254.26, absent in v252.39).
const V_NOTIFYACCESS: u32 = 254;

/// MAINPID= parsed by `pidref_set_pidstr()`, which also fails for a PID that does not exist
/// (v255-era snapshot; v254.26 still uses `parse_pid()`).
const V_PIDREF: u32 = 255;

/// v257.13 vs the v255-era snapshot: per-unit rejections and "Cannot find unit" go to debug,
/// oversize is caught by `recvmsg_safe()` (PR #34212, Aug 2024), the sender is pinned by pidfd,
/// MAINPIDFD=/MAINPIDFDID= (NEWS 257), BUSERROR=/VARLINKERROR= are read, MAINPID= refusal is a
/// warning. v256 is not read and treated as v255 (inferred: issue #35993 shows v256 logging the
/// "main PID" rejection at warning level).
const V_257: u32 = 257;

/// Receive checks in `notify_recv_with_fds()` with new wording (read in v262; its first user,
/// systemd-notify --fork, is in NEWS 258 — release inferred), RESTART_RESET=1 (NEWS 258).
const V_NOTIFY_RECV: u32 = 258;

/// `string_is_safe(…, STRING_ASCII)` for BUSERROR= (also refuses `*?[`) and the refusal of
/// READY=1/RELOADING=1 after STOPPING=1 (both read in v262, not in v257.13).
const V_262: u32 = 262;

/// The systemd release the manager runs (`systemctl --version`, first number).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SystemdVersion(pub u32);

/// One datagram as captured at sendmsg() time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The captured bytes (capture keeps at most 4096).
    pub payload: Vec<u8>,
    /// Full datagram length as sent; systemd drops anything over 4096 bytes.
    pub len: usize,
    /// Capture kept fewer bytes than were sent (field analysis then covers the captured part).
    pub truncated: bool,
    /// Number of fds sent with SCM_RIGHTS.
    pub fds: u32,
    /// SCM_CREDENTIALS reached systemd. The notify socket has SO_PASSCRED, so the kernel attaches
    /// them even if the sender did not; false only when capture knows better.
    pub creds_attached: bool,
    /// The control data would not fit systemd's buffer (MSG_CTRUNC). More than 768 fds always
    /// count as truncated, whatever this says.
    pub control_truncated: bool,
    /// CLOCK_MONOTONIC ns when it was sent, to place it against `UnitState::exec_main`.
    #[serde(default)]
    pub sent_ns: Option<u64>,
}

/// Who systemd believes sent it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    /// SCM_CREDENTIALS pid as seen in the manager's PID namespace: the sender's own PID, or the
    /// one a privileged sender put there (`sd_pid_notify()`, `systemd-notify --pid=`). None or 0
    /// when it is not visible there.
    pub pid: Option<u32>,
    pub uid: u32,
    pub gid: u32,
    /// Whether the sender was not yet reaped when systemd read the message (a zombie still
    /// counts); v257 drops the message otherwise.
    pub alive: Option<bool>,
}

/// `Type=` of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceType {
    Simple,
    Forking,
    Oneshot,
    Dbus,
    Notify,
    NotifyReload,
    Idle,
    Exec,
}

/// The service's `SubState=` (`service_state_table`), spelled as systemctl shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServiceState {
    Dead,
    Condition,
    StartPre,
    Start,
    StartPost,
    Running,
    RunningRevalidating,
    Exited,
    Reload,
    ReloadSignal,
    ReloadNotify,
    ReloadPost,
    RefreshExtensions,
    RefreshCredentials,
    Mounting,
    Stop,
    StopWatchdog,
    StopSigterm,
    StopSigkill,
    StopPost,
    FinalWatchdog,
    FinalSigterm,
    FinalSigkill,
    Failed,
    DeadBeforeAutoRestart,
    FailedBeforeAutoRestart,
    DeadResourcesPinned,
    AutoRestart,
    AutoRestartQueued,
    Cleaning,
}

impl ServiceState {
    /// Parses a D-Bus `SubState` string such as "start-post".
    pub fn from_sub_state(s: &str) -> Option<ServiceState> {
        serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
    }
}

/// What the service last announced (`s->notify_state`); the observer tracks it from accepted
/// messages. Only v262's STOPPING=1 latch depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyState {
    Unknown,
    Ready,
    Reloading,
    Stopping,
}

/// Facts about the PID named in MAINPID=, looked up when the message was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidFacts {
    pub pid: u32,
    pub exists: bool,
    pub zombie: bool,
    /// Unit whose cgroup holds it (`manager_get_unit_by_pid()`).
    pub unit: Option<String>,
    /// Parent PID: when it is not the manager, systemd warns it will not see the exit.
    pub ppid: Option<u32>,
}

/// systemd's own record of the service's current or last main process, `s->main_exec_status`
/// (D-Bus ExecMainPID, ExecMainStartTimestampMonotonic, ExecMainExitTimestampMonotonic). Unlike
/// MainPID it outlives the process: see `main_pid_when_read()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecMain {
    /// In the manager's PID namespace.
    pub pid: u32,
    /// CLOCK_MONOTONIC µs when it became the main PID (`exec_status_start()`); 0: never set.
    pub start_us: u64,
    /// CLOCK_MONOTONIC µs when systemd handled its exit (`exec_status_exit()`); 0: not yet.
    pub exit_us: u64,
}

/// What systemd knows about the unit the sender belongs to. Only `id` and `notify_access` are
/// required; every `None` makes the affected judgement "depends" (`accepted: None`).
///
/// NotifyAccess=exec accepts exactly the current main PID and the current control PID
/// (`service_notify_message_authorized()`), not every process an Exec*= line started, so no
/// other PID set is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitState {
    /// Unit name; anything not ending in ".service" has no notify handler.
    pub id: String,
    /// Effective NotifyAccess= (D-Bus `NotifyAccess`, defaults already applied).
    pub notify_access: NotifyAccess,
    /// A NOTIFYACCESS= override sent earlier (v254+); the observer tracks it.
    pub notify_access_override: Option<NotifyAccess>,
    pub main_pid: Option<u32>,
    pub control_pid: Option<u32>,
    pub service_type: Option<ServiceType>,
    pub state: Option<ServiceState>,
    pub notify_state: Option<NotifyState>,
    pub status_text: Option<String>,
    pub fd_store_max: Option<u32>,
    pub fd_store_count: Option<u32>,
    pub n_restarts: Option<u32>,
    /// `manager->service_watchdogs` (`systemctl service-watchdogs`); None means systemd's default, on.
    pub watchdogs_enabled: Option<bool>,
    /// PID of the manager: 1 for the system instance, the user manager's PID otherwise.
    pub manager_pid: u32,
    pub mainpid_target: Option<PidFacts>,
    /// See `ExecMain`; absent in recordings made before it was read.
    #[serde(default)]
    pub exec_main: Option<ExecMain>,
}

impl UnitState {
    pub fn new(id: impl Into<String>, notify_access: NotifyAccess) -> UnitState {
        UnitState {
            id: id.into(),
            notify_access,
            notify_access_override: None,
            main_pid: None,
            control_pid: None,
            service_type: None,
            state: None,
            notify_state: None,
            status_text: None,
            fd_store_max: None,
            fd_store_count: None,
            n_restarts: None,
            watchdogs_enabled: None,
            manager_pid: 1,
            mainpid_target: None,
            exec_main: None,
        }
    }

    /// This state with `main_pid` as systemd had it when it read `msg` (`main_pid_when_read()`).
    fn when_read(&self, msg: &Message) -> UnitState {
        UnitState {
            main_pid: main_pid_when_read(self, msg),
            ..self.clone()
        }
    }
}

/// `s->main_pid` when systemd read the message.
///
/// `u.main_pid` is what the observer knew of MainPID at the send, from D-Bus signals, which come
/// late: a main process that notifies and exits at once can be reaped (MainPID=0) before the
/// observer hears MainPID was ever set. `u.exec_main` is systemd's own record, kept after the exit,
/// with systemd's own times: `service_set_main_pid()` calls `exec_status_start()` whenever the main
/// PID changes, and `service_sigchld_event()` resets `s->main_pid` to 0 together with
/// `exec_status_exit()` (service.c v252.39). The manager reads the notify socket before it handles
/// SIGCHLD (`manager_setup_notify()`: priority SD_EVENT_PRIORITY_NORMAL-8, "so that we can still
/// identify to which service an exit message belongs"), and a process cannot exit before its
/// own send: a message sent between that start and that exit was read while ExecMainPID was the
/// main PID. Unless a state change dropped it first: `service_set_state()` unwatches the main PID
/// in every state that has no main process (dead, failed, exited, auto-restart, start-pre, …).
fn main_pid_when_read(u: &UnitState, msg: &Message) -> Option<u32> {
    use ServiceState as S;
    let (Some(e), Some(sent)) = (u.exec_main, msg.sent_ns) else {
        return u.main_pid;
    };
    let started = e.start_us != 0 && sent >= e.start_us.saturating_mul(1000);
    let not_exited = e.exit_us == 0 || sent < e.exit_us.saturating_mul(1000);
    let no_main_process = matches!(
        u.state,
        Some(
            S::Dead
                | S::Condition
                | S::StartPre
                | S::Exited
                | S::Failed
                | S::DeadBeforeAutoRestart
                | S::FailedBeforeAutoRestart
                | S::DeadResourcesPinned
                | S::AutoRestart
                | S::AutoRestartQueued
                | S::Cleaning
        )
    );
    if e.pid != 0 && started && not_exited && !no_main_process {
        Some(e.pid)
    } else {
        u.main_pid
    }
}

/// Where the message was dropped: by the manager before any unit saw it, or by a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Manager,
    Unit,
}

/// Stable outcome names for output and filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Accepted,
    Barrier,
    ControlTruncated,
    Oversize,
    NoCredentials,
    SenderDied,
    EmbeddedNul,
    SplitFailed,
    BarrierExtraFields,
    BarrierBadFds,
    NoUnit,
    NotAService,
    AccessNone,
    NotMainPid,
    MainPidUnknown,
    NotExecPid,
    ExecPidsUnknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Debug,
    /// systemd's level between debug and notice; no rule mirrored so far logs at it.
    Info,
    Notice,
    Warning,
    Error,
}

/// One line systemd logs for this datagram, in order. `unit` is the prefix the journal shows
/// ("foo.service: …") for `log_unit_*()` lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub level: LogLevel,
    pub unit: Option<String>,
    pub message: String,
    /// file:line and version of the statement that logs it.
    pub source: String,
}

/// What became of one field of an accepted message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldNote {
    pub key: Key,
    /// The key as written (escaped).
    pub name: String,
    /// Whether systemd acted on it; None when that depends on facts the observer lacks.
    pub accepted: Option<bool>,
    /// systemd's log line when it logs one (`log_level` set), else our description.
    pub message: String,
    pub log_level: Option<LogLevel>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub accepted: bool,
    pub stage: Stage,
    pub kind: Kind,
    /// The line systemd logs for this outcome, with the real values.
    pub reason: String,
    pub log_level: LogLevel,
    pub source: String,
    /// How to get the message through; empty when accepted.
    pub hint: String,
    pub field_notes: Vec<FieldNote>,
    /// Every line systemd logs for the datagram, debug included.
    pub logs: Vec<LogLine>,
    /// Where the observer's judgement is weaker than systemd's (incomplete capture, version not read).
    pub caveats: Vec<String>,
}

struct Judge<'a> {
    v: u32,
    unit: Option<&'a str>,
    logs: Vec<LogLine>,
    notes: Vec<FieldNote>,
    caveats: Vec<String>,
}

impl Judge<'_> {
    fn log(&mut self, level: LogLevel, message: String, source: String) {
        self.logs.push(LogLine {
            level,
            unit: self.unit.map(str::to_owned),
            message,
            source,
        });
    }

    fn manager_log(&mut self, level: LogLevel, message: String, source: String) {
        self.logs.push(LogLine {
            level,
            unit: None,
            message,
            source,
        });
    }

    /// A field note; when `level` is set systemd logs `message` too.
    fn note(
        &mut self,
        f: &Field,
        accepted: Option<bool>,
        level: Option<LogLevel>,
        message: String,
        source: String,
    ) {
        if let Some(l) = level {
            self.log(l, message.clone(), source.clone());
        }
        self.notes.push(FieldNote {
            key: f.key,
            name: f.name.clone(),
            accepted,
            message,
            log_level: level,
            source,
        });
    }

    /// Adds our explanation to the last note (systemd's own line stays first).
    fn amend(&mut self, extra: &str) {
        if let Some(n) = self.notes.last_mut() {
            n.message.push_str(extra);
        }
    }

    fn warn(&mut self, f: &Field, message: String, source: String) {
        self.note(f, Some(false), Some(LogLevel::Warning), message, source);
    }

    fn yes(&mut self, f: &Field, message: String, source: String) {
        self.note(f, Some(true), None, message, source);
    }

    fn no(&mut self, f: &Field, message: String, source: String) {
        self.note(f, Some(false), None, message, source);
    }

    fn maybe(&mut self, f: &Field, message: String, source: String) {
        self.note(f, None, None, message, source);
    }

    #[allow(clippy::too_many_arguments)]
    fn verdict(
        self,
        accepted: bool,
        stage: Stage,
        kind: Kind,
        level: LogLevel,
        reason: String,
        source: String,
        hint: &str,
    ) -> Verdict {
        Verdict {
            accepted,
            stage,
            kind,
            reason,
            log_level: level,
            source,
            hint: hint.to_owned(),
            field_notes: self.notes,
            logs: self.logs,
            caveats: self.caveats,
        }
    }

    /// Logs the deciding line and ends with it.
    fn drop_at(
        mut self,
        stage: Stage,
        kind: Kind,
        level: LogLevel,
        reason: String,
        source: String,
        hint: &str,
    ) -> Verdict {
        match stage {
            Stage::Manager => self.manager_log(level, reason.clone(), source.clone()),
            Stage::Unit => self.log(level, reason.clone(), source.clone()),
        }
        self.verdict(false, stage, kind, level, reason, source, hint)
    }
}

/// Same as `manager_dispatch_notify_fd()`.
pub fn judge(
    msg: &Message,
    sender: &Sender,
    unit: Option<&UnitState>,
    version: SystemdVersion,
) -> Verdict {
    manager_dispatch_notify_fd(msg, sender, unit, version)
}

type Rejection = (Kind, Stage, LogLevel, String, String);

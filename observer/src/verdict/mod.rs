//! Judges whether systemd accepted a notify datagram, and what it made of each field, the way the
//! service manager does it in a given version. Pure logic: everything systemd would look up at
//! receive time (unit, main/control PID, state, …) comes in through `UnitState` and `Sender`.
//!
//! Mirrors, in order: `manager_dispatch_notify_fd()` (src/core/manager.c; from v258 its receive
//! checks moved to `notify_recv_with_fds()` in src/shared/notify-recv.c), `manager_process_barrier_fd()`,
//! `manager_invoke_notify_message()`, `service_notify_message_authorized()` and
//! `service_notify_message()` (src/core/service.c).
//!
//! Sources read: Debian source packages v252.39, v254.26, v257.13, v262 (the first citations
//! below), and the upstream tags v252.31, v253.26, v254.27, v255.22, v256.17, v257.13, v258.10,
//! v259.8, v260.4, v261.2 (each major's .0 tag too, where behaviour differs by point release) and
//! main at 7412c16ef8 (262~devel, 2026-07-27), from github:openSUSE/systemd and
//! github:systemd/systemd-stable. Each `V_*` gate names the commit and the first tag that has it.
//! v262 statements not in that main snapshot (the STOPPING=1 error line, running-revalidating,
//! the notify-reload signal check) come from the earlier v262 read only.
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

/// Type=notify-reload, MONOTONIC_USEC=, "STOPPING= wins over READY= over RELOADING=" and the
/// reload-signal/reload-notify states (3bd28bf721, first in v253; service.c:4255 v253.26, while
/// v252.31 still scans backwards at :4175).
const V_NOTIFY_RELOAD: u32 = 253;

/// NOTIFYACCESS= runtime override (19dff6914d, v254; service.c:4521 v254.26). Also the debug line
/// for barriers (7b0a126751, v254; manager.c:2683 v254.26, absent in v253.26).
const V_NOTIFYACCESS: u32 = 254;

/// READY=1 + RELOADING=1 together: reload-signal finishes the reload without propagating it, and
/// running propagates it (c337a1301f, upstream in v258; backported to v254.24, v255.18, v256.12 and
/// v257.4; service.c:4435 v254.27). v253.26 still propagates from reload-signal and does nothing
/// from running (service.c:4280). Earlier point releases of 254–257 behave like 253: a caveat says so.
const V_COMBINED_RELOAD: u32 = 254;

/// MAINPID= parsed by `pidref_set_pidstr()`, which also fails for a PID that does not exist, and
/// "Can't determine if process … is our child" (495e75ed5c, v255; service.c:4375, :213 v255.22).
const V_PIDREF: u32 = 255;

/// v256 (none of it in v255.22): main/exec refusals at debug (5734d5d04c), "Cannot find unit" at
/// debug (4414bd5932), "reception is disabled" without the final period (f8d6694783), MAINPID=
/// honoured in stop-sigterm (f5b72af50d) and stop (31197c684a), "does not belong to service,
/// refusing." at warning (a3980843ef), "from unexpected unit type" with cellescape() (a2098d8bf7).
/// service.c:4303-4325, :4358, :4377 and manager.c:2687, :2862 v256.17.
const V_256: u32 = 256;

/// v257 vs v256.17: oversize caught by `recvmsg_safe()` (ad501930d7), the sender pinned by pidfd
/// (19eccb7667), "Out of memory." at warning (7d6e1293b2), MAINPIDFD=/MAINPIDFDID= (695323d90a),
/// BUSERROR=/VARLINKERROR= and the ": %s" accepted line (9c025022d9), MAINPID= parsed before the
/// state is checked. Also f781292d6c: a main PID taken from MAINPID= gets its own process start
/// time as ExecMainStartTimestamp (service.c:231 v257.13), no longer the moment it was taken.
const V_257: u32 = 257;

/// WATCHDOG=1 does not reset the watchdog of a frozen unit, with a debug line (0cf84c9a60, upstream
/// in v258; backported to v257.9; service.c:412 v257.13, :423 v258.10).
const V_WATCHDOG_FROZEN: u32 = 257;

/// Receive checks in `notify_recv_with_fds()` with new wording (5d09689b5c, v258;
/// notify-recv.c:124-250, unchanged up to main), RESTART_RESET=1 (406aeb5da6, v258), MAINPID= and
/// STOPPING=1 in refresh-extensions (dfdeb0b1cb, v258).
const V_NOTIFY_RECV: u32 = 258;

/// READY=1/RELOADING=1 after STOPPING=1 are ignored, silently (98734ac74d, v259;
/// service.c:4870 v259.8, still silent at :5397 in main 7412c16ef8). MAINPID= in reload-post
/// (b03e1b09af, v259).
const V_STOP_LATCH: u32 = 259;

/// MAINPID= and STOPPING=1 in refresh-credentials (fff07be411, v260; service.c:5108, :5007 v260.4).
const V_REFRESH_CREDENTIALS: u32 = 260;

/// `string_is_safe(…, STRING_ASCII)` for BUSERROR=/VARLINKERROR=, which also refuses the glob
/// characters `*?[` (812aa57d2c, v261; service.c:5456 v261.2, v260.4 still `string_is_safe_ascii()`).
const V_SAFE_STRING: u32 = 261;

/// Read in v262 only (not in main 7412c16ef8): the error line for READY=1/RELOADING=1 after
/// STOPPING=1 (service.c:5530 v262), the running-revalidating state.
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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
    /// Alive, but it had exited (a zombie): its parent may reap it before systemd looks it up.
    pub exited: bool,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidFacts {
    pub pid: u32,
    pub exists: bool,
    pub zombie: bool,
    /// Unit whose cgroup holds it (`manager_get_unit_by_pid()`).
    pub unit: Option<String>,
    /// Parent PID in the manager's PID namespace (0: the parent is outside it): when it is not
    /// the manager, systemd warns it will not see the exit.
    pub ppid: Option<u32>,
    /// `ppid` was read after the process that sent MAINPID= had exited: systemd, which looked
    /// earlier, may have seen that process as the parent (orphans are re-parented to PID 1).
    pub ppid_late: bool,
}

/// systemd's own record of the service's current or last main process, `s->main_exec_status`
/// (D-Bus ExecMainPID, ExecMainStartTimestampMonotonic, ExecMainExitTimestampMonotonic). Unlike
/// MainPID it outlives the process: see `main_pid_when_read()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub exec_main: Option<ExecMain>,
    /// D-Bus `FreezerState` ("running", "freezing", "frozen", "thawing", "frozen-by-parent", …);
    /// only WATCHDOG=1 depends on it (`V_WATCHDOG_FROZEN`). None: not known.
    pub freezer_state: Option<String>,
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
            freezer_state: None,
        }
    }

    /// This state with `main_pid` as systemd had it when it read `msg` (`main_pid_when_read()`).
    fn when_read(&self, msg: &Message, v: u32) -> UnitState {
        UnitState {
            main_pid: main_pid_when_read(self, msg, v),
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
///
/// That start is when the PID became the main PID for a process systemd spawned (every version
/// passes the spawn time), and for one taken from MAINPID= up to v256 (`exec_status_start()` with
/// the current time: service.c:171 v252.31, :217 v256.17). From v257 a PID taken from MAINPID= is
/// stamped with its own process start time instead (f781292d6c; service.c:231 v257.13), which comes
/// before the handover. So from v257 ExecMain cannot tell when an adopted PID became the main PID:
/// not for the message that asks for it (`service_notify_message_authorized()` runs before
/// MAINPID= is looked at: service.c:4133 v252.31, :4643 v257.13, :4943 v259.8, i.e. against the
/// previous main PID), nor for any message the previous main PID sent before the handover (the
/// testbed's pystemd handover on 257: READY=1, then MAINPID=). A different main PID the observer
/// knew at the send then wins.
fn main_pid_when_read(u: &UnitState, msg: &Message, v: u32) -> Option<u32> {
    use ServiceState as S;
    let (Some(e), Some(sent)) = (u.exec_main, msg.sent_ns) else {
        return u.main_pid;
    };
    if v >= V_257 && u.main_pid.is_some_and(|m| m != e.pid) {
        return u.main_pid;
    }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
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
    /// Whether systemd logs it depends on a race the observer cannot see the end of (e.g. did
    /// the new main PID's parent exit before systemd looked?): it may be logged, or not.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub may: bool,
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
            may: false,
        });
    }

    /// A line systemd logs or not, depending on a race (`LogLine::may`).
    fn may_log(&mut self, level: LogLevel, message: String, source: String) {
        self.log(level, message, source);
        if let Some(l) = self.logs.last_mut() {
            l.may = true;
        }
    }

    fn manager_log(&mut self, level: LogLevel, message: String, source: String) {
        self.logs.push(LogLine {
            level,
            unit: None,
            message,
            source,
            may: false,
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

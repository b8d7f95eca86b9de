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

use serde::{Deserialize, Serialize};

use crate::notify::{
    self, Errno, Field, Key, NOTIFY_BUFFER_MAX, NOTIFY_FD_MAX, NotifyAccess, Payload,
};

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

/// Every statement this module mirrors (a log line or a decision), named for the lookup below.
#[rustfmt::skip]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum R {
    CtrlTrunc, PayloadTrunc, NoCreds, Oversize, EmbeddedNul, SenderDied, SplitOom, NoUnit,
    ExtraFds, BarrierExtra, BarrierFds, BarrierDebug, NotServiceNew, NotServiceOld, AccessNone,
    NotMain, MainUnknown, ExecBoth, ExecMain, ExecControl, ExecNone, AcceptedNew, AcceptedOld,
    Status, NotifyAccess, Errno, BusError, ExtendTimeout, Watchdog, WatchdogRequest, WatchdogUsec,
    MainPidStates, MainPidFd, MainPidParse, MainPidFdIdParse, MainPidFdIdCheck, IsManager,
    IsControl, Suitable, Zombie, Happy, Privileged, Refusing, NotChild, Monotonic, FdStoreRemove,
    FdNameInvalid, FdStoreFull, Stopping, Ready, Reloading, StopLatchReady, StopLatchReloading,
    RestartReset, Fields,
}

/// Where each mirrored statement is, per version read: (applies from version, "file:line read-in").
/// `M:` src/core/manager.c, `S:` src/core/service.c, `R:` src/shared/notify-recv.c.
#[rustfmt::skip]
const SOURCES: &[(R, &[(u32, &str)])] = &[
    (R::CtrlTrunc,          &[(252, "M:2533 v252.39"), (254, "M:2619 v254.26"), (257, "M:2851 v257.13"), (258, "R:124 v262")]),
    (R::PayloadTrunc,       &[(257, "M:2855 v257.13"), (258, "R:129 v262")]),
    (R::NoCreds,            &[(252, "M:2571 v252.39"), (254, "M:2657 v254.26"), (257, "M:2904 v257.13"), (258, "R:189 v262")]),
    (R::Oversize,           &[(252, "M:2576 v252.39"), (254, "M:2662 v254.26")]),
    (R::EmbeddedNul,        &[(252, "M:2583 v252.39"), (254, "M:2669 v254.26"), (257, "M:2933 v257.13"), (258, "R:194 v262")]),
    (R::SenderDied,         &[(257, "M:2916 v257.13")]),
    (R::SplitOom,           &[(252, "M:2591 v252.39"), (254, "M:2677 v254.26"), (257, "M:2942 v257.13"), (258, "R:250 v262")]),
    (R::NoUnit,             &[(252, "M:2633 v252.39"), (254, "M:2721 v254.26"), (257, "M:2964 v257.13"), (262, "M:3136 v262")]),
    (R::ExtraFds,           &[(252, "M:2636 v252.39"), (254, "M:2724 v254.26"), (257, "M:2972 v257.13"), (262, "M:3144 v262")]),
    (R::BarrierExtra,       &[(252, "M:2452 v252.39"), (254, "M:2536 v254.26"), (257, "M:2727 v257.13"), (262, "M:2998 v262")]),
    (R::BarrierFds,         &[(252, "M:2450 v252.39"), (254, "M:2538 v254.26"), (257, "M:2729 v257.13"), (262, "M:3000 v262")]),
    (R::BarrierDebug,       &[(254, "M:2683 v254.26"), (257, "M:2948 v257.13"), (262, "M:3120 v262")]),
    (R::NotServiceNew,      &[(257, "M:2764 v257.13"), (262, "M:3035 v262")]),
    (R::NotServiceOld,      &[(252, "M:2489 v252.39"), (254, "M:2575 v254.26")]),
    (R::AccessNone,         &[(252, "S:4079 v252.39"), (254, "S:4318 v254.26"), (257, "S:4526 v257.13"), (262, "S:5398 v262")]),
    (R::NotMain,            &[(252, "S:4085 v252.39"), (254, "S:4324 v254.26"), (257, "S:4537 v257.13"), (262, "S:5409 v262")]),
    (R::MainUnknown,        &[(252, "S:4087 v252.39"), (254, "S:4326 v254.26"), (257, "S:4539 v257.13"), (262, "S:5411 v262")]),
    (R::ExecBoth,           &[(252, "S:4094 v252.39"), (254, "S:4333 v254.26"), (257, "S:4548 v257.13"), (262, "S:5420 v262")]),
    (R::ExecMain,           &[(252, "S:4097 v252.39"), (254, "S:4336 v254.26"), (257, "S:4551 v257.13"), (262, "S:5423 v262")]),
    (R::ExecControl,        &[(252, "S:4099 v252.39"), (254, "S:4338 v254.26"), (257, "S:4553 v257.13"), (262, "S:5425 v262")]),
    (R::ExecNone,           &[(252, "S:4101 v252.39"), (254, "S:4340 v254.26"), (257, "S:4555 v257.13"), (262, "S:5427 v262")]),
    (R::AcceptedNew,        &[(257, "S:4648 v257.13"), (262, "S:5622 v262")]),
    (R::AcceptedOld,        &[(252, "S:4140 v252.39"), (254, "S:4380 v254.26")]),
    (R::Status,             &[(252, "S:4224 v252.39"), (254, "S:4499 v254.26"), (257, "S:4771 v257.13"), (262, "S:5673 v262")]),
    (R::NotifyAccess,       &[(254, "S:4521 v254.26"), (257, "S:4793 v257.13"), (262, "S:5695 v262")]),
    (R::Errno,              &[(252, "S:4246 v252.39"), (254, "S:4540 v254.26"), (257, "S:4812 v257.13"), (262, "S:5714 v262")]),
    (R::BusError,           &[(257, "S:4838 v257.13"), (262, "S:5740 v262")]),
    (R::ExtendTimeout,      &[(252, "S:4258 v252.39"), (254, "S:4552 v254.26"), (257, "S:4849 v257.13"), (262, "S:5751 v262")]),
    (R::Watchdog,           &[(252, "S:4271 v252.39"), (254, "S:4565 v254.26"), (257, "S:4862 v257.13"), (262, "S:5764 v262")]),
    (R::WatchdogRequest,    &[(252, "S:4113 v252.39"), (254, "S:4352 v254.26"), (257, "S:4512 v257.13"), (262, "S:5384 v262")]),
    (R::WatchdogUsec,       &[(252, "S:4278 v252.39"), (254, "S:4572 v254.26"), (257, "S:4869 v257.13"), (262, "S:5771 v262")]),
    (R::MainPidStates,      &[(252, "S:4145 v252.39"), (254, "S:4385 v254.26"), (257, "S:4660 v257.13"), (262, "S:5633 v262")]),
    (R::MainPidFd,          &[(257, "S:4582 v257.13"), (262, "S:5454 v262")]),
    (R::MainPidParse,       &[(252, "S:4149 v252.39"), (254, "S:4389 v254.26"), (255, "S service_notify_message() v255-era git 8017ed7e"), (257, "S:4599 v257.13"), (262, "S:5471 v262")]),
    (R::MainPidFdIdParse,   &[(257, "S:4609 v257.13"), (262, "S:5481 v262")]),
    (R::MainPidFdIdCheck,   &[(257, "S:4620 v257.13"), (262, "S:5492 v262")]),
    (R::IsManager,          &[(252, "S:942 v252.39"), (254, "S:1079 v254.26"), (257, "S:1152 v257.13"), (262, "S:1523 v262")]),
    (R::IsControl,          &[(252, "S:945 v252.39"), (254, "S:1082 v254.26"), (257, "S:1155 v257.13"), (262, "S:1526 v262")]),
    (R::Suitable,           &[(252, "S:4152 v252.39"), (254, "S:4392 v254.26"), (257, "S:4665 v257.13"), (262, "S:5639 v262")]),
    (R::Zombie,             &[(252, "S:948 v252.39"), (254, "S:1085 v254.26"), (257, "S:1161 v257.13"), (262, "S:1532 v262")]),
    (R::Happy,              &[(252, "S:952 v252.39"), (254, "S:1089 v254.26"), (257, "S:1165 v257.13"), (262, "S:1536 v262")]),
    (R::Privileged,         &[(252, "S:4157 v252.39"), (254, "S:4397 v254.26"), (257, "S:4670 v257.13"), (262, "S:5644 v262")]),
    (R::Refusing,           &[(252, "S:4160 v252.39"), (254, "S:4400 v254.26"), (257, "S:4673 v257.13"), (262, "S:5647 v262")]),
    (R::NotChild,           &[(252, "S:179 v252.39"), (254, "S:201 v254.26"), (257, "S:245 v257.13"), (262, "S:291 v262")]),
    (R::Monotonic,          &[(254, "S:4419 v254.26"), (257, "S:4691 v257.13"), (262, "S:5512 v262")]),
    (R::FdStoreRemove,      &[(252, "S:4291 v252.39"), (254, "S:4585 v254.26"), (257, "S:4882 v257.13"), (262, "S:5795 v262")]),
    (R::FdNameInvalid,      &[(252, "S:4300 v252.39"), (254, "S:4594 v254.26"), (257, "S:4891 v257.13"), (262, "S:5804 v262")]),
    (R::FdStoreFull,        &[(252, "S:493 v252.39"), (254, "S:563 v254.26"), (257, "S:633 v257.13"), (262, "S:767 v262")]),
    (R::Stopping,           &[(252, "S:4202 v252.39"), (254, "S:4423 v254.26"), (257, "S:4695 v257.13"), (262, "S:5516 v262")]),
    (R::Ready,              &[(252, "S:4177 v252.39"), (254, "S:4431 v254.26"), (257, "S:4703 v257.13"), (262, "S:5527 v262")]),
    (R::Reloading,          &[(252, "S:4193 v252.39"), (254, "S:4467 v254.26"), (257, "S:4739 v257.13"), (262, "S:5577 v262")]),
    (R::StopLatchReady,     &[(262, "S:5530 v262")]),
    (R::StopLatchReloading, &[(262, "S:5580 v262")]),
    (R::RestartReset,       &[(258, "S:5779 v262")]),
    (R::Fields,             &[(252, "S:4119 v252.39"), (254, "S:4358 v254.26"), (257, "S:4630 v257.13"), (262, "S:5604 v262")]),
];

/// The citation of `rule` for version `v`: the newest entry that applies to it.
fn cite(v: u32, rule: R) -> String {
    let at = SOURCES
        .iter()
        .find(|(r, _)| *r == rule)
        .map(|(_, at)| *at)
        .unwrap_or(&[]);
    let Some((_, loc)) = at.iter().rev().find(|(from, _)| *from <= v).or(at.first()) else {
        return String::new();
    };
    let (file, rest) = match loc.split_once(':') {
        Some(("M", rest)) => ("src/core/manager.c:", rest),
        Some(("S", rest)) => ("src/core/service.c:", rest),
        Some(("R", rest)) => ("src/shared/notify-recv.c:", rest),
        _ => ("src/core/service.c ", loc.trim_start_matches("S ")),
    };
    format!("{file}{rest}")
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

/// `manager_dispatch_notify_fd()`: manager.c:2493 v252.39, :2579 v254.26, :2822 v257.13, :3093 v262.
/// `unit` is the unit systemd would find for the sender (`manager_get_units_for_pidref()`: the
/// cgroup's unit, else one watching the PID); None when there is none. A PID several units
/// watch gets one call per unit.
pub fn manager_dispatch_notify_fd(
    msg: &Message,
    sender: &Sender,
    unit: Option<&UnitState>,
    version: SystemdVersion,
) -> Verdict {
    use LogLevel::*;
    use Stage::Manager;
    let when_read = unit.map(|u| u.when_read(msg));
    let unit = when_read.as_ref();
    let v = version.0.max(252);
    let mut j = Judge {
        v,
        unit: None,
        logs: Vec::new(),
        notes: Vec::new(),
        caveats: Vec::new(),
    };
    if ![252, 254, 257, 262].contains(&version.0) {
        j.caveats.push(format!(
            "systemd v{} not read directly: rules of the nearest verified version applied",
            version.0
        ));
    }
    if msg.truncated || msg.payload.len() < msg.len.min(NOTIFY_BUFFER_MAX) {
        j.caveats.push(format!(
            "payload capture incomplete ({} of {} bytes): fields judged on the captured part",
            msg.payload.len(),
            msg.len
        ));
    }
    let payload = notify::parse_payload(&msg.payload);

    // recvmsg_safe() turns MSG_CTRUNC into an error before anything else is looked at.
    if msg.control_truncated || msg.fds > NOTIFY_FD_MAX {
        let src = cite(v, R::CtrlTrunc);
        let r =
            "Got message with truncated control data (too many fds sent?), ignoring.".to_owned();
        return j.drop_at(Manager, Kind::ControlTruncated, Warning, r, src, "send at most 768 fds per message (NOTIFY_FD_MAX), and make sure PID 1 is not out of file descriptors");
    }
    let oversize = msg.len > NOTIFY_BUFFER_MAX;
    const OVERSIZE_HINT: &str = "keep the datagram at most 4096 bytes (NOTIFY_BUFFER_MAX = PIPE_BUF): shorten STATUS= or split it into several messages";
    if v >= V_257 && oversize {
        // From v257 recvmsg_safe() also refuses MSG_TRUNC, before credentials are checked.
        let src = cite(v, R::PayloadTrunc);
        return j.drop_at(
            Manager,
            Kind::Oversize,
            Warning,
            "Got message with truncated payload data, ignoring.".into(),
            src,
            OVERSIZE_HINT,
        );
    }
    let pid = match sender.pid {
        Some(p) if p > 0 && msg.creds_attached => p,
        _ => {
            let r = if v >= V_NOTIFY_RECV {
                "Got notification datagram lacking valid credential information, ignoring."
            } else {
                "Received notify message without valid credentials. Ignoring."
            };
            return j.drop_at(Manager, Kind::NoCredentials, Warning, r.into(), cite(v, R::NoCreds), "the sender's PID is not visible in the manager's PID namespace (pid 0 in SCM_CREDENTIALS): send from a process systemd can see");
        }
    };
    if oversize {
        let src = cite(v, R::Oversize);
        return j.drop_at(
            Manager,
            Kind::Oversize,
            Warning,
            "Received notify message exceeded maximum size. Ignoring.".into(),
            src,
            OVERSIZE_HINT,
        );
    }
    if v == V_257 && sender.alive == Some(false) {
        // Only v257 pins the sender with pidref_set_pid(); v258's notify_recv_with_fds() no longer does.
        return j.drop_at(Manager, Kind::SenderDied, Debug, "Notify sender died before message is processed. Ignoring.".into(), cite(v, R::SenderDied),
            "the sender exited before systemd read the message: keep it alive until processed (sd_notify_barrier(); systemd-notify waits unless --no-block)");
    }
    if payload.embedded_nul {
        let r = if v >= V_NOTIFY_RECV {
            "Got notification message with embedded NUL, ignoring."
        } else {
            "Received notify message with embedded NUL bytes. Ignoring."
        };
        return j.drop_at(Manager, Kind::EmbeddedNul, Warning, r.into(), cite(v, R::EmbeddedNul), "do not put NUL bytes in the message (one trailing NUL is tolerated); separate fields with \\n");
    }
    if payload.split_error.is_some() {
        // strv_split_newlines() fails with -EINVAL on a trailing backslash, reported as OOM.
        let level = if v >= V_257 { Warning } else { Error };
        let src = cite(v, R::SplitOom);
        return j.drop_at(Manager, Kind::SplitFailed, level, "Out of memory.".into(), src, "systemd treats '\\' as an escape character: do not end the message with a lone backslash (write \\\\ for a literal one)");
    }
    if let Some(v) = manager_process_barrier_fd(&mut j, &payload, msg.fds, pid) {
        return v;
    }

    let mut fds_left = msg.fds;
    let verdict = match unit {
        None => {
            let level = if v >= V_257 { Debug } else { Warning };
            let src = cite(v, R::NoUnit);
            let r = format!("Cannot find unit for notify message of PID {pid}, ignoring.");
            j.manager_log(level, r.clone(), src.clone());
            Some((Kind::NoUnit, Manager, level, r, src))
        }
        Some(u) => {
            manager_invoke_notify_message(&mut j, u, pid, sender, msg, &payload, &mut fds_left)
        }
    };
    if fds_left > 0 {
        let src = cite(v, R::ExtraFds);
        j.manager_log(
            Warning,
            "Got extra auxiliary fds with notification message, closing them.".into(),
            src,
        );
    }
    match verdict {
        Some((kind, stage, level, reason, source)) => {
            let hint = hint_for(kind, unit);
            j.verdict(false, stage, kind, level, reason, source, &hint)
        }
        None => {
            let accepted = j.logs.iter().find(|l| l.unit.is_some()).cloned();
            let (reason, source) = accepted.map(|l| (l.message, l.source)).unwrap_or_default();
            j.verdict(true, Stage::Unit, Kind::Accepted, Debug, reason, source, "")
        }
    }
}

/// `manager_process_barrier_fd()` (manager.c:2444 v252.39, :2531 v254.26, :2722 v257.13, :2993 v262):
/// BARRIER=1 must come alone with exactly one fd; the message never reaches a unit.
fn manager_process_barrier_fd(j: &mut Judge, p: &Payload, fds: u32, pid: u32) -> Option<Verdict> {
    use LogLevel::*;
    if !p.fields.iter().any(|f| f.raw == b"BARRIER=1") {
        return None;
    }
    let v = j.v;
    let (kind, problem) = if p.fields.len() != 1 {
        let src = cite(v, R::BarrierExtra);
        (
            Kind::BarrierExtraFields,
            Some((
                "Extra notification messages sent with BARRIER=1, ignoring everything.",
                src,
            )),
        )
    } else if fds != 1 {
        let src = cite(v, R::BarrierFds);
        (
            Kind::BarrierBadFds,
            Some((
                "Got incorrect number of fds with BARRIER=1, closing them.",
                src,
            )),
        )
    } else {
        (Kind::Barrier, None)
    };
    if let Some((m, src)) = &problem {
        j.manager_log(Warning, m.to_string(), src.clone());
    }
    let debug = format!("Received barrier notification message from PID {pid}.");
    let debug_src = cite(v, R::BarrierDebug);
    if v >= V_NOTIFYACCESS {
        j.manager_log(Debug, debug.clone(), debug_src.clone());
    }
    let j = std::mem::replace(
        j,
        Judge {
            v,
            unit: None,
            logs: Vec::new(),
            notes: Vec::new(),
            caveats: Vec::new(),
        },
    );
    Some(match problem {
        Some((m, src)) => j.verdict(false, Stage::Manager, kind, Warning, m.into(), src, "send BARRIER=1 alone, in its own datagram, with exactly one fd (that is what sd_notify_barrier() does)"),
        // v252 logs nothing for a good barrier; the reason still says what happened.
        None => j.verdict(true, Stage::Manager, kind, Debug, debug, debug_src, ""),
    })
}

type Rejection = (Kind, Stage, LogLevel, String, String);

/// `manager_invoke_notify_message()` (manager.c:2461 v252.39, :2738 v257.13, :3009 v262): only
/// service units have a notify handler; the rest log at debug and ignore the message.
fn manager_invoke_notify_message<'a>(
    j: &mut Judge<'a>,
    u: &'a UnitState,
    pid: u32,
    sender: &Sender,
    msg: &Message,
    p: &Payload,
    fds_left: &mut u32,
) -> Option<Rejection> {
    let v = j.v;
    if !u.id.ends_with(".service") {
        let joined: Vec<u8> = p
            .fields
            .iter()
            .map(|f| f.raw.as_slice())
            .collect::<Vec<_>>()
            .join(&b", "[..]);
        let (r, src) = if v >= V_257 {
            let src = cite(v, R::NotServiceNew);
            (
                format!(
                    "Got notification message from unexpected unit type, ignoring: {}",
                    notify::cellescape(&joined, 64)
                ),
                src,
            )
        } else {
            let src = cite(v, R::NotServiceOld);
            (
                format!(
                    "Got notification message \"{}\", ignoring.",
                    notify::cescape(&ellipsize_20_90(&joined))
                ),
                src,
            )
        };
        j.unit = Some(&u.id);
        j.log(LogLevel::Debug, r.clone(), src.clone());
        return Some((Kind::NotAService, Stage::Unit, LogLevel::Debug, r, src));
    }
    j.unit = Some(&u.id);
    if let Some(rej) = service_notify_message_authorized(j, u, pid) {
        return Some(rej);
    }
    service_notify_message(j, u, pid, sender, msg, p, fds_left);
    None
}

/// `ellipsize(s, 20, 90)` for the pre-v257 debug line (string-util.c `ascii_ellipsize_mem()`,
/// UTF-8 locale: "…" counts as one column). Exact for ASCII; non-ASCII is cut by characters,
/// where systemd counts display columns.
fn ellipsize_20_90(s: &[u8]) -> Vec<u8> {
    const NEW: usize = 20;
    let x = ((NEW - 1) * 90 + 50) / 100;
    let suffix = NEW - x - 1;
    if s.is_ascii() {
        if s.len() <= NEW {
            return s.to_vec();
        }
        return [&s[..x], "…".as_bytes(), &s[s.len() - suffix..]].concat();
    }
    let chars: Vec<char> = String::from_utf8_lossy(s).chars().collect();
    if chars.len() <= NEW {
        return s.to_vec();
    }
    let head: String = chars[..x].iter().collect();
    let tail: String = chars[chars.len() - suffix..].iter().collect();
    format!("{head}…{tail}").into_bytes()
}

/// `service_notify_message_authorized()`: service.c:4075 v252.39, :4312 v254.26, :4518 v257.13,
/// :5390 v262. NotifyAccess=none always refuses (warning); main/exec refusals are warnings up to
/// v256 and debug from v257.
fn service_notify_message_authorized(j: &mut Judge, u: &UnitState, pid: u32) -> Option<Rejection> {
    use NotifyAccess as A;
    let v = j.v;
    // service_get_notify_access(): the runtime override wins from v254 on.
    let access = if v >= V_NOTIFYACCESS {
        u.notify_access_override.unwrap_or(u.notify_access)
    } else {
        u.notify_access
    };
    let level = if v >= V_257 {
        LogLevel::Debug
    } else {
        LogLevel::Warning
    };
    let head = format!("Got notification message from PID {pid}, but reception");
    let (kind, reason, src) = match access {
        A::All => return None,
        A::Main | A::Exec if u.main_pid == Some(pid) => return None,
        A::Exec if u.control_pid == Some(pid) => return None,
        A::None => {
            // v257 dropped the final period.
            let dot = if v >= V_257 { "" } else { "." };
            let src = cite(v, R::AccessNone);
            j.log(
                LogLevel::Warning,
                format!("{head} is disabled{dot}"),
                src.clone(),
            );
            return Some((
                Kind::AccessNone,
                Stage::Unit,
                LogLevel::Warning,
                format!("{head} is disabled{dot}"),
                src,
            ));
        }
        A::Main => match u.main_pid {
            Some(m) => (
                Kind::NotMainPid,
                format!("{head} only permitted for main PID {m}"),
                cite(v, R::NotMain),
            ),
            None => (
                Kind::MainPidUnknown,
                format!("{head} only permitted for main PID which is currently not known"),
                cite(v, R::MainUnknown),
            ),
        },
        A::Exec => match (u.main_pid, u.control_pid) {
            (Some(m), Some(c)) => (
                Kind::NotExecPid,
                format!("{head} only permitted for main PID {m} and control PID {c}"),
                cite(v, R::ExecBoth),
            ),
            (Some(m), None) => (
                Kind::NotExecPid,
                format!("{head} only permitted for main PID {m}"),
                cite(v, R::ExecMain),
            ),
            (None, Some(c)) => (
                Kind::NotExecPid,
                format!("{head} only permitted for control PID {c}"),
                cite(v, R::ExecControl),
            ),
            (None, None) => (
                Kind::ExecPidsUnknown,
                format!(
                    "{head} only permitted for main PID and control PID which are currently not known"
                ),
                cite(v, R::ExecNone),
            ),
        },
    };
    j.log(level, reason.clone(), src.clone());
    Some((kind, Stage::Unit, level, reason, src))
}

fn hint_for(kind: Kind, unit: Option<&UnitState>) -> String {
    let id = unit.map(|u| u.id.as_str()).unwrap_or("the unit");
    match kind {
        Kind::NoUnit => "the sender is in no unit's cgroup and no unit watches its PID: it probably exited before systemd read the message (keep it alive: sd_notify_barrier(), systemd-notify without --no-block), or it runs outside the service; with NotifyAccess=all, send from inside the service's cgroup".into(),
        Kind::NotAService => format!("only .service units process notifications and the sender belongs to {id}: send from the service's own processes"),
        Kind::AccessNone => format!("{id} has NotifyAccess=none: set NotifyAccess=main, exec or all (Type=notify implies main)"),
        Kind::NotMainPid => "set NotifyAccess=all, or send from the main process (systemd-notify --pid=$MAINPID, or sd_pid_notify() with the main PID as a privileged sender)".into(),
        Kind::MainPidUnknown => "systemd does not know the main PID yet (e.g. Type=forking before the PID file): set NotifyAccess=all, or PIDFile=, or send MAINPID= from an authorized process first".into(),
        Kind::NotExecPid | Kind::ExecPidsUnknown => "NotifyAccess=exec accepts only the main and the current control process: set NotifyAccess=all, or send from one of those".into(),
        _ => String::new(),
    }
}

fn first(p: &Payload, key: Key) -> Option<&Field> {
    p.fields.iter().find(|f| f.key == key && f.has_equals)
}

fn has(p: &Payload, line: &[u8]) -> bool {
    p.fields.iter().any(|f| f.raw == line)
}

fn flag<'p>(p: &'p Payload, line: &[u8]) -> Option<&'p Field> {
    p.fields.iter().find(|f| f.raw == line)
}

fn shown(f: &Field) -> String {
    f.value.clone()
}

/// `service_notify_message()`: service.c:4119 v252.39, :4358 v254.26, :4630 v257.13, :5604 v262.
/// Fields in the order systemd handles them. `fds_left` drops by what MAINPIDFD=/FDSTORE= take.
fn service_notify_message(
    j: &mut Judge,
    u: &UnitState,
    pid: u32,
    sender: &Sender,
    msg: &Message,
    p: &Payload,
    fds_left: &mut u32,
) {
    use LogLevel::*;
    let v = j.v;
    let joined = p
        .fields
        .iter()
        .map(|f| notify::escape(&f.raw))
        .collect::<Vec<_>>()
        .join(", ");
    let tags = if joined.is_empty() {
        "n/a".to_owned()
    } else {
        joined
    };
    if v >= V_257 {
        let src = cite(v, R::AcceptedNew);
        j.log(
            Debug,
            format!("Got notification message from PID {pid}: {tags}"),
            src,
        );
    } else {
        let src = cite(v, R::AcceptedOld);
        j.log(
            Debug,
            format!("Got notification message from PID {pid} ({tags})"),
            src,
        );
    }

    service_notify_message_main_pid(j, u, sender, msg, p, fds_left);
    service_notify_message_process_state(j, u, p);

    if let Some(f) = first(p, Key::Status) {
        let src = cite(v, R::Status);
        if f.raw_value().is_empty() {
            j.yes(f, "clears the status text".into(), src);
        } else if std::str::from_utf8(f.raw_value()).is_err() {
            j.warn(
                f,
                "Status message in notification message is not UTF-8 clean, ignoring.".into(),
                src,
            );
            j.amend(" (the previous status text is cleared too)");
        } else {
            j.yes(f, format!("status text set to \"{}\"", shown(f)), src);
        }
    }

    if let Some(f) = first(p, Key::NotifyAccess).filter(|_| v >= V_NOTIFYACCESS) {
        let src = cite(v, R::NotifyAccess);
        match NotifyAccess::from_value(f.raw_value()) {
            Some(a) => j.yes(
                f,
                format!(
                    "NotifyAccess= overridden to {} for the following messages",
                    a.as_str()
                ),
                src,
            ),
            None => {
                let m = format!(
                    "Failed to parse NOTIFYACCESS= field value '{}' in notification message, ignoring: Invalid argument",
                    shown(f)
                );
                j.warn(f, m, src);
                // The negative error code is stored as the override: any earlier override is gone.
                j.amend(" (side effect: an earlier NOTIFYACCESS= override is dropped)");
            }
        }
    }

    if let Some(f) = first(p, Key::Errno) {
        let src = cite(v, R::Errno);
        match notify::parse_errno(f.raw_value()) {
            Ok(e) => j.yes(f, format!("StatusErrno set to {e}"), src),
            Err(e) => j.warn(
                f,
                format!(
                    "Failed to parse ERRNO= field value '{}' in notification message: {}",
                    shown(f),
                    e.strerror()
                ),
                src,
            ),
        }
    }

    for key in [Key::BusError, Key::VarlinkError] {
        let Some(f) = first(p, key).filter(|_| v >= V_257) else {
            continue;
        };
        let src = cite(v, R::BusError);
        let val = f.raw_value();
        if val.is_empty() || notify::string_is_safe_ascii(val, v >= V_262) {
            j.yes(f, "recorded as the service's error name".into(), src);
        } else {
            let tag = key.systemd_name().unwrap_or_default();
            j.warn(
                f,
                format!(
                    "Got invalid {tag}= string, ignoring: {}",
                    notify::cescape(val)
                ),
                src,
            );
        }
    }

    if let Some(f) = first(p, Key::ExtendTimeoutUsec) {
        let src = cite(v, R::ExtendTimeout);
        match notify::safe_atou64(f.raw_value()) {
            Ok(t) => j.yes(
                f,
                format!("running timeout extended to at least {t} µs from now"),
                src,
            ),
            Err(_) => j.warn(
                f,
                format!("Failed to parse EXTEND_TIMEOUT_USEC={}", shown(f)),
                src,
            ),
        }
    }

    if let Some(f) = first(p, Key::Watchdog) {
        let src = cite(v, R::Watchdog);
        match f.raw_value() {
            b"1" => j.yes(f, "watchdog timestamp refreshed".into(), src),
            b"trigger" if u.watchdogs_enabled == Some(false) => j.no(
                f,
                "ignored: service watchdogs are disabled (systemctl service-watchdogs)".into(),
                src,
            ),
            b"trigger" => {
                // service_force_watchdog() runs after STATUS= took effect; an empty or
                // non-UTF-8 STATUS= has cleared the text by then.
                let status = match first(p, Key::Status) {
                    Some(s) => String::from_utf8(s.raw_value().to_vec()).ok(),
                    None => u.status_text.clone(),
                };
                let status = status
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "<unset>".into());
                let src = cite(v, R::WatchdogRequest);
                let m = format!("Watchdog request (last status: {status})!");
                j.note(f, Some(true), Some(Error), m, src);
                j.amend(" — the service is stopped with result 'watchdog'");
            }
            _ => j.warn(
                f,
                "Passed WATCHDOG= field is invalid, ignoring.".into(),
                src,
            ),
        }
    }

    if let Some(f) = first(p, Key::WatchdogUsec) {
        let src = cite(v, R::WatchdogUsec);
        match notify::safe_atou64(f.raw_value()) {
            Ok(t) => j.yes(f, format!("watchdog timeout overridden to {t} µs"), src),
            Err(_) => j.warn(
                f,
                format!("Failed to parse WATCHDOG_USEC={}", shown(f)),
                src,
            ),
        }
    }

    if let Some(f) = flag(p, b"RESTART_RESET=1").filter(|_| v >= V_NOTIFY_RECV) {
        use ServiceState::*;
        let src = cite(v, R::RestartReset);
        match u.state {
            Some(Running | RunningRevalidating | Stop) => {
                let n = u
                    .n_restarts
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "N".into());
                j.note(
                    f,
                    Some(true),
                    Some(Notice),
                    format!("Got RESTART_RESET=1, resetting restart counter from {n}."),
                    src,
                );
            }
            Some(s) => j.no(
                f,
                format!(
                    "no effect: only honoured in state running or stop (state: {})",
                    sub_state(s)
                ),
                src,
            ),
            None => j.maybe(
                f,
                "resets the restart counter if the service is running or stopping".into(),
                src,
            ),
        }
    }

    service_notify_message_fd_store(j, u, p, fds_left);
    note_ignored_fields(j, p);
}

fn sub_state(s: ServiceState) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// MAINPID= / MAINPIDFD=1 / MAINPIDFDID=: service.c:4144 v252.39, :4384 v254.26,
/// `service_notify_message_parse_new_pid()` :4564 v257.13, :5436 v262.
fn service_notify_message_main_pid(
    j: &mut Judge,
    u: &UnitState,
    sender: &Sender,
    msg: &Message,
    p: &Payload,
    fds_left: &mut u32,
) {
    use ServiceState::*;
    let v = j.v;
    // States in which a new main PID is taken (the IN_SET() next to the parse).
    let mut states = vec![Start, StartPost, Running, Reload];
    if v >= V_NOTIFY_RELOAD {
        states.extend([ReloadSignal, ReloadNotify]);
    }
    if v >= V_257 {
        // v257.13 adds stop/stop-sigterm; the other states only exist in later releases.
        states.extend([
            Stop,
            StopSigterm,
            RunningRevalidating,
            RefreshExtensions,
            RefreshCredentials,
            ReloadPost,
        ]);
    }
    let state_src = cite(v, R::MainPidStates);
    let state_ok = u.state.map(|s| states.contains(&s));
    let state_list = states
        .iter()
        .map(|s| sub_state(*s))
        .collect::<Vec<_>>()
        .join(", ");

    // From v257 the new PID is parsed before the state is checked, so parse errors log always.
    if v >= V_257
        && let Some(f) = flag(p, b"MAINPIDFD=1")
    {
        let src = cite(v, R::MainPidFd);
        if msg.fds != 1 {
            let n = if msg.fds == 0 { "no" } else { "more than one" };
            j.warn(f, format!("Got MAINPIDFD=1 with {n} fd, ignoring."), src);
            return;
        }
        *fds_left = fds_left.saturating_sub(1);
        let m = match state_ok {
                Some(false) => format!("ignored: the main PID only changes in states {state_list}"),
                _ => "main PID taken from the pidfd sent along (which process that is, the observer cannot see)".into(),
            };
        j.note(
            f,
            state_ok.and_then(|ok| (!ok).then_some(false)),
            None,
            m,
            src,
        );
        return;
    }
    let Some(f) = first(p, Key::MainPid) else {
        return;
    };
    if v < V_257 && state_ok == Some(false) {
        j.no(
            f,
            format!("ignored (no log): the main PID only changes in states {state_list}"),
            state_src,
        );
        return;
    }
    let parse_src = cite(v, R::MainPidParse);
    let new = match notify::parse_pid(f.raw_value()) {
        Err(e) if v >= V_PIDREF => {
            return j.warn(
                f,
                format!(
                    "Failed to parse MAINPID={} field in notification message, ignoring: {}",
                    shown(f),
                    e.strerror()
                ),
                parse_src,
            );
        }
        Err(_) => {
            return j.warn(
                f,
                format!(
                    "Failed to parse MAINPID= field in notification message, ignoring: {}",
                    shown(f)
                ),
                parse_src,
            );
        }
        Ok(n) => n,
    };
    let facts = u.mainpid_target.as_ref().filter(|t| t.pid == new);
    if v >= V_PIDREF && facts.is_some_and(|t| !t.exists) {
        // pidref_set_pid() opens a pidfd: ESRCH for a PID that is gone.
        let m = format!(
            "Failed to parse MAINPID={} field in notification message, ignoring: {}",
            shown(f),
            Errno::ESRCH.strerror()
        );
        return j.warn(f, m, parse_src);
    }
    if v >= V_257 {
        if let Some(id) = first(p, Key::MainPidFdId) {
            if notify::safe_atou64(id.raw_value()).is_err() {
                let src = cite(v, R::MainPidFdIdParse);
                let m = format!(
                    "Failed to parse MAINPIDFDID= in notification message, refusing: {}",
                    shown(id)
                );
                j.warn(id, m, src);
                return j.no(
                    f,
                    "ignored: MAINPIDFDID= could not be parsed".into(),
                    parse_src,
                );
            }
            let src = cite(v, R::MainPidFdIdCheck);
            j.maybe(id, "checked against the pidfd inode id of the new main PID (the observer cannot check it)".into(), src);
        }
        match state_ok {
            Some(false) => {
                return j.no(
                    f,
                    format!("ignored (no log): the main PID only changes in states {state_list}"),
                    state_src,
                );
            }
            None => j
                .caveats
                .push("service state unknown: MAINPID= is only honoured in some states".into()),
            Some(true) => {}
        }
    } else if state_ok.is_none() {
        j.caveats
            .push("service state unknown: MAINPID= is only honoured in some states".into());
    }
    if u.main_pid == Some(new) {
        return j.yes(
            f,
            format!("PID {new} already is the main PID: nothing to do"),
            state_src,
        );
    }
    service_is_suitable_main_pid(j, u, f, new, facts, sender.uid);
}

/// `service_is_suitable_main_pid()` (service.c:931 v252.39, :1140 v257.13, :1511 v262; same rules
/// in all) plus the caller's "privileged sender" exception and `service_set_main_pid()`'s warning.
fn service_is_suitable_main_pid(
    j: &mut Judge,
    u: &UnitState,
    f: &Field,
    new: u32,
    facts: Option<&PidFacts>,
    sender_uid: u32,
) {
    use LogLevel::*;
    let v = j.v;
    if new == u.manager_pid || new == 1 {
        let src = cite(v, R::IsManager);
        return j.warn(
            f,
            format!("New main PID {new} is the manager, refusing."),
            src,
        );
    }
    if u.control_pid == Some(new) {
        let src = cite(v, R::IsControl);
        return j.warn(
            f,
            format!("New main PID {new} is the control process, refusing."),
            src,
        );
    }
    let Some(t) = facts else {
        let m = format!(
            "new main PID {new} is taken if it is alive and in {}'s cgroup, or alive and the sender is root (uid {sender_uid} now); refused otherwise",
            u.id
        );
        return j.maybe(f, m, cite(v, R::Suitable));
    };
    if !t.exists || t.zombie {
        let src = cite(v, R::Zombie);
        return j.warn(
            f,
            format!("New main PID {new} does not exist or is a zombie."),
            src,
        );
    }
    if t.unit.as_deref() == Some(u.id.as_str()) {
        let src = cite(v, R::Happy);
        j.note(
            f,
            Some(true),
            Some(Debug),
            format!("New main PID {new} belongs to service, we are happy."),
            src,
        );
    } else if sender_uid == 0 {
        let src = cite(v, R::Privileged);
        j.note(f, Some(true), Some(Debug), format!("New main PID {new} does not belong to service, but we'll accept it as the request to change it came from a privileged process."), src);
    } else {
        let level = if v >= V_257 { Warning } else { Debug };
        let src = cite(v, R::Refusing);
        return j.note(
            f,
            Some(false),
            Some(level),
            format!("New main PID {new} does not belong to service, refusing."),
            src,
        );
    }
    if t.ppid.is_some_and(|pp| pp != u.manager_pid) {
        let src = cite(v, R::NotChild);
        j.log(Warning, format!("Supervising process {new} which is not our child. We'll most likely not notice when it exits."), src);
    }
}

/// READY=1 / RELOADING=1 / STOPPING=1 (+ MONOTONIC_USEC=): service.c:4175 v252.39 (last one wins),
/// :4423 v254.26 and :4695 v257.13 (STOPPING > READY > RELOADING),
/// `service_notify_message_process_state()` :5502 v262 (STOPPING latches).
fn service_notify_message_process_state(j: &mut Judge, u: &UnitState, p: &Payload) {
    use LogLevel::*;
    use ServiceState::*;
    let v = j.v;
    let mut monotonic_ok = false;
    if let Some(f) = first(p, Key::MonotonicUsec).filter(|_| v >= V_NOTIFY_RELOAD) {
        let src = cite(v, R::Monotonic);
        if notify::safe_atou64(f.raw_value()).is_err() {
            j.warn(
                f,
                format!(
                    "Failed to parse MONOTONIC_USEC= field in notification message, ignoring: {}",
                    shown(f)
                ),
                src,
            );
        } else {
            monotonic_ok = true;
            j.yes(
                f,
                "timestamp used to match RELOADING=1 to the reload request".into(),
                src,
            );
        }
    }
    let (ready, reloading, stopping) = (
        flag(p, b"READY=1"),
        flag(p, b"RELOADING=1"),
        flag(p, b"STOPPING=1"),
    );
    let src = |k: Key| match k {
        Key::Stopping => cite(v, R::Stopping),
        Key::Ready => cite(v, R::Ready),
        _ => cite(v, R::Reloading),
    };
    // Which of the three systemd acts on.
    let winner = if v < V_NOTIFY_RELOAD {
        p.fields
            .iter()
            .rev()
            .find(|f| [&b"READY=1"[..], b"RELOADING=1", b"STOPPING=1"].contains(&f.raw.as_slice()))
    } else {
        stopping.or(ready).or(reloading)
    };
    let Some(w) = winner else { return };
    for f in [stopping, ready, reloading]
        .into_iter()
        .flatten()
        .filter(|f| !std::ptr::eq(*f, w))
    {
        let combined = v >= V_NOTIFY_RELOAD && f.key == Key::Reloading && w.key == Key::Ready;
        if !combined {
            let why = if v < V_NOTIFY_RELOAD {
                "the last of READY=1/RELOADING=1/STOPPING=1 wins"
            } else {
                "STOPPING=1 wins over READY=1, READY=1 over RELOADING=1"
            };
            j.no(f, format!("superseded: {why}"), src(f.key));
        }
    }
    let ty = u.service_type;
    let notify_type = matches!(ty, Some(ServiceType::Notify | ServiceType::NotifyReload));
    let Some(state) = u.state else {
        return j.maybe(
            w,
            "effect depends on the service state, which the observer does not know".into(),
            src(w.key),
        );
    };
    let s = sub_state(state);
    let none = |what: &str| {
        format!(
            "no effect: {what} (state {s}, Type={})",
            ty.map(|t| serde_json::to_value(t)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default())
                .unwrap_or_else(|| "?".into())
        )
    };
    if v >= V_262 && u.notify_state == Some(NotifyState::Stopping) && w.key != Key::Stopping {
        let to = if w.key == Key::Ready {
            "READY"
        } else {
            "RELOADING"
        };
        let m = format!(
            "Service must stop after STOPPING=1 notification, refusing attempted transition to {to}."
        );
        let at = if w.key == Key::Ready {
            R::StopLatchReady
        } else {
            R::StopLatchReloading
        };
        return j.note(w, Some(false), Some(Error), m, cite(v, at));
    }
    match w.key {
        Key::Stopping => {
            let stops = if v < V_NOTIFY_RELOAD {
                state == Running
            } else {
                matches!(
                    state,
                    Running
                        | RunningRevalidating
                        | RefreshExtensions
                        | RefreshCredentials
                        | ReloadSignal
                        | ReloadNotify
                )
            };
            if stops {
                j.yes(
                    w,
                    "service enters stop (stop by notification)".into(),
                    src(w.key),
                );
            } else {
                j.no(
                    w,
                    none("only acted on while running or reloading"),
                    src(w.key),
                );
            }
        }
        Key::Ready => {
            let combined = v >= V_NOTIFY_RELOAD && reloading.is_some();
            let reload_done = if v < V_NOTIFY_RELOAD {
                state == Reload && u.control_pid.is_none()
            } else {
                state == ReloadNotify
            };
            if ty.is_none() && state == Start {
                j.maybe(
                    w,
                    "finishes startup if Type=notify or notify-reload".into(),
                    src(w.key),
                );
            } else if notify_type && state == Start {
                let extra = if v >= V_262 && ty == Some(ServiceType::NotifyReload) {
                    " (v262: fails with result 'protocol' if the main process neither catches nor blocks ReloadSignal=)"
                } else {
                    ""
                };
                j.yes(
                    w,
                    format!("startup finished: start → start-post{extra}"),
                    src(w.key),
                );
            } else if reload_done {
                j.yes(w, "reload finished".into(), src(w.key));
            } else if combined && state == ReloadSignal {
                let m = if monotonic_ok {
                    "reload finished if MONOTONIC_USEC= is not older than the reload request"
                } else {
                    "no effect: RELOADING=1 + READY=1 during reload-signal needs a valid MONOTONIC_USEC="
                };
                j.note(
                    w,
                    if monotonic_ok { None } else { Some(false) },
                    None,
                    m.into(),
                    src(w.key),
                );
            } else if combined && matches!(state, Running | RunningRevalidating) {
                j.yes(
                    w,
                    "reload propagated to units that depend on this one (RELOADING=1 + READY=1)"
                        .into(),
                    src(w.key),
                );
            } else {
                j.no(w, none("READY=1 only finishes startup of Type=notify/notify-reload services or a reload"), src(w.key));
            }
        }
        _ => {
            if state == Running {
                j.yes(
                    w,
                    "service enters reload (reload by notification, propagated)".into(),
                    src(w.key),
                );
            } else if v >= V_NOTIFY_RELOAD && state == ReloadSignal {
                let m = if monotonic_ok {
                    "reload acknowledged (reload-signal → reload-notify) if MONOTONIC_USEC= is not older than the reload request"
                } else {
                    "no effect: during reload-signal RELOADING=1 needs a valid MONOTONIC_USEC="
                };
                j.note(
                    w,
                    if monotonic_ok { None } else { Some(false) },
                    None,
                    m.into(),
                    src(w.key),
                );
            } else {
                j.no(
                    w,
                    none("RELOADING=1 only starts a reload while running"),
                    src(w.key),
                );
            }
        }
    }
}

/// FDSTOREREMOVE=1 / FDSTORE=1 / FDNAME= / FDPOLL=0: service.c:4286 v252.39, :4877 v257.13, :5790 v262;
/// `service_add_fd_store_set()` :478 v252.39, :618 v257.13, :752 v262.
fn service_notify_message_fd_store(j: &mut Judge, u: &UnitState, p: &Payload, fds_left: &mut u32) {
    use LogLevel::*;
    let v = j.v;
    let name = first(p, Key::FdName);
    if let Some(f) = flag(p, b"FDSTOREREMOVE=1") {
        let src = cite(v, R::FdStoreRemove);
        match name.filter(|n| notify::fdname_is_valid(n.raw_value())) {
            None => j.warn(
                f,
                "FDSTOREREMOVE=1 requested, but no valid file descriptor name passed, ignoring."
                    .into(),
                src,
            ),
            Some(n) => j.yes(
                f,
                format!("stored fds named \"{}\" are closed and removed", shown(n)),
                src,
            ),
        }
        return;
    }
    let Some(f) = flag(p, b"FDSTORE=1") else {
        return;
    };
    let mut label = "stored".to_owned();
    if let Some(n) = name {
        if notify::fdname_is_valid(n.raw_value()) {
            label = shown(n);
        } else {
            let src = cite(v, R::FdNameInvalid);
            j.warn(n, "Passed FDNAME= name is invalid, ignoring.".into(), src);
        }
    }
    let src = cite(v, R::FdStoreFull);
    let n = *fds_left;
    if n == 0 {
        return j.no(
            f,
            "no effect (no log): FDSTORE=1 came without any fd".into(),
            src,
        );
    }
    let room = match (u.fd_store_max, u.fd_store_count) {
        (Some(max), count) => max.saturating_sub(count.unwrap_or(0)),
        (None, _) => {
            *fds_left = 0;
            return j.maybe(f, format!("{n} fd(s) stored as \"{label}\" if FileDescriptorStoreMax= leaves room (fds already stored are deduplicated)"), src);
        }
    };
    if n <= room {
        *fds_left = 0;
        return j.yes(f, format!("{n} fd(s) stored as \"{label}\""), src);
    }
    // The fd that did not fit is taken and closed; the rest stay for "extra auxiliary fds".
    *fds_left = n - room - 1;
    let max = u.fd_store_max.unwrap_or(0);
    let m = format!("Cannot store more fds than FileDescriptorStoreMax={max}, closing remaining.");
    j.note(f, Some(room > 0), Some(Warning), m, src);
    if max == 0 {
        j.amend(" (the fd store is off: set FileDescriptorStoreMax=)");
    }
}

/// Fields systemd never looks at in this version, and duplicates it skips.
fn note_ignored_fields(j: &mut Judge, p: &Payload) {
    let v = j.v;
    let added = |k: Key| match k {
        Key::MonotonicUsec => V_NOTIFY_RELOAD,
        Key::NotifyAccess => V_NOTIFYACCESS,
        Key::MainPidFd | Key::MainPidFdId | Key::BusError | Key::VarlinkError => V_257,
        Key::RestartReset => V_NOTIFY_RECV,
        _ => 0,
    };
    for f in &p.fields {
        let src = cite(v, R::Fields);
        if added(f.key) > v {
            j.no(
                f,
                format!(
                    "not interpreted by systemd v{v} (read from v{} on)",
                    added(f.key)
                ),
                src,
            );
        } else if f.shadowed {
            j.no(
                f,
                format!("duplicate: systemd uses the first {}= line", f.name),
                src,
            );
        } else if let notify::Validity::NotInterpreted(why) = &f.validity {
            j.no(f, why.clone(), src);
        } else if matches!(f.key, Key::FdPoll | Key::FdName)
            && !has(p, b"FDSTORE=1")
            && !has(p, b"FDSTOREREMOVE=1")
        {
            j.no(
                f,
                "ignored: only used together with FDSTORE=1 or FDSTOREREMOVE=1".into(),
                src,
            );
        } else if f.key == Key::MainPidFdId && first(p, Key::MainPid).is_none() {
            j.no(f, "ignored: only used together with MAINPID=".into(), src);
        } else if let notify::Validity::NoEffect(why) = &f.validity {
            j.no(f, why.clone(), src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: u32 = 53;

    fn msg(payload: &[u8]) -> Message {
        Message {
            payload: payload.to_vec(),
            len: payload.len(),
            creds_attached: true,
            ..Message::default()
        }
    }

    fn from(pid: u32) -> Sender {
        Sender {
            pid: Some(pid),
            uid: 1000,
            gid: 1000,
            alive: Some(true),
        }
    }

    fn svc(access: NotifyAccess) -> UnitState {
        let mut u = UnitState::new("foo.service", access);
        u.main_pid = Some(MAIN);
        u.service_type = Some(ServiceType::Notify);
        u.state = Some(ServiceState::Start);
        u
    }

    fn run(m: &Message, s: &Sender, u: Option<&UnitState>, v: u32) -> Verdict {
        judge(m, s, u, SystemdVersion(v))
    }

    fn note(v: &Verdict, k: Key) -> &FieldNote {
        v.field_notes
            .iter()
            .find(|n| n.key == k)
            .unwrap_or_else(|| panic!("no note for {k:?}: {:#?}", v.field_notes))
    }

    /// (version, expected kind, reason, level, stage) for one input.
    type Row = (u32, Kind, &'static str, LogLevel, Stage);

    fn table(m: &Message, s: &Sender, u: Option<&UnitState>, rows: &[Row]) {
        for (v, kind, reason, level, stage) in rows {
            let got = run(m, s, u, *v);
            assert_eq!(
                (got.kind, got.reason.as_str(), got.log_level, got.stage),
                (*kind, *reason, *level, *stage),
                "v{v}: {got:#?}"
            );
            assert_eq!(
                got.accepted,
                matches!(kind, Kind::Accepted | Kind::Barrier),
                "v{v}"
            );
        }
    }

    use Kind::*;
    use LogLevel::*;
    use Stage::{Manager as Mgr, Unit as Per};

    #[test]
    fn accepted_debug_line_per_version() {
        // service.c:4140 v252.39 "(%s)"; service.c:4648 v257.13 ": %s".
        let u = svc(NotifyAccess::Main);
        table(
            &msg(b"READY=1\nSTATUS=hi"),
            &from(MAIN),
            Some(&u),
            &[
                (
                    252,
                    Accepted,
                    "Got notification message from PID 53 (READY=1, STATUS=hi)",
                    Debug,
                    Per,
                ),
                (
                    256,
                    Accepted,
                    "Got notification message from PID 53 (READY=1, STATUS=hi)",
                    Debug,
                    Per,
                ),
                (
                    257,
                    Accepted,
                    "Got notification message from PID 53: READY=1, STATUS=hi",
                    Debug,
                    Per,
                ),
                (
                    262,
                    Accepted,
                    "Got notification message from PID 53: READY=1, STATUS=hi",
                    Debug,
                    Per,
                ),
            ],
        );
        // empty_to_na(): an empty message is still accepted (service.c:4140 v252.39).
        table(
            &msg(b""),
            &from(MAIN),
            Some(&u),
            &[(
                257,
                Accepted,
                "Got notification message from PID 53: n/a",
                Debug,
                Per,
            )],
        );
    }

    #[test]
    fn control_truncated() {
        // recvmsg_safe() MSG_CTRUNC: manager.c:2533 v252.39, :2851 v257.13, notify-recv.c:124 v262.
        let mut m = msg(b"FDSTORE=1");
        m.fds = 769;
        let r = "Got message with truncated control data (too many fds sent?), ignoring.";
        table(
            &m,
            &from(MAIN),
            Some(&svc(NotifyAccess::All)),
            &[
                (252, ControlTruncated, r, Warning, Mgr),
                (262, ControlTruncated, r, Warning, Mgr),
            ],
        );
        let mut m = msg(b"READY=1");
        m.control_truncated = true;
        assert_eq!(run(&m, &from(MAIN), None, 257).kind, ControlTruncated);
    }

    #[test]
    fn oversize_and_its_order_against_credentials() {
        let mut m = msg(&[b'x'; 10]);
        m.len = 4097;
        let u = svc(NotifyAccess::All);
        // v252: size is checked after credentials (manager.c:2576 v252.39); v257 at receive (:2855).
        table(
            &m,
            &from(MAIN),
            Some(&u),
            &[
                (
                    252,
                    Oversize,
                    "Received notify message exceeded maximum size. Ignoring.",
                    Warning,
                    Mgr,
                ),
                (
                    254,
                    Oversize,
                    "Received notify message exceeded maximum size. Ignoring.",
                    Warning,
                    Mgr,
                ),
                (
                    257,
                    Oversize,
                    "Got message with truncated payload data, ignoring.",
                    Warning,
                    Mgr,
                ),
                (
                    262,
                    Oversize,
                    "Got message with truncated payload data, ignoring.",
                    Warning,
                    Mgr,
                ),
            ],
        );
        let nobody = Sender {
            pid: None,
            ..from(0)
        };
        assert_eq!(run(&m, &nobody, None, 252).kind, NoCredentials);
        assert_eq!(run(&m, &nobody, None, 257).kind, Oversize);
        // Exactly NOTIFY_BUFFER_MAX bytes fit: iov_len is 4096 (manager.c:2500 v252.39).
        let mut full = b"STATUS=".to_vec();
        full.resize(4096, b'a');
        for v in [252, 257, 262] {
            assert_eq!(run(&msg(&full), &from(MAIN), Some(&u), v).kind, Accepted);
        }
    }

    #[test]
    fn no_credentials() {
        // manager.c:2571 v252.39, :2904 v257.13; notify-recv.c:189 v262.
        let s = Sender {
            pid: Some(0),
            ..from(0)
        };
        table(
            &msg(b"READY=1"),
            &s,
            None,
            &[
                (
                    252,
                    NoCredentials,
                    "Received notify message without valid credentials. Ignoring.",
                    Warning,
                    Mgr,
                ),
                (
                    257,
                    NoCredentials,
                    "Received notify message without valid credentials. Ignoring.",
                    Warning,
                    Mgr,
                ),
                (
                    258,
                    NoCredentials,
                    "Got notification datagram lacking valid credential information, ignoring.",
                    Warning,
                    Mgr,
                ),
            ],
        );
        let mut m = msg(b"READY=1");
        m.creds_attached = false;
        assert_eq!(run(&m, &from(MAIN), None, 262).kind, NoCredentials);
    }

    #[test]
    fn sender_died_only_in_257() {
        // pidref_set_pid() pin: manager.c:2916 v257.13; v252 looks the unit up by PID instead.
        let s = Sender {
            alive: Some(false),
            ..from(MAIN)
        };
        let r = "Notify sender died before message is processed. Ignoring.";
        table(
            &msg(b"READY=1"),
            &s,
            Some(&svc(NotifyAccess::Main)),
            &[
                (257, SenderDied, r, Debug, Mgr),
                (
                    252,
                    Accepted,
                    "Got notification message from PID 53 (READY=1)",
                    Debug,
                    Per,
                ),
                (
                    262,
                    Accepted,
                    "Got notification message from PID 53: READY=1",
                    Debug,
                    Per,
                ),
            ],
        );
    }

    #[test]
    fn embedded_nul() {
        // manager.c:2583 v252.39, :2933 v257.13; notify-recv.c:194 v262. A trailing NUL is fine.
        table(
            &msg(b"READY=1\0X=1"),
            &from(MAIN),
            None,
            &[
                (
                    252,
                    EmbeddedNul,
                    "Received notify message with embedded NUL bytes. Ignoring.",
                    Warning,
                    Mgr,
                ),
                (
                    257,
                    EmbeddedNul,
                    "Received notify message with embedded NUL bytes. Ignoring.",
                    Warning,
                    Mgr,
                ),
                (
                    262,
                    EmbeddedNul,
                    "Got notification message with embedded NUL, ignoring.",
                    Warning,
                    Mgr,
                ),
            ],
        );
        assert_eq!(
            run(
                &msg(b"READY=1\0"),
                &from(MAIN),
                Some(&svc(NotifyAccess::Main)),
                252
            )
            .kind,
            Accepted
        );
    }

    #[test]
    fn trailing_backslash_is_reported_as_oom() {
        // strv_split_newlines() -EINVAL → log_oom() (manager.c:2591 v252.39) / log_oom_warning() (:2942 v257.13).
        table(
            &msg(b"STATUS=C:\\"),
            &from(MAIN),
            None,
            &[
                (252, SplitFailed, "Out of memory.", Error, Mgr),
                (257, SplitFailed, "Out of memory.", Warning, Mgr),
                (262, SplitFailed, "Out of memory.", Warning, Mgr),
            ],
        );
    }

    #[test]
    fn barrier() {
        // manager_process_barrier_fd(): manager.c:2444 v252.39, :2722 v257.13.
        let mut m = msg(b"BARRIER=1");
        m.fds = 1;
        let v = run(&m, &from(77), None, 257);
        assert!(
            v.accepted
                && v.kind == Barrier
                && v.reason == "Received barrier notification message from PID 77."
        );
        // v252 has no debug line for it (added in v254, manager.c:2683 v254.26).
        assert!(run(&m, &from(77), None, 252).logs.is_empty());
        m.fds = 0;
        table(
            &m,
            &from(77),
            None,
            &[(
                252,
                BarrierBadFds,
                "Got incorrect number of fds with BARRIER=1, closing them.",
                Warning,
                Mgr,
            )],
        );
        let mut m = msg(b"BARRIER=1\nREADY=1");
        m.fds = 1;
        table(
            &m,
            &from(77),
            Some(&svc(NotifyAccess::All)),
            &[
                (
                    252,
                    BarrierExtraFields,
                    "Extra notification messages sent with BARRIER=1, ignoring everything.",
                    Warning,
                    Mgr,
                ),
                (
                    262,
                    BarrierExtraFields,
                    "Extra notification messages sent with BARRIER=1, ignoring everything.",
                    Warning,
                    Mgr,
                ),
            ],
        );
        // Only the exact line counts (strv_contains()).
        assert_eq!(
            run(
                &msg(b"BARRIER=0"),
                &from(MAIN),
                Some(&svc(NotifyAccess::Main)),
                257
            )
            .kind,
            Accepted
        );
    }

    #[test]
    fn no_unit_level_changed_in_257() {
        // manager.c:2633 v252.39 log_warning → :2964 v257.13 log_debug.
        let r = "Cannot find unit for notify message of PID 99, ignoring.";
        table(
            &msg(b"READY=1"),
            &from(99),
            None,
            &[
                (252, NoUnit, r, Warning, Mgr),
                (256, NoUnit, r, Warning, Mgr),
                (257, NoUnit, r, Debug, Mgr),
                (262, NoUnit, r, Debug, Mgr),
            ],
        );
    }

    #[test]
    fn non_service_unit() {
        // manager_invoke_notify_message(): manager.c:2489 v252.39 (ellipsize+cescape),
        // :2764 v257.13 (cellescape).
        let u = UnitState::new("session-3.scope", NotifyAccess::None);
        table(
            &msg(b"READY=1\nSTATUS=waiting for things"),
            &from(9),
            Some(&u),
            &[
                (
                    252,
                    NotAService,
                    "Got notification message \"READY=1, STATUS=w\\342\\200\\246gs\", ignoring.",
                    Debug,
                    Per,
                ),
                (
                    257,
                    NotAService,
                    "Got notification message from unexpected unit type, ignoring: READY=1, STATUS=waiting for things",
                    Debug,
                    Per,
                ),
            ],
        );
        table(
            &msg(b"A=1"),
            &from(9),
            Some(&u),
            &[(
                252,
                NotAService,
                "Got notification message \"A=1\", ignoring.",
                Debug,
                Per,
            )],
        );
    }

    #[test]
    fn notify_access_none() {
        // service.c:4079 v252.39 (with '.'), :4526 v257.13 (without); warning in both.
        let u = svc(NotifyAccess::None);
        table(
            &msg(b"READY=1"),
            &from(MAIN),
            Some(&u),
            &[
                (
                    252,
                    AccessNone,
                    "Got notification message from PID 53, but reception is disabled.",
                    Warning,
                    Per,
                ),
                (
                    257,
                    AccessNone,
                    "Got notification message from PID 53, but reception is disabled",
                    Warning,
                    Per,
                ),
                (
                    262,
                    AccessNone,
                    "Got notification message from PID 53, but reception is disabled",
                    Warning,
                    Per,
                ),
            ],
        );
    }

    #[test]
    fn notify_access_main() {
        // service.c:4085/4087 v252.39 warning → :4537/4539 v257.13 debug.
        let mut u = svc(NotifyAccess::Main);
        let r =
            "Got notification message from PID 56, but reception only permitted for main PID 53";
        table(
            &msg(b"READY=1"),
            &from(56),
            Some(&u),
            &[
                (252, NotMainPid, r, Warning, Per),
                (254, NotMainPid, r, Warning, Per),
                (255, NotMainPid, r, Warning, Per),
                (257, NotMainPid, r, Debug, Per),
                (262, NotMainPid, r, Debug, Per),
            ],
        );
        u.main_pid = None;
        let r = "Got notification message from PID 56, but reception only permitted for main PID which is currently not known";
        table(
            &msg(b"READY=1"),
            &from(56),
            Some(&u),
            &[
                (252, MainPidUnknown, r, Warning, Per),
                (257, MainPidUnknown, r, Debug, Per),
            ],
        );
        assert!(
            run(&msg(b"X=1"), &from(56), Some(&u), 257)
                .hint
                .contains("NotifyAccess=all")
        );
    }

    #[test]
    fn main_pid_when_read_from_exec_main() {
        // A main process that notifies and exits at once: MainPID may read 0 (or never have been
        // seen) by the time the observer asks, but ExecMain* say it was the main PID when systemd
        // read the message (main_pid_when_read(): exec_status_start()/exec_status_exit() in
        // service_set_main_pid()/service_sigchld_event(), notify read before SIGCHLD).
        const MS: u64 = 1_000_000;
        let run_at = |history: Option<u32>,
                      e: Option<(u32, u64, u64)>,
                      state: ServiceState,
                      sent_ms: Option<u64>,
                      access: NotifyAccess| {
            let mut u = svc(access);
            u.main_pid = history;
            u.state = Some(state);
            u.exec_main = e.map(|(pid, start_ms, exit_ms)| ExecMain {
                pid,
                start_us: start_ms * 1000,
                exit_us: exit_ms * 1000,
            });
            let mut m = msg(b"READY=1");
            m.sent_ns = sent_ms.map(|t| t * MS);
            let v = run(&m, &from(56), Some(&u), 252);
            (v.kind, v.reason)
        };
        use NotifyAccess::{Exec as E, Main as M};
        use ServiceState::{AutoRestart, Dead, Exited, Running, Start};
        let unknown = "Got notification message from PID 56, but reception only permitted for main PID which is currently not known";
        let not_main = |m: u32| {
            format!(
                "Got notification message from PID 56, but reception only permitted for main PID {m}"
            )
        };
        let accepted = "Got notification message from PID 56 (READY=1)";
        // (MainPID from history, ExecMain (pid, start ms, exit ms), state at the send, sent ms, access) → verdict
        let rows: &[(_, _, _, _, _, (Kind, String))] = &[
            // Exited after its send, never seen as MainPID: accepted (the flaky case).
            (
                None,
                Some((56, 10, 30)),
                Start,
                Some(20),
                M,
                (Accepted, accepted.into()),
            ),
            // Not exited yet.
            (
                None,
                Some((56, 10, 0)),
                Start,
                Some(20),
                M,
                (Accepted, accepted.into()),
            ),
            (
                None,
                Some((56, 10, 0)),
                Running,
                Some(20),
                E,
                (Accepted, accepted.into()),
            ),
            // History lagging behind a handover to 56: systemd's own record wins.
            (
                Some(53),
                Some((56, 10, 0)),
                Running,
                Some(20),
                M,
                (Accepted, accepted.into()),
            ),
            // Sent before it became the main PID, or after its exit: the history decides.
            (
                None,
                Some((56, 10, 30)),
                Start,
                Some(5),
                M,
                (MainPidUnknown, unknown.into()),
            ),
            (
                Some(53),
                Some((56, 10, 30)),
                Start,
                Some(5),
                M,
                (NotMainPid, not_main(53)),
            ),
            (
                None,
                Some((56, 10, 30)),
                Start,
                Some(30),
                M,
                (MainPidUnknown, unknown.into()),
            ),
            // Another process is the main PID: named in the rejection even when history lags.
            (
                None,
                Some((60, 10, 0)),
                Start,
                Some(20),
                M,
                (NotMainPid, not_main(60)),
            ),
            // service_set_state() dropped the main PID (no exit stamped): not main.
            (
                None,
                Some((56, 10, 0)),
                Dead,
                Some(20),
                M,
                (MainPidUnknown, unknown.into()),
            ),
            (
                None,
                Some((56, 10, 0)),
                Exited,
                Some(20),
                M,
                (MainPidUnknown, unknown.into()),
            ),
            (
                None,
                Some((56, 10, 0)),
                AutoRestart,
                Some(20),
                M,
                (MainPidUnknown, unknown.into()),
            ),
            // Never started (ExecMainPID 0), no ExecMain (old recordings), no send time: history.
            (
                None,
                Some((0, 0, 0)),
                Start,
                Some(20),
                M,
                (MainPidUnknown, unknown.into()),
            ),
            (
                None,
                None,
                Start,
                Some(20),
                M,
                (MainPidUnknown, unknown.into()),
            ),
            (
                None,
                Some((56, 10, 0)),
                Start,
                None,
                M,
                (MainPidUnknown, unknown.into()),
            ),
            (
                Some(56),
                None,
                Start,
                Some(20),
                M,
                (Accepted, accepted.into()),
            ),
        ];
        for (i, (history, e, state, sent, access, want)) in rows.iter().enumerate() {
            assert_eq!(
                &run_at(*history, *e, *state, *sent, *access),
                want,
                "row {i}"
            );
        }
    }

    #[test]
    fn notify_access_exec() {
        // service.c:4094-4101 v252.39, :4548-4555 v257.13: main or control PID only.
        let mut u = svc(NotifyAccess::Exec);
        u.control_pid = Some(60);
        assert_eq!(
            run(&msg(b"READY=1"), &from(60), Some(&u), 252).kind,
            Accepted
        );
        assert_eq!(
            run(&msg(b"READY=1"), &from(MAIN), Some(&u), 252).kind,
            Accepted
        );
        let head = "Got notification message from PID 61, but reception only permitted for ";
        let cases: [(Option<u32>, Option<u32>, Kind, &str); 4] = [
            (
                Some(MAIN),
                Some(60),
                NotExecPid,
                "main PID 53 and control PID 60",
            ),
            (Some(MAIN), None, NotExecPid, "main PID 53"),
            (None, Some(60), NotExecPid, "control PID 60"),
            (
                None,
                None,
                ExecPidsUnknown,
                "main PID and control PID which are currently not known",
            ),
        ];
        for (m, c, kind, tail) in cases {
            u.main_pid = m;
            u.control_pid = c;
            for (v, level) in [(252, Warning), (257, Debug)] {
                let got = run(&msg(b"READY=1"), &from(61), Some(&u), v);
                assert_eq!(
                    (got.kind, got.reason, got.log_level),
                    (kind, format!("{head}{tail}"), level)
                );
            }
        }
    }

    #[test]
    fn notify_access_override_from_254() {
        // service_get_notify_access(): the override exists from v254 (service.h:256 v257.13).
        let mut u = svc(NotifyAccess::Main);
        u.notify_access_override = Some(NotifyAccess::All);
        assert_eq!(
            run(&msg(b"READY=1"), &from(56), Some(&u), 252).kind,
            NotMainPid
        );
        assert_eq!(
            run(&msg(b"READY=1"), &from(56), Some(&u), 254).kind,
            Accepted
        );
        // NOTIFYACCESS= itself: parsed from v254 (service.c:4521 v254.26), unknown before.
        let v = run(
            &msg(b"NOTIFYACCESS=all"),
            &from(MAIN),
            Some(&svc(NotifyAccess::Main)),
            254,
        );
        assert_eq!(note(&v, Key::NotifyAccess).accepted, Some(true));
        let v = run(
            &msg(b"NOTIFYACCESS=all"),
            &from(MAIN),
            Some(&svc(NotifyAccess::Main)),
            252,
        );
        assert!(
            note(&v, Key::NotifyAccess)
                .message
                .contains("not interpreted by systemd v252")
        );
        let v = run(
            &msg(b"NOTIFYACCESS=everyone"),
            &from(MAIN),
            Some(&svc(NotifyAccess::Main)),
            257,
        );
        let n = note(&v, Key::NotifyAccess);
        assert_eq!(n.log_level, Some(Warning));
        assert!(n.message.starts_with("Failed to parse NOTIFYACCESS= field value 'everyone' in notification message, ignoring: Invalid argument"));
    }

    fn mainpid_unit(state: ServiceState, target: Option<PidFacts>) -> UnitState {
        let mut u = svc(NotifyAccess::All);
        u.state = Some(state);
        u.mainpid_target = target;
        u
    }

    fn facts(pid: u32, unit: Option<&str>) -> Option<PidFacts> {
        Some(PidFacts {
            pid,
            exists: true,
            zombie: false,
            unit: unit.map(str::to_owned),
            ppid: Some(1),
        })
    }

    #[test]
    fn mainpid_rules() {
        use ServiceState::*;
        let m = msg(b"MAINPID=70");
        let n =
            |u: &UnitState, s: &Sender, v: u32| note(&run(&m, s, Some(u), v), Key::MainPid).clone();
        // Belongs to the service: service.c:952 v252.39 / :1165 v257.13.
        let u = mainpid_unit(Running, facts(70, Some("foo.service")));
        let got = n(&u, &from(MAIN), 257);
        assert_eq!(
            (got.accepted, got.message.as_str(), got.log_level),
            (
                Some(true),
                "New main PID 70 belongs to service, we are happy.",
                Some(Debug)
            )
        );
        // Foreign PID from an unprivileged sender: refused at debug (service.c:4160 v252.39),
        // warning from v257 (:4673 v257.13).
        let u = mainpid_unit(Running, facts(70, Some("bar.service")));
        for (v, level) in [(252, Debug), (256, Debug), (257, Warning), (262, Warning)] {
            let got = n(&u, &from(MAIN), v);
            assert_eq!(
                (got.accepted, got.message.as_str(), got.log_level),
                (
                    Some(false),
                    "New main PID 70 does not belong to service, refusing.",
                    Some(level)
                ),
                "v{v}"
            );
        }
        // … but root may (service.c:4157 v252.39).
        let root = Sender {
            uid: 0,
            ..from(MAIN)
        };
        assert_eq!(n(&u, &root, 252).accepted, Some(true));
        assert!(
            n(&u, &root, 252)
                .message
                .contains("came from a privileged process")
        );
        // The manager, the control process, a zombie (service.c:942/945/948 v252.39).
        let mut u = mainpid_unit(Running, facts(70, None));
        u.control_pid = Some(70);
        assert_eq!(
            n(&u, &from(MAIN), 252).message,
            "New main PID 70 is the control process, refusing."
        );
        let got = note(
            &run(&msg(b"MAINPID=1"), &from(MAIN), Some(&u), 252),
            Key::MainPid,
        )
        .message
        .clone();
        assert_eq!(got, "New main PID 1 is the manager, refusing.");
        let mut u = mainpid_unit(Running, facts(70, Some("foo.service")));
        u.mainpid_target.as_mut().unwrap().zombie = true;
        assert_eq!(
            n(&u, &from(MAIN), 252).message,
            "New main PID 70 does not exist or is a zombie."
        );
        // Gone entirely: v252 reaches the same check; v255+ fails in pidref_set_pidstr() already.
        u.mainpid_target.as_mut().unwrap().exists = false;
        assert_eq!(
            n(&u, &from(MAIN), 254).message,
            "New main PID 70 does not exist or is a zombie."
        );
        assert_eq!(
            n(&u, &from(MAIN), 257).message,
            "Failed to parse MAINPID=70 field in notification message, ignoring: No such process"
        );
        // Not our child: service_set_main_pid() warns (service.c:179 v252.39).
        let mut t = facts(70, Some("foo.service"));
        t.as_mut().unwrap().ppid = Some(50);
        let v = run(&m, &from(MAIN), Some(&mainpid_unit(Running, t)), 252);
        assert!(v.logs.iter().any(|l| l.message == "Supervising process 70 which is not our child. We'll most likely not notice when it exits." && l.level == Warning));
        // Unknown facts: depends.
        assert_eq!(
            n(&mainpid_unit(Running, None), &from(MAIN), 257).accepted,
            None
        );
    }

    #[test]
    fn mainpid_parse_errors_per_version() {
        use ServiceState::*;
        let u = mainpid_unit(Running, None);
        let n = |p: &[u8], v: u32| {
            note(&run(&msg(p), &from(MAIN), Some(&u), v), Key::MainPid)
                .message
                .clone()
        };
        // parse_pid(): service.c:4149 v252.39 "%s"; pidref_set_pidstr(): :4599 v257.13 "%m".
        assert_eq!(
            n(b"MAINPID=abc", 252),
            "Failed to parse MAINPID= field in notification message, ignoring: abc"
        );
        assert_eq!(
            n(b"MAINPID=abc", 255),
            "Failed to parse MAINPID=abc field in notification message, ignoring: Invalid argument"
        );
        assert_eq!(
            n(b"MAINPID=0", 257),
            "Failed to parse MAINPID=0 field in notification message, ignoring: Numerical result out of range"
        );
        // The first MAINPID= wins (strv_find_startswith()).
        let v = run(&msg(b"MAINPID=abc\nMAINPID=70"), &from(MAIN), Some(&u), 257);
        assert!(
            v.field_notes
                .iter()
                .any(|f| f.message.starts_with("duplicate"))
        );
        // State gate: v252 checks the state first and says nothing; v257 parses first.
        let stopped = mainpid_unit(StopPost, None);
        let v252 = run(&msg(b"MAINPID=abc"), &from(MAIN), Some(&stopped), 252);
        assert!(
            note(&v252, Key::MainPid)
                .message
                .starts_with("ignored (no log)")
        );
        let v257 = run(&msg(b"MAINPID=abc"), &from(MAIN), Some(&stopped), 257);
        assert_eq!(note(&v257, Key::MainPid).log_level, Some(Warning));
        // stop/stop-sigterm accept MAINPID= from v257 (service.c:4660 v257.13), not in v254.
        let stop = mainpid_unit(Stop, facts(70, Some("foo.service")));
        assert_eq!(
            note(
                &run(&msg(b"MAINPID=70"), &from(MAIN), Some(&stop), 254),
                Key::MainPid
            )
            .accepted,
            Some(false)
        );
        assert_eq!(
            note(
                &run(&msg(b"MAINPID=70"), &from(MAIN), Some(&stop), 257),
                Key::MainPid
            )
            .accepted,
            Some(true)
        );
        // reload-signal exists from v253 (Type=notify-reload).
        let rs = mainpid_unit(ReloadSignal, facts(70, Some("foo.service")));
        assert_eq!(
            note(
                &run(&msg(b"MAINPID=70"), &from(MAIN), Some(&rs), 254),
                Key::MainPid
            )
            .accepted,
            Some(true)
        );
    }

    #[test]
    fn mainpidfd_from_257() {
        // service_notify_message_parse_new_pid(): service.c:4582 v257.13.
        let u = mainpid_unit(ServiceState::Running, None);
        let v = run(&msg(b"MAINPIDFD=1"), &from(MAIN), Some(&u), 257);
        assert_eq!(
            note(&v, Key::MainPidFd).message,
            "Got MAINPIDFD=1 with no fd, ignoring."
        );
        let mut m = msg(b"MAINPIDFD=1");
        m.fds = 1;
        let v = run(&m, &from(MAIN), Some(&u), 257);
        assert!(!v.logs.iter().any(|l| l.message.contains("extra auxiliary")));
        let v = run(&m, &from(MAIN), Some(&u), 256);
        assert!(note(&v, Key::MainPidFd).message.contains("not interpreted"));
        assert!(v.logs.iter().any(
            |l| l.message == "Got extra auxiliary fds with notification message, closing them."
        ));
        let v = run(
            &msg(b"MAINPID=70\nMAINPIDFDID=x"),
            &from(MAIN),
            Some(&u),
            257,
        );
        assert_eq!(
            note(&v, Key::MainPidFdId).message,
            "Failed to parse MAINPIDFDID= in notification message, refusing: x"
        );
    }

    #[test]
    fn ready_reloading_stopping() {
        use ServiceState::*;
        let u = svc(NotifyAccess::Main);
        // READY=1 in start finishes startup (service.c:4177 v252.39, :4703 v257.13).
        assert_eq!(
            note(
                &run(&msg(b"READY=1"), &from(MAIN), Some(&u), 257),
                Key::Ready
            )
            .accepted,
            Some(true)
        );
        let mut simple = u.clone();
        simple.service_type = Some(ServiceType::Simple);
        assert_eq!(
            note(
                &run(&msg(b"READY=1"), &from(MAIN), Some(&simple), 257),
                Key::Ready
            )
            .accepted,
            Some(false)
        );
        // v252: last of the three wins (STRV_FOREACH_BACKWARDS, service.c:4175 v252.39);
        // v254+: STOPPING wins (service.c:4423 v254.26).
        let mut run_u = u.clone();
        run_u.state = Some(Running);
        let both = msg(b"STOPPING=1\nREADY=1");
        let v252 = run(&both, &from(MAIN), Some(&run_u), 252);
        assert_eq!(note(&v252, Key::Stopping).accepted, Some(false));
        let v254 = run(&both, &from(MAIN), Some(&run_u), 254);
        assert_eq!(note(&v254, Key::Stopping).accepted, Some(true));
        assert!(note(&v254, Key::Ready).message.starts_with("superseded"));
        // MONOTONIC_USEC= read from v253 (service.c:4419 v254.26).
        let v = run(&msg(b"MONOTONIC_USEC=x"), &from(MAIN), Some(&run_u), 254);
        assert_eq!(
            note(&v, Key::MonotonicUsec).message,
            "Failed to parse MONOTONIC_USEC= field in notification message, ignoring: x"
        );
        assert!(
            note(
                &run(&msg(b"MONOTONIC_USEC=x"), &from(MAIN), Some(&run_u), 252),
                Key::MonotonicUsec
            )
            .message
            .contains("not interpreted")
        );
        // v262 latch: READY after STOPPING is refused with an error (service.c:5530 v262).
        let mut dying = run_u.clone();
        dying.notify_state = Some(NotifyState::Stopping);
        let v = run(&msg(b"READY=1"), &from(MAIN), Some(&dying), 262);
        assert_eq!(note(&v, Key::Ready).log_level, Some(Error));
        assert_eq!(
            note(&v, Key::Ready).message,
            "Service must stop after STOPPING=1 notification, refusing attempted transition to READY."
        );
        assert_ne!(
            note(
                &run(&msg(b"READY=1"), &from(MAIN), Some(&dying), 257),
                Key::Ready
            )
            .log_level,
            Some(Error)
        );
    }

    #[test]
    fn value_fields_log_like_systemd() {
        let mut u = svc(NotifyAccess::Main);
        u.state = Some(ServiceState::Running);
        let n = |p: &[u8], k: Key, v: u32| note(&run(&msg(p), &from(MAIN), Some(&u), v), k).clone();
        // service.c:4224 v252.39.
        assert_eq!(n(b"STATUS=\xff", Key::Status, 252).log_level, Some(Warning));
        assert!(
            n(b"STATUS=\xff", Key::Status, 252).message.starts_with(
                "Status message in notification message is not UTF-8 clean, ignoring."
            )
        );
        // service.c:4246 v252.39.
        assert_eq!(
            n(b"ERRNO=5000", Key::Errno, 252).message,
            "Failed to parse ERRNO= field value '5000' in notification message: Numerical result out of range"
        );
        assert_eq!(n(b"ERRNO=ENOENT", Key::Errno, 252).accepted, Some(true));
        // service.c:4258, 4271, 4278 v252.39.
        assert_eq!(
            n(b"EXTEND_TIMEOUT_USEC=1s", Key::ExtendTimeoutUsec, 252).message,
            "Failed to parse EXTEND_TIMEOUT_USEC=1s"
        );
        assert_eq!(
            n(b"WATCHDOG=yes", Key::Watchdog, 252).message,
            "Passed WATCHDOG= field is invalid, ignoring."
        );
        assert_eq!(
            n(b"WATCHDOG_USEC=-1", Key::WatchdogUsec, 262).message,
            "Failed to parse WATCHDOG_USEC=-1"
        );
        // BUSERROR= from v257 (service.c:4838 v257.13); v262 also refuses globs.
        assert_eq!(
            n(b"BUSERROR=a\"b", Key::BusError, 257).message,
            "Got invalid BUSERROR= string, ignoring: a\\\"b"
        );
        assert_eq!(n(b"BUSERROR=a*b", Key::BusError, 257).accepted, Some(true));
        assert_eq!(n(b"BUSERROR=a*b", Key::BusError, 262).accepted, Some(false));
        assert!(
            n(b"BUSERROR=x", Key::BusError, 256)
                .message
                .contains("not interpreted")
        );
        // RESTART_RESET=1 from v258 (service.c:5779 v262), notice level.
        let mut u = u.clone();
        u.n_restarts = Some(4);
        let v = run(&msg(b"RESTART_RESET=1"), &from(MAIN), Some(&u), 258);
        assert_eq!(
            (
                note(&v, Key::RestartReset).message.as_str(),
                note(&v, Key::RestartReset).log_level
            ),
            (
                "Got RESTART_RESET=1, resetting restart counter from 4.",
                Some(Notice)
            )
        );
        // WATCHDOG=trigger logs an error with the status text (service.c:4113 v252.39).
        u.watchdogs_enabled = Some(true);
        let v = run(
            &msg(b"STATUS=busy\nWATCHDOG=trigger"),
            &from(MAIN),
            Some(&u),
            252,
        );
        assert_eq!(note(&v, Key::Watchdog).log_level, Some(Error));
        assert!(
            note(&v, Key::Watchdog)
                .message
                .starts_with("Watchdog request (last status: busy)!")
        );
        // A non-UTF-8 STATUS= in the same message has cleared the text (service.c:4224 v252.39).
        let v = run(
            &msg(b"STATUS=\xff\nWATCHDOG=trigger"),
            &from(MAIN),
            Some(&u),
            257,
        );
        let m = &note(&v, Key::Watchdog).message;
        assert!(m.starts_with("Watchdog request (last status: <unset>)!"));
        // Unknown and X_ fields are noted, never logged.
        let v = run(
            &msg(b"X_APP=1\nFOO=2\nEXIT_STATUS=0"),
            &from(MAIN),
            Some(&u),
            257,
        );
        assert_eq!(v.field_notes.len(), 3);
        assert!(
            v.field_notes
                .iter()
                .all(|f| f.accepted == Some(false) && f.log_level.is_none())
        );
    }

    #[test]
    fn fd_store() {
        let mut u = svc(NotifyAccess::Main);
        u.state = Some(ServiceState::Running);
        u.fd_store_max = Some(0);
        u.fd_store_count = Some(0);
        let mut m = msg(b"FDSTORE=1\nFDNAME=db");
        m.fds = 2;
        // service_add_fd_store_set(): service.c:493 v252.39; the leftover fd → manager.c:2636 v252.39.
        let v = run(&m, &from(MAIN), Some(&u), 252);
        assert!(note(&v, Key::FdStore).message.starts_with(
            "Cannot store more fds than FileDescriptorStoreMax=0, closing remaining."
        ));
        assert!(
            v.logs
                .iter()
                .any(|l| l.message.starts_with("Got extra auxiliary fds"))
        );
        u.fd_store_max = Some(5);
        let v = run(&m, &from(MAIN), Some(&u), 257);
        assert_eq!(note(&v, Key::FdStore).message, "2 fd(s) stored as \"db\"");
        assert!(
            !v.logs
                .iter()
                .any(|l| l.message.starts_with("Got extra auxiliary fds"))
        );
        // FDSTORE=1 without fds: nothing, silently.
        assert_eq!(
            note(
                &run(&msg(b"FDSTORE=1"), &from(MAIN), Some(&u), 257),
                Key::FdStore
            )
            .accepted,
            Some(false)
        );
        // Invalid FDNAME= falls back to "stored" (service.c:4300 v252.39).
        let mut m = msg(b"FDSTORE=1\nFDNAME=a:b");
        m.fds = 1;
        let v = run(&m, &from(MAIN), Some(&u), 252);
        assert_eq!(
            note(&v, Key::FdName).message,
            "Passed FDNAME= name is invalid, ignoring."
        );
        assert_eq!(
            note(&v, Key::FdStore).message,
            "1 fd(s) stored as \"stored\""
        );
        // FDSTOREREMOVE=1 needs a valid FDNAME= (service.c:4291 v252.39).
        let v = run(&msg(b"FDSTOREREMOVE=1"), &from(MAIN), Some(&u), 262);
        assert_eq!(
            note(&v, Key::FdStoreRemove).message,
            "FDSTOREREMOVE=1 requested, but no valid file descriptor name passed, ignoring."
        );
        // fds without FDSTORE=1 are closed with a warning, also when the unit refused the message.
        let mut m = msg(b"READY=1");
        m.fds = 1;
        let v = run(&m, &from(56), Some(&u), 257);
        assert_eq!(v.kind, NotMainPid);
        assert_eq!(
            v.logs.last().unwrap().message,
            "Got extra auxiliary fds with notification message, closing them."
        );
    }

    #[test]
    fn caveats_and_json() {
        let mut m = msg(b"READY=1");
        m.len = 3000;
        m.truncated = true;
        let v = run(&m, &from(MAIN), Some(&svc(NotifyAccess::Main)), 256);
        assert_eq!(v.caveats.len(), 2);
        let j = serde_json::to_value(&v).unwrap();
        assert_eq!(j["kind"], "accepted");
        assert_eq!(j["stage"], "unit");
        assert_eq!(j["log_level"], "debug");
        assert_eq!(j["field_notes"][0]["key"], "ready");
        assert_eq!(
            ServiceState::from_sub_state("start-post"),
            Some(ServiceState::StartPost)
        );
        assert_eq!(
            ServiceState::from_sub_state("auto-restart-queued"),
            Some(ServiceState::AutoRestartQueued)
        );
    }

    #[test]
    fn random_inputs_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        };
        let words: [&[u8]; 14] = [
            b"READY=1",
            b"STOPPING=1",
            b"RELOADING=1",
            b"MAINPID=70",
            b"MAINPIDFD=1",
            b"FDSTORE=1",
            b"FDNAME=x",
            b"BARRIER=1",
            b"STATUS=\xff",
            b"NOTIFYACCESS=all",
            b"WATCHDOG=trigger",
            b"\\",
            b"\0",
            b"\r\n",
        ];
        for _ in 0..500 {
            let mut p = Vec::new();
            for _ in 0..next() % 6 {
                p.extend_from_slice(words[(next() % 14) as usize]);
                p.push(b'\n');
            }
            let mut m = msg(&p);
            m.fds = (next() % 4) as u32;
            let mut u = svc([
                NotifyAccess::None,
                NotifyAccess::Main,
                NotifyAccess::Exec,
                NotifyAccess::All,
            ][(next() % 4) as usize]);
            u.state = [None, Some(ServiceState::Running), Some(ServiceState::Start)]
                [(next() % 3) as usize];
            u.mainpid_target = facts(70, Some("foo.service"));
            let v = run(&m, &from(MAIN), Some(&u), 250 + (next() % 15) as u32);
            serde_json::to_string(&v).unwrap();
        }
    }
}

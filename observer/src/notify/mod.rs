//! Parses an sd_notify(3) datagram exactly the way systemd's service manager splits and reads it.
//!
//! Pure logic, no I/O. Every rule names the systemd function it mirrors and where it lives in the
//! versions read: v252.39, v254.26, v257.13 and v262 (Debian source packages), plus a v255-era git
//! snapshot (commit 8017ed7e). Version-dependent *judgement* lives in `verdict/`; this module
//! only describes what is in the payload, using the value rules that hold in every version read.
//!
//! Splitting (`strv_split_newlines()`, src/basic/strv.c:241 v252.39, :383 v257.13, :380 v262),
//! which calls `extract_first_word(…, "\n\r", 0)` (src/basic/extract-word.c:20 v252/v257, :10 v262):
//! * both `\n` and `\r` separate lines, runs of them are coalesced: empty lines, CRLF and a
//!   trailing newline never produce a field;
//! * a backslash is an escape: it is dropped and the next byte is kept literally, even `\n`
//!   (so `A=1\<LF>B=2` is ONE line). A backslash at the very end makes the split fail with
//!   -EINVAL (extract-word.c:88), which systemd reports as "Out of memory." and drops the message;
//! * a line is not trimmed: `READY=1 ` (trailing space) is not `READY=1`.
//!
//! Reading (`service_notify_message()`, src/core/service.c:4119 v252.39, :4630 v257.13):
//! * flags (`READY=1`, `STOPPING=1`, `FDSTORE=1`, …) are looked up with `strv_contains()`: the
//!   whole line must equal `KEY=1`; any one such line counts, wherever it is;
//! * values (`STATUS=`, `MAINPID=`, …) are looked up with `strv_find_startswith()` (strv.c:49
//!   v252.39): the FIRST line starting with `KEY=` wins, later duplicates are ignored;
//! * keys are case-sensitive; unknown keys and lines without `=` are ignored silently.
//!
//! Here: what each line's key means (`Key`), the split into fields (`payload.rs`), each value's
//! validity on its own (`validity.rs`), and how a payload is shown (`display.rs`). The systemd
//! functions they call (`strv_split_newlines()`, `parse_pid()`, …) are ported one C file per
//! Rust file in `systemd_basic/`.

mod display;
mod payload;
mod validity;

use serde::Serialize;

pub use self::{
    display::{escape, summary},
    payload::{Field, Payload, parse, parse_payload},
    validity::Validity,
};
/// `NOTIFYACCESS=` takes the values of the unit setting; the type lives with systemd's tables.
pub use crate::systemd_basic::unit_def::NotifyAccess;

/// Largest datagram systemd reads: `NOTIFY_BUFFER_MAX` = `PIPE_BUF` (src/basic/def.h:28 v252.39,
/// src/basic/constants.h:57 v257.13). A datagram of exactly 4096 bytes is still accepted.
pub const NOTIFY_BUFFER_MAX: usize = 4096;
/// Most fds systemd makes room for in one message: `NOTIFY_FD_MAX` (def.h:27 v252.39,
/// constants.h:56 v257.13). More truncate the control data and the message is dropped.
pub const NOTIFY_FD_MAX: u32 = 768;

/// What a line's key means to systemd. Serialized in snake_case, e.g. `main_pid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    Ready,
    Status,
    MainPid,
    /// `MAINPIDFD=1` (v257+): the new main process is the one fd sent along.
    MainPidFd,
    /// `MAINPIDFDID=` (v257+): pidfd inode id validating `MAINPID=`.
    MainPidFdId,
    Reloading,
    MonotonicUsec,
    Stopping,
    Errno,
    BusError,
    VarlinkError,
    ExitStatus,
    Watchdog,
    WatchdogUsec,
    ExtendTimeoutUsec,
    FdStore,
    FdStoreRemove,
    FdName,
    FdPoll,
    NotifyAccess,
    Barrier,
    /// `RESTART_RESET=1` (v258+, NEWS "CHANGES WITH 258").
    RestartReset,
    /// `X_…`: private extensions, never interpreted by systemd.
    Custom,
    /// Anything else, including lines without `=`; kept verbatim in `Field::name`.
    Unknown,
}

const KEYS: &[(&str, Key)] = &[
    ("READY", Key::Ready),
    ("STATUS", Key::Status),
    ("MAINPID", Key::MainPid),
    ("MAINPIDFD", Key::MainPidFd),
    ("MAINPIDFDID", Key::MainPidFdId),
    ("RELOADING", Key::Reloading),
    ("MONOTONIC_USEC", Key::MonotonicUsec),
    ("STOPPING", Key::Stopping),
    ("ERRNO", Key::Errno),
    ("BUSERROR", Key::BusError),
    ("VARLINKERROR", Key::VarlinkError),
    ("EXIT_STATUS", Key::ExitStatus),
    ("WATCHDOG", Key::Watchdog),
    ("WATCHDOG_USEC", Key::WatchdogUsec),
    ("EXTEND_TIMEOUT_USEC", Key::ExtendTimeoutUsec),
    ("FDSTORE", Key::FdStore),
    ("FDSTOREREMOVE", Key::FdStoreRemove),
    ("FDNAME", Key::FdName),
    ("FDPOLL", Key::FdPoll),
    ("NOTIFYACCESS", Key::NotifyAccess),
    ("BARRIER", Key::Barrier),
    ("RESTART_RESET", Key::RestartReset),
];

impl Key {
    /// Classifies the text before the first `=` (exact, case-sensitive, like `startswith()`).
    pub fn from_name(name: &[u8]) -> Key {
        if let Some((_, k)) = KEYS.iter().find(|(n, _)| n.as_bytes() == name) {
            return *k;
        }
        if name.starts_with(b"X_") {
            Key::Custom
        } else {
            Key::Unknown
        }
    }

    /// The systemd spelling, e.g. `MAINPID`; `None` for `Custom`/`Unknown`.
    pub fn systemd_name(self) -> Option<&'static str> {
        KEYS.iter().find(|(_, k)| *k == self).map(|(n, _)| *n)
    }

    /// True for keys systemd reads with `strv_find_startswith()`, where only the first line counts.
    pub fn first_wins(self) -> bool {
        matches!(
            self,
            Key::Status
                | Key::MainPid
                | Key::MainPidFdId
                | Key::MonotonicUsec
                | Key::Errno
                | Key::BusError
                | Key::VarlinkError
                | Key::Watchdog
                | Key::WatchdogUsec
                | Key::ExtendTimeoutUsec
                | Key::FdName
                | Key::NotifyAccess
        )
    }
}

#[cfg(test)]
mod tests;

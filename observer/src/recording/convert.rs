//! The pipeline's types to the recording format (schema.rs) and back. Writing cannot fail;
//! reading fails only for what the format can hold and the pipeline cannot (a hook number this
//! observer does not know), and the reader counts such a record as unknown.

use super::{records as mem, schema as disk};
use crate::{decode, judge, manager::UnitChange, notify::NotifyAccess, pairing, verdict};

/// A record as a frame's body.
pub fn to_body(r: &mem::Record) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&disk::Record::from(r))
}

/// A frame's body as a record; None when it is not one this observer reads (a newer
/// observer's, or damaged past what the checksum catches).
pub fn from_body(body: &[u8]) -> Option<mem::Record> {
    let r: disk::Record = serde_json::from_slice(body).ok()?;
    r.try_into().ok()
}

/// A value the format holds that the pipeline has no value for.
#[derive(Debug, PartialEq, Eq)]
pub struct Unreadable(pub String);

impl From<&mem::Record> for disk::Record {
    fn from(r: &mem::Record) -> Self {
        match r {
            mem::Record::Session(s) => disk::Record::Session(s.into()),
            mem::Record::Event(e) => disk::Record::Event(Box::new(e.as_ref().into())),
            mem::Record::Unit(u) => disk::Record::Unit(disk::UnitRecord {
                manager: u.manager.clone(),
                wall_ns: u.wall_ns,
                change: (&u.change).into(),
            }),
            mem::Record::Delivery(d) => disk::Record::Delivery(Box::new(disk::DeliveryRecord {
                correction: (&d.correction).into(),
                read_mono_ns: d.read_mono_ns,
            })),
            &mem::Record::Drops { new, total } => disk::Record::Drops { new, total },
            &mem::Record::End {
                events,
                dropped,
                untracked,
                malformed,
            } => disk::Record::End {
                events,
                dropped,
                untracked,
                malformed,
            },
        }
    }
}

impl TryFrom<disk::Record> for mem::Record {
    type Error = Unreadable;

    fn try_from(r: disk::Record) -> Result<Self, Unreadable> {
        Ok(match r {
            disk::Record::Session(s) => mem::Record::Session(s.into()),
            disk::Record::Event(e) => mem::Record::Event(Box::new((*e).try_into()?)),
            disk::Record::Unit(u) => mem::Record::Unit(mem::UnitRecord {
                manager: u.manager,
                wall_ns: u.wall_ns,
                change: u.change.into(),
            }),
            disk::Record::Delivery(d) => mem::Record::Delivery(Box::new(mem::DeliveryRecord {
                correction: d.correction.try_into()?,
                read_mono_ns: d.read_mono_ns,
            })),
            disk::Record::Drops { new, total } => mem::Record::Drops { new, total },
            disk::Record::End {
                events,
                dropped,
                untracked,
                malformed,
            } => mem::Record::End {
                events,
                dropped,
                untracked,
                malformed,
            },
        })
    }
}

impl From<&mem::Session> for disk::Session {
    fn from(s: &mem::Session) -> Self {
        disk::Session {
            started: s.started.clone(),
            file_started: s.file_started.clone(),
            host: s.host.clone(),
            kernel: s.kernel.clone(),
            observer_version: s.observer_version.clone(),
            strategy: s.strategy.clone(),
            hooks: s.hooks.clone(),
            watched: s
                .watched
                .iter()
                .map(|w| disk::SocketInfo {
                    id: w.id,
                    owner: w.owner.clone(),
                    address: w.address.clone(),
                })
                .collect(),
            realtime_minus_monotonic_ns: s.realtime_minus_monotonic_ns,
        }
    }
}

impl From<disk::Session> for mem::Session {
    fn from(s: disk::Session) -> Self {
        mem::Session {
            started: s.started,
            file_started: s.file_started,
            host: s.host,
            kernel: s.kernel,
            observer_version: s.observer_version,
            strategy: s.strategy,
            hooks: s.hooks,
            watched: s
                .watched
                .into_iter()
                .map(|w| mem::SocketInfo {
                    id: w.id,
                    owner: w.owner,
                    address: w.address,
                })
                .collect(),
            realtime_minus_monotonic_ns: s.realtime_minus_monotonic_ns,
        }
    }
}

impl From<&mem::EventRecord> for disk::EventRecord {
    fn from(e: &mem::EventRecord) -> Self {
        disk::EventRecord {
            event: (&e.event).into(),
            unit: e.unit.clone(),
            outcome: e.outcome.as_str().to_owned(),
            note: e.note.clone(),
            delivery: (&e.delivery).into(),
            read_mono_ns: e.read_mono_ns,
            kind: e.kind.clone(),
            reason: e.reason.clone(),
            inputs: e.inputs.as_ref().map(Into::into),
        }
    }
}

impl TryFrom<disk::EventRecord> for mem::EventRecord {
    type Error = Unreadable;

    fn try_from(e: disk::EventRecord) -> Result<Self, Unreadable> {
        Ok(mem::EventRecord {
            event: e.event.try_into()?,
            unit: e.unit,
            outcome: judge::Outcome::from_recorded(&e.outcome),
            note: e.note,
            delivery: e.delivery.into(),
            read_mono_ns: e.read_mono_ns,
            kind: e.kind,
            reason: e.reason,
            inputs: e.inputs.map(Into::into),
        })
    }
}

impl From<&decode::Event> for disk::Event {
    fn from(e: &decode::Event) -> Self {
        disk::Event {
            mono_ns: e.mono_ns,
            wall_ns: e.wall_ns,
            pid: e.pid,
            tid: e.tid,
            uid: e.uid,
            gid: e.gid,
            comm: e.comm.clone(),
            cgroup_id: e.cgroup_id,
            dest: e.dest.clone(),
            watch_id: e.watch_id,
            matched_by_identity: e.matched_by_identity,
            connected: e.connected,
            payload: e.payload.clone(),
            len: e.len,
            creds: e.creds.map(Into::into),
            fds: e.fds,
            result: e.result,
            hook: e.hook as u32,
            msg_index: e.msg_index,
            flags: e.flags,
            ns_pid: e.ns_pid,
            pidns_ino: e.pidns_ino,
            cgroup_name: e.cgroup_name.clone(),
            cgroup_parent_name: e.cgroup_parent_name.clone(),
        }
    }
}

impl TryFrom<disk::Event> for decode::Event {
    type Error = Unreadable;

    fn try_from(e: disk::Event) -> Result<Self, Unreadable> {
        Ok(decode::Event {
            mono_ns: e.mono_ns,
            wall_ns: e.wall_ns,
            pid: e.pid,
            tid: e.tid,
            uid: e.uid,
            gid: e.gid,
            comm: e.comm,
            cgroup_id: e.cgroup_id,
            dest: e.dest,
            watch_id: e.watch_id,
            matched_by_identity: e.matched_by_identity,
            connected: e.connected,
            payload: e.payload,
            len: e.len,
            creds: e.creds.map(Into::into),
            fds: e.fds,
            result: e.result,
            hook: observer_common::Hook::try_from(e.hook)
                .map_err(|n| Unreadable(format!("unknown hook {n}")))?,
            msg_index: e.msg_index,
            flags: e.flags,
            ns_pid: e.ns_pid,
            pidns_ino: e.pidns_ino,
            cgroup_name: e.cgroup_name,
            cgroup_parent_name: e.cgroup_parent_name,
        })
    }
}

impl From<decode::Creds> for disk::Creds {
    fn from(c: decode::Creds) -> Self {
        disk::Creds {
            pid: c.pid,
            uid: c.uid,
            gid: c.gid,
        }
    }
}

impl From<disk::Creds> for decode::Creds {
    fn from(c: disk::Creds) -> Self {
        decode::Creds {
            pid: c.pid,
            uid: c.uid,
            gid: c.gid,
        }
    }
}

/// `read_mono_ns` is not part of it: records keep it beside the delivery.
impl From<&pairing::Delivery> for disk::Delivery {
    fn from(d: &pairing::Delivery) -> Self {
        disk::Delivery {
            delivered: d.delivered.into(),
            queue_delay_us: d.queue_delay_us,
            manager_creds: d.manager_creds.map(Into::into),
            reader_pid: d.reader_pid,
            pidfd: d.pidfd,
            sender_alive: d.sender_alive,
            sender_exited: d.sender_exited,
            note: d.note.clone(),
            sender_payload: d.sender_payload.clone(),
        }
    }
}

impl From<disk::Delivery> for pairing::Delivery {
    fn from(d: disk::Delivery) -> Self {
        pairing::Delivery {
            delivered: d.delivered.into(),
            queue_delay_us: d.queue_delay_us,
            manager_creds: d.manager_creds.map(Into::into),
            read_mono_ns: None,
            reader_pid: d.reader_pid,
            pidfd: d.pidfd,
            sender_alive: d.sender_alive,
            sender_exited: d.sender_exited,
            note: d.note,
            sender_payload: d.sender_payload,
        }
    }
}

impl From<&pairing::Correction> for disk::Correction {
    fn from(c: &pairing::Correction) -> Self {
        disk::Correction {
            event: (&c.event).into(),
            unit: c.unit.clone(),
            delivery: (&c.delivery).into(),
        }
    }
}

impl TryFrom<disk::Correction> for pairing::Correction {
    type Error = Unreadable;

    fn try_from(c: disk::Correction) -> Result<Self, Unreadable> {
        Ok(pairing::Correction {
            event: c.event.try_into()?,
            unit: c.unit,
            delivery: c.delivery.into(),
        })
    }
}

impl From<&judge::VerdictInputs> for disk::VerdictInputs {
    fn from(i: &judge::VerdictInputs) -> Self {
        let s = &i.sender;
        disk::VerdictInputs {
            sender: disk::Sender {
                pid: s.pid,
                uid: s.uid,
                gid: s.gid,
                alive: s.alive,
                exited: s.exited,
            },
            unit_state: i.unit_state.as_ref().map(Into::into),
            version: i.version.0,
        }
    }
}

impl From<disk::VerdictInputs> for judge::VerdictInputs {
    fn from(i: disk::VerdictInputs) -> Self {
        let s = i.sender;
        judge::VerdictInputs {
            sender: verdict::Sender {
                pid: s.pid,
                uid: s.uid,
                gid: s.gid,
                alive: s.alive,
                exited: s.exited,
            },
            unit_state: i.unit_state.map(Into::into),
            version: verdict::SystemdVersion(i.version),
        }
    }
}

impl From<&verdict::UnitState> for disk::UnitState {
    fn from(u: &verdict::UnitState) -> Self {
        disk::UnitState {
            id: u.id.clone(),
            notify_access: u.notify_access.into(),
            notify_access_override: u.notify_access_override.map(Into::into),
            main_pid: u.main_pid,
            control_pid: u.control_pid,
            service_type: u.service_type.map(Into::into),
            state: u.state.map(Into::into),
            notify_state: u.notify_state.map(Into::into),
            status_text: u.status_text.clone(),
            fd_store_max: u.fd_store_max,
            fd_store_count: u.fd_store_count,
            n_restarts: u.n_restarts,
            watchdogs_enabled: u.watchdogs_enabled,
            manager_pid: u.manager_pid,
            mainpid_target: u.mainpid_target.as_ref().map(|p| disk::PidFacts {
                pid: p.pid,
                exists: p.exists,
                zombie: p.zombie,
                unit: p.unit.clone(),
                ppid: p.ppid,
                ppid_late: p.ppid_late,
            }),
            exec_main: u.exec_main.map(|e| disk::ExecMain {
                pid: e.pid,
                start_us: e.start_us,
                exit_us: e.exit_us,
            }),
            freezer_state: u.freezer_state.clone(),
        }
    }
}

impl From<disk::UnitState> for verdict::UnitState {
    fn from(u: disk::UnitState) -> Self {
        verdict::UnitState {
            id: u.id,
            notify_access: u.notify_access.into(),
            notify_access_override: u.notify_access_override.map(Into::into),
            main_pid: u.main_pid,
            control_pid: u.control_pid,
            service_type: u.service_type.map(Into::into),
            state: u.state.map(Into::into),
            notify_state: u.notify_state.map(Into::into),
            status_text: u.status_text,
            fd_store_max: u.fd_store_max,
            fd_store_count: u.fd_store_count,
            n_restarts: u.n_restarts,
            watchdogs_enabled: u.watchdogs_enabled,
            manager_pid: u.manager_pid,
            mainpid_target: u.mainpid_target.map(|p| verdict::PidFacts {
                pid: p.pid,
                exists: p.exists,
                zombie: p.zombie,
                unit: p.unit,
                ppid: p.ppid,
                ppid_late: p.ppid_late,
            }),
            exec_main: u.exec_main.map(|e| verdict::ExecMain {
                pid: e.pid,
                start_us: e.start_us,
                exit_us: e.exit_us,
            }),
            freezer_state: u.freezer_state,
        }
    }
}

/// Conversions both ways between two fieldless enums with the same variants: a variant added
/// to one and not the other does not compile.
macro_rules! same_variants {
    ($a:ty, $b:ty, [$($v:ident),+ $(,)?]) => {
        impl From<$a> for $b {
            fn from(x: $a) -> Self {
                match x {
                    $(<$a>::$v => <$b>::$v,)+
                }
            }
        }
        impl From<$b> for $a {
            fn from(x: $b) -> Self {
                match x {
                    $(<$b>::$v => <$a>::$v,)+
                }
            }
        }
    };
}

same_variants!(pairing::Delivered, disk::Delivered, [Yes, No, Unknown]);
same_variants!(NotifyAccess, disk::NotifyAccess, [None, Main, Exec, All]);
same_variants!(
    verdict::ServiceType,
    disk::ServiceType,
    [
        Simple,
        Forking,
        Oneshot,
        Dbus,
        Notify,
        NotifyReload,
        Idle,
        Exec
    ]
);
same_variants!(
    verdict::NotifyState,
    disk::NotifyState,
    [Unknown, Ready, Reloading, Stopping]
);
same_variants!(
    verdict::ServiceState,
    disk::ServiceState,
    [
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
    ]
);

impl From<&UnitChange> for disk::UnitChange {
    fn from(c: &UnitChange) -> Self {
        disk::UnitChange {
            unit: c.unit.clone(),
            mono_ns: c.mono_ns,
            full: c.full,
            active_state: c.active_state.clone(),
            sub_state: c.sub_state.clone(),
            result: c.result.clone(),
            main_pid: c.main_pid,
            control_pid: c.control_pid,
            status_text: c.status_text.clone(),
            n_restarts: c.n_restarts,
            exec_main_code: c.exec_main_code,
            exec_main_status: c.exec_main_status,
            service_type: c.service_type.clone(),
            notify_access: c.notify_access.clone(),
            timeout_start_usec: c.timeout_start_usec,
            watchdog_usec: c.watchdog_usec,
            job: c.job.clone(),
        }
    }
}

impl From<disk::UnitChange> for UnitChange {
    fn from(c: disk::UnitChange) -> Self {
        UnitChange {
            unit: c.unit,
            mono_ns: c.mono_ns,
            full: c.full,
            active_state: c.active_state,
            sub_state: c.sub_state,
            result: c.result,
            main_pid: c.main_pid,
            control_pid: c.control_pid,
            status_text: c.status_text,
            n_restarts: c.n_restarts,
            exec_main_code: c.exec_main_code,
            exec_main_status: c.exec_main_status,
            service_type: c.service_type,
            notify_access: c.notify_access,
            timeout_start_usec: c.timeout_start_usec,
            watchdog_usec: c.watchdog_usec,
            job: c.job,
        }
    }
}

#[cfg(test)]
mod tests;

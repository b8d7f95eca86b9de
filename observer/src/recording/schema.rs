//! The recording format: what each frame's JSON body is, field by field. These types are the
//! format and nothing else; the pipeline's own types (decode::Event, verdict::UnitState, …)
//! are converted to and from them (convert.rs), so renaming a field there is a compile error
//! in the conversion, not a silent change of every file written after it.
//!
//! Changing anything here changes the format: older files must still read (add fields with
//! `#[serde(default)]`, never rename or remove), and observer/tests/data/golden.rec (made by
//! scripts/golden-recording) must still replay to golden.jsonl.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One frame's body. Externally tagged (`{"event": {…}}`): serde reads it without buffering,
/// which also keeps the 128-bit wall-clock times exact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Record {
    Session(Session),
    Event(Box<EventRecord>),
    Unit(UnitRecord),
    Delivery(Box<DeliveryRecord>),
    Drops {
        new: u64,
        total: u64,
    },
    End {
        events: u64,
        dropped: u64,
        untracked: u64,
        malformed: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub started: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_started: Option<String>,
    pub host: String,
    pub kernel: String,
    pub observer_version: String,
    pub strategy: String,
    /// `KIND/TARGET`, as `capture::Hook` writes them.
    pub hooks: Vec<String>,
    pub watched: Vec<SocketInfo>,
    pub realtime_minus_monotonic_ns: i128,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SocketInfo {
    pub id: u32,
    /// A manager's name, or `--socket`.
    pub owner: String,
    pub address: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    pub event: Event,
    pub unit: Option<String>,
    /// accepted, rejected, not-delivered, unknown.
    pub outcome: String,
    pub note: Option<String>,
    #[serde(default)]
    pub delivery: Delivery,
    #[serde(default)]
    pub read_mono_ns: Option<u64>,
    pub kind: Option<String>,
    pub reason: Option<String>,
    pub inputs: Option<VerdictInputs>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub mono_ns: u64,
    pub wall_ns: i128,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
    pub cgroup_id: u64,
    pub dest: String,
    pub watch_id: u32,
    pub matched_by_identity: bool,
    pub connected: bool,
    #[serde(with = "hex_bytes")]
    pub payload: Vec<u8>,
    pub len: u32,
    pub creds: Option<Creds>,
    pub fds: u32,
    pub result: i64,
    /// `observer_common::Hook`'s fixed number.
    pub hook: u32,
    pub msg_index: u32,
    pub flags: u32,
    pub ns_pid: u32,
    pub pidns_ino: u32,
    pub cgroup_name: String,
    pub cgroup_parent_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Creds {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub delivered: Delivered,
    pub queue_delay_us: Option<u64>,
    pub manager_creds: Option<Creds>,
    pub reader_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pidfd: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_alive: Option<bool>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sender_exited: bool,
    pub note: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "optional_hex_bytes"
    )]
    pub sender_payload: Option<Vec<u8>>,
}

/// `true`, `false`, or `"unknown"` (anything else reads as unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivered {
    Yes,
    No,
    #[default]
    Unknown,
}

impl<'de> Deserialize<'de> for Delivered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match serde_json::Value::deserialize(d)? {
            serde_json::Value::Bool(true) => Self::Yes,
            serde_json::Value::Bool(false) => Self::No,
            _ => Self::Unknown,
        })
    }
}

impl Serialize for Delivered {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Yes => s.serialize_bool(true),
            Self::No => s.serialize_bool(false),
            Self::Unknown => s.serialize_str("unknown"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub correction: Correction,
    pub read_mono_ns: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    pub event: Event,
    pub unit: Option<String>,
    pub delivery: Delivery,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerdictInputs {
    pub sender: Sender,
    pub unit_state: Option<UnitState>,
    /// The systemd release, first number.
    pub version: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sender {
    pub pid: Option<u32>,
    pub uid: u32,
    pub gid: u32,
    pub alive: Option<bool>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exited: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitState {
    pub id: String,
    pub notify_access: NotifyAccess,
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
    pub watchdogs_enabled: Option<bool>,
    pub manager_pid: u32,
    pub mainpid_target: Option<PidFacts>,
    #[serde(default)]
    pub exec_main: Option<ExecMain>,
    #[serde(default)]
    pub freezer_state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidFacts {
    pub pid: u32,
    pub exists: bool,
    pub zombie: bool,
    pub unit: Option<String>,
    pub ppid: Option<u32>,
    #[serde(default)]
    pub ppid_late: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecMain {
    pub pid: u32,
    pub start_us: u64,
    pub exit_us: u64,
}

/// systemd's own spellings of its settings and states, as `systemctl show` gives them. The
/// variants mirror the verdict module's enums one for one (convert.rs matches them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyAccess {
    None,
    Main,
    Exec,
    All,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotifyState {
    Unknown,
    Ready,
    Reloading,
    Stopping,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    pub manager: String,
    pub wall_ns: i128,
    pub change: UnitChange,
}

/// Absent fields did not change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitChange {
    pub unit: String,
    pub mono_ns: u64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub full: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_pid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_restarts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_main_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_main_status: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_access: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_start_usec: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watchdog_usec: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

/// Bytes as a hex string (compact in JSON, and exact, unlike an escaped text form).
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        hex::decode(String::deserialize(d)?).map_err(D::Error::custom)
    }
}

/// `Option<Vec<u8>>` as an optional hex string.
mod optional_hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_str(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|h| hex::decode(h).map_err(D::Error::custom))
            .transpose()
    }
}

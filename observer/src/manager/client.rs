//! Which manager to talk to (`Target`), connecting to it, and the D-Bus calls (`Manager`): the
//! version, a unit's full state, and the subscription the `Watcher` follows.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use anyhow::{Context as _, Result, anyhow};
use zbus::{
    MatchRule, MessageStream, OwnedObjectPath, OwnedVariant,
    message::{Sequence, Type as MsgType},
};

use super::{
    DEST, MANAGER_IFACE, METHOD_TIMEOUT, PROPS_IFACE, ROOT_PATH, SERVICE_IFACE, UNIT_IFACE,
    UnitChange,
    connect_as::{self, Approach, peer_pid},
    monotonic_ns,
    pidns::PidNs,
    private_socket::PrivateSocket,
    props::{exec_main, parse_version, prop_str, prop_text, prop_u32, service_type},
    watcher::{Shared, Watcher, watch_loop},
};
use crate::{
    notify::NotifyAccess,
    verdict::{ServiceState, SystemdVersion, UnitState},
};

/// Which manager to talk to, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The socket, as reachable from here.
    pub socket: PathBuf,
    /// Peer-to-peer (systemd's private socket) rather than a bus.
    pub p2p: bool,
    /// Host PID of the container's PID 1; None for the host's manager.
    pub leader: Option<u32>,
    /// Who connects, and from where (see trust.rs).
    pub approach: Approach,
}

impl Target {
    /// The host's system manager: its private socket if there is one, else the system bus.
    pub fn host() -> Target {
        Target::under(Path::new("/"), None)
    }

    /// A container's system manager, through its root as seen from here.
    pub fn container(leader: u32) -> Target {
        Target::under(Path::new(&format!("/proc/{leader}/root")), Some(leader))
    }

    /// The user manager of `uid` (on the host, or in container `leader`), on its private socket.
    pub fn user(uid: u32, leader: Option<u32>) -> Target {
        let root = leader.map_or_else(|| PathBuf::from("/"), |l| format!("/proc/{l}/root").into());
        Target {
            socket: root.join(format!("run/user/{uid}/systemd/private")),
            p2p: true,
            leader,
            approach: Approach::User {
                uid,
                gid: uid,
                leader,
            },
        }
    }

    /// The system bus of the host or a container (needs a running dbus-daemon).
    pub fn bus(leader: Option<u32>) -> Target {
        let root = leader.map_or_else(|| PathBuf::from("/"), |l| format!("/proc/{l}/root").into());
        Target {
            socket: root.join("run/dbus/system_bus_socket"),
            p2p: false,
            leader,
            approach: root_approach(leader),
        }
    }

    fn under(root: &Path, leader: Option<u32>) -> Target {
        let private = root.join("run/systemd/private");
        if private.exists() {
            Target {
                socket: private,
                p2p: true,
                leader,
                approach: root_approach(leader),
            }
        } else {
            Target::bus(leader)
        }
    }
}

/// Root, from the manager's PID namespace: a trusted manager (trust.rs decides otherwise).
fn root_approach(leader: Option<u32>) -> Approach {
    match leader {
        Some(leader) => Approach::RootInPidns { leader },
        None => Approach::Root,
    }
}

/// A connection to one service manager.
#[derive(Clone)]
pub struct Manager {
    conn: zbus::Connection,
    p2p: bool,
    pid_ns: PidNs,
    /// The manager's PID in its own namespace (1 for a system manager).
    manager_pid: u32,
}

impl std::fmt::Debug for Manager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("p2p", &self.p2p)
            .field("pid_ns", &self.pid_ns)
            .field("manager_pid", &self.manager_pid)
            .finish()
    }
}

impl Manager {
    /// Connects. Must run inside a Tokio runtime (zbus is built for Tokio only).
    pub async fn connect(target: &Target) -> Result<Manager> {
        let what = target.socket.display();
        // Connecting ourselves (rather than through a D-Bus address string) keeps /proc/PID/root
        // paths free of address escaping rules, and lets us connect from inside a container, as
        // whom the trust model says.
        let who = target.approach.who();
        let stream = connect_as::connect(&target.approach, &target.socket, METHOD_TIMEOUT)
            .await
            .with_context(|| format!("connect {what} as {who}"))?;
        // On the private socket the peer is the manager itself (that also covers user managers);
        // on a bus it is dbus-daemon, and system managers are PID 1.
        let peer = if target.p2p { peer_pid(&stream) } else { None };
        let builder = if target.p2p {
            stream.set_nonblocking(true)?;
            let stream = tokio::net::UnixStream::from_std(stream)?;
            zbus::connection::Builder::socket(PrivateSocket(stream)).p2p()
        } else {
            zbus::connection::Builder::unix_stream(stream)
        };
        // EXTERNAL authentication names the uid the manager sees (sd-bus compares the two).
        let builder = builder.user_id(target.approach.uid_seen());
        // A manager that stops answering (a container frozen or torn down mid-call) must not
        // hold the collector's loop: every call, and the handshake, gives up in time.
        let conn = tokio::time::timeout(
            METHOD_TIMEOUT,
            builder.method_timeout(METHOD_TIMEOUT).build(),
        )
        .await
        .map_err(|_| anyhow!("no answer in {METHOD_TIMEOUT:?}"))
        .and_then(|r| r.map_err(anyhow::Error::from))
        .with_context(|| format!("D-Bus handshake on {what}"))?;
        let pid_ns = match target.leader {
            Some(leader) => PidNs::of(leader),
            None => PidNs::of(std::process::id()),
        }
        .with_context(|| format!("PID namespace of manager behind {what}"))?;
        let manager_pid = peer.and_then(|p| pid_ns.host_to_ns(p)).unwrap_or(1);
        Ok(Manager {
            conn,
            p2p: target.p2p,
            pid_ns,
            manager_pid,
        })
    }

    pub fn manager_pid(&self) -> u32 {
        self.manager_pid
    }

    pub fn pid_ns(&self) -> &PidNs {
        &self.pid_ns
    }

    /// Host PID → PID as this manager sees it (None: not visible there).
    pub fn host_to_ns_pid(&self, host_pid: u32) -> Option<u32> {
        self.pid_ns.host_to_ns(host_pid)
    }

    /// PID as this manager sees it → host PID.
    pub fn ns_to_host_pid(&self, ns_pid: u32) -> Option<u32> {
        self.pid_ns.ns_to_host(ns_pid)
    }

    async fn call<B, R>(&self, path: &str, iface: &str, method: &str, body: &B) -> zbus::Result<R>
    where
        B: serde::Serialize + zbus::DynamicType,
        R: serde::de::DeserializeOwned + zbus::Type,
    {
        Ok(self.call_seq(path, iface, method, body).await?.0)
    }

    /// `call()`, also telling where the reply is in the connection's message order.
    async fn call_seq<B, R>(
        &self,
        path: &str,
        iface: &str,
        method: &str,
        body: &B,
    ) -> zbus::Result<(R, Sequence)>
    where
        B: serde::Serialize + zbus::DynamicType,
        R: serde::de::DeserializeOwned + zbus::Type,
    {
        // A bus needs the destination. On the private socket it must be left out: sd-bus would
        // copy it into the reply's sender field, and zbus rejects a reply whose sender is not a
        // unique name ("Invalid unique name").
        let dest = (!self.p2p).then_some(DEST);
        let msg = self
            .conn
            .call_method(dest, path, Some(iface), method, body)
            .await?;
        Ok((msg.body().deserialize::<R>()?, msg.recv_position()))
    }

    pub(super) async fn get(
        &self,
        path: &str,
        iface: &str,
        prop: &str,
    ) -> zbus::Result<OwnedVariant> {
        self.call(path, PROPS_IFACE, "Get", &(iface, prop)).await
    }

    async fn get_all(
        &self,
        path: &str,
        iface: &str,
    ) -> zbus::Result<(HashMap<String, OwnedVariant>, Sequence)> {
        self.call_seq(path, PROPS_IFACE, "GetAll", &(iface,)).await
    }

    /// `Manager.Version` as sent ("252.39-1~deb12u2") and its leading number.
    pub async fn version(&self) -> Result<(String, SystemdVersion)> {
        let v = self.get(ROOT_PATH, MANAGER_IFACE, "Version").await?;
        let s = String::try_from(v)?;
        let n = parse_version(&s).ok_or_else(|| anyhow!("unparsable systemd version {s:?}"))?;
        Ok((s, SystemdVersion(n)))
    }

    /// The unit's object path: `GetUnit` (loaded units), else `LoadUnit` (loads it from disk if it
    /// exists, the way systemctl show does).
    pub async fn unit_path(&self, unit: &str) -> Result<OwnedObjectPath> {
        match self
            .call(ROOT_PATH, MANAGER_IFACE, "GetUnit", &(unit,))
            .await
        {
            Ok(p) => Ok(p),
            Err(_) => Ok(self
                .call(ROOT_PATH, MANAGER_IFACE, "LoadUnit", &(unit,))
                .await
                .with_context(|| format!("LoadUnit {unit}"))?),
        }
    }

    /// What the manager knows about `unit` right now.
    pub async fn unit_state(&self, unit: &str) -> Result<UnitState> {
        Ok(self.read_unit(unit).await?.0)
    }

    /// `unit_state()` and the position of the last reply in the connection's message order.
    /// Also a full [`UnitChange`] snapshot for recordings.
    pub(super) async fn read_unit(&self, unit: &str) -> Result<(UnitState, Sequence, UnitChange)> {
        let path = self.unit_path(unit).await?;
        let (u, mut seq) = self
            .get_all(path.as_str(), UNIT_IFACE)
            .await
            .with_context(|| format!("GetAll {UNIT_IFACE} on {unit}"))?;
        // Only services have the Service interface (and a notify handler).
        let s = if unit.ends_with(".service") {
            let (s, q) = self
                .get_all(path.as_str(), SERVICE_IFACE)
                .await
                .with_context(|| format!("GetAll {SERVICE_IFACE} on {unit}"))?;
            seq = q;
            s
        } else {
            HashMap::new()
        };
        let watchdogs = self
            .get(ROOT_PATH, MANAGER_IFACE, "ServiceWatchdogs")
            .await
            .ok()
            .and_then(|v| bool::try_from(v).ok());
        // The manager's name for it, if systemd's rules allow it (said.rs); else ours.
        let id = prop_str(&u, "Id")
            .filter(|id| crate::said::unit_name(id))
            .unwrap_or_else(|| unit.to_owned());
        let mut st = UnitState::new(
            id,
            prop_str(&s, "NotifyAccess")
                .and_then(|a| NotifyAccess::from_value(a.as_bytes()))
                .unwrap_or(NotifyAccess::None),
        );
        st.main_pid = prop_u32(&s, "MainPID").filter(|p| *p != 0);
        st.control_pid = prop_u32(&s, "ControlPID").filter(|p| *p != 0);
        st.service_type = prop_str(&s, "Type").and_then(|t| service_type(&t));
        st.state = prop_str(&u, "SubState")
            .filter(|_| !s.is_empty())
            .and_then(|x| ServiceState::from_sub_state(&x));
        st.status_text = prop_text(&s, "StatusText");
        st.fd_store_max = prop_u32(&s, "FileDescriptorStoreMax");
        st.fd_store_count = prop_u32(&s, "NFileDescriptorStore");
        st.n_restarts = prop_u32(&s, "NRestarts");
        st.watchdogs_enabled = watchdogs;
        // "running", "frozen", "freezing", "thawing", … (v257+ also "*-by-parent"): WATCHDOG=1
        // is not acted on unless running (service.c:412 v257.13).
        st.freezer_state = prop_str(&u, "FreezerState");
        st.manager_pid = self.manager_pid;
        st.exec_main = exec_main(None, &s);
        let snapshot = UnitChange::snapshot(&st.id, &u, &s, monotonic_ns());
        Ok((st, seq, snapshot))
    }

    /// Starts following PropertiesChanged for every unit. Call before reading the state you want
    /// to follow, so no change falls between the read and the subscription.
    pub async fn watch(&self) -> Result<Watcher> {
        // Match before subscribing, so the first signals already land in the stream. On a bus this
        // also registers the match with the daemon; systemd sends to direct connections anyway.
        // All of systemd's signals: PropertiesChanged on unit paths, and Manager.Reloading.
        let rule = MatchRule::builder()
            .msg_type(MsgType::Signal)
            .path_namespace(ROOT_PATH)
            .build()?;
        let stream = MessageStream::for_match_rule(rule, &self.conn, None).await?;
        // Without Subscribe systemd sends no signals to bus clients.
        self.call::<_, ()>(ROOT_PATH, MANAGER_IFACE, "Subscribe", &())
            .await
            .context("Manager.Subscribe")?;
        let shared = Arc::new(Mutex::new(Shared::default()));
        let task = tokio::spawn(watch_loop(self.clone(), stream, shared.clone()));
        Ok(Watcher {
            manager: self.clone(),
            shared,
            task,
        })
    }
}

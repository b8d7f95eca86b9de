//! Which sockets to watch and whose reads to capture, as managers come and go: the sockets
//! are looked for again every rescan (new containers, user sessions, re-created sockets), off
//! the loop (an untrusted container's are looked at as its owner, by a child given a bounded
//! time: look_as.rs), and the readers with them (a manager restarts, a receiver exits).

use std::collections::BTreeMap;

use tokio::task::{JoinError, JoinHandle};

use super::PipelineConfig;
use crate::{
    capture::Capture,
    pairing::{Correction, Pairing},
    socket_readers::{self, Reader},
    watch::{self, Request, WatchError, Watched},
};

/// The watched sockets, and the discovery that may change them.
pub struct Sockets {
    pub watched: Vec<Watched>,
    /// `watched` by id, as the collector looks them up.
    pub by_id: BTreeMap<u32, Watched>,
    /// The highest id ever given: a socket found later never takes a gone one's id.
    highest_given: u32,
    /// What was asked for at the start (the explicit sockets among them are kept).
    requests: Vec<Request>,
    no_default_sockets: bool,
    /// A discovery running off the loop.
    discovery: Option<JoinHandle<Vec<Request>>>,
}

impl Sockets {
    /// The sockets `config` asks for, as they are now; none is an error.
    pub fn find(config: &PipelineConfig) -> anyhow::Result<Self> {
        let requests = requests(config);
        let watched = watch::resolve(&requests, &[], 0)?;
        if watched.is_empty() {
            return Err(WatchError::NothingToWatch.into());
        }
        Ok(Self {
            highest_given: watch::highest_id(&watched),
            by_id: watch::by_id(&watched),
            watched,
            requests,
            no_default_sockets: config.no_default_sockets,
            discovery: None,
        })
    }

    /// Starts looking for the sockets again, off the loop, unless a look is still running.
    pub fn discover(&mut self) {
        if self.discovery.is_none() {
            let (initial, no_defaults) = (self.requests.clone(), self.no_default_sockets);
            self.discovery = Some(tokio::task::spawn_blocking(move || {
                requests_that_exist(&initial, no_defaults)
            }));
        }
    }

    /// What the running discovery found, once it ends (never, while none runs).
    pub async fn discovered(&mut self) -> Result<Vec<Request>, JoinError> {
        match self.discovery.as_mut() {
            Some(running) => running.await,
            None => std::future::pending().await,
        }
    }

    /// The sockets to watch after a discovery that found `found`, when they differ from those
    /// watched now. Explicit sockets that vanish are kept by their old identity; defaults
    /// come and go.
    pub fn changed(&mut self, found: Result<Vec<Request>, JoinError>) -> Option<Vec<Watched>> {
        self.discovery = None;
        let found = found.ok()?;
        let now = watch::resolve(&found, &self.watched, self.highest_given).ok()?;
        (now != self.watched && !now.is_empty()).then_some(now)
    }

    /// Watches `now` from here on (the kernel was told already).
    pub fn adopt(&mut self, now: Vec<Watched>) {
        self.highest_given = self.highest_given.max(watch::highest_id(&now));
        self.watched = now;
        self.by_id = watch::by_id(&self.watched);
    }
}

fn requests(config: &PipelineConfig) -> Vec<Request> {
    let mut out = if config.no_default_sockets {
        Vec::new()
    } else {
        watch::default_requests()
    };
    out.extend(config.sockets.iter().map(|s| Request::explicit(s)));
    out
}

/// For a rescan: the default sockets as they are now, plus the explicit ones still there.
fn requests_that_exist(initial: &[Request], no_default_sockets: bool) -> Vec<Request> {
    let mut out = if no_default_sockets {
        Vec::new()
    } else {
        watch::default_requests()
    };
    out.extend(
        initial
            .iter()
            .filter(|r| {
                r.owner.is_explicit() && watch::resolve(std::slice::from_ref(r), &[], 0).is_ok()
            })
            .cloned(),
    );
    out
}

/// The managers of the watched sockets and the `--receiver` processes: the readers whose reads
/// are captured. None when the kernel gave no way to capture reads.
pub fn find_readers(
    capture: &Capture,
    watched: &[Watched],
    receivers: &[u32],
) -> Option<Vec<Reader>> {
    capture
        .receive
        .is_ok()
        .then(|| socket_readers::find(watched, receivers))
}

/// Tells the kernel whose reads to capture and the pairing which sockets they read; returns the
/// sends that lost their reader before it read them.
pub fn set_readers(
    capture: &mut Capture,
    pairing: &mut Pairing,
    found: Option<Vec<Reader>>,
) -> anyhow::Result<Vec<Correction>> {
    let Some(found) = found else {
        return Ok(Vec::new());
    };
    let tgids: Vec<u32> = found.iter().map(|r| r.tgid).collect();
    capture.set_readers(&tgids)?;
    Ok(pairing.set_readers(found.iter().map(|r| r.watch_id).collect()))
}

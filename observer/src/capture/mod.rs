//! Step 1 of the pipeline: load the kernel programs of the best strategy the running kernel
//! allows, attach them, and hand out the ring buffer and counters.

mod floor;
mod hook;
mod hook_table;
mod kallsyms;
mod offsets;
mod prefilter;
mod receive;
mod strategy;
mod unwatched;

use anyhow::Context as _;
use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, HashMap, MapData, PerCpuArray, RingBuf},
};
pub use hook::{Hook, list as hook_list};
use observer_common::{
    PathKey, SocketKey, faults,
    prefilter::{READERS, WATCHED_INO},
    stats,
};
pub use strategy::Strategy;

use crate::{btf::Btf, preflight, watch::Watched};

/// The eBPF object, built by build.rs and embedded: the binary needs no files beside it.
/// Empty only in builds made with OBSERVER_NO_EBPF=1 (the fuzz targets), which never load it.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/observer"));

/// Kernel-side counters, summed over CPUs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub emitted: u64,
    pub dropped: u64,
    /// See `stats::UNTRACKED`.
    pub untracked: u64,
}

/// `--probe`: which capture strategies to try (`auto`: the best the kernel allows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Auto,
    Fentry,
    Tracepoint,
}

pub struct Capture {
    ebpf: Ebpf,
    pub strategy: Strategy,
    /// Why each strategy tried before the one in use was refused.
    pub refused: Vec<(Strategy, String)>,
    /// The kernel hooks attached, e.g. `tp_btf/sock_send_length`.
    pub hooks: Vec<Hook>,
    /// What the manager side (reads of watched sockets) attached, or why it could not.
    pub receive: Result<Vec<Hook>, String>,
    /// Why each cheaper way of capturing reads was refused before the one in use.
    pub receive_refused: Vec<String>,
    stats: PerCpuArray<MapData, u64>,
}

impl Capture {
    /// Every hook attached: the sends', then the reads'.
    pub fn all_hooks(&self) -> Vec<Hook> {
        let mut hooks = self.hooks.clone();
        hooks.extend(self.receive.iter().flatten().cloned());
        hooks
    }

    /// Detaches the programs and attaches do-nothing ones at the same hooks (floor.rs).
    pub fn into_floor(self) -> anyhow::Result<Ebpf> {
        let hooks = self.all_hooks();
        drop(self);
        floor::attach(&hooks)
    }

    /// Loads and attaches the programs. With `Probe::Auto`, tries fentry then tracepoint.
    pub fn start(probe: Probe, ring_size: u32) -> anyhow::Result<Self> {
        if EBPF_OBJECT.is_empty() {
            anyhow::bail!(
                "this observer was built without its eBPF programs (OBSERVER_NO_EBPF=1, meant for the fuzz targets); rebuild it without that variable"
            );
        }
        preflight::check_privileges()?;
        preflight::check_btf()?;
        preflight::raise_memlock_rlimit();
        let candidates: &[Strategy] = match probe {
            Probe::Auto => &[Strategy::Fentry, Strategy::Tracepoint],
            Probe::Fentry => &[Strategy::Fentry],
            Probe::Tracepoint => &[Strategy::Tracepoint],
        };
        // Everything our BTF index answers is asked here, then the index is dropped before
        // aya parses the same bytes for itself: the two parses (each several MiB, as big as
        // the blob) never share the peak of the collector's memory.
        let btf = Btf::from_sys_fs()?;
        let offsets = offsets::read(&btf)?;
        let optional_hooks = strategy::optional_tp_btf(&btf);
        let regs_usable = strategy::regs_usable(&btf, &offsets);
        let checked: Vec<(Strategy, Result<(), String>)> = candidates
            .iter()
            .map(|&s| {
                let check = s.check(&btf, &offsets, &optional_hooks, regs_usable);
                (s, check.map_err(|e| format!("{e:#}")))
            })
            .collect();
        let receive_hooks = receive::ReceiveHooks::probe(&btf, regs_usable);
        let typed_loads = u32::from(strategy::typed_loads_usable(&btf));
        let unix_read_text = receive_hooks.unix_read_text_global();
        let data = btf.into_data();
        let aya_btf =
            aya::Btf::parse(&data, aya::Endianness::default()).context("reading kernel BTF")?;
        drop(data);
        let mut refused = Vec::new();
        for (strategy, check) in checked {
            let attempt = (|| -> anyhow::Result<(Ebpf, Vec<Hook>)> {
                check.map_err(anyhow::Error::msg)?;
                let wakeup_bytes = u64::from(ring_size / 8);
                let args_at_result =
                    u32::from(strategy.args_at_result(&optional_hooks, regs_usable));
                let mut ebpf = EbpfLoader::new()
                    .override_global("OFFSETS", &offsets, true)
                    .override_global("WAKEUP_BYTES", &wakeup_bytes, true)
                    .override_global("ARGS_AT_RESULT", &args_at_result, true)
                    .override_global("TYPED_LOADS", &typed_loads, true)
                    .override_global("UNIX_READ_TEXT", &unix_read_text, true)
                    .map_max_entries("EVENTS", ring_size)
                    .load(EBPF_OBJECT)
                    .context("loading the eBPF object")?;
                let hooks = strategy.attach(&mut ebpf, &optional_hooks, regs_usable, &aya_btf)?;
                Ok((ebpf, hooks))
            })();
            match attempt {
                Ok((mut ebpf, hooks)) => {
                    let mut receive_refused = Vec::new();
                    let receive = receive::attach(
                        &mut ebpf,
                        strategy,
                        receive_hooks,
                        &aya_btf,
                        &mut receive_refused,
                    )
                    .map_err(|e| format!("{e:#}"));
                    let stats =
                        PerCpuArray::try_from(ebpf.take_map("STATS").context("no STATS map")?)?;
                    return Ok(Self {
                        ebpf,
                        strategy,
                        refused,
                        hooks,
                        receive,
                        receive_refused,
                        stats,
                    });
                }
                Err(e) => refused.push((strategy, format!("{e:#}"))),
            }
        }
        let tried: Vec<String> = refused
            .iter()
            .map(|(s, why)| format!("{s}: {why}"))
            .collect();
        anyhow::bail!("no capture strategy could be loaded ({})", tried.join("; "))
    }

    /// The ring buffer of events; call once.
    pub fn take_ring(&mut self) -> anyhow::Result<RingBuf<MapData>> {
        Ok(RingBuf::try_from(
            self.ebpf.take_map("EVENTS").context("no EVENTS map")?,
        )?)
    }

    /// The eBPF object, for aya-log.
    pub fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }

    pub fn counters(&self) -> anyhow::Result<Counters> {
        let sum = |i: u32| -> anyhow::Result<u64> { Ok(self.stats.get(&i, 0)?.iter().sum()) };
        Ok(Counters {
            emitted: sum(stats::EMITTED)?,
            dropped: sum(stats::DROPPED)?,
            untracked: sum(stats::UNTRACKED)?,
        })
    }

    /// The kernel's fault counters (`observer_common::faults`), summed over CPUs: what each
    /// counts, and how many.
    pub fn faults(&self) -> anyhow::Result<Vec<(&'static str, u64)>> {
        let map: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.ebpf.map("FAULTS").context("no FAULTS map")?)?;
        faults::NAMES
            .iter()
            .zip(0..)
            .map(|(name, i)| Ok((*name, map.get(&i, 0)?.iter().sum())))
            .collect()
    }

    /// Makes the kernel's watch maps equal to `watched`.
    pub fn set_watched(&mut self, watched: &[Watched]) -> anyhow::Result<()> {
        let mut sockets: Vec<(SocketKey, u32)> = Vec::new();
        let mut paths: Vec<(PathKey, u32)> = Vec::new();
        for w in watched {
            add_first(&mut sockets, w.key, w.id);
            for k in &w.path_keys {
                // The first owner of an address string keeps it (e.g. the host's
                // /run/systemd/notify over a container's); userspace then gives a path match
                // to the manager in the sender's PID namespace (watch::disambiguate).
                add_first(&mut paths, *k, w.id);
            }
        }
        let inos = sockets.iter().map(|(k, _)| k.ino);
        prefilter::sync_with(&mut self.ebpf, WATCHED_INO, inos, |ebpf| {
            sync_map(ebpf, "WATCHED_SOCKETS", &sockets)
        })?;
        sync_map(&mut self.ebpf, "WATCHED_PATHS", &paths)?;
        unwatched::changed(&mut self.ebpf)
    }
}

impl Capture {
    /// Tells the kernel whether the collector sleeps with no timer: the next record then wakes
    /// it (observer-ebpf's send/emit.rs, `output()`), and marks it awake again.
    pub fn set_collector_asleep(&mut self, asleep: bool) -> anyhow::Result<()> {
        let mut flag: Array<_, u64> = Array::try_from(
            self.ebpf
                .map_mut("COLLECTOR_ASLEEP")
                .context("no COLLECTOR_ASLEEP map")?,
        )?;
        flag.set(0, &u64::from(asleep), 0)?;
        Ok(())
    }

    /// Makes the kernel's set of readers (processes whose reads of watched sockets are
    /// captured) equal to `tgids`.
    pub fn set_readers(&mut self, tgids: &[u32]) -> anyhow::Result<()> {
        if self.receive.is_err() {
            return Ok(());
        }
        let wanted: Vec<(u32, u32)> = tgids.iter().map(|t| (*t, 1)).collect();
        let members = tgids.iter().map(|t| u64::from(*t));
        prefilter::sync_with(&mut self.ebpf, READERS, members, |ebpf| {
            sync_map(ebpf, "READERS", &wanted)
        })
    }
}

/// Adds `(key, id)` unless `key` is there already.
fn add_first<K: PartialEq>(entries: &mut Vec<(K, u32)>, key: K, id: u32) {
    if !entries.iter().any(|(k, _)| *k == key) {
        entries.push((key, id));
    }
}

/// Makes the kernel hash map `name` hold exactly `wanted`: stale keys out, the rest in.
fn sync_map<K: aya::Pod + PartialEq>(
    ebpf: &mut Ebpf,
    name: &str,
    wanted: &[(K, u32)],
) -> anyhow::Result<()> {
    let mut map: HashMap<_, K, u32> = HashMap::try_from(
        ebpf.map_mut(name)
            .with_context(|| format!("no {name} map"))?,
    )?;
    let stale: Vec<K> = map
        .keys()
        .flatten()
        .filter(|k| !wanted.iter().any(|(w, _)| w == k))
        .collect();
    for k in stale {
        map.remove(&k)?;
    }
    for (k, id) in wanted {
        map.insert(k, id, 0)?;
    }
    Ok(())
}

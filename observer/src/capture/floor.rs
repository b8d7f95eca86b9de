//! What the kernel charges for a strategy's hooks alone: do-nothing programs
//! (observer-ebpf/src/floor.rs) attached at each hook the strategy attached, for
//! `observer hook-floor`. The benches run their loads under it as well, so that what the
//! observer's own programs cost shows apart from the dispatch no program can avoid.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};
use aya::{
    Ebpf, EbpfLoader,
    programs::{BtfTracePoint, FEntry, FExit, TracePoint},
};

use super::{
    EBPF_OBJECT,
    hook::{Hook, HookKind},
    hook_table::floor_programs,
    strategy::program,
};

/// Attaches a do-nothing program at each of `hooks`. Detached on drop.
pub fn attach(hooks: &[Hook]) -> anyhow::Result<Ebpf> {
    let mut ebpf = EbpfLoader::new()
        .load(EBPF_OBJECT)
        .context("loading the eBPF object")?;
    let btf = aya::Btf::from_sys_fs().context("reading kernel BTF")?;
    // Programs used so far, by kind: the next is the one after them in `floor_programs()`.
    let mut used: BTreeMap<&str, usize> = BTreeMap::new();
    let mut next = |kind: HookKind| -> anyhow::Result<&'static str> {
        let n = used.entry(kind.as_str()).or_default();
        let Some(name) = floor_programs(kind).get(*n) else {
            bail!(
                "more than {n} {} hooks: no do-nothing program left",
                kind.as_str()
            );
        };
        *n += 1;
        Ok(name)
    };
    // Every tracefs tracepoint shares the one program, loaded once.
    let next_tracepoint = floor_programs(HookKind::Tracepoint)
        .first()
        .context("no do-nothing tracepoint program")?;
    let mut tracepoint_loaded = false;
    for hook in hooks {
        let target = hook.target.as_str();
        let attached = (|| -> anyhow::Result<()> {
            match hook.kind {
                HookKind::TpBtf => {
                    let p: &mut BtfTracePoint = program(&mut ebpf, next(hook.kind)?)?;
                    p.load(target, &btf)?;
                    p.attach()?;
                }
                HookKind::Fentry => {
                    let p: &mut FEntry = program(&mut ebpf, next(hook.kind)?)?;
                    p.load(target, &btf)?;
                    p.attach()?;
                }
                HookKind::Fexit => {
                    let p: &mut FExit = program(&mut ebpf, next(hook.kind)?)?;
                    p.load(target, &btf)?;
                    p.attach()?;
                }
                HookKind::Tracepoint => {
                    let (category, name) = hook.tracepoint().context("no tracepoint category")?;
                    let p: &mut TracePoint = program(&mut ebpf, next_tracepoint)?;
                    if !tracepoint_loaded {
                        p.load()?;
                        tracepoint_loaded = true;
                    }
                    p.attach(category, name)?;
                }
            }
            Ok(())
        })();
        attached.with_context(|| format!("do-nothing program at {hook}"))?;
    }
    Ok(ebpf)
}

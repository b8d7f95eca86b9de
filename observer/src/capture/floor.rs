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
    strategy::program,
};

/// Copies of each kind of do-nothing program in the object (a program is loaded for one target).
const COPIES: usize = 3;

/// Attaches a do-nothing program at each of `hooks`. Detached on drop.
pub fn attach(hooks: &[Hook]) -> anyhow::Result<Ebpf> {
    let mut ebpf = EbpfLoader::new()
        .load(EBPF_OBJECT)
        .context("loading the eBPF object")?;
    let btf = aya::Btf::from_sys_fs().context("reading kernel BTF")?;
    // Copies used so far, by kind: the next one is `floor_{kind}_{n}`.
    let mut used: BTreeMap<&str, usize> = BTreeMap::new();
    // Named by the object's programs: `floor_{tp_btf,fentry,fexit}_N`.
    let mut next = |kind| -> anyhow::Result<String> {
        let n = used.entry(kind).or_default();
        if *n == COPIES {
            bail!("more than {COPIES} {kind} hooks: no do-nothing program left");
        }
        *n += 1;
        Ok(format!("floor_{kind}_{}", *n - 1))
    };
    let mut tracepoint_loaded = false;
    for hook in hooks {
        let target = hook.target.as_str();
        let kind = hook.kind.as_str();
        let attached = (|| -> anyhow::Result<()> {
            match hook.kind {
                HookKind::TpBtf => {
                    let p: &mut BtfTracePoint = program(&mut ebpf, &next(kind)?)?;
                    p.load(target, &btf)?;
                    p.attach()?;
                }
                HookKind::Fentry => {
                    let p: &mut FEntry = program(&mut ebpf, &next(kind)?)?;
                    p.load(target, &btf)?;
                    p.attach()?;
                }
                HookKind::Fexit => {
                    let p: &mut FExit = program(&mut ebpf, &next(kind)?)?;
                    p.load(target, &btf)?;
                    p.attach()?;
                }
                HookKind::Tracepoint => {
                    let (category, name) = hook.tracepoint().context("no tracepoint category")?;
                    let p: &mut TracePoint = program(&mut ebpf, "floor_tracepoint")?;
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

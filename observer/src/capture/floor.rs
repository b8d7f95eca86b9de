//! What the kernel charges for a strategy's hooks alone: do-nothing programs
//! (observer-ebpf/src/floor.rs) attached at each hook the strategy attached, for
//! `observer hook-floor`. The benches run their loads under it as well, so that what the
//! observer's own programs cost shows apart from the dispatch no program can avoid.

use anyhow::{Context as _, bail};
use aya::{
    Ebpf, EbpfLoader,
    programs::{BtfTracePoint, FEntry, FExit, TracePoint},
};

use super::{EBPF_OBJECT, strategy::program};

/// Copies of each kind of do-nothing program in the object (a program is loaded for one target).
const COPIES: usize = 3;

/// Attaches a do-nothing program at each of `hooks`, named as [`super::Capture::hooks`] names
/// them: `tp_btf/TP`, `fentry/FN`, `fexit/FN`, `tracepoint/CATEGORY/TP`. Detached on drop.
pub fn attach(hooks: &[String]) -> anyhow::Result<Ebpf> {
    let mut ebpf = EbpfLoader::new()
        .load(EBPF_OBJECT)
        .context("loading the eBPF object")?;
    let btf = aya::Btf::from_sys_fs().context("reading kernel BTF")?;
    let mut used = [0usize; 3];
    let mut next = |kind: usize, prefix: &str, hook: &str| -> anyhow::Result<String> {
        if used[kind] == COPIES {
            bail!("more than {COPIES} {prefix} hooks: no do-nothing program left for {hook}");
        }
        used[kind] += 1;
        Ok(format!("{prefix}_{}", used[kind] - 1))
    };
    let mut tracepoint_loaded = false;
    for hook in hooks {
        let (kind, target) = hook
            .split_once('/')
            .with_context(|| format!("hook {hook}: no kind/target"))?;
        let attached = (|| -> anyhow::Result<()> {
            match kind {
                "tp_btf" => {
                    let p: &mut BtfTracePoint =
                        program(&mut ebpf, &next(0, "floor_tp_btf", hook)?)?;
                    p.load(target, &btf)?;
                    p.attach()?;
                }
                "fentry" => {
                    let p: &mut FEntry = program(&mut ebpf, &next(1, "floor_fentry", hook)?)?;
                    p.load(target, &btf)?;
                    p.attach()?;
                }
                "fexit" => {
                    let p: &mut FExit = program(&mut ebpf, &next(2, "floor_fexit", hook)?)?;
                    p.load(target, &btf)?;
                    p.attach()?;
                }
                "tracepoint" => {
                    let (category, name) =
                        target.split_once('/').context("no tracepoint category")?;
                    let p: &mut TracePoint = program(&mut ebpf, "floor_tracepoint")?;
                    if !tracepoint_loaded {
                        p.load()?;
                        tracepoint_loaded = true;
                    }
                    p.attach(category, name)?;
                }
                _ => bail!("unknown hook kind {kind}"),
            }
            Ok(())
        })();
        attached.with_context(|| format!("do-nothing program at {hook}"))?;
    }
    Ok(ebpf)
}

//! The kernel's cache of receivers found not watched (`observer_common::unwatched`): after every
//! change to the watched sockets, its generation moves on, so no answer from before the change
//! is used after it.

use anyhow::Context as _;
use aya::{
    Ebpf,
    maps::{Array, MapData},
};
use observer_common::unwatched::{self, SLOTS};

/// Moves the generation on; call it once the watch maps hold the change. When the generation's
/// tag bits start over, every slot is emptied first (one stored 65 535 changes ago would match).
pub fn changed(ebpf: &mut Ebpf) -> anyhow::Result<()> {
    let (next, wrapped) = unwatched::next(map(ebpf, "WATCH_GENERATION")?.get(&0, 0)?);
    if wrapped {
        let mut slots = map(ebpf, "UNWATCHED")?;
        for i in 0..SLOTS {
            slots.set(i, &0, 0)?;
        }
    }
    Ok(map(ebpf, "WATCH_GENERATION")?.set(0, &next, 0)?)
}

fn map<'a>(ebpf: &'a mut Ebpf, name: &str) -> anyhow::Result<Array<&'a mut MapData, u64>> {
    Ok(Array::try_from(
        ebpf.map_mut(name)
            .with_context(|| format!("no {name} map"))?,
    )?)
}

#[cfg(test)]
mod tests;

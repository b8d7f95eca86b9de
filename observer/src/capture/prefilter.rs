//! The bit sets in front of the kernel's `WATCHED_SOCKETS` and `READERS` hash maps
//! (`observer_common::prefilter`): the hooks that run for every AF_UNIX datagram and every
//! socket read on the machine test a bit before they hash anything.

use anyhow::Context as _;
use aya::{Ebpf, maps::Array};
use observer_common::prefilter::{self, Bits};

/// Brings set `set` to `members` while `sync` brings its hash map to them. The bits of old and
/// new members both stay on while the map changes, so a member in the map is never missing from
/// its set (the hooks would skip it); a stale bit only costs a lookup.
pub fn sync_with(
    ebpf: &mut Ebpf,
    set: u32,
    members: impl Iterator<Item = u64>,
    sync: impl FnOnce(&mut Ebpf) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut new: Bits = [0; prefilter::WORDS];
    for x in members {
        let (word, mask) = prefilter::bit(x);
        new[word] |= mask;
    }
    let mut both = read(ebpf, set)?;
    for (b, n) in both.iter_mut().zip(new) {
        *b |= n;
    }
    write(ebpf, set, &both)?;
    sync(ebpf)?;
    write(ebpf, set, &new)
}

fn map(ebpf: &mut Ebpf) -> anyhow::Result<Array<&mut aya::maps::MapData, Bits>> {
    Ok(Array::try_from(
        ebpf.map_mut("PREFILTER").context("no PREFILTER map")?,
    )?)
}

fn read(ebpf: &mut Ebpf, set: u32) -> anyhow::Result<Bits> {
    Ok(map(ebpf)?.get(&set, 0)?)
}

fn write(ebpf: &mut Ebpf, set: u32, bits: &Bits) -> anyhow::Result<()> {
    Ok(map(ebpf)?.set(set, bits, 0)?)
}

//! The name index: type ids by the hash of their name, so that a lookup by name probes once
//! instead of scanning every type.

use std::{
    collections::HashMap,
    hash::{BuildHasherDefault, Hasher},
};

use super::Btf;

/// 64-bit FNV-1a of a name. The name index is keyed by this hash instead of
/// by owned strings: no allocation per name and one cheap probe per insert,
/// which makes indexing vmlinux several times faster. Lookups re-check the
/// real name of every candidate id, so hash collisions are harmless.
pub(super) fn name_hash(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Hasher for keys that already are good hashes.
#[derive(Default)]
pub(super) struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Name hash -> the id of the one type with that name hash, or
/// `DUPLICATE_BIT | i` where `Btf::dups[i]` lists the ids sharing it.
pub(super) type NameMap = HashMap<u64, u32, BuildHasherDefault<PreHashed>>;

pub(super) const DUPLICATE_BIT: u32 = 1 << 31;

impl Btf {
    pub(super) fn ids_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = u32> + 'a {
        let ids: &[u32] = match self.names.get(&name_hash(name.as_bytes())) {
            None => &[],
            Some(v) if v & DUPLICATE_BIT != 0 => self
                .dups
                .get((v & !DUPLICATE_BIT) as usize)
                .map(Vec::as_slice)
                .unwrap_or(&[]),
            Some(v) => std::slice::from_ref(v),
        };
        ids.iter().copied().filter(move |&id| {
            let t = self.types[id as usize];
            self.str_at(t.name_off)
                .map(|n| n == name.as_bytes())
                .unwrap_or(false)
        })
    }
}

//! Reading a raw BTF blob: the header, the type section (every kind's size, so each can be
//! skipped) and the name index; and reading types and strings back out of it.

use std::collections::hash_map::Entry;

use super::{
    BTF_MAGIC, BTF_MAGIC_SWAPPED, Btf, BtfError, HEADER_LEN, KIND_ARRAY, KIND_CONST, KIND_DATASEC,
    KIND_DECL_TAG, KIND_ENUM, KIND_ENUM64, KIND_FLOAT, KIND_FUNC, KIND_FUNC_PROTO, KIND_FWD,
    KIND_INT, KIND_PTR, KIND_RESTRICT, KIND_STRUCT, KIND_TYPE_TAG, KIND_TYPEDEF, KIND_UNION,
    KIND_VAR, KIND_VOLATILE, TYPE_HEADER_LEN, TypeHdr, VMLINUX_BTF_PATH, kind_name, malformed,
    names::{DUPLICATE_BIT, NameMap, name_hash},
    read_u32,
};

impl Btf {
    /// Reads and parses the running kernel's BTF from `/sys/kernel/btf/vmlinux`.
    pub fn from_sys_fs() -> Result<Btf, BtfError> {
        match std::fs::read(VMLINUX_BTF_PATH) {
            Ok(data) => Btf::parse_owned(data),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(BtfError::NoKernelBtf {
                path: VMLINUX_BTF_PATH.to_string(),
            }),
            Err(source) => Err(BtfError::Io {
                path: VMLINUX_BTF_PATH.to_string(),
                source,
            }),
        }
    }

    /// Parses a raw BTF blob (the bytes are copied). The tests feed it synthetic blobs.
    #[cfg(test)]
    pub fn parse(bytes: &[u8]) -> Result<Btf, BtfError> {
        Btf::parse_owned(bytes.to_vec())
    }

    /// The raw blob back, the index dropped: so that another parser (aya's) can read the same
    /// bytes without both indexes and two copies of the file in memory at once.
    pub fn into_data(self) -> Vec<u8> {
        self.data
    }

    fn parse_owned(data: Vec<u8>) -> Result<Btf, BtfError> {
        if data.len() < HEADER_LEN {
            return Err(malformed(format!(
                "{} bytes is shorter than the {HEADER_LEN}-byte header",
                data.len()
            )));
        }
        if u32::try_from(data.len()).is_err() {
            return Err(malformed("blob is larger than 4 GiB"));
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        if magic == BTF_MAGIC_SWAPPED {
            return Err(BtfError::BigEndian);
        }
        if magic != BTF_MAGIC {
            return Err(BtfError::BadMagic { magic });
        }
        if data[2] != 1 {
            return Err(BtfError::UnsupportedVersion { version: data[2] });
        }
        let hdr_len = read_u32(&data, 4)? as usize;
        let type_off = read_u32(&data, 8)? as usize;
        let type_len = read_u32(&data, 12)? as usize;
        let str_off = read_u32(&data, 16)? as usize;
        let str_len = read_u32(&data, 20)? as usize;
        if hdr_len < HEADER_LEN || hdr_len > data.len() {
            return Err(malformed(format!(
                "header length {hdr_len} is not within {HEADER_LEN}..={}",
                data.len()
            )));
        }
        let section = |name: &str, off: usize, len: usize| -> Result<(usize, usize), BtfError> {
            let start = hdr_len.checked_add(off);
            let end = start.and_then(|s| s.checked_add(len));
            match (start, end) {
                (Some(s), Some(e)) if e <= data.len() => Ok((s, e)),
                _ => Err(malformed(format!(
                    "{name} section (offset {off}, length {len}) ends past the {}-byte blob",
                    data.len()
                ))),
            }
        };
        let (type_start, type_end) = section("type", type_off, type_len)?;
        let (str_start, str_end) = section("string", str_off, str_len)?;

        let mut types = Vec::with_capacity(type_len / 16 + 1);
        types.push(TypeHdr {
            name_off: 0,
            info: 0,
            size_or_type: 0,
            extra: 0,
        });
        let mut pos = type_start;
        while pos < type_end {
            let id = types.len() as u32;
            if type_end - pos < TYPE_HEADER_LEN {
                return Err(malformed(format!("type #{id} header is truncated")));
            }
            let name_off = read_u32(&data, pos)?;
            let info = read_u32(&data, pos + 4)?;
            let size_or_type = read_u32(&data, pos + 8)?;
            let hdr = TypeHdr {
                name_off,
                info,
                size_or_type,
                extra: (pos + TYPE_HEADER_LEN) as u32,
            };
            let vlen = hdr.vlen();
            let trailing = match hdr.kind() {
                KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
                KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
                | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
                KIND_ARRAY => 12,
                KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => vlen * 12,
                KIND_ENUM | KIND_FUNC_PROTO => vlen * 8,
                kind => return Err(BtfError::UnknownKind { type_id: id, kind }),
            };
            let next = pos + TYPE_HEADER_LEN + trailing;
            if next > type_end {
                return Err(malformed(format!(
                    "type #{id} ({}) needs {trailing} bytes of data past the end of the type section",
                    kind_name(hdr.kind())
                )));
            }
            types.push(hdr);
            pos = next;
        }

        let mut btf = Btf {
            data,
            str_start,
            str_end,
            types,
            names: NameMap::default(),
            dups: Vec::new(),
        };
        let named = btf.types.iter().filter(|t| t.name_off != 0).count();
        let mut names = NameMap::with_capacity_and_hasher(named, Default::default());
        let mut dups: Vec<Vec<u32>> = Vec::new();
        for (id, t) in btf.types.iter().enumerate().skip(1) {
            if t.name_off == 0 {
                continue;
            }
            let name = btf.str_at(t.name_off)?;
            if name.is_empty() {
                continue;
            }
            let id = id as u32;
            match names.entry(name_hash(name)) {
                Entry::Vacant(e) => {
                    e.insert(id);
                }
                Entry::Occupied(mut e) => {
                    let v = *e.get();
                    if v & DUPLICATE_BIT != 0 {
                        dups[(v & !DUPLICATE_BIT) as usize].push(id);
                    } else {
                        dups.push(vec![v, id]);
                        *e.get_mut() = DUPLICATE_BIT | (dups.len() - 1) as u32;
                    }
                }
            }
        }
        btf.dups = dups;
        btf.names = names;
        Ok(btf)
    }

    /// Number of types, including the implicit `void` (id 0).
    #[cfg(test)]
    pub fn type_count(&self) -> usize {
        self.types.len()
    }

    pub(super) fn get(&self, id: u32) -> Result<&TypeHdr, BtfError> {
        self.types.get(id as usize).ok_or_else(|| {
            malformed(format!(
                "reference to type #{id}, but there are only {} types",
                self.types.len()
            ))
        })
    }

    /// NUL-terminated string at `off` in the string section.
    pub(super) fn str_at(&self, off: u32) -> Result<&[u8], BtfError> {
        if off == 0 {
            return Ok(&[]);
        }
        let strs = &self.data[self.str_start..self.str_end];
        let tail = strs
            .get(off as usize..)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                malformed(format!(
                    "string offset {off} is past the {}-byte string section",
                    strs.len()
                ))
            })?;
        let len = tail
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| malformed(format!("string at offset {off} is not NUL-terminated")))?;
        Ok(&tail[..len])
    }
}

//! A small, self-contained reader for BTF (BPF Type Format), std only.
//!
//! Our eBPF programs are written in Rust (aya-ebpf) and cannot emit CO-RE
//! relocations, so at load time userspace reads kernel struct member offsets,
//! sizes and enum values from the running kernel's BTF
//! (`/sys/kernel/btf/vmlinux`) and patches them into the programs' globals.
//!
//! ```ignore
//! let btf = Btf::from_sys_fs()?;
//! let msg_iter = btf.member_offset("msghdr", "msg_iter")?;
//! let iov = btf.member_offset_any("iov_iter", &["__iov", "iov"])?;
//! let dentry = btf.member_offset("unix_sock", "path.dentry")?;
//! let ubuf = btf.enum_value("iter_type", "ITER_UBUF")?;
//! let has_tp = btf.has_type("btf_trace_sock_send_length");
//! ```
//!
//! Scope and rules:
//! * Raw BTF only (the format of `/sys/kernel/btf/*`), little-endian only,
//!   version 1. Split BTF (kernel modules' files) is not supported: pass
//!   vmlinux BTF.
//! * Every kind up to `BTF_KIND_ENUM64` (19) is parsed well enough to be
//!   skipped; an unknown kind is an error, since its size cannot be known.
//! * Member paths are dot separated (`"path.dentry"`). Members of anonymous
//!   structs/unions are found transparently, at any depth, as in C. Paths go
//!   through typedef/const/volatile/restrict/type_tag to reach a struct or
//!   union, but never through a pointer.
//! * Malformed input never panics: every access is bounds checked, type
//!   chains and anonymous nesting are depth limited, and the work per lookup
//!   is bounded.
//! * Enum signedness follows the kind_flag (set = signed), as kernels since
//!   6.0 emit it; older BTF stored every enum value as a signed 32-bit int.
//! * If several structs share a name (vmlinux has a handful of such
//!   duplicates, e.g. `console`), lookups use the first one, in type id
//!   order, in which the member path exists.

use std::{
    collections::{HashMap, hash_map::Entry},
    fmt,
    hash::{BuildHasherDefault, Hasher},
};

/// Where the running kernel exposes its own BTF.
pub const VMLINUX_BTF_PATH: &str = "/sys/kernel/btf/vmlinux";

const BTF_MAGIC: u16 = 0xEB9F;
const BTF_MAGIC_SWAPPED: u16 = 0x9FEB;
const HEADER_LEN: usize = 24;
const TYPE_HEADER_LEN: usize = 12;
/// Pointer size; BTF does not record it and we only target 64-bit kernels.
const POINTER_SIZE: u64 = 8;
/// Longest typedef/modifier chain we follow before calling it a cycle.
const MAX_CHAIN: usize = 64;
/// Deepest nesting of anonymous members or arrays we follow.
const MAX_NESTING: usize = 32;
/// Most members one lookup may visit (guards against crafted blowups).
const MAX_MEMBER_VISITS: usize = 1 << 20;

const KIND_VOID: u8 = 0;
const KIND_INT: u8 = 1;
const KIND_PTR: u8 = 2;
const KIND_ARRAY: u8 = 3;
const KIND_STRUCT: u8 = 4;
const KIND_UNION: u8 = 5;
const KIND_ENUM: u8 = 6;
const KIND_FWD: u8 = 7;
const KIND_TYPEDEF: u8 = 8;
const KIND_VOLATILE: u8 = 9;
const KIND_CONST: u8 = 10;
const KIND_RESTRICT: u8 = 11;
const KIND_FUNC: u8 = 12;
const KIND_FUNC_PROTO: u8 = 13;
const KIND_VAR: u8 = 14;
const KIND_DATASEC: u8 = 15;
const KIND_FLOAT: u8 = 16;
const KIND_DECL_TAG: u8 = 17;
const KIND_TYPE_TAG: u8 = 18;
const KIND_ENUM64: u8 = 19;

fn kind_name(kind: u8) -> &'static str {
    match kind {
        KIND_VOID => "void",
        KIND_INT => "int",
        KIND_PTR => "pointer",
        KIND_ARRAY => "array",
        KIND_STRUCT => "struct",
        KIND_UNION => "union",
        KIND_ENUM => "enum",
        KIND_FWD => "forward declaration",
        KIND_TYPEDEF => "typedef",
        KIND_VOLATILE => "volatile",
        KIND_CONST => "const",
        KIND_RESTRICT => "restrict",
        KIND_FUNC => "function",
        KIND_FUNC_PROTO => "function prototype",
        KIND_VAR => "variable",
        KIND_DATASEC => "data section",
        KIND_FLOAT => "float",
        KIND_DECL_TAG => "decl tag",
        KIND_TYPE_TAG => "type tag",
        KIND_ENUM64 => "enum64",
        _ => "unknown kind",
    }
}

/// Errors from reading BTF or looking things up in it. Each message is one
/// line and says what to check or do.
#[derive(Debug)]
#[non_exhaustive]
pub enum BtfError {
    /// `/sys/kernel/btf/vmlinux` does not exist.
    NoKernelBtf { path: String },
    /// The BTF file exists but could not be read.
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The blob is big-endian BTF.
    BigEndian,
    /// The blob does not start with the BTF magic.
    BadMagic { magic: u16 },
    /// A BTF version other than 1.
    UnsupportedVersion { version: u8 },
    /// Structurally invalid BTF (truncated, out-of-range offsets, cycles...).
    Malformed { reason: String },
    /// A kind this reader does not know (so it cannot skip it).
    UnknownKind { type_id: u32, kind: u8 },
    /// No type of the wanted kind has this name.
    TypeNotFound { kind: &'static str, name: String },
    /// A component of a member path does not exist.
    MemberNotFound {
        struct_name: String,
        path: String,
        container: String,
        member: String,
    },
    /// A member path tries to go through a non-struct/union member.
    NotAStruct {
        struct_name: String,
        prefix: String,
        kind: &'static str,
    },
    /// The member path is empty or has an empty component.
    InvalidPath { path: String },
    /// The member is a bitfield that cannot be addressed in whole bytes.
    Bitfield {
        struct_name: String,
        path: String,
        bit_offset: u64,
        bits: u32,
    },
    /// The member's type has no byte size (void, function, forward decl).
    NoSize {
        struct_name: String,
        path: String,
        kind: &'static str,
    },
    /// None of the candidate member paths exists.
    NoMatchingPath {
        struct_name: String,
        paths: Vec<String>,
    },
    /// The enum exists but has no such enumerator.
    EnumVariantNotFound { enum_name: String, variant: String },
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfError::NoKernelBtf { path } => write!(
                f,
                "no BTF at {path}: the kernel needs CONFIG_DEBUG_INFO_BTF=y (boot a kernel built with it)"
            ),
            BtfError::Io { path, source } => write!(
                f,
                "cannot read BTF from {path}: {source} (check that this process may read it; root may be needed)"
            ),
            BtfError::BigEndian => write!(
                f,
                "BTF is big-endian: only little-endian BTF is supported (run on a little-endian kernel such as x86_64 or aarch64)"
            ),
            BtfError::BadMagic { magic } => write!(
                f,
                "not a BTF blob: magic is {magic:#06x}, expected 0xeb9f (pass raw BTF such as {VMLINUX_BTF_PATH}, not an ELF file)"
            ),
            BtfError::UnsupportedVersion { version } => write!(
                f,
                "unsupported BTF version {version}: only version 1 is known (update the BTF reader)"
            ),
            BtfError::Malformed { reason } => write!(
                f,
                "malformed BTF: {reason} (the file is truncated or corrupt; compare with `bpftool btf dump file <file>`)"
            ),
            BtfError::UnknownKind { type_id, kind } => write!(
                f,
                "BTF type #{type_id} has unknown kind {kind}: this BTF is newer than the reader (teach btf.rs the new kind)"
            ),
            BtfError::TypeNotFound { kind, name } => write!(
                f,
                "no {kind} named `{name}` in BTF: it may be renamed or compiled out in this kernel (check `pahole -C {name} {VMLINUX_BTF_PATH}`)"
            ),
            BtfError::MemberNotFound {
                struct_name,
                path,
                container,
                member,
            } => write!(
                f,
                "`{container}` has no member `{member}` (looking up `{struct_name}.{path}`): the field may be renamed in this kernel (check `pahole -C {container} {VMLINUX_BTF_PATH}`)"
            ),
            BtfError::NotAStruct {
                struct_name,
                prefix,
                kind,
            } => write!(
                f,
                "`{struct_name}.{prefix}` is a {kind}, not a struct or union: member paths cannot go through pointers (look up the pointee's struct separately)"
            ),
            BtfError::InvalidPath { path } => write!(
                f,
                "invalid member path `{path}`: use dot-separated member names such as `path.dentry`"
            ),
            BtfError::Bitfield {
                struct_name,
                path,
                bit_offset,
                bits,
            } => write!(
                f,
                "`{struct_name}.{path}` is a {bits}-bit bitfield at bit offset {bit_offset}, not byte-addressable: read the containing word and mask it instead"
            ),
            BtfError::NoSize {
                struct_name,
                path,
                kind,
            } => write!(
                f,
                "`{struct_name}.{path}` has a {kind} type, which has no byte size (check the path)"
            ),
            BtfError::NoMatchingPath { struct_name, paths } => write!(
                f,
                "`{struct_name}` has none of the members {paths:?}: add this kernel's field name to the candidates (check `pahole -C {struct_name} {VMLINUX_BTF_PATH}`)"
            ),
            BtfError::EnumVariantNotFound { enum_name, variant } => write!(
                f,
                "enum `{enum_name}` has no enumerator `{variant}`: it may be renamed in this kernel (check `bpftool btf dump file {VMLINUX_BTF_PATH} format c | grep -w {variant}`)"
            ),
        }
    }
}

impl std::error::Error for BtfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BtfError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn malformed(reason: impl Into<String>) -> BtfError {
    BtfError::Malformed {
        reason: reason.into(),
    }
}

/// Where a member lives, as returned by [`Btf::member`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberInfo {
    /// Offset of the member from the start of the outer struct, in bits.
    pub bit_offset: u64,
    /// Width in bits if the member is a bitfield, `None` otherwise.
    pub bitfield_bits: Option<u32>,
    /// BTF type id of the member's declared type.
    type_id: u32,
}

/// One entry of the type section: the common 12-byte header plus where its
/// kind-specific trailing data starts in `Btf::data`.
#[derive(Debug, Clone, Copy)]
struct TypeHdr {
    name_off: u32,
    info: u32,
    /// `size` for INT/STRUCT/UNION/ENUM/ENUM64/FLOAT/DATASEC, `type` otherwise.
    size_or_type: u32,
    /// Byte offset of the trailing data in `Btf::data`.
    extra: u32,
}

impl TypeHdr {
    fn kind(&self) -> u8 {
        ((self.info >> 24) & 0x1f) as u8
    }
    fn vlen(&self) -> usize {
        (self.info & 0xffff) as usize
    }
    fn kind_flag(&self) -> bool {
        self.info >> 31 == 1
    }
    fn is_composite(&self) -> bool {
        matches!(self.kind(), KIND_STRUCT | KIND_UNION)
    }
}

/// 64-bit FNV-1a of a name. The name index is keyed by this hash instead of
/// by owned strings: no allocation per name and one cheap probe per insert,
/// which makes indexing vmlinux several times faster. Lookups re-check the
/// real name of every candidate id, so hash collisions are harmless.
fn name_hash(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Hasher for keys that already are good hashes.
#[derive(Default)]
struct PreHashed(u64);

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
type NameMap = HashMap<u64, u32, BuildHasherDefault<PreHashed>>;
const DUPLICATE_BIT: u32 = 1 << 31;

/// A parsed BTF blob with a name index.
pub struct Btf {
    data: Vec<u8>,
    str_start: usize,
    str_end: usize,
    /// Indexed by type id; entry 0 is `void`.
    types: Vec<TypeHdr>,
    names: NameMap,
    dups: Vec<Vec<u32>>,
}

impl fmt::Debug for Btf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Btf")
            .field("bytes", &self.data.len())
            .field("types", &self.types.len())
            .field("names", &self.names.len())
            .finish()
    }
}

/// A member found by [`Btf::find_member`], offsets relative to the
/// composite type that was searched.
struct Found {
    bit_offset: u64,
    bitfield_bits: Option<u32>,
    type_id: u32,
}

fn read_u32(data: &[u8], off: usize) -> Result<u32, BtfError> {
    off.checked_add(4)
        .and_then(|end| data.get(off..end))
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| malformed(format!("read of 4 bytes at offset {off} is past the end")))
}

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

    /// Byte offset of `path` (e.g. `"path.dentry"`) from the start of
    /// struct or union `struct_name`. Byte-aligned bitfields give the byte
    /// holding their first bit; other bitfields are an error.
    pub fn member_offset(&self, struct_name: &str, path: &str) -> Result<u32, BtfError> {
        let m = self.member(struct_name, path)?;
        if m.bit_offset % 8 != 0 && m.bitfield_bits.is_none() {
            return Err(malformed(format!(
                "`{struct_name}.{path}` is not a bitfield but starts at bit {}",
                m.bit_offset
            )));
        }
        if m.bit_offset % 8 != 0 {
            return Err(BtfError::Bitfield {
                struct_name: struct_name.to_string(),
                path: path.to_string(),
                bit_offset: m.bit_offset,
                bits: m.bitfield_bits.unwrap_or(0),
            });
        }
        u32::try_from(m.bit_offset / 8)
            .map_err(|_| malformed(format!("offset of `{struct_name}.{path}` overflows u32")))
    }

    /// Byte offset of the first of `paths` that exists in `struct_name`
    /// (field names change across kernels, e.g. `["__iov", "iov"]`).
    /// Errors other than a missing member (e.g. no such struct) are
    /// returned at once.
    pub fn member_offset_any(&self, struct_name: &str, paths: &[&str]) -> Result<u32, BtfError> {
        for path in paths {
            match self.member_offset(struct_name, path) {
                Err(BtfError::MemberNotFound { .. }) => continue,
                other => return other,
            }
        }
        Err(BtfError::NoMatchingPath {
            struct_name: struct_name.to_string(),
            paths: paths.iter().map(|p| p.to_string()).collect(),
        })
    }

    /// Byte size of the type of member `path` of `struct_name`, following
    /// typedefs and modifiers (pointers are 8, arrays are `n * elem`).
    /// Bitfields are an error unless they are whole, aligned bytes.
    pub fn member_size(&self, struct_name: &str, path: &str) -> Result<u32, BtfError> {
        let m = self.member(struct_name, path)?;
        let size = match m.bitfield_bits {
            Some(bits) if bits % 8 == 0 && m.bit_offset % 8 == 0 => u64::from(bits / 8),
            Some(bits) => {
                return Err(BtfError::Bitfield {
                    struct_name: struct_name.to_string(),
                    path: path.to_string(),
                    bit_offset: m.bit_offset,
                    bits,
                });
            }
            None => self
                .size_of(m.type_id, 0)?
                .ok_or_else(|| BtfError::NoSize {
                    struct_name: struct_name.to_string(),
                    path: path.to_string(),
                    kind: self.kind_after_mods(m.type_id),
                })?,
        };
        u32::try_from(size)
            .map_err(|_| malformed(format!("size of `{struct_name}.{path}` overflows u32")))
    }

    /// Full location of member `path` of `struct_name` (bit offset,
    /// bitfield width). Most callers want [`Btf::member_offset`].
    pub fn member(&self, struct_name: &str, path: &str) -> Result<MemberInfo, BtfError> {
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(BtfError::InvalidPath {
                path: path.to_string(),
            });
        }
        let candidates = self.composites_named(struct_name)?;
        let mut first_err = None;
        for root in candidates {
            match self.walk_path(root, struct_name, path) {
                Ok(m) => return Ok(m),
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or_else(|| BtfError::TypeNotFound {
            kind: "struct or union",
            name: struct_name.to_string(),
        }))
    }

    /// Byte size of struct or union `name` (a typedef of one also works).
    pub fn struct_size(&self, name: &str) -> Result<u32, BtfError> {
        let id = self.composites_named(name)?[0];
        Ok(self.get(id)?.size_or_type)
    }

    /// Value of enumerator `variant` of enum `enum_name` (ENUM or ENUM64).
    /// An empty `enum_name` searches every enum, including anonymous ones.
    /// Unsigned 64-bit values above `i64::MAX` keep their bit pattern.
    pub fn enum_value(&self, enum_name: &str, variant: &str) -> Result<i64, BtfError> {
        let is_enum = |id: u32| matches!(self.types[id as usize].kind(), KIND_ENUM | KIND_ENUM64);
        let candidates: Vec<u32> = if enum_name.is_empty() {
            (1..self.types.len() as u32)
                .filter(|&id| is_enum(id))
                .collect()
        } else {
            let mut v = Vec::new();
            for id in self.ids_named(enum_name) {
                let id = if self.types[id as usize].kind() == KIND_TYPEDEF {
                    match self.skip_mods(id) {
                        Ok(target) => target,
                        Err(_) => continue,
                    }
                } else {
                    id
                };
                if is_enum(id) {
                    v.push(id);
                }
            }
            v
        };
        if candidates.is_empty() {
            return Err(BtfError::TypeNotFound {
                kind: "enum",
                name: enum_name.to_string(),
            });
        }
        for id in candidates {
            let t = self.types[id as usize];
            let signed = t.kind_flag();
            let stride = if t.kind() == KIND_ENUM { 8 } else { 12 };
            for i in 0..t.vlen() {
                let at = t.extra as usize + i * stride;
                if self.str_at(read_u32(&self.data, at)?)? != variant.as_bytes() {
                    continue;
                }
                let lo = read_u32(&self.data, at + 4)?;
                return Ok(if t.kind() == KIND_ENUM {
                    if signed {
                        i64::from(lo as i32)
                    } else {
                        i64::from(lo)
                    }
                } else {
                    let hi = read_u32(&self.data, at + 8)?;
                    ((u64::from(hi) << 32) | u64::from(lo)) as i64
                });
            }
        }
        Err(BtfError::EnumVariantNotFound {
            enum_name: enum_name.to_string(),
            variant: variant.to_string(),
        })
    }

    /// Whether a function (BTF_KIND_FUNC) named `name` exists, e.g. a
    /// kprobe/fentry target such as `unix_dgram_sendmsg`.
    pub fn has_func(&self, name: &str) -> bool {
        self.ids_named(name)
            .any(|id| self.types[id as usize].kind() == KIND_FUNC)
    }

    /// Whether a named type (int, struct, union, enum, forward declaration,
    /// typedef or float) called `name` exists, e.g. the tracepoint typedef
    /// `btf_trace_sock_send_length`.
    pub fn has_type(&self, name: &str) -> bool {
        self.ids_named(name).any(|id| {
            matches!(
                self.types[id as usize].kind(),
                KIND_INT
                    | KIND_STRUCT
                    | KIND_UNION
                    | KIND_ENUM
                    | KIND_ENUM64
                    | KIND_FWD
                    | KIND_TYPEDEF
                    | KIND_FLOAT
            )
        })
    }

    // ---- internals ----

    fn ids_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = u32> + 'a {
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

    fn get(&self, id: u32) -> Result<&TypeHdr, BtfError> {
        self.types.get(id as usize).ok_or_else(|| {
            malformed(format!(
                "reference to type #{id}, but there are only {} types",
                self.types.len()
            ))
        })
    }

    /// NUL-terminated string at `off` in the string section.
    fn str_at(&self, off: u32) -> Result<&[u8], BtfError> {
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

    fn display_name(&self, id: u32) -> String {
        match self.get(id).and_then(|t| self.str_at(t.name_off)) {
            Ok(n) if !n.is_empty() => String::from_utf8_lossy(n).into_owned(),
            _ => format!(
                "<anonymous {} #{id}>",
                self.get(id).map(|t| kind_name(t.kind())).unwrap_or("type")
            ),
        }
    }

    /// Follows typedef/volatile/const/restrict/type_tag to the real type.
    fn skip_mods(&self, mut id: u32) -> Result<u32, BtfError> {
        for _ in 0..MAX_CHAIN {
            let t = self.get(id)?;
            match t.kind() {
                KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = t.size_or_type
                }
                _ => return Ok(id),
            }
        }
        Err(malformed(format!(
            "typedef/modifier chain longer than {MAX_CHAIN} at type #{id} (cycle?)"
        )))
    }

    fn kind_after_mods(&self, id: u32) -> &'static str {
        self.skip_mods(id)
            .and_then(|id| self.get(id))
            .map(|t| kind_name(t.kind()))
            .unwrap_or("broken")
    }

    /// Byte size of a type, or `None` if it has none (void, func, fwd...).
    fn size_of(&self, id: u32, depth: usize) -> Result<Option<u64>, BtfError> {
        if depth > MAX_NESTING {
            return Err(malformed(format!(
                "arrays nested deeper than {MAX_NESTING} at type #{id}"
            )));
        }
        let id = self.skip_mods(id)?;
        let t = *self.get(id)?;
        Ok(match t.kind() {
            KIND_INT | KIND_STRUCT | KIND_UNION | KIND_ENUM | KIND_ENUM64 | KIND_FLOAT
            | KIND_DATASEC => Some(u64::from(t.size_or_type)),
            KIND_PTR => Some(POINTER_SIZE),
            KIND_ARRAY => {
                let elem = read_u32(&self.data, t.extra as usize)?;
                let nelems = read_u32(&self.data, t.extra as usize + 8)?;
                match self.size_of(elem, depth + 1)? {
                    Some(s) => Some(
                        s.checked_mul(u64::from(nelems))
                            .ok_or_else(|| malformed(format!("array type #{id} size overflows")))?,
                    ),
                    None => None,
                }
            }
            _ => None,
        })
    }

    /// Struct/union ids called `name`, directly or through a typedef.
    fn composites_named(&self, name: &str) -> Result<Vec<u32>, BtfError> {
        let mut direct = Vec::new();
        let mut via_typedef = Vec::new();
        for id in self.ids_named(name) {
            let t = self.types[id as usize];
            if t.is_composite() {
                direct.push(id);
            } else if t.kind() == KIND_TYPEDEF
                && let Ok(target) = self.skip_mods(id)
                && self.types[target as usize].is_composite()
            {
                via_typedef.push(target);
            }
        }
        direct.extend(via_typedef);
        if direct.is_empty() {
            return Err(BtfError::TypeNotFound {
                kind: "struct or union",
                name: name.to_string(),
            });
        }
        Ok(direct)
    }

    fn walk_path(&self, root: u32, struct_name: &str, path: &str) -> Result<MemberInfo, BtfError> {
        let mut container = root;
        let mut bit_offset: u64 = 0;
        let mut last: Option<Found> = None;
        let mut consumed = 0usize;
        for comp in path.split('.') {
            if let Some(prev) = &last {
                let target = self.skip_mods(prev.type_id)?;
                let t = self.get(target)?;
                if !t.is_composite() {
                    return Err(BtfError::NotAStruct {
                        struct_name: struct_name.to_string(),
                        prefix: path[..consumed - 1].to_string(),
                        kind: kind_name(t.kind()),
                    });
                }
                container = target;
            }
            let mut budget = MAX_MEMBER_VISITS;
            let found = self
                .find_member(container, comp.as_bytes(), 0, &mut budget)?
                .ok_or_else(|| BtfError::MemberNotFound {
                    struct_name: struct_name.to_string(),
                    path: path.to_string(),
                    container: self.display_name(container),
                    member: comp.to_string(),
                })?;
            bit_offset = bit_offset
                .checked_add(found.bit_offset)
                .ok_or_else(|| malformed("member offset overflows"))?;
            consumed += comp.len() + 1;
            last = Some(found);
        }
        let last = last.ok_or_else(|| BtfError::InvalidPath {
            path: path.to_string(),
        })?;
        Ok(MemberInfo {
            bit_offset,
            bitfield_bits: last.bitfield_bits,
            type_id: last.type_id,
        })
    }

    /// Finds member `name` of composite `id`, looking inside anonymous
    /// struct/union members. Offsets are relative to `id`.
    fn find_member(
        &self,
        id: u32,
        name: &[u8],
        depth: usize,
        budget: &mut usize,
    ) -> Result<Option<Found>, BtfError> {
        if depth > MAX_NESTING {
            return Err(malformed(format!(
                "anonymous members nested deeper than {MAX_NESTING} at type #{id} (cycle?)"
            )));
        }
        let t = *self.get(id)?;
        for i in 0..t.vlen() {
            *budget = budget.checked_sub(1).ok_or_else(|| {
                malformed("member lookup visits too many members (cyclic anonymous members?)")
            })?;
            let at = t.extra as usize + i * 12;
            let name_off = read_u32(&self.data, at)?;
            let type_id = read_u32(&self.data, at + 4)?;
            let raw_offset = read_u32(&self.data, at + 8)?;
            let (bit_offset, bits) = if t.kind_flag() {
                (u64::from(raw_offset & 0x00ff_ffff), raw_offset >> 24)
            } else {
                (u64::from(raw_offset), 0)
            };
            let member_name = self.str_at(name_off)?;
            if member_name.is_empty() {
                let inner = self.skip_mods(type_id)?;
                if self.get(inner)?.is_composite()
                    && let Some(mut f) = self.find_member(inner, name, depth + 1, budget)?
                {
                    f.bit_offset = f
                        .bit_offset
                        .checked_add(bit_offset)
                        .ok_or_else(|| malformed("member offset overflows"))?;
                    return Ok(Some(f));
                }
                continue;
            }
            if member_name != name {
                continue;
            }
            let mut found = Found {
                bit_offset,
                bitfield_bits: if bits != 0 { Some(bits) } else { None },
                type_id,
            };
            if !t.kind_flag() {
                // Legacy encoding: the bitfield width and extra bit offset
                // live in the INT type's encoding word.
                let int_id = self.skip_mods(type_id)?;
                let int_t = *self.get(int_id)?;
                if int_t.kind() == KIND_INT {
                    let enc = read_u32(&self.data, int_t.extra as usize)?;
                    let int_bits = enc & 0xff;
                    let int_offset = (enc >> 16) & 0xff;
                    if int_offset != 0 || u64::from(int_bits) != u64::from(int_t.size_or_type) * 8 {
                        found.bit_offset += u64::from(int_offset);
                        found.bitfield_bits = Some(int_bits);
                    }
                }
            }
            return Ok(Some(found));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use std::{process::Command, sync::OnceLock, time::Instant};

    use super::*;

    // ---------- synthetic BTF builder ----------

    struct Builder {
        strs: Vec<u8>,
        types: Vec<u8>,
        next_id: u32,
    }

    impl Builder {
        fn new() -> Self {
            Builder {
                strs: vec![0],
                types: Vec::new(),
                next_id: 1,
            }
        }
        fn s(&mut self, name: &str) -> u32 {
            if name.is_empty() {
                return 0;
            }
            let off = self.strs.len() as u32;
            self.strs.extend_from_slice(name.as_bytes());
            self.strs.push(0);
            off
        }
        fn raw(
            &mut self,
            name: &str,
            kind: u8,
            kflag: bool,
            vlen: u32,
            size_or_type: u32,
            extra: &[u32],
        ) -> u32 {
            let name_off = self.s(name);
            let info = (u32::from(kflag) << 31) | (u32::from(kind) << 24) | vlen;
            for w in [name_off, info, size_or_type].iter().chain(extra) {
                self.types.extend_from_slice(&w.to_le_bytes());
            }
            self.next_id += 1;
            self.next_id - 1
        }
        fn int(&mut self, name: &str, size: u32, bits: u32, offset: u32) -> u32 {
            self.raw(name, KIND_INT, false, 0, size, &[(offset << 16) | bits])
        }
        fn ptr(&mut self, to: u32) -> u32 {
            self.raw("", KIND_PTR, false, 0, to, &[])
        }
        fn array(&mut self, elem: u32, index: u32, n: u32) -> u32 {
            self.raw("", KIND_ARRAY, false, 0, 0, &[elem, index, n])
        }
        fn composite(
            &mut self,
            kind: u8,
            name: &str,
            size: u32,
            kflag: bool,
            members: &[(&str, u32, u32)],
        ) -> u32 {
            let mut extra = Vec::new();
            for &(n, ty, off) in members {
                extra.extend([self.s(n), ty, off]);
            }
            self.raw(name, kind, kflag, members.len() as u32, size, &extra)
        }
        fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
            self.composite(KIND_STRUCT, name, size, false, members)
        }
        fn union(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
            self.composite(KIND_UNION, name, size, false, members)
        }
        fn enum32(&mut self, name: &str, signed: bool, vals: &[(&str, i32)]) -> u32 {
            let mut extra = Vec::new();
            for &(n, v) in vals {
                extra.extend([self.s(n), v as u32]);
            }
            self.raw(name, KIND_ENUM, signed, vals.len() as u32, 4, &extra)
        }
        fn enum64(&mut self, name: &str, signed: bool, vals: &[(&str, u64)]) -> u32 {
            let mut extra = Vec::new();
            for &(n, v) in vals {
                extra.extend([self.s(n), v as u32, (v >> 32) as u32]);
            }
            self.raw(name, KIND_ENUM64, signed, vals.len() as u32, 8, &extra)
        }
        fn simple(&mut self, kind: u8, name: &str, to: u32) -> u32 {
            self.raw(name, kind, false, 0, to, &[])
        }
        fn build(&self) -> Vec<u8> {
            let mut out = Vec::new();
            out.extend_from_slice(&BTF_MAGIC.to_le_bytes());
            out.extend_from_slice(&[1, 0]);
            for w in [
                24u32,
                0,
                self.types.len() as u32,
                self.types.len() as u32,
                self.strs.len() as u32,
            ] {
                out.extend_from_slice(&w.to_le_bytes());
            }
            out.extend_from_slice(&self.types);
            out.extend_from_slice(&self.strs);
            out
        }
    }

    /// A blob with one type of every kind, an iov_iter-like layout with
    /// nested anonymous members, and kind_flag/legacy bitfields.
    fn synthetic() -> Vec<u8> {
        let mut b = Builder::new();
        let u8_t = b.int("unsigned char", 1, 8, 0); // 1
        let u32_t = b.int("unsigned int", 4, 32, 0); // 2
        let u64_t = b.int("long unsigned int", 8, 64, 0); // 3
        let size_t = b.simple(KIND_TYPEDEF, "size_t", u64_t); // 4
        let void_p = b.ptr(0); // 5
        let iovec_fwd = b.simple(KIND_FWD, "iovec", 0); // 6
        let iovec_p = b.ptr(iovec_fwd); // 7
        let c_iovec_p = b.simple(KIND_CONST, "", iovec_p); // 8
        // struct iovec_full { void *base; size_t len; } — 16 bytes
        let iovec_full = b.strukt(
            "iovec_full",
            16,
            &[("iov_base", void_p, 0), ("iov_len", size_t, 64)],
        );
        // union { const struct iovec *__iov; void *ubuf; }  (anonymous)
        let inner_union = b.union("", 8, &[("__iov", c_iovec_p, 0), ("ubuf", void_p, 0)]);
        // struct { union {...}; size_t count; }  (anonymous)
        let anon_struct = b.strukt("", 16, &[("", inner_union, 0), ("count", size_t, 64)]);
        // union { struct iovec_full __ubuf_iovec; struct {...}; } (anonymous), via a const
        let outer_union = b.union(
            "",
            16,
            &[("__ubuf_iovec", iovec_full, 0), ("", anon_struct, 0)],
        );
        let c_outer_union = b.simple(KIND_CONST, "", outer_union);
        // struct iov_iter { u8 iter_type; u8 nofault; size_t iov_offset; union {...}; u64 nr_segs; }
        let iov_iter_id = b.strukt(
            "iov_iter",
            40,
            &[
                ("iter_type", u8_t, 0),
                ("nofault", u8_t, 8),
                ("iov_offset", size_t, 64),
                ("", c_outer_union, 128),
                ("nr_segs", u64_t, 256),
            ],
        );
        // Intermediate types behind typedef + volatile + const:
        let td_iter = b.simple(KIND_TYPEDEF, "iov_iter_t", iov_iter_id);
        let vol_iter = b.simple(KIND_VOLATILE, "", td_iter);
        let const_iter = b.simple(KIND_CONST, "", vol_iter);
        let arr = b.array(u32_t, u32_t, 4);
        // struct msghdr-like with kind_flag bitfields
        let _msg = b.composite(
            KIND_STRUCT,
            "msg",
            0x4000,
            true,
            &[
                ("name", void_p, 0),
                ("iter", const_iter, 64),
                ("is_user", u8_t, (1 << 24) | (48 * 8)), // 1-bit bitfield at byte 48
                ("get_inq", u8_t, (1 << 24) | (48 * 8 + 1)), // 1-bit bitfield at bit 385
                ("wide", u32_t, (16 << 24) | (50 * 8)),  // 16-bit, byte aligned
                ("flags", u32_t, 52 * 8),                // normal member, kind_flag struct
                ("far", u64_t, 0x1000 * 8),              // offset needs > 8 bits, no bitfield
                ("arr", arr, 0x1008 * 8),
            ],
        );
        // Legacy (kind_flag = 0) bitfield: INT with 3 bits at int offset 2.
        let bits3 = b.int("unsigned int", 4, 3, 2);
        let _legacy = b.strukt("legacy", 8, &[("a", bits3, 0), ("b", u32_t, 32)]);
        // Union at top level with anonymous struct inside.
        let anon_in_u = b.strukt("", 8, &[("lo", u32_t, 0), ("hi", u32_t, 32)]);
        let _u = b.union("word", 8, &[("all", u64_t, 0), ("", anon_in_u, 0)]);
        let _td = b.simple(KIND_TYPEDEF, "word_t", _u); // typedef of union word
        // Enums.
        let _e = b.enum32(
            "iter_type",
            false,
            &[("ITER_UBUF", 0), ("ITER_IOVEC", 1), ("BIG", -1)],
        );
        let _es = b.enum32("signed_e", true, &[("NEG", -5)]);
        let _e64 = b.enum64("wide_e", false, &[("W40", 1 << 40), ("MAX", u64::MAX)]);
        let _anon_e = b.enum32("", false, &[("ANON_CONST", 77)]);
        // Remaining kinds, so that skipping each is exercised.
        let arg0 = b.s("arg0");
        let proto = b.raw(
            "",
            KIND_FUNC_PROTO,
            false,
            2,
            u32_t,
            &[arg0, u32_t, 0, void_p],
        );
        let _f = b.simple(KIND_FUNC, "unix_dgram_sendmsg", proto);
        let var = b.raw("some_var", KIND_VAR, false, 0, u32_t, &[1]);
        let _ds = b.raw(".data..percpu", KIND_DATASEC, false, 1, 4, &[var, 0, 4]);
        let _fl = b.raw("double", KIND_FLOAT, false, 0, 8, &[]);
        let _dt = b.raw("bpf_kfunc", KIND_DECL_TAG, false, 0, _f, &[u32::MAX]);
        let _tt = b.simple(KIND_TYPE_TAG, "rcu", void_p);
        let _r = b.simple(KIND_RESTRICT, "", void_p);
        let _tp = b.simple(KIND_TYPEDEF, "btf_trace_sk_data_ready", void_p);
        // Trailer: a struct after every other kind, to prove skipping worked.
        let _last = b.strukt("after_all_kinds", 4, &[("x", u32_t, 0)]);
        b.build()
    }

    #[test]
    fn synthetic_anonymous_members() {
        let btf = Btf::parse(&synthetic()).unwrap();
        assert_eq!(btf.member_offset("iov_iter", "iter_type").unwrap(), 0);
        assert_eq!(btf.member_offset("iov_iter", "nofault").unwrap(), 1);
        assert_eq!(btf.member_offset("iov_iter", "iov_offset").unwrap(), 8);
        assert_eq!(btf.member_offset("iov_iter", "__ubuf_iovec").unwrap(), 16);
        assert_eq!(btf.member_offset("iov_iter", "__iov").unwrap(), 16);
        assert_eq!(btf.member_offset("iov_iter", "ubuf").unwrap(), 16);
        assert_eq!(btf.member_offset("iov_iter", "count").unwrap(), 24);
        assert_eq!(btf.member_offset("iov_iter", "nr_segs").unwrap(), 32);
        assert_eq!(
            btf.member_offset("iov_iter", "__ubuf_iovec.iov_len")
                .unwrap(),
            24
        );
        assert_eq!(
            btf.member_offset_any("iov_iter", &["iov", "__iov"])
                .unwrap(),
            16
        );
        assert!(matches!(
            btf.member_offset_any("iov_iter", &["iov", "nope"]),
            Err(BtfError::NoMatchingPath { .. })
        ));
        assert_eq!(btf.member_size("iov_iter", "count").unwrap(), 8);
        assert_eq!(btf.member_size("iov_iter", "__iov").unwrap(), 8);
        assert_eq!(btf.member_size("iov_iter", "iter_type").unwrap(), 1);
        assert_eq!(btf.member_size("iov_iter", "__ubuf_iovec").unwrap(), 16);
        assert_eq!(btf.struct_size("iov_iter").unwrap(), 40);
        // Through typedef + volatile + const into a nested path.
        assert_eq!(btf.member_offset("msg", "iter").unwrap(), 8);
        assert_eq!(btf.member_offset("msg", "iter.count").unwrap(), 8 + 24);
        assert_eq!(btf.member_offset("msg", "iter.ubuf").unwrap(), 8 + 16);
        assert_eq!(btf.member_size("msg", "iter").unwrap(), 40);
        // Top-level union, anonymous struct inside, and via a typedef name.
        assert_eq!(btf.member_offset("word", "hi").unwrap(), 4);
        assert_eq!(btf.member_offset("word_t", "hi").unwrap(), 4);
        assert_eq!(btf.struct_size("word_t").unwrap(), 8);
        // Errors.
        assert!(matches!(
            btf.member_offset("msg", "name.x"),
            Err(BtfError::NotAStruct {
                kind: "pointer",
                ..
            })
        ));
        assert!(matches!(
            btf.member_offset("msg", "iter.nope"),
            Err(BtfError::MemberNotFound { .. })
        ));
        assert!(matches!(
            btf.member_offset("msg", "iter..count"),
            Err(BtfError::InvalidPath { .. })
        ));
        assert!(matches!(
            btf.member_offset("msg", ""),
            Err(BtfError::InvalidPath { .. })
        ));
        assert!(matches!(
            btf.member_offset("nope", "x"),
            Err(BtfError::TypeNotFound { .. })
        ));
        // A forward declaration is not a struct.
        assert!(matches!(
            btf.member_offset("iovec", "x"),
            Err(BtfError::TypeNotFound { .. })
        ));
        assert_eq!(btf.member_offset("after_all_kinds", "x").unwrap(), 0);
    }

    #[test]
    fn synthetic_bitfields() {
        let btf = Btf::parse(&synthetic()).unwrap();
        // kind_flag: high 8 bits are the bitfield size, low 24 the offset.
        assert_eq!(btf.member_offset("msg", "flags").unwrap(), 52);
        assert_eq!(btf.member_size("msg", "flags").unwrap(), 4);
        assert_eq!(btf.member_offset("msg", "far").unwrap(), 0x1000);
        assert_eq!(btf.member_offset("msg", "arr").unwrap(), 0x1008);
        assert_eq!(btf.member_size("msg", "arr").unwrap(), 16);
        let m = btf.member("msg", "is_user").unwrap();
        assert_eq!((m.bit_offset, m.bitfield_bits), (384, Some(1)));
        assert_eq!(btf.member_offset("msg", "is_user").unwrap(), 48); // byte aligned
        assert!(matches!(
            btf.member_size("msg", "is_user"),
            Err(BtfError::Bitfield { bits: 1, .. })
        ));
        assert!(matches!(
            btf.member_offset("msg", "get_inq"),
            Err(BtfError::Bitfield {
                bit_offset: 385,
                bits: 1,
                ..
            })
        ));
        assert_eq!(btf.member_offset("msg", "wide").unwrap(), 50);
        assert_eq!(btf.member_size("msg", "wide").unwrap(), 2);
        // Legacy encoding: bitfield described by the INT type.
        let m = btf.member("legacy", "a").unwrap();
        assert_eq!((m.bit_offset, m.bitfield_bits), (2, Some(3)));
        assert!(matches!(
            btf.member_offset("legacy", "a"),
            Err(BtfError::Bitfield { .. })
        ));
        assert_eq!(btf.member_offset("legacy", "b").unwrap(), 4);
        assert_eq!(btf.member("legacy", "b").unwrap().bitfield_bits, None);
    }

    #[test]
    fn synthetic_enums_funcs_types() {
        let btf = Btf::parse(&synthetic()).unwrap();
        assert_eq!(btf.enum_value("iter_type", "ITER_UBUF").unwrap(), 0);
        assert_eq!(btf.enum_value("iter_type", "ITER_IOVEC").unwrap(), 1);
        assert_eq!(btf.enum_value("iter_type", "BIG").unwrap(), 0xffff_ffff); // unsigned enum
        assert_eq!(btf.enum_value("signed_e", "NEG").unwrap(), -5);
        assert_eq!(btf.enum_value("wide_e", "W40").unwrap(), 1 << 40);
        assert_eq!(btf.enum_value("wide_e", "MAX").unwrap(), -1); // bit pattern kept
        assert_eq!(btf.enum_value("", "ANON_CONST").unwrap(), 77);
        assert!(matches!(
            btf.enum_value("iter_type", "NOPE"),
            Err(BtfError::EnumVariantNotFound { .. })
        ));
        assert!(matches!(
            btf.enum_value("nope", "X"),
            Err(BtfError::TypeNotFound { .. })
        ));
        assert!(btf.has_func("unix_dgram_sendmsg"));
        assert!(!btf.has_func("iov_iter"));
        assert!(!btf.has_type("unix_dgram_sendmsg"));
        assert!(btf.has_type("btf_trace_sk_data_ready"));
        assert!(btf.has_type("iovec")); // forward declaration
        assert!(btf.has_type("double"));
        assert!(!btf.has_type("bpf_kfunc")); // decl tag
        assert!(!btf.has_type("some_var"));
        assert!(!btf.has_type("nope"));
    }

    #[test]
    fn header_errors() {
        let good = synthetic();
        let mut be = good.clone();
        be.swap(0, 1);
        assert!(matches!(Btf::parse(&be), Err(BtfError::BigEndian)));
        assert!(matches!(
            Btf::parse(b"\x7fELF0123456789abcdefghijklmnop"),
            Err(BtfError::BadMagic { .. })
        ));
        let mut v2 = good.clone();
        v2[2] = 2;
        assert!(matches!(
            Btf::parse(&v2),
            Err(BtfError::UnsupportedVersion { version: 2 })
        ));
        assert!(matches!(
            Btf::parse(&good[..10]),
            Err(BtfError::Malformed { .. })
        ));
        let mut unknown = good.clone();
        unknown[24 + 7] = 25; // first type's kind byte
        assert!(matches!(
            Btf::parse(&unknown),
            Err(BtfError::UnknownKind {
                type_id: 1,
                kind: 25
            })
        ));
        // Messages are single lines.
        for e in [
            Btf::parse(&be).unwrap_err(),
            Btf::parse(&good[..30]).unwrap_err(),
        ] {
            assert!(!e.to_string().contains('\n'));
        }
        let e = BtfError::NoKernelBtf {
            path: VMLINUX_BTF_PATH.into(),
        };
        assert!(e.to_string().contains("CONFIG_DEBUG_INFO_BTF=y"));
    }

    #[test]
    fn cycles_are_errors_not_hangs() {
        let mut b = Builder::new();
        let u32_t = b.int("int", 4, 32, 0); // 1
        // typedef loop: 2 -> 3 -> 2
        b.simple(KIND_TYPEDEF, "loop_a", 3); // 2
        b.simple(KIND_TYPEDEF, "loop_b", 2); // 3
        b.strukt("has_loop", 8, &[("l", 2, 0), ("x", u32_t, 32)]); // 4
        // A struct that contains itself anonymously, twice.
        b.strukt("selfish", 8, &[("", 5, 0), ("", 5, 0), ("y", u32_t, 0)]); // 5
        // Array of itself: size recursion.
        b.array(6, u32_t, 2); // 6
        b.strukt("arr_loop", 8, &[("a", 6, 0)]); // 7
        // Dangling type id.
        b.strukt("dangling", 8, &[("d", 9999, 0)]); // 8
        let btf = Btf::parse(&b.build()).unwrap();
        assert!(matches!(
            btf.member_offset("has_loop", "l.x"),
            Err(BtfError::Malformed { .. })
        ));
        assert!(matches!(
            btf.member_size("has_loop", "l"),
            Err(BtfError::Malformed { .. })
        ));
        assert_eq!(btf.member_offset("has_loop", "x").unwrap(), 4);
        assert!(matches!(
            btf.member_offset("selfish", "zzz"),
            Err(BtfError::Malformed { .. })
        ));
        assert!(matches!(
            btf.member_size("arr_loop", "a"),
            Err(BtfError::Malformed { .. })
        ));
        assert!(matches!(
            btf.member_size("dangling", "d"),
            Err(BtfError::Malformed { .. })
        ));
        assert!(matches!(
            btf.member_offset("dangling", "d.x"),
            Err(BtfError::Malformed { .. })
        ));
    }

    /// Runs every query on whatever parsed; must never panic.
    fn exercise(btf: &Btf) {
        let names: Vec<String> = btf
            .types
            .iter()
            .filter_map(|t| btf.str_at(t.name_off).ok())
            .filter(|n| !n.is_empty())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        for n in names.iter().take(200) {
            let _ = btf.struct_size(n);
            let _ = btf.has_func(n);
            let _ = btf.has_type(n);
            let _ = btf.enum_value(n, "ITER_UBUF");
            for m in [
                "iter_type",
                "count",
                "iter.count",
                "a",
                "x",
                "l.x",
                "hi",
                "arr",
                "is_user",
                "get_inq",
            ] {
                let _ = btf.member_offset(n, m);
                let _ = btf.member_size(n, m);
            }
        }
        let _ = btf.enum_value("", "ANON_CONST");
    }

    #[test]
    fn malformed_input_never_panics() {
        let good = synthetic();
        // Every truncation.
        for len in 0..good.len() {
            if let Ok(btf) = Btf::parse(&good[..len]) {
                exercise(&btf);
            }
        }
        // Random byte mutations (xorshift, deterministic).
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut parsed = 0;
        let rounds = if cfg!(debug_assertions) { 1000 } else { 5000 };
        for _ in 0..rounds {
            let mut m = good.clone();
            for _ in 0..1 + rnd() % 4 {
                let i = (rnd() as usize) % m.len();
                m[i] = rnd() as u8;
            }
            if let Ok(btf) = Btf::parse(&m) {
                parsed += 1;
                exercise(&btf);
            }
        }
        assert!(parsed > 0, "mutations should sometimes still parse");
        // Pure garbage after a valid-looking header.
        for _ in 0..500 {
            let len = 24 + (rnd() as usize) % 300;
            let mut g: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
            g[0..4].copy_from_slice(&[0x9f, 0xeb, 1, 0]);
            g[4..8].copy_from_slice(&24u32.to_le_bytes());
            if let Ok(btf) = Btf::parse(&g) {
                exercise(&btf);
            }
        }
        // Header fields that overflow when added.
        let mut h = good.clone();
        h[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(Btf::parse(&h), Err(BtfError::Malformed { .. })));
    }

    // ---------- against the running kernel ----------

    fn kernel() -> Option<&'static Btf> {
        static BTF: OnceLock<Option<Btf>> = OnceLock::new();
        BTF.get_or_init(|| {
            if !std::path::Path::new(VMLINUX_BTF_PATH).exists() {
                eprintln!("skipping kernel BTF tests: {VMLINUX_BTF_PATH} is absent");
                return None;
            }
            Some(Btf::from_sys_fs().expect("parse kernel BTF"))
        })
        .as_ref()
    }

    /// Layouts printed by one `pahole -C a,b,c` run, keyed by struct name;
    /// `None` if pahole is not installed.
    fn pahole_layouts(structs: &[&str]) -> Option<HashMap<String, String>> {
        let out = Command::new("pahole")
            .args(["-C", &structs.join(","), VMLINUX_BTF_PATH])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        let mut layouts = HashMap::new();
        let mut current: Option<(String, String)> = None;
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some(rest) = line.strip_prefix("struct ").or(line.strip_prefix("union "))
                && let Some(name) = rest.strip_suffix(" {")
            {
                if let Some((n, body)) = current.take() {
                    layouts.insert(n, body);
                }
                current = Some((name.to_string(), String::new()));
            } else if let Some((_, body)) = current.as_mut() {
                body.push_str(line);
                body.push('\n');
            }
        }
        if let Some((n, body)) = current {
            layouts.insert(n, body);
        }
        Some(layouts)
    }

    /// Offset of `member` in a pahole layout. pahole prints members of
    /// anonymous structs/unions with offsets from the start of the outer
    /// struct, so a plain name match is enough.
    fn pahole_offset(layout: &str, member: &str) -> Option<u64> {
        for line in layout.lines() {
            let Some((decl, comment)) = line.split_once("/*") else {
                continue;
            };
            let Some(decl) = decl.trim_end().strip_suffix(';') else {
                continue;
            };
            let decl = decl.split(" __attribute__").next().unwrap_or(decl);
            let decl = decl.split('[').next().unwrap_or(decl);
            let decl = decl.split(':').next().unwrap_or(decl);
            let name = if let Some(fp) = decl.split_once("(*") {
                fp.1.split(')').next().unwrap_or("")
            } else {
                decl.rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("")
            };
            if name == member {
                let num = comment
                    .trim_start()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()?;
                return num.parse().ok();
            }
        }
        None
    }

    /// (label, struct, candidate paths, pahole steps whose offsets add up).
    type Case = (
        &'static str,
        &'static str,
        &'static [&'static str],
        &'static [(&'static str, &'static str)],
    );
    const CASES: &[Case] = &[
        (
            "task_struct.files",
            "task_struct",
            &["files"],
            &[("task_struct", "files")],
        ),
        (
            "files_struct.fdt",
            "files_struct",
            &["fdt"],
            &[("files_struct", "fdt")],
        ),
        ("fdtable.fd", "fdtable", &["fd"], &[("fdtable", "fd")]),
        (
            "fdtable.max_fds",
            "fdtable",
            &["max_fds"],
            &[("fdtable", "max_fds")],
        ),
        (
            "file.private_data",
            "file",
            &["private_data"],
            &[("file", "private_data")],
        ),
        ("socket.sk", "socket", &["sk"], &[("socket", "sk")]),
        ("socket.file", "socket", &["file"], &[("socket", "file")]),
        (
            "sock.__sk_common.skc_family",
            "sock",
            &["__sk_common.skc_family"],
            &[("sock", "__sk_common"), ("sock_common", "skc_family")],
        ),
        ("sock.sk_type", "sock", &["sk_type"], &[("sock", "sk_type")]),
        (
            "sock.sk_socket",
            "sock",
            &["sk_socket"],
            &[("sock", "sk_socket")],
        ),
        (
            "unix_sock.peer",
            "unix_sock",
            &["peer"],
            &[("unix_sock", "peer")],
        ),
        (
            "unix_sock.addr",
            "unix_sock",
            &["addr"],
            &[("unix_sock", "addr")],
        ),
        (
            "unix_sock.path.dentry",
            "unix_sock",
            &["path.dentry"],
            &[("unix_sock", "path"), ("path", "dentry")],
        ),
        (
            "dentry.d_inode",
            "dentry",
            &["d_inode"],
            &[("dentry", "d_inode")],
        ),
        ("inode.i_ino", "inode", &["i_ino"], &[("inode", "i_ino")]),
        ("inode.i_sb", "inode", &["i_sb"], &[("inode", "i_sb")]),
        (
            "super_block.s_dev",
            "super_block",
            &["s_dev"],
            &[("super_block", "s_dev")],
        ),
        (
            "unix_address.len",
            "unix_address",
            &["len"],
            &[("unix_address", "len")],
        ),
        (
            "unix_address.name",
            "unix_address",
            &["name"],
            &[("unix_address", "name")],
        ),
        (
            "msghdr.msg_name",
            "msghdr",
            &["msg_name"],
            &[("msghdr", "msg_name")],
        ),
        (
            "msghdr.msg_namelen",
            "msghdr",
            &["msg_namelen"],
            &[("msghdr", "msg_namelen")],
        ),
        (
            "msghdr.msg_iter",
            "msghdr",
            &["msg_iter"],
            &[("msghdr", "msg_iter")],
        ),
        (
            "msghdr.msg_control",
            "msghdr",
            &["msg_control"],
            &[("msghdr", "msg_control")],
        ),
        (
            "msghdr.msg_controllen",
            "msghdr",
            &["msg_controllen"],
            &[("msghdr", "msg_controllen")],
        ),
        (
            "iov_iter.iter_type",
            "iov_iter",
            &["iter_type"],
            &[("iov_iter", "iter_type")],
        ),
        (
            "iov_iter.count",
            "iov_iter",
            &["count"],
            &[("iov_iter", "count")],
        ),
        (
            "iov_iter.nr_segs",
            "iov_iter",
            &["nr_segs"],
            &[("iov_iter", "nr_segs")],
        ),
        (
            "iov_iter.iov_offset",
            "iov_iter",
            &["iov_offset"],
            &[("iov_iter", "iov_offset")],
        ),
        (
            "iov_iter.__iov|iov",
            "iov_iter",
            &["__iov", "iov"],
            &[("iov_iter", "__iov|iov")],
        ),
        (
            "iov_iter.ubuf",
            "iov_iter",
            &["ubuf"],
            &[("iov_iter", "ubuf")],
        ),
        (
            "socket_alloc.vfs_inode",
            "socket_alloc",
            &["vfs_inode"],
            &[("socket_alloc", "vfs_inode")],
        ),
    ];

    #[test]
    fn kernel_offsets_match_pahole() {
        let Some(btf) = kernel() else { return };
        let mut structs: Vec<&str> = CASES
            .iter()
            .flat_map(|c| c.3.iter().map(|step| step.0))
            .collect();
        structs.sort_unstable();
        structs.dedup();
        let layouts = pahole_layouts(&structs).filter(|l| !l.is_empty());
        if layouts.is_none() {
            eprintln!(
                "pahole missing or unable to read {VMLINUX_BTF_PATH}: checking consistency only \
                 (apt-get install dwarves)"
            );
        }
        eprintln!(
            "{:<32} {:>6} {:>6} {:>6}",
            "member", "btf.rs", "size", "pahole"
        );
        for &(label, strukt, paths, steps) in CASES {
            let off = btf
                .member_offset_any(strukt, paths)
                .unwrap_or_else(|e| panic!("{label}: {e}"));
            let size = btf
                .member_size(strukt, paths[0])
                .map(|s| s.to_string())
                .unwrap_or_else(|e| e.to_string());
            let expect = layouts.as_ref().map(|layouts| {
                let mut sum = 0;
                for &(s, members) in steps {
                    let layout = layouts
                        .get(s)
                        .unwrap_or_else(|| panic!("pahole printed no layout for {s}"));
                    sum += members
                        .split('|')
                        .find_map(|m| pahole_offset(layout, m))
                        .unwrap_or_else(|| panic!("pahole shows no {s}.{members}"));
                }
                sum
            });
            eprintln!(
                "{label:<32} {off:>6} {size:>6} {:>6}",
                expect.map(|e| e.to_string()).unwrap_or("-".into())
            );
            if let Some(expect) = expect {
                assert_eq!(u64::from(off), expect, "{label}: btf.rs vs pahole");
            }
        }
    }

    #[test]
    fn kernel_relationships() {
        let Some(btf) = kernel() else { return };
        let off = |s: &str, p: &str| btf.member_offset(s, p).unwrap_or_else(|e| panic!("{e}"));
        let size = |s: &str, p: &str| btf.member_size(s, p).unwrap_or_else(|e| panic!("{e}"));
        // Nested paths are sums of single steps.
        assert_eq!(
            off("sock", "__sk_common.skc_family"),
            off("sock", "__sk_common") + off("sock_common", "skc_family")
        );
        assert_eq!(
            off("unix_sock", "path.dentry"),
            off("unix_sock", "path") + off("path", "dentry")
        );
        assert_eq!(
            off("msghdr", "msg_iter.count"),
            off("msghdr", "msg_iter") + off("iov_iter", "count")
        );
        // sock_common is first in sock; skc_family is reachable through it.
        assert_eq!(off("sock", "__sk_common"), 0);
        // ubuf and __iov share a union; count follows that 8-byte union.
        let iov = btf
            .member_offset_any("iov_iter", &["__iov", "iov"])
            .unwrap();
        if let Ok(ubuf) = btf.member_offset("iov_iter", "ubuf") {
            assert_eq!(ubuf, iov);
        }
        assert_eq!(off("iov_iter", "count"), iov + 8);
        // Sizes.
        for (s, p, n) in [
            ("task_struct", "files", 8),
            ("files_struct", "fdt", 8),
            ("fdtable", "fd", 8),
            ("fdtable", "max_fds", 4),
            ("file", "private_data", 8),
            ("socket", "sk", 8),
            ("sock", "__sk_common.skc_family", 2),
            ("sock", "sk_socket", 8),
            ("unix_sock", "path.dentry", 8),
            ("unix_sock", "path", 16),
            ("inode", "i_ino", 8),
            ("super_block", "s_dev", 4),
            ("unix_address", "len", 4),
            ("unix_address", "name", 0), // flexible array
            ("msghdr", "msg_namelen", 4),
            ("msghdr", "msg_controllen", 8),
            ("iov_iter", "iter_type", 1),
            ("iov_iter", "count", 8),
            ("iov_iter", "__iov", 8),
        ] {
            assert_eq!(size(s, p), n, "size of {s}.{p}");
        }
        assert_eq!(
            btf.member_size("msghdr", "msg_iter").unwrap(),
            btf.struct_size("iov_iter").unwrap()
        );
        assert_eq!(
            btf.member_size("socket_alloc", "vfs_inode").unwrap(),
            btf.struct_size("inode").unwrap()
        );
        assert!(
            off("socket_alloc", "vfs_inode") + btf.struct_size("inode").unwrap()
                <= btf.struct_size("socket_alloc").unwrap()
        );
        assert_eq!(off("socket_alloc", "socket"), 0);
        // Bitfields in msghdr (kind_flag struct): non-aligned is an error.
        assert!(matches!(
            btf.member_offset("msghdr", "msg_get_inq"),
            Err(BtfError::Bitfield { .. })
        ));
        assert!(off("msghdr", "msg_flags") > off("msghdr", "msg_control"));
        // Paths do not follow pointers.
        assert!(matches!(
            btf.member_offset("unix_sock", "peer.sk_type"),
            Err(BtfError::NotAStruct { .. })
        ));
        // Enums, functions and tracepoint typedefs.
        assert_eq!(btf.enum_value("iter_type", "ITER_UBUF").unwrap(), 0);
        assert_eq!(btf.enum_value("iter_type", "ITER_IOVEC").unwrap(), 1);
        assert!(btf.enum_value("", "ITER_UBUF").is_ok());
        assert!(btf.has_func("unix_dgram_sendmsg"));
        assert!(btf.has_func("sock_def_readable"));
        assert!(!btf.has_func("definitely_not_a_kernel_function"));
        assert!(btf.has_type("btf_trace_sock_send_length"));
        assert!(btf.has_type("btf_trace_sk_data_ready"));
        assert!(btf.has_type("task_struct"));
        assert!(!btf.has_type("unix_dgram_sendmsg"));
    }

    #[test]
    fn kernel_every_member_resolves() {
        let Some(btf) = kernel() else { return };
        // Every named member of every uniquely named struct/union (including
        // members of anonymous sub-structs) resolves, fits in its parent and
        // agrees with the raw offset walk.
        let mut checked = 0usize;
        for &v in btf.names.values() {
            if v & DUPLICATE_BIT != 0 {
                continue;
            }
            let t = btf.types[v as usize];
            if !t.is_composite() {
                continue;
            }
            let sname = String::from_utf8_lossy(btf.str_at(t.name_off).unwrap()).into_owned();
            let mut stack = vec![(v, 0u64)];
            while let Some((id, base)) = stack.pop() {
                let ct = btf.types[id as usize];
                for i in 0..ct.vlen() {
                    let at = ct.extra as usize + i * 12;
                    let name = btf.str_at(read_u32(&btf.data, at).unwrap()).unwrap();
                    let ty = read_u32(&btf.data, at + 4).unwrap();
                    let raw = read_u32(&btf.data, at + 8).unwrap();
                    let bit = base + u64::from(if ct.kind_flag() { raw & 0xff_ffff } else { raw });
                    if name.is_empty() {
                        let inner = btf.skip_mods(ty).unwrap();
                        if btf.types[inner as usize].is_composite() {
                            stack.push((inner, bit));
                        }
                        continue;
                    }
                    let mname = std::str::from_utf8(name).unwrap();
                    let m = btf.member(&sname, mname).unwrap_or_else(|e| panic!("{e}"));
                    assert_eq!(m.bit_offset, bit, "{sname}.{mname}");
                    if m.bitfield_bits.is_none() {
                        let off = btf.member_offset(&sname, mname).unwrap();
                        if let Ok(sz) = btf.member_size(&sname, mname) {
                            assert!(off + sz <= t.size_or_type, "{sname}.{mname} overflows");
                        }
                    }
                    checked += 1;
                }
            }
        }
        eprintln!("checked {checked} members");
        assert!(checked > 50_000);
    }

    #[test]
    fn kernel_truncated_is_error() {
        let Ok(data) = std::fs::read(VMLINUX_BTF_PATH) else {
            eprintln!("skipping: {VMLINUX_BTF_PATH} is absent");
            return;
        };
        for cut in [
            0,
            1,
            23,
            24,
            100,
            data.len() / 3,
            data.len() / 2,
            data.len() - 1,
        ] {
            assert!(Btf::parse(&data[..cut]).is_err(), "cut at {cut}");
        }
        let mut garbage = data.clone();
        garbage[24..4096].fill(0xff);
        assert!(Btf::parse(&garbage).is_err());
        // Corrupt the member records (names, type ids, offsets) of the
        // structs we look up, and of their anonymous sub-structs and member
        // types, keeping the type headers intact so that the blob still
        // parses: lookups may fail but must not panic or hang.
        let btf = Btf::parse(&data).unwrap();
        let mut targets: Vec<usize> = Vec::new();
        let mut stack: Vec<u32> = CASES
            .iter()
            .flat_map(|c| btf.composites_named(c.1).unwrap())
            .collect();
        let mut seen = std::collections::HashSet::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let t = btf.types[id as usize];
            targets.extend(t.extra as usize - 4..t.extra as usize); // size
            if t.is_composite() {
                for i in 0..t.vlen() {
                    let at = t.extra as usize + i * 12;
                    targets.extend(at..at + 12);
                    stack.push(read_u32(&data, at + 4).unwrap());
                }
            } else if matches!(t.kind(), KIND_TYPEDEF | KIND_CONST | KIND_VOLATILE) {
                stack.push(t.size_or_type);
            }
        }
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for round in 0..if cfg!(debug_assertions) { 6 } else { 20 } {
            let mut m = data.clone();
            for _ in 0..1 + round * 5 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = targets[(state as usize) % targets.len()];
                m[i] = (state >> 32) as u8;
            }
            let btf = Btf::parse(&m).expect("member records are not checked at parse time");
            for &(_, strukt, paths, _) in CASES {
                let _ = btf.member_offset_any(strukt, paths);
                let _ = btf.member_size(strukt, paths[0]);
                let _ = btf.struct_size(strukt);
            }
            let _ = btf.enum_value("", "ITER_UBUF");
        }
    }

    #[test]
    fn kernel_parse_time() {
        if !std::path::Path::new(VMLINUX_BTF_PATH).exists() {
            eprintln!("skipping: {VMLINUX_BTF_PATH} is absent");
            return;
        }
        let data = std::fs::read(VMLINUX_BTF_PATH).unwrap();
        let mut best = u128::MAX;
        for _ in 0..if cfg!(debug_assertions) { 3 } else { 20 } {
            let t = Instant::now();
            let btf = Btf::parse(&data).unwrap();
            best = best.min(t.elapsed().as_micros());
            assert!(btf.type_count() > 1000);
        }
        let t = Instant::now();
        let btf = Btf::from_sys_fs().unwrap();
        let with_read = t.elapsed().as_micros();
        let t = Instant::now();
        for _ in 0..1000 {
            btf.member_offset("unix_sock", "path.dentry").unwrap();
        }
        let lookup = t.elapsed().as_nanos() / 1000;
        eprintln!(
            "parse of {} bytes / {} types: best {best} us (parse only), {with_read} us with read from sysfs; lookup {lookup} ns",
            data.len(),
            btf.type_count()
        );
    }
}

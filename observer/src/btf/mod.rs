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
//!
//! Layout: this file holds the format's constants and the `Btf` and `TypeHdr` types; `parse`
//! reads a blob into them, `names` is the name index, `lookup` answers the queries (member
//! offsets and sizes, enum values, whether a type or function exists), `error` says what went
//! wrong.

mod error;
mod lookup;
mod names;
mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

pub use self::error::BtfError;
use self::{error::malformed, names::NameMap};

/// Where the running kernel exposes its own BTF.
pub const VMLINUX_BTF_PATH: &str = "/sys/kernel/btf/vmlinux";

const BTF_MAGIC: u16 = 0xEB9F;

const BTF_MAGIC_SWAPPED: u16 = 0x9FEB;

const HEADER_LEN: usize = 24;

const TYPE_HEADER_LEN: usize = 12;

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

fn read_u32(data: &[u8], off: usize) -> Result<u32, BtfError> {
    off.checked_add(4)
        .and_then(|end| data.get(off..end))
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| malformed(format!("read of 4 bytes at offset {off} is past the end")))
}

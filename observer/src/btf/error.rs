//! What can go wrong reading BTF or looking things up in it, each a one-line message that says
//! what to check or do.

use std::fmt;

use super::VMLINUX_BTF_PATH;

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

pub(super) fn malformed(reason: impl Into<String>) -> BtfError {
    BtfError::Malformed {
        reason: reason.into(),
    }
}

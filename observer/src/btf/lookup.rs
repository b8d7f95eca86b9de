//! The queries the eBPF loader asks: member offsets and sizes along a dotted path (through
//! anonymous members and typedefs, never through pointers), struct sizes, enum values, and
//! whether a function or type exists.

use super::{
    Btf, BtfError, KIND_ARRAY, KIND_CONST, KIND_DATASEC, KIND_ENUM, KIND_ENUM64, KIND_FLOAT,
    KIND_FUNC, KIND_FWD, KIND_INT, KIND_PTR, KIND_RESTRICT, KIND_STRUCT, KIND_TYPE_TAG,
    KIND_TYPEDEF, KIND_UNION, KIND_VOLATILE, kind_name, malformed, read_u32,
};

/// Pointer size; BTF does not record it and we only target 64-bit kernels.
const POINTER_SIZE: u64 = 8;

/// Longest typedef/modifier chain we follow before calling it a cycle.
const MAX_CHAIN: usize = 64;

/// Deepest nesting of anonymous members or arrays we follow.
const MAX_NESTING: usize = 32;

/// Most members one lookup may visit (guards against crafted blowups).
const MAX_MEMBER_VISITS: usize = 1 << 20;

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

/// A member found by [`Btf::find_member`], offsets relative to the
/// composite type that was searched.
struct Found {
    bit_offset: u64,
    bitfield_bits: Option<u32>,
    type_id: u32,
}

impl Btf {
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
    pub(super) fn skip_mods(&self, mut id: u32) -> Result<u32, BtfError> {
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
    pub(super) fn composites_named(&self, name: &str) -> Result<Vec<u32>, BtfError> {
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

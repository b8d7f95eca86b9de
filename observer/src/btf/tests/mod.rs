//! Tests of the BTF reader: on synthetic blobs built here (`Builder`), and against the running
//! kernel's BTF, checked with pahole.

mod running_kernel;
mod synthetic_btf;

use super::*;

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

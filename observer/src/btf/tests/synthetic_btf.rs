//! Lookups on synthetic blobs with every kind, anonymous members and both bitfield encodings;
//! header errors, cycles, and malformed input that must never panic.

use super::*;

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

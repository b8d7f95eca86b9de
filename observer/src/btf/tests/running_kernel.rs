//! Against the running kernel's BTF: the offsets the eBPF programs need match pahole's, every
//! member resolves, a truncated copy is an error, and parsing is fast enough.

use std::{collections::HashMap, process::Command, sync::OnceLock, time::Instant};

use super::*;
use crate::btf::names::DUPLICATE_BIT;

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

//! Kernel struct offsets for the eBPF programs, read from the running kernel's BTF. Field names
//! that changed across kernels are looked up under each name they have had.

use anyhow::{Context as _, bail};
use observer_common::Offsets;

use crate::btf::Btf;

/// Marks an offset the running kernel does not have (only the fentry strategy needs those).
pub const ABSENT: u32 = u32::MAX;

/// Every offset the kernel side reads. Those only the fentry strategy uses (msghdr, iov_iter)
/// are `ABSENT` when this kernel lacks them; see [`fentry_ready`].
pub fn read(btf: &Btf) -> anyhow::Result<Offsets> {
    read_all(btf).context("reading kernel struct offsets from BTF")
}

/// Whether the fentry strategy has every offset it needs.
pub fn fentry_ready(o: &Offsets) -> anyhow::Result<()> {
    let needed = [
        o.msghdr_name,
        o.msghdr_namelen,
        o.msghdr_iter,
        o.msghdr_control,
        o.msghdr_controllen,
        o.iter_type,
        o.iter_count,
        o.iter_iov,
        o.iter_nr_segs,
        o.iter_iov_offset,
        o.iter_type_ubuf,
        o.iter_type_iovec,
    ];
    if needed.contains(&ABSENT) {
        bail!("this kernel's struct msghdr / iov_iter layout is not one the fentry strategy knows");
    }
    Ok(())
}

/// Whether the tracepoint strategy can read a send's arguments from the syscall registers
/// (x86_64's `struct pt_regs`), instead of recording them at every syscall entry.
pub fn syscall_regs_ready(o: &Offsets) -> bool {
    ![
        o.regs_orig_ax,
        o.regs_di,
        o.regs_si,
        o.regs_dx,
        o.regs_r8,
        o.regs_r9,
    ]
    .contains(&ABSENT)
}

/// Fields the kernel programs read with a fixed width: a kernel whose field has another size
/// would be misread, so refuse it instead.
const FIXED_WIDTHS: &[(&str, &str, u32)] = &[
    ("fdtable", "max_fds", 4),
    ("sock", "__sk_common.skc_family", 2),
    ("sock", "sk_type", 2),
    ("unix_address", "len", 4),
    ("inode", "i_ino", 8),
    ("super_block", "s_dev", 4),
    ("pid", "level", 4),
    ("upid", "nr", 4),
    ("pid_namespace", "ns.inum", 4),
];

fn read_all(btf: &Btf) -> anyhow::Result<Offsets> {
    for (s, field, width) in FIXED_WIDTHS {
        let size = btf.member_size(s, field)?;
        anyhow::ensure!(
            size == *width,
            "{s}.{field} is {size} bytes on this kernel, not {width}"
        );
    }
    let m = |s: &str, p: &str| btf.member_offset(s, p);
    let any = |s: &str, ps: &[&str]| btf.member_offset_any(s, ps);
    let socket_alloc_socket = m("socket_alloc", "socket")?;
    let socket_alloc_inode = m("socket_alloc", "vfs_inode")?;
    // Only the fentry strategy reads these; a kernel without them still runs the other one.
    let opt = |s: &str, ps: &[&str]| any(s, ps).unwrap_or(ABSENT);
    let mut iter_iov = opt("iov_iter", &["__iov", "iov"]);
    if opt("iov_iter", &["ubuf"]) != iter_iov {
        // ubuf and the iovec pointer share a union in every kernel we know; if a kernel splits
        // them, reading one for the other would be wrong: leave fentry out.
        iter_iov = ABSENT;
    }
    let enum_val = |e: &str, v: &str| btf.enum_value(e, v).map(|v| v as u32).unwrap_or(ABSENT);
    Ok(Offsets {
        task_files: m("task_struct", "files")?,
        files_fdt: m("files_struct", "fdt")?,
        fdtable_max_fds: m("fdtable", "max_fds")?,
        fdtable_fd: m("fdtable", "fd")?,
        file_private_data: m("file", "private_data")?,
        socket_file: m("socket", "file")?,
        socket_sk: m("socket", "sk")?,
        sk_family: m("sock", "__sk_common.skc_family")?,
        sk_type: m("sock", "sk_type")?,
        sk_socket: m("sock", "sk_socket")?,
        unix_peer: m("unix_sock", "peer")?,
        unix_addr: m("unix_sock", "addr")?,
        unix_addr_len: m("unix_address", "len")?,
        unix_addr_name: m("unix_address", "name")?,
        unix_path_dentry: m("unix_sock", "path.dentry")?,
        skb_len: m("sk_buff", "len")?,
        dentry_inode: m("dentry", "d_inode")?,
        inode_ino: m("inode", "i_ino")?,
        inode_sb: m("inode", "i_sb")?,
        sb_dev: m("super_block", "s_dev")?,
        socket_to_inode: socket_alloc_inode - socket_alloc_socket,
        msghdr_name: opt("msghdr", &["msg_name"]),
        msghdr_namelen: opt("msghdr", &["msg_namelen"]),
        msghdr_iter: opt("msghdr", &["msg_iter"]),
        msghdr_control: opt("msghdr", &["msg_control"]),
        msghdr_controllen: opt("msghdr", &["msg_controllen"]),
        iter_type: opt("iov_iter", &["iter_type"]),
        iter_count: opt("iov_iter", &["count"]),
        iter_iov,
        iter_nr_segs: opt("iov_iter", &["nr_segs"]),
        iter_iov_offset: opt("iov_iter", &["iov_offset"]),
        iter_type_ubuf: enum_val("iter_type", "ITER_UBUF"),
        iter_type_iovec: enum_val("iter_type", "ITER_IOVEC"),
        task_group_leader: m("task_struct", "group_leader")?,
        task_thread_pid: m("task_struct", "thread_pid")?,
        pid_level: m("pid", "level")?,
        pid_numbers: m("pid", "numbers")?,
        upid_size: btf.struct_size("upid")?,
        upid_nr: m("upid", "nr")?,
        upid_ns: m("upid", "ns")?,
        pidns_inum: m("pid_namespace", "ns.inum")?,
        task_cgroups: m("task_struct", "cgroups")?,
        css_set_dfl_cgrp: m("css_set", "dfl_cgrp")?,
        cgroup_kn: m("cgroup", "kn")?,
        kn_name: m("kernfs_node", "name")?,
        kn_parent: any("kernfs_node", &["__parent", "parent"])?,
        regs_orig_ax: opt("pt_regs", &["orig_ax"]),
        regs_di: opt("pt_regs", &["di"]),
        regs_si: opt("pt_regs", &["si"]),
        regs_dx: opt("pt_regs", &["dx"]),
        regs_r8: opt("pt_regs", &["r8"]),
        regs_r9: opt("pt_regs", &["r9"]),
        sk_ino: if btf.member_size("sock", "sk_ino").ok() == Some(8) {
            m("sock", "sk_ino")?
        } else {
            ABSENT
        },
        // Only the reads at a datagram's free use these (whether the sender was reaped).
        skb_cb: opt("sk_buff", &["cb"]),
        pid_tasks: opt("pid", &["tasks"]),
        task_pid_links: opt("task_struct", &["pid_links"]),
        task_exit_state: opt("task_struct", &["exit_state"]),
        task_flags: opt("task_struct", &["flags"]),
    })
}

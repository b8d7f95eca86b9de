//! Sending datagrams with the exact syscalls notify clients use (sendto, sendmsg with several
//! iovecs and ancillary data, write on a connected socket), through libc; and the same sendmsg
//! through io_uring, where no send syscall is made.

use std::{ffi::c_void, io::Error, mem, os::fd::RawFd};

/// A socket address: a path, or an abstract name (`@name`).
#[derive(Debug, Clone)]
pub struct Target {
    sun_path: Vec<u8>,
}

impl Target {
    pub fn parse(s: &str) -> Self {
        let sun_path = match s.strip_prefix('@') {
            Some(name) => [&[0u8][..], name.as_bytes()].concat(),
            None => s.as_bytes().to_vec(),
        };
        Self { sun_path }
    }

    fn sockaddr(&self) -> (libc::sockaddr_un, libc::socklen_t) {
        // SAFETY: all-zero is a valid sockaddr_un.
        let mut sa: libc::sockaddr_un = unsafe { mem::zeroed() };
        sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (d, s) in sa.sun_path.iter_mut().zip(&self.sun_path) {
            *d = *s as libc::c_char;
        }
        // Like sd_notify: the address length covers exactly the name (no trailing NUL).
        (
            sa,
            (mem::size_of::<libc::sa_family_t>() + self.sun_path.len()) as libc::socklen_t,
        )
    }
}

/// What to send.
#[derive(Debug, Default, Clone)]
pub struct Datagram {
    /// The payload as iovecs (concatenated by the kernel).
    pub parts: Vec<Vec<u8>>,
    /// SCM_CREDENTIALS (pid, uid, gid).
    pub creds: Option<(i32, u32, u32)>,
    /// How many fds to attach with SCM_RIGHTS (copies of stdin).
    pub fds: usize,
    pub dontwait: bool,
    /// write(2)/writev(2) on a connected socket instead of sendmsg.
    pub use_write: bool,
    /// Send this many copies in one sendmmsg(2) call (0: plain sendmsg).
    pub mmsg: usize,
    /// Submit the sendmsg to io_uring (IORING_OP_SENDMSG) instead of calling sendmsg(2).
    pub io_uring: bool,
}

/// A fresh datagram socket sending `d` to `to`; returns bytes sent.
pub fn send(to: &Target, connect: bool, d: &Datagram) -> Result<usize, Error> {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(Error::last_os_error());
    }
    let r = send_on(fd, to, connect, d);
    // SAFETY: our fd.
    unsafe { libc::close(fd) };
    r
}

pub fn send_on(fd: RawFd, to: &Target, connect: bool, d: &Datagram) -> Result<usize, Error> {
    let (sa, sa_len) = to.sockaddr();
    if connect {
        // SAFETY: valid sockaddr and length.
        if unsafe { libc::connect(fd, (&raw const sa).cast(), sa_len) } != 0 {
            return Err(Error::last_os_error());
        }
    }
    let mut iov: Vec<libc::iovec> = d
        .parts
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut c_void,
            iov_len: p.len(),
        })
        .collect();
    if d.use_write {
        // SAFETY: iovecs point at live buffers.
        let n = unsafe {
            if iov.len() == 1 {
                libc::write(fd, iov[0].iov_base, iov[0].iov_len)
            } else {
                libc::writev(fd, iov.as_ptr(), iov.len() as i32)
            }
        };
        return if n < 0 {
            Err(Error::last_os_error())
        } else {
            Ok(n as usize)
        };
    }
    let mut control = Vec::<u8>::new();
    if let Some((pid, uid, gid)) = d.creds {
        let cred = libc::ucred { pid, uid, gid };
        push_cmsg(
            &mut control,
            libc::SCM_CREDENTIALS,
            &cred as *const _ as *const u8,
            mem::size_of::<libc::ucred>(),
        );
    }
    if d.fds > 0 {
        let fds = vec![0 as RawFd; d.fds];
        push_cmsg(
            &mut control,
            libc::SCM_RIGHTS,
            fds.as_ptr().cast(),
            fds.len() * mem::size_of::<RawFd>(),
        );
    }
    // SAFETY: all-zero msghdr, then filled with live pointers.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    if !connect {
        msg.msg_name = (&raw const sa) as *mut c_void;
        msg.msg_namelen = sa_len;
    }
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len();
    if !control.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = control.len();
    }
    let flags = libc::MSG_NOSIGNAL | if d.dontwait { libc::MSG_DONTWAIT } else { 0 };
    if d.mmsg > 0 {
        let mut vec: Vec<libc::mmsghdr> = (0..d.mmsg)
            .map(|_| libc::mmsghdr {
                msg_hdr: msg,
                msg_len: 0,
            })
            .collect();
        // SAFETY: every header points at the same live buffers.
        let n = unsafe { libc::sendmmsg(fd, vec.as_mut_ptr(), vec.len() as u32, flags) };
        return if n < 0 {
            Err(Error::last_os_error())
        } else {
            Ok(n as usize)
        };
    }
    if d.io_uring {
        return sendmsg_io_uring(fd, &msg, flags);
    }
    // SAFETY: msg points at live buffers for the duration of the call.
    let n = unsafe { libc::sendmsg(fd, &msg, flags) };
    if n < 0 {
        Err(Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// `msg` sent as an io_uring IORING_OP_SENDMSG: the kernel makes the send inside
/// io_uring_enter(2) (or on an io-wq worker thread of this process), not from a send syscall.
fn sendmsg_io_uring(fd: RawFd, msg: &libc::msghdr, flags: i32) -> Result<usize, Error> {
    let mut ring = io_uring::IoUring::new(2)?;
    let sqe = io_uring::opcode::SendMsg::new(io_uring::types::Fd(fd), msg)
        .flags(flags as u32)
        .build();
    // SAFETY: `msg` and the buffers it points at outlive the operation: we wait for it below.
    unsafe { ring.submission().push(&sqe) }.map_err(|_| Error::other("io_uring queue full"))?;
    ring.submit_and_wait(1)?;
    let cqe = ring
        .completion()
        .next()
        .ok_or_else(|| Error::other("io_uring gave no completion"))?;
    if cqe.result() < 0 {
        Err(Error::from_raw_os_error(-cqe.result()))
    } else {
        Ok(cqe.result() as usize)
    }
}

fn push_cmsg(control: &mut Vec<u8>, ty: i32, data: *const u8, len: usize) {
    // SAFETY: CMSG_* are pure arithmetic on lengths.
    let space = unsafe { libc::CMSG_SPACE(len as u32) } as usize;
    let at = control.len();
    control.resize(at + space, 0);
    let hdr = libc::cmsghdr {
        // SAFETY: arithmetic only.
        cmsg_len: unsafe { libc::CMSG_LEN(len as u32) } as usize,
        cmsg_level: libc::SOL_SOCKET,
        cmsg_type: ty,
    };
    // SAFETY: the buffer has `space` bytes at `at`, enough for the header and the data.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&raw const hdr).cast::<u8>(),
            control.as_mut_ptr().add(at),
            mem::size_of::<libc::cmsghdr>(),
        );
        std::ptr::copy_nonoverlapping(
            data,
            control
                .as_mut_ptr()
                .add(at + mem::size_of::<libc::cmsghdr>()),
            len,
        );
    }
}

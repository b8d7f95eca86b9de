//! Connecting to a socket in a container from a child in the container's PID namespace, so that
//! systemd sees a PID it knows in SO_PEERCRED; and the peer's PID on our side.

use std::{
    fs,
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd},
        unix::net::UnixStream,
    },
    path::Path,
};

/// Connects to a container's socket from a short-lived child in the container's PID namespace.
///
/// Why: sd-bus (systemd's private socket) refuses a peer whose SO_PEERCRED PID is 0, and that is
/// what a host process is in the container's namespace (`getpeercred()` → -ENODATA, so EXTERNAL
/// authentication fails and systemd hangs up: "Connection reset by peer"). The kernel records the
/// connecting task in SO_PEERCRED at connect() time, so a child that only does connect() and hands
/// the socket back over SCM_RIGHTS is enough; this is what sd-bus itself does for `-M`.
pub(super) fn connect_in_pidns(leader: u32, path: &Path) -> std::io::Result<UnixStream> {
    use std::{io, os::unix::ffi::OsStrExt};

    let target_ns = fs::File::open(format!("/proc/{leader}/ns/pid"))?;
    // setns() of a PID namespace only changes where *children* of this thread go, so this is
    // what to restore afterwards.
    let own_ns = fs::File::open("/proc/thread-self/ns/pid_for_children")?;
    let (ours, theirs) = UnixStream::pair()?;
    // Everything the child needs is prepared here: after fork() in a threaded process it may only
    // make plain system calls.
    // SAFETY: sockaddr_un is plain data; all-zero is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket path too long",
        ));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    let theirs_fd = theirs.as_raw_fd();

    // SAFETY: plain system calls on fds we own; the child only calls async-signal-safe functions
    // and leaves with _exit().
    unsafe {
        if libc::setns(target_ns.as_raw_fd(), libc::CLONE_NEWPID) < 0 {
            return Err(io::Error::last_os_error());
        }
        let pid = libc::fork();
        if pid == 0 {
            let s = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            let ok = s >= 0
                && libc::connect(
                    s,
                    (&raw const addr).cast(),
                    size_of::<libc::sockaddr_un>() as libc::socklen_t,
                ) == 0
                && send_fd(theirs_fd, s);
            libc::_exit(if ok { 0 } else { 1 });
        }
        let fork_err = io::Error::last_os_error();
        let restored = libc::setns(own_ns.as_raw_fd(), libc::CLONE_NEWPID) == 0;
        assert!(
            restored,
            "cannot restore PID namespace for children: {}",
            io::Error::last_os_error()
        );
        if pid < 0 {
            return Err(fork_err);
        }
        drop(theirs);
        let fd = recv_fd(ours.as_raw_fd());
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        match fd {
            Some(fd) => Ok(UnixStream::from(OwnedFd::from_raw_fd(fd))),
            None => Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("connect() from PID namespace of {leader} failed (child status {status})"),
            )),
        }
    }
}

/// SO_PEERCRED pid of the other end, in our PID namespace.
pub(super) fn peer_pid(stream: &UnixStream) -> Option<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`.
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    (r == 0 && cred.pid > 0).then_some(cred.pid as u32)
}

/// Control buffer for one fd: CMSG_SPACE(sizeof(int)), aligned for cmsghdr.
#[repr(C, align(8))]
struct FdCmsg([u8; 24]);

/// Sends `fd` over `sock` with SCM_RIGHTS. Async-signal-safe: no allocation.
unsafe fn send_fd(sock: i32, fd: i32) -> bool {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut buf = FdCmsg([0; 24]);
    // SAFETY: msghdr and cmsg point into stack buffers sized by CMSG_SPACE.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = buf.0.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(size_of::<i32>() as u32) as usize;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(size_of::<i32>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<i32>(), fd);
        libc::sendmsg(sock, &msg, 0) == 1
    }
}

/// Receives one fd sent by `send_fd()`; None if the child sent none (connect failed).
unsafe fn recv_fd(sock: i32) -> Option<i32> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut buf = FdCmsg([0; 24]);
    // SAFETY: msghdr and cmsg point into stack buffers sized by CMSG_SPACE, as in send_fd().
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = buf.0.as_mut_ptr().cast();
        msg.msg_controllen = buf.0.len();
        if libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) != 1 {
            return None;
        }
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_level != libc::SOL_SOCKET || (*c).cmsg_type != libc::SCM_RIGHTS
        {
            return None;
        }
        Some(std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>()))
    }
}

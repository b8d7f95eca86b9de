//! A reader for a test socket that reads the way systemd reads its notify socket — wait until
//! readable, then recvmsg(2) with MSG_DONTWAIT|MSG_CMSG_CLOEXEC|MSG_TRUNC, SO_PASSCRED on — in a
//! process of its own, so that a test can stall it (SIGSTOP) and end it like a manager that
//! exits. The observer is told it is the socket's reader (`--receiver PID`).

use std::{
    fs,
    os::{
        fd::AsRawFd,
        unix::{fs::PermissionsExt, net::UnixDatagram},
    },
    path::Path,
};

/// Linux ≥ 6.5: also receive a pidfd of each sender (SCM_PIDFD), as systemd ≥ 256 asks.
const SO_PASSPIDFD: libc::c_int = 76;

pub struct Reader {
    pub pid: u32,
    pub path: String,
    /// Whether the kernel accepted SO_PASSPIDFD (it then sends SCM_PIDFD with each datagram).
    pub pidfd: bool,
    ended: bool,
}

impl Reader {
    /// Binds `path` and forks the reading process. Call from a thread that lives as long as the
    /// test process: the child dies with the thread that forked it (PR_SET_PDEATHSIG).
    pub fn start(path: &Path) -> Reader {
        let sock = UnixDatagram::bind(path).expect("bind reader socket");
        fs::set_permissions(path, fs::Permissions::from_mode(0o777)).expect("chmod");
        let fd = sock.as_raw_fd();
        let on: libc::c_int = 1;
        let set = |opt| {
            // SAFETY: valid fd and option value.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    opt,
                    (&raw const on).cast(),
                    size_of::<libc::c_int>() as libc::socklen_t,
                )
            }
        };
        assert_eq!(set(libc::SO_PASSCRED), 0, "SO_PASSCRED");
        let pidfd = set(SO_PASSPIDFD) == 0;
        // SAFETY: the child only calls async-signal-safe functions (prctl, poll, recvmsg, close)
        // and never returns.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            // SAFETY: see above.
            unsafe { read_forever(fd) }
        }
        // The child holds the only descriptor: when it ends, the socket closes.
        drop(sock);
        Reader {
            pid: pid as u32,
            path: path.display().to_string(),
            pidfd,
            ended: false,
        }
    }

    pub fn stop(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    /// Kills the reader (its socket closes with it) and reaps it.
    pub fn end(&mut self) {
        self.signal(libc::SIGKILL);
        // SAFETY: reaping our own child.
        unsafe { libc::waitpid(self.pid as i32, std::ptr::null_mut(), 0) };
        self.ended = true;
    }

    fn signal(&self, sig: libc::c_int) {
        assert!(!self.ended, "the reader has ended");
        // SAFETY: signalling our own child.
        assert_eq!(unsafe { libc::kill(self.pid as i32, sig) }, 0, "kill {sig}");
    }
}

/// The child: poll, then read without blocking, like sd-event and manager_dispatch_notify_fd().
/// (A read that is already blocked in recvmsg(2) when the observer starts is not seen: the
/// observer learns where the reader's buffer is at the syscall's entry.)
unsafe fn read_forever(fd: libc::c_int) -> ! {
    // SAFETY: plain syscalls on our own fd and stack buffers, each pointer valid for the call;
    // the caller guarantees `fd` is a socket this (forked) process owns.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let mut buf = [0u8; 4097];
        let mut control = [0u64; 64];
        loop {
            let mut p = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            libc::poll(&mut p, 1, -1);
            let mut iov = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: 4096,
            };
            let mut msg: libc::msghdr = std::mem::zeroed();
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = size_of_val(&control);
            let n = libc::recvmsg(
                fd,
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC | libc::MSG_TRUNC,
            );
            if n >= 0 {
                close_received_fds(&msg);
            }
        }
    }
}

/// Closes descriptors that came with a datagram (SCM_RIGHTS, SCM_PIDFD), as systemd does with
/// those it does not keep.
unsafe fn close_received_fds(msg: &libc::msghdr) {
    // SAFETY: the CMSG_* macros walk the control buffer recvmsg(2) just filled, within
    // msg_controllen; the caller passes the msghdr of that read.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && matches!((*c).cmsg_type, libc::SCM_RIGHTS | 4)
            {
                let data = libc::CMSG_DATA(c).cast::<libc::c_int>();
                let n = ((*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize) / 4;
                for i in 0..n {
                    libc::close(*data.add(i));
                }
            }
            c = libc::CMSG_NXTHDR(msg, c);
        }
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if !self.ended {
            self.end();
        }
    }
}

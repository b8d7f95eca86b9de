//! Connecting to a manager's socket as the trust model allows (`Approach`, docs/OPERATIONS.md,
//! "Trust model"), time-boxed, and the peer's PID on our side.
//!
//! Only the host's system manager is connected to from here. Every other connection is made by
//! a short-lived child that hands the socket back over SCM_RIGHTS: for a trusted container it
//! is forked into the container's PID namespace (sd-bus refuses a peer whose SO_PEERCRED PID is
//! 0, which is what a host process is there; this is what sd-bus itself does for `-M`); for a
//! user manager it drops to that user first; for an untrusted container it drops to the owner
//! of the container's user namespace and only then enters that namespace and the container's
//! PID namespace, as that user could himself. Root never enters an untrusted namespace.
//!
//! The children run from a thread of their own and are killed when they have not answered in
//! time: a socket that never accepts (a full backlog blocks connect()) stalls nothing.

use std::{
    ffi::CString,
    fs, io,
    os::{
        fd::{AsRawFd, FromRawFd, OwnedFd},
        unix::{ffi::OsStrExt, net::UnixStream},
    },
    path::Path,
    time::Duration,
};

/// Who connects, and from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approach {
    /// Root, from here: the host's system manager.
    Root,
    /// Root, from the PID namespace of host PID `leader`: a trusted container's system manager.
    RootInPidns { leader: u32 },
    /// `uid`/`gid` only: a user manager, on the host (`leader` None) or in a trusted container
    /// (a root child enters its PID namespace and opens the socket's directory, then drops).
    User {
        uid: u32,
        gid: u32,
        leader: Option<u32>,
    },
    /// `uid`/`gid`, the owner of the user namespace of an untrusted container: the child drops
    /// to that user, then enters the namespace (as its owner) and the PID namespace of `leader`.
    /// `uid_inside` is how the manager sees that user (for D-Bus EXTERNAL authentication).
    Owner {
        uid: u32,
        gid: u32,
        uid_inside: u32,
        leader: u32,
    },
}

impl Approach {
    /// The uid the manager sees in SO_PEERCRED, which D-Bus EXTERNAL authentication must name.
    pub fn uid_seen(&self) -> u32 {
        match self {
            Approach::Root | Approach::RootInPidns { .. } => 0,
            Approach::User { uid, .. } => *uid,
            Approach::Owner { uid_inside, .. } => *uid_inside,
        }
    }

    /// Who the connection is made as, for people: "root", "uid 1000".
    pub fn who(&self) -> String {
        match self {
            Approach::Root | Approach::RootInPidns { .. } => "root".into(),
            Approach::User { uid, .. } | Approach::Owner { uid, .. } => format!("uid {uid}"),
        }
    }

    fn leader(&self) -> Option<u32> {
        match self {
            Approach::Root => None,
            Approach::RootInPidns { leader } | Approach::Owner { leader, .. } => Some(*leader),
            Approach::User { leader, .. } => *leader,
        }
    }
}

/// Connects to `path` as `approach` says, giving up after `within`.
pub async fn connect(approach: &Approach, path: &Path, within: Duration) -> io::Result<UnixStream> {
    let late = || {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no connection in {within:?}"),
        )
    };
    if *approach == Approach::Root {
        let s = tokio::time::timeout(within, tokio::net::UnixStream::connect(path))
            .await
            .map_err(|_| late())??;
        let s = s.into_std()?;
        s.set_nonblocking(false)?;
        return Ok(s);
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (approach, path) = (approach.clone(), path.to_owned());
    // A thread of its own: setns() of a PID namespace changes where this thread's children go,
    // and the thread ends with the call (nothing to restore); waiting for the child blocks.
    std::thread::Builder::new()
        .name("observer-connect".into())
        .spawn(move || {
            let _ = tx.send(connect_from_child(&approach, &path, within));
        })?;
    // The thread gives up after `within` itself; this is a bound on top of it.
    tokio::time::timeout(within + Duration::from_secs(1), rx)
        .await
        .map_err(|_| late())?
        .map_err(|_| io::Error::other("the connecting thread ended without an answer"))?
}

/// Which step of the child failed, reported with its errno instead of a socket.
#[derive(Clone, Copy)]
#[repr(u32)]
enum Step {
    Socket = 1,
    Connect,
    OpenDir,
    Chdir,
    DropGroups,
    DropGid,
    DropUid,
    EnterUserNs,
    EnterPidNs,
    Fork,
}

fn step_name(n: u32) -> &'static str {
    match n {
        1 => "socket()",
        2 => "connect()",
        3 => "opening the socket's directory",
        4 => "fchdir()",
        5 => "setgroups()",
        6 => "setresgid()",
        7 => "setresuid()",
        8 => "entering the user namespace",
        9 => "entering the PID namespace",
        10 => "fork()",
        _ => "the connecting child",
    }
}

/// What the child needs, prepared before fork(): after fork() in a threaded process it may only
/// make plain system calls.
struct Plan {
    /// Full path (connect as is) or, with `dir`, the socket's file name in that directory.
    addr: libc::sockaddr_un,
    /// The socket's directory, opened by the (root, trusted) child before it drops.
    dir: Option<CString>,
    creds: Option<(u32, u32)>,
    user_ns: Option<OwnedFd>,
    pid_ns: Option<OwnedFd>,
    /// Our end of the pair, for the child to send the socket or its error on.
    theirs: OwnedFd,
    parent: libc::pid_t,
}

fn sockaddr(bytes: &[u8]) -> io::Result<libc::sockaddr_un> {
    // SAFETY: sockaddr_un is plain data; all-zero is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if bytes.len() >= addr.sun_path.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "socket path too long",
        ));
    }
    for (d, s) in addr.sun_path.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Ok(addr)
}

fn ns_fd(leader: u32, kind: &str) -> io::Result<OwnedFd> {
    Ok(fs::File::open(format!("/proc/{leader}/ns/{kind}"))?.into())
}

fn connect_from_child(
    approach: &Approach,
    path: &Path,
    within: Duration,
) -> io::Result<UnixStream> {
    let (ours, theirs) = UnixStream::pair()?;
    let pid_ns = approach.leader().map(|l| ns_fd(l, "pid")).transpose()?;
    // A user manager in a trusted container: the user cannot reach /proc/LEADER/root (its
    // manager runs as root), so the root child opens the socket's directory first.
    let (dir, name) = match approach {
        Approach::User {
            leader: Some(_), ..
        } => {
            let dir = path.parent().unwrap_or(Path::new("/"));
            let name = path.file_name().unwrap_or_default();
            (
                Some(CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?),
                name.as_bytes(),
            )
        }
        _ => (None, path.as_os_str().as_bytes()),
    };
    let plan = Plan {
        addr: sockaddr(name)?,
        dir,
        creds: match approach {
            Approach::User { uid, gid, .. } | Approach::Owner { uid, gid, .. } => {
                Some((*uid, *gid))
            }
            _ => None,
        },
        user_ns: match approach {
            Approach::Owner { leader, .. } => Some(ns_fd(*leader, "user")?),
            _ => None,
        },
        pid_ns,
        theirs: theirs.into(),
        // SAFETY: no preconditions.
        parent: unsafe { libc::getpid() },
    };
    // Root enters a trusted container's PID namespace here, so that the child is born in it.
    // For an untrusted one, only the child enters, after dropping to the namespace's owner.
    if plan.user_ns.is_none()
        && let Some(ns) = &plan.pid_ns
    {
        // SAFETY: setns() on an fd we hold; it changes only where this thread's children go.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWPID) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: the child only makes async-signal-safe system calls and leaves with _exit().
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: as above.
        unsafe { child(&plan) }
    }
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    drop(plan);
    let answer = wait_for_socket(&ours, within);
    // SAFETY: our child; killing it also kills a grandchild (PR_SET_PDEATHSIG).
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
    answer
}

/// The socket (or the child's error) from `ours`, waiting at most `within`.
fn wait_for_socket(ours: &UnixStream, within: Duration) -> io::Result<UnixStream> {
    let mut pfd = libc::pollfd {
        fd: ours.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = within.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut pfd, 1, ms) };
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no connection in {within:?}"),
        ));
    }
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: recvmsg into buffers of ours.
    match unsafe { recv_fd(ours.as_raw_fd()) } {
        Received::Fd(fd) => checked_stream(fd),
        Received::Failed(step, errno) => Err(io::Error::other(format!(
            "{}: {}",
            step_name(step),
            io::Error::from_raw_os_error(errno as i32)
        ))),
        Received::Nothing => Err(io::Error::other(
            "the connecting child ended without a socket",
        )),
    }
}

/// `fd` as a stream, if it is the unix stream socket asked for: whatever an untrusted child
/// sends back is checked before use.
fn checked_stream(fd: OwnedFd) -> io::Result<UnixStream> {
    let opt = |name| {
        let mut v: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `v`.
        let r = unsafe {
            libc::getsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                name,
                (&raw mut v).cast(),
                &mut len,
            )
        };
        (r == 0).then_some(v)
    };
    if opt(libc::SO_DOMAIN) != Some(libc::AF_UNIX) || opt(libc::SO_TYPE) != Some(libc::SOCK_STREAM)
    {
        return Err(io::Error::other(
            "the child sent something else than a unix stream socket",
        ));
    }
    Ok(UnixStream::from(fd))
}

/// The child: drop, enter, connect, send the socket back, _exit(). Async-signal-safe only.
unsafe fn child(p: &Plan) -> ! {
    let theirs = p.theirs.as_raw_fd();
    // SAFETY: plain system calls on fds and buffers prepared before fork().
    unsafe {
        close_all_but(&[
            theirs,
            p.user_ns.as_ref().map_or(-1, |f| f.as_raw_fd()),
            p.pid_ns.as_ref().map_or(-1, |f| f.as_raw_fd()),
        ]);
        let dir = match &p.dir {
            Some(path) => {
                let fd = libc::open(
                    path.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                );
                if fd < 0 {
                    fail(theirs, Step::OpenDir);
                }
                Some(fd)
            }
            None => None,
        };
        if let Some((uid, gid)) = p.creds {
            if libc::setgroups(0, std::ptr::null()) != 0 {
                fail(theirs, Step::DropGroups);
            }
            if libc::setresgid(gid, gid, gid) != 0 {
                fail(theirs, Step::DropGid);
            }
            if libc::setresuid(uid, uid, uid) != 0 {
                fail(theirs, Step::DropUid);
            }
        }
        // After the drop: a change of uid clears the parent-death signal. Whoever forked us
        // may have gone meanwhile (we were re-parented); then leave. Born in a container's PID
        // namespace, our parent is outside it: getppid() is 0 then, until a re-parenting.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let parent = libc::getppid();
        if parent != 0 && parent != p.parent {
            libc::_exit(1);
        }
        if let (Some(user), Some(pid)) = (&p.user_ns, &p.pid_ns) {
            // As the namespace's owner: all capabilities in it, none outside.
            if libc::setns(user.as_raw_fd(), libc::CLONE_NEWUSER) != 0 {
                fail(theirs, Step::EnterUserNs);
            }
            if libc::setns(pid.as_raw_fd(), libc::CLONE_NEWPID) != 0 {
                fail(theirs, Step::EnterPidNs);
            }
            // Only children are born in the PID namespace entered.
            let b = libc::fork();
            if b < 0 {
                fail(theirs, Step::Fork);
            }
            if b > 0 {
                libc::waitpid(b, std::ptr::null_mut(), 0);
                libc::_exit(0);
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        }
        if let Some(fd) = dir
            && libc::fchdir(fd) != 0
        {
            fail(theirs, Step::Chdir);
        }
        let s = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            fail(theirs, Step::Socket);
        }
        if libc::connect(
            s,
            (&raw const p.addr).cast(),
            size_of::<libc::sockaddr_un>() as libc::socklen_t,
        ) != 0
        {
            fail(theirs, Step::Connect);
        }
        send_fd(theirs, s);
        libc::_exit(0)
    }
}

/// Closes every fd but 0-2 and `keep` (-1 entries ignored). Async-signal-safe.
unsafe fn close_all_but(keep: &[i32]) {
    let mut keep: [i32; 3] = [keep[0], keep[1], keep[2]];
    keep.sort_unstable();
    let mut from = 3u32;
    for k in keep.into_iter().filter(|k| *k >= 3) {
        let k = k as u32;
        if k > from {
            // SAFETY: closing fds of this child only.
            unsafe { libc::close_range(from, k - 1, 0) };
        }
        from = k + 1;
    }
    // SAFETY: as above.
    unsafe { libc::close_range(from, u32::MAX, 0) };
}

/// Reports `step` with errno on `sock` and leaves. Async-signal-safe.
unsafe fn fail(sock: i32, step: Step) -> ! {
    // SAFETY: errno location is thread-local and valid; write() of a stack buffer.
    unsafe {
        let errno = *libc::__errno_location() as u32;
        let mut msg = [0u8; 8];
        msg[..4].copy_from_slice(&(step as u32).to_ne_bytes());
        msg[4..].copy_from_slice(&errno.to_ne_bytes());
        libc::write(sock, msg.as_ptr().cast(), msg.len());
        libc::_exit(1)
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

enum Received {
    Fd(OwnedFd),
    /// (step, errno) of a child that failed.
    Failed(u32, u32),
    Nothing,
}

/// Receives what `send_fd()` or `fail()` sent.
unsafe fn recv_fd(sock: i32) -> Received {
    let mut data = [0u8; 8];
    let mut iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    let mut buf = FdCmsg([0; 24]);
    // SAFETY: msghdr and cmsg point into stack buffers sized by CMSG_SPACE, as in send_fd().
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = buf.0.as_mut_ptr().cast();
        msg.msg_controllen = buf.0.len();
        let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT);
        let c = libc::CMSG_FIRSTHDR(&msg);
        if n >= 1
            && !c.is_null()
            && (*c).cmsg_level == libc::SOL_SOCKET
            && (*c).cmsg_type == libc::SCM_RIGHTS
        {
            let fd = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<i32>());
            return Received::Fd(OwnedFd::from_raw_fd(fd));
        }
        if n == 8 {
            let step = u32::from_ne_bytes(data[..4].try_into().unwrap_or_default());
            let errno = u32::from_ne_bytes(data[4..].try_into().unwrap_or_default());
            return Received::Failed(step, errno);
        }
        Received::Nothing
    }
}

#[cfg(test)]
mod tests;

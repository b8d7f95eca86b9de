//! `nload`: the benchmark's load generator (`cargo xtask bench`). Sends datagrams as fast as it
//! can (or at a fixed rate) and prints what it did as one JSON line.
//!
//! nload --to PATH [--bind] [--reader R]   sendto(2) to PATH; with --bind, nload binds PATH
//!                                          itself and drains it (R: thread|process|spin)
//!       --socketpair [--reader R]          send(2) on a socketpair, drained
//!       --devnull                          write(2) to /dev/null (no socket)
//!       --recvmsg-empty                    recvmsg(2) with MSG_DONTWAIT on an empty datagram
//!                                          socket (EAGAIN, counted as done): what the receive
//!                                          capture costs a process that is not a manager
//!     [--count N | --rate MSGS_PER_SEC --seconds S] [--size N | --payload TEXT] [--wait]
//!     [--idle PATH]                        also bind PATH and leave it idle (a socket a
//!                                          tracer can watch while the load goes elsewhere)
//!
//! --reader: the receiving side runs on a thread of nload (default) or in a forked child (two
//! processes, like a service and its manager); either way it reads as fast as datagrams come,
//! so the queue never fills (`spin`: a forked child that polls and never sleeps). Readers use
//! recvmsg(2), like systemd, so (a) also shows what the receive capture costs non-managers.
//! --rate: a deadline schedule (message i is due at start + i/rate); nload sleeps when ahead and
//! sends what is due when behind, and stops at S seconds whatever it sent, so a sender that
//! cannot keep up shows as a lower achieved rate.
//! --pin: the sender runs on CPU 0 and the reader on CPU 1 (with at least two CPUs), so that runs
//! do not differ by where the scheduler put the two: unpinned, on a 2-vCPU VM, a send's cost
//! moved by a quarter from run to run, more than what the bench measures.
//! --wait: after setting up, print `{"ready":true,...}` and wait for a line on stdin before
//! sending; after the result line, wait for stdin to close before exiting (so whoever runs nload
//! under a tracer can read the tracer's counters while nload is still alive).
//!
//! Result: {"mode", "sent", "errors", "first_error", "elapsed_ns", "ns_per_msg", "cpu_ns",
//! "cpu_ns_per_msg" (the sending thread's own CPU time), "rate", ...}.

use std::{
    ffi::CString,
    io::{BufRead, Error, Write},
    mem,
    os::fd::RawFd,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nload: {e}");
            ExitCode::from(2)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    SendTo,
    SocketPair,
    DevNull,
    RecvEmpty,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Reader {
    Thread,
    Process,
    /// A forked child that polls without ever sleeping (MSG_DONTWAIT in a loop): the sender
    /// never has a reader to wake up, and the queue never fills.
    Spin,
}

struct Opts {
    mode: Option<Mode>,
    to: Option<String>,
    bind: bool,
    idle: Option<String>,
    reader: Reader,
    count: u64,
    rate: Option<f64>,
    seconds: f64,
    payload: Vec<u8>,
    wait: bool,
    pin: bool,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        mode: None,
        to: None,
        bind: false,
        idle: None,
        reader: Reader::Thread,
        count: 100_000,
        rate: None,
        seconds: 10.0,
        payload: b"READY=1\nSTATUS=nload benchmark message".to_vec(),
        wait: false,
        pin: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--to" => {
                o.to = Some(val()?);
                o.mode = Some(Mode::SendTo);
            }
            "--socketpair" => o.mode = Some(Mode::SocketPair),
            "--devnull" => o.mode = Some(Mode::DevNull),
            "--recvmsg-empty" => o.mode = Some(Mode::RecvEmpty),
            "--bind" => o.bind = true,
            "--idle" => o.idle = Some(val()?),
            "--reader" => {
                o.reader = match val()?.as_str() {
                    "thread" => Reader::Thread,
                    "process" => Reader::Process,
                    "spin" => Reader::Spin,
                    v => return Err(format!("--reader thread|process|spin, not {v}")),
                }
            }
            "--count" => o.count = val()?.parse().map_err(|_| "bad --count")?,
            "--rate" => o.rate = Some(val()?.parse().map_err(|_| "bad --rate")?),
            "--seconds" => o.seconds = val()?.parse().map_err(|_| "bad --seconds")?,
            "--size" => o.payload = vec![b'x'; val()?.parse().map_err(|_| "bad --size")?],
            "--payload" => o.payload = val()?.into_bytes(),
            "--wait" => o.wait = true,
            "--pin" => o.pin = true,
            "-h" | "--help" => {
                println!(
                    "nload --to PATH [--bind] | --socketpair | --devnull  [--reader thread|process|spin] \
                     [--count N | --rate R --seconds S] [--size N | --payload TEXT] [--wait] \
                     [--idle PATH] [--pin]"
                );
                std::process::exit(0);
            }
            _ => return Err(format!("unknown option {a}")),
        }
    }
    if o.mode.is_none() {
        return Err(
            "one of --to PATH, --socketpair, --devnull, --recvmsg-empty is required".into(),
        );
    }
    if let Some(r) = o.rate
        && !(r > 0.0 && r.is_finite())
    {
        return Err("--rate must be positive".into());
    }
    Ok(o)
}

/// Whatever nload set up, undone on every way out.
struct Setup {
    /// The socket files nload bound (removed at the end).
    bound_paths: Vec<CString>,
    /// A forked reader (killed at the end).
    child: Option<libc::pid_t>,
    fds: Vec<RawFd>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        // SAFETY: our own child, fds and file.
        unsafe {
            if let Some(pid) = self.child {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            for fd in &self.fds {
                libc::close(*fd);
            }
            for p in &self.bound_paths {
                libc::unlink(p.as_ptr());
            }
        }
    }
}

fn run() -> Result<(), String> {
    let o = parse()?;
    let mode = o.mode.expect("checked");
    let mut setup = Setup {
        bound_paths: Vec::new(),
        child: None,
        fds: Vec::new(),
    };
    if let Some(idle) = &o.idle {
        let fd = bind(idle, &mut setup)?;
        setup.fds.push(fd);
    }
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    // The fd the load goes out on, and for sendto the address.
    let (fd, addr) = match mode {
        Mode::SendTo => {
            let to = o.to.clone().expect("set with the mode");
            let (sa, len) = sockaddr(&to)?;
            if o.bind {
                let rx = bind(&to, &mut setup)?;
                setup.fds.push(rx);
                start_reader(rx, o.reader, o.pin, &mut setup, &received, &stop)?;
            }
            let tx = dgram_socket()?;
            setup.fds.push(tx);
            (tx, Some((sa, len)))
        }
        Mode::SocketPair => {
            let sv = dgram_socketpair()?;
            setup.fds.extend(sv);
            start_reader(sv[1], o.reader, o.pin, &mut setup, &received, &stop)?;
            (sv[0], None)
        }
        Mode::RecvEmpty => {
            let sv = dgram_socketpair()?;
            setup.fds.extend(sv);
            (sv[1], None)
        }
        Mode::DevNull => {
            // SAFETY: constant C string.
            let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
            if fd < 0 {
                return Err(format!("/dev/null: {}", Error::last_os_error()));
            }
            setup.fds.push(fd);
            (fd, None)
        }
    };

    let stdin = std::io::stdin();
    let mut line = String::new();
    if o.wait {
        // SAFETY: no preconditions.
        let pid = unsafe { libc::getpid() };
        println!(
            "{{\"ready\":true,\"pid\":{pid},\"reader_pid\":{}}}",
            setup.child.unwrap_or(pid)
        );
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
    }

    let send = |p: &[u8]| -> isize {
        // SAFETY: p is a live buffer; addr a valid sockaddr_un when present.
        unsafe {
            match (mode, &addr) {
                (Mode::SendTo, Some((sa, len))) => libc::sendto(
                    fd,
                    p.as_ptr().cast(),
                    p.len(),
                    libc::MSG_NOSIGNAL,
                    (sa as *const libc::sockaddr_un).cast(),
                    *len,
                ),
                (Mode::SocketPair, _) => {
                    libc::send(fd, p.as_ptr().cast(), p.len(), libc::MSG_NOSIGNAL)
                }
                (Mode::RecvEmpty, _) => recvmsg_empty(fd),
                _ => libc::write(fd, p.as_ptr().cast(), p.len()),
            }
        }
    };
    let payload = o.payload.as_slice();
    let (mut sent, mut errors, mut first_error) = (0u64, 0u64, None::<i32>);
    let mut account = |r: isize| {
        if r < 0 {
            errors += 1;
            first_error.get_or_insert(Error::last_os_error().raw_os_error().unwrap_or(0));
        } else {
            sent += 1;
        }
    };
    if o.pin {
        pin_to(0)?;
    }
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    let mut max_lag = 0u64;
    match o.rate {
        None => {
            for _ in 0..o.count {
                account(send(payload));
            }
        }
        Some(rate) => {
            // Sleep as exactly as the kernel allows when ahead of the schedule.
            // SAFETY: prctl with plain integer arguments.
            unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1u64, 0u64, 0u64, 0u64) };
            let end = Duration::from_secs_f64(o.seconds);
            let mut issued = 0u64;
            loop {
                let now = start.elapsed();
                if now >= end {
                    break;
                }
                let due = (now.as_secs_f64() * rate) as u64 + 1;
                if issued < due {
                    max_lag = max_lag.max(due - issued - 1);
                    while issued < due {
                        account(send(payload));
                        issued += 1;
                    }
                } else {
                    let next = Duration::from_secs_f64(issued as f64 / rate);
                    thread::sleep(next.saturating_sub(now).min(end.saturating_sub(now)));
                }
            }
        }
    }
    let elapsed = start.elapsed();
    let cpu_ns = thread_cpu_ns().saturating_sub(cpu_start);
    let elapsed_ns = elapsed.as_nanos() as u64;
    let attempts = sent + errors;
    // Give an in-process reader a moment to take what is still queued.
    let thread_reader =
        o.reader == Reader::Thread && (o.bind && mode == Mode::SendTo || mode == Mode::SocketPair);
    if thread_reader {
        let deadline = Instant::now() + Duration::from_millis(500);
        while received.load(Ordering::Relaxed) < sent && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let received = if thread_reader {
        serde_json::json!(received.load(Ordering::Relaxed))
    } else {
        serde_json::Value::Null
    };
    let result = serde_json::json!({
        "mode": match mode { Mode::SendTo => "sendto", Mode::SocketPair => "socketpair", Mode::DevNull => "devnull", Mode::RecvEmpty => "recvmsg-empty" },
        "to": o.to,
        "payload_len": payload.len(),
        "sent": sent,
        "errors": errors,
        "first_error": first_error.map(|e| Error::from_raw_os_error(e).to_string()),
        "count": attempts,
        "elapsed_ns": elapsed_ns,
        "ns_per_msg": if attempts > 0 { elapsed_ns as f64 / attempts as f64 } else { 0.0 },
        "cpu_ns": cpu_ns,
        "cpu_ns_per_msg": if attempts > 0 { cpu_ns as f64 / attempts as f64 } else { 0.0 },
        "rate": if elapsed_ns > 0 { attempts as f64 * 1e9 / elapsed_ns as f64 } else { 0.0 },
        "target_rate": o.rate,
        "max_lag_msgs": o.rate.map(|_| max_lag),
        "received": received,
    });
    println!("{result}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    if o.wait {
        // Until whoever runs us closes stdin.
        while stdin
            .lock()
            .read_line(&mut line)
            .map(|n| n > 0)
            .unwrap_or(false)
        {
            line.clear();
        }
    }
    drop(setup);
    Ok(())
}

/// A datagram socket bound to PATH or @NAME (a stale socket file is replaced).
fn bind(to: &str, setup: &mut Setup) -> Result<RawFd, String> {
    let (sa, len) = sockaddr(to)?;
    let fd = dgram_socket()?;
    if !to.starts_with('@') {
        let c = CString::new(to).map_err(|_| "NUL in path")?;
        // SAFETY: valid C string.
        unsafe { libc::unlink(c.as_ptr()) };
        setup.bound_paths.push(c);
    }
    // SAFETY: valid sockaddr and length.
    if unsafe { libc::bind(fd, (&raw const sa).cast(), len) } != 0 {
        let e = Error::last_os_error();
        // SAFETY: our fd.
        unsafe { libc::close(fd) };
        return Err(format!("bind {to}: {e}"));
    }
    Ok(fd)
}

/// CPU time (user + system) of the calling thread so far, ns: what the sends cost the sender
/// itself, including every kernel hook that runs in its syscalls, but not time spent waiting.
fn thread_cpu_ns() -> u64 {
    // SAFETY: all-zero is a valid rusage; getrusage fills it.
    let mut ru: libc::rusage = unsafe { mem::zeroed() };
    // SAFETY: valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let us = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    (us(ru.ru_utime) + us(ru.ru_stime)) * 1000
}

fn dgram_socket() -> Result<RawFd, String> {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", Error::last_os_error()));
    }
    Ok(fd)
}

/// PATH or @NAME as a sockaddr_un whose length covers exactly the name, like sd_notify's.
fn sockaddr(s: &str) -> Result<(libc::sockaddr_un, libc::socklen_t), String> {
    let name = match s.strip_prefix('@') {
        Some(n) => [&[0u8][..], n.as_bytes()].concat(),
        None => s.as_bytes().to_vec(),
    };
    // SAFETY: all-zero is a valid sockaddr_un.
    let mut sa: libc::sockaddr_un = unsafe { mem::zeroed() };
    if name.len() >= sa.sun_path.len() {
        return Err(format!("socket address too long: {s}"));
    }
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (d, c) in sa.sun_path.iter_mut().zip(&name) {
        *d = *c as libc::c_char;
    }
    let len = mem::size_of::<libc::sa_family_t>() + name.len();
    Ok((sa, len as libc::socklen_t))
}

/// Drains `fd` on a thread, or in a forked child that lives until nload kills it.
fn start_reader(
    fd: RawFd,
    how: Reader,
    pin: bool,
    setup: &mut Setup,
    received: &Arc<AtomicU64>,
    stop: &Arc<AtomicBool>,
) -> Result<(), String> {
    match how {
        Reader::Thread => {
            let (received, stop) = (received.clone(), stop.clone());
            thread::spawn(move || {
                if pin {
                    // Unpinned, the reader is only slower to show up in the numbers.
                    let _ = pin_to(1);
                }
                drain(fd, false, &received, &stop)
            });
        }
        Reader::Process | Reader::Spin => {
            // SAFETY: no threads exist yet (the reader is the only one nload starts, and this
            // branch starts none), so the child may run arbitrary code.
            let pid = unsafe { libc::fork() };
            if pid < 0 {
                return Err(format!("fork: {}", Error::last_os_error()));
            }
            if pid == 0 {
                // SAFETY: die with the parent, whatever happens to it.
                unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
                if pin {
                    let _ = pin_to(1);
                }
                drain(
                    fd,
                    how == Reader::Spin,
                    &AtomicU64::new(0),
                    &AtomicBool::new(false),
                );
                // SAFETY: leave without running the parent's destructors.
                unsafe { libc::_exit(0) };
            }
            setup.child = Some(pid);
        }
    }
    Ok(())
}

/// Pins the calling thread to `cpu`; with fewer than two CPUs, leaves it where it is (sender and
/// reader then share the one CPU whatever is asked).
fn pin_to(cpu: usize) -> Result<(), String> {
    if thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return Ok(());
    }
    // SAFETY: all-zero is an empty CPU set; CPU_SET stays within it for cpu < CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!("pinning to CPU {cpu}: {}", Error::last_os_error()));
        }
    }
    Ok(())
}

/// Reads with recvmsg(2), as systemd reads its notify socket: the observer's receive capture
/// hooks recvmsg, so the bench's readers show what it costs processes that are not a manager.
fn drain(fd: RawFd, spin: bool, received: &AtomicU64, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65536];
    let mut control = [0u8; 256];
    let flags = if spin { libc::MSG_DONTWAIT } else { 0 };
    while !stop.load(Ordering::Relaxed) {
        let n = recvmsg(fd, &mut buf, &mut control, flags);
        if n < 0 {
            if matches!(
                Error::last_os_error().raw_os_error(),
                Some(libc::EINTR | libc::EAGAIN)
            ) {
                continue;
            }
            return;
        }
        received.fetch_add(1, Ordering::Relaxed);
    }
}

/// One recvmsg(2) on an empty socket, as systemd calls it (one iovec, room for credentials);
/// EAGAIN, the expected answer, counts as done (0).
fn recvmsg_empty(fd: RawFd) -> isize {
    let r = recvmsg(fd, &mut [0u8; 64], &mut [0u8; 64], libc::MSG_DONTWAIT);
    if r < 0 && Error::last_os_error().raw_os_error() == Some(libc::EAGAIN) {
        0
    } else {
        r
    }
}

/// One recvmsg(2) into `buf` with room for ancillary data in `control`, as systemd reads its
/// notify socket (one iovec).
fn recvmsg(fd: RawFd, buf: &mut [u8], control: &mut [u8], flags: i32) -> isize {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: all-zero is a valid msghdr; the pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = control.len();
    // SAFETY: msg points at live buffers as long as it says.
    unsafe { libc::recvmsg(fd, &mut msg, flags) }
}

/// A connected pair of AF_UNIX datagram sockets.
fn dgram_socketpair() -> Result<[RawFd; 2], String> {
    let mut sv = [0 as RawFd; 2];
    // SAFETY: sv has room for the two fds.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            0,
            sv.as_mut_ptr(),
        )
    } != 0
    {
        return Err(format!("socketpair: {}", Error::last_os_error()));
    }
    Ok(sv)
}

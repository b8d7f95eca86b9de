//! `nsend`: sends one datagram the way notify clients do, then exits at once. The tests, the
//! demo and the benchmark use it as a real sender with a known pid, uid, comm and payload.
//!
//! nsend --to PATH|@NAME [--connect] [--write] [--part BYTES]... [--creds PID:UID:GID]
//!       [--fds N] [--dontwait] [--user UID:GID] [--repeat N] [--mmsg N] [--size N] [PAYLOAD]
//!       [--io-uring]
//! (--mmsg N: one sendmmsg(2) call carrying N copies of the datagram; --io-uring: the sendmsg
//! submitted to io_uring instead of made as a syscall.)
//! Prints one line per datagram: the bytes sent, or the errno name.

use std::{io::Error, process::ExitCode};

use observer_tests::sender::{Datagram, Target, send};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nsend: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let mut d = Datagram::default();
    let mut to = None;
    let mut connect = false;
    let mut repeat = 1u64;
    let mut user = None;
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--to" => to = Some(val()?),
            "--connect" => connect = true,
            "--write" => d.use_write = true,
            "--part" => d.parts.push(val()?.into_bytes()),
            "--size" => d
                .parts
                .push(vec![b'x'; val()?.parse().map_err(|_| "bad --size")?]),
            "--creds" => d.creds = Some(triple(&val()?)?),
            "--fds" => d.fds = val()?.parse().map_err(|_| "bad --fds")?,
            "--dontwait" => d.dontwait = true,
            "--io-uring" => d.io_uring = true,
            "--repeat" => repeat = val()?.parse().map_err(|_| "bad --repeat")?,
            "--mmsg" => d.mmsg = val()?.parse().map_err(|_| "bad --mmsg")?,
            "--user" => {
                let v = val()?;
                let (u, g) = v.split_once(':').ok_or("--user UID:GID")?;
                user = Some((
                    u.parse().map_err(|_| "bad uid")?,
                    g.parse().map_err(|_| "bad gid")?,
                ));
            }
            _ if !a.starts_with("--") => d.parts.push(a.into_bytes()),
            _ => return Err(format!("unknown option {a}")),
        }
    }
    let to = to.ok_or("--to is required")?;
    if let Some((uid, gid)) = user {
        // SAFETY: plain syscalls; group first, while we may still change it.
        if unsafe { libc::setgid(gid) } != 0 || unsafe { libc::setuid(uid) } != 0 {
            return Err(format!("setuid/setgid: {}", Error::last_os_error()));
        }
    }
    let target = Target::parse(&to);
    for _ in 0..repeat {
        match send(&target, connect, &d) {
            Ok(n) => println!("{n}"),
            Err(e) => println!("{}", observer_tests::errno_name(&e)),
        }
    }
    Ok(())
}

/// PID:UID:GID; PID may be `self` (this process) or `parent`.
fn triple(s: &str) -> Result<(i32, u32, u32), String> {
    let v: Vec<&str> = s.split(':').collect();
    let pid = |p: &str| match p {
        // SAFETY: getpid() has no preconditions.
        "self" => Ok(unsafe { libc::getpid() }),
        // SAFETY: getppid() has no preconditions.
        "parent" => Ok(unsafe { libc::getppid() }),
        p => p.parse().map_err(|_| "bad pid".to_string()),
    };
    match v.as_slice() {
        [p, u, g] => Ok((
            pid(p)?,
            u.parse().map_err(|_| "bad uid")?,
            g.parse().map_err(|_| "bad gid")?,
        )),
        _ => Err("--creds PID:UID:GID".into()),
    }
}

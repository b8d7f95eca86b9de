use std::os::unix::{fs::PermissionsExt, net::UnixListener};

use super::*;

fn root() -> bool {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn peer_uid(s: &UnixStream) -> u32 {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `cred`.
    unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    };
    cred.uid
}

/// A user manager is connected to as its user: the listener sees that uid, and a socket the
/// user may not reach stays out of reach (root would have reached it).
#[tokio::test]
async fn a_user_is_connected_to_as_that_user() {
    if !root() {
        eprintln!("skipped: needs root (drops to another uid)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("observer-connect-as-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.join("private");
    let listener = UnixListener::bind(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o777)).unwrap();
    let nobody = Approach::User {
        uid: 65534,
        gid: 65534,
        leader: None,
    };
    let s = connect(&nobody, &path, Duration::from_secs(2)).await;
    assert!(s.is_ok(), "{s:?}");
    let (theirs, _) = listener.accept().unwrap();
    assert_eq!(
        peer_uid(&theirs),
        65534,
        "connected as the user, not as root"
    );
    // Root may connect to a 0700 socket; the user may not.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
    let err = connect(&nobody, &path, Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("connect(): Permission denied"),
        "{err}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

/// A socket whose listener never accepts and whose backlog is full blocks connect(): the
/// child is given up on in time, and the caller hears why.
#[tokio::test]
async fn a_connect_that_blocks_is_given_up_in_time() {
    if !root() {
        eprintln!("skipped: needs root (drops to another uid)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("observer-connect-late-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.join("private");
    let listener = UnixListener::bind(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o777)).unwrap();
    // SAFETY: listen() on our own socket: a backlog of 0 fills with one connection.
    unsafe { libc::listen(listener.as_raw_fd(), 0) };
    let mut fillers = Vec::new();
    for _ in 0..4 {
        let s = socket_nonblocking();
        if s.connect_to(&path).is_err() {
            break;
        }
        fillers.push(s);
    }
    let user = Approach::User {
        uid: 65534,
        gid: 65534,
        leader: None,
    };
    let started = std::time::Instant::now();
    let err = connect(&user, &path, Duration::from_millis(500))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
    fs::remove_dir_all(&dir).unwrap();
}

/// A non-blocking unix stream socket, to fill a listener's backlog without blocking.
struct Filler(OwnedFd);

fn socket_nonblocking() -> Filler {
    // SAFETY: a fresh socket we own.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    // SAFETY: fd was just created.
    Filler(unsafe { OwnedFd::from_raw_fd(fd) })
}

impl Filler {
    fn connect_to(&self, path: &Path) -> io::Result<()> {
        let addr = sockaddr(path.as_os_str().as_bytes())?;
        // SAFETY: a valid sockaddr_un of the right size.
        let r = unsafe {
            libc::connect(
                self.0.as_raw_fd(),
                (&raw const addr).cast(),
                size_of::<libc::sockaddr_un>() as libc::socklen_t,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

use std::os::unix::net::UnixListener;

use super::*;

/// A manager that accepts and never answers: events wait for it a bounded time, then are
/// told why not, and the exit summary names it; nothing waits for it after that.
#[tokio::test]
async fn a_silent_manager_is_waited_for_a_bounded_time() {
    let dir = std::env::temp_dir().join(format!("observer-link-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("private");
    let _listener = UnixListener::bind(&path).unwrap();
    let target = Target {
        socket: path,
        p2p: true,
        leader: None,
        approach: Approach::Root,
    };
    let mut link = Link::new(Owner::System, Ok(target), false);
    let started = Instant::now();
    assert!(matches!(link.connected(Patience::Wait), Answer::Wait));
    while matches!(link.connected(Patience::Wait), Answer::Wait) {
        assert!(started.elapsed() < CONNECT_WAIT + Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(started.elapsed() >= CONNECT_WAIT);
    let Answer::No(why) = link.connected(Patience::Wait) else {
        panic!("still connecting, but no longer awaited");
    };
    assert!(why.contains("has not answered"), "{why}");
    let trouble = link.trouble().expect("named in the summary");
    assert!(trouble.contains("had not finished connecting"), "{trouble}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn retries_back_off_to_a_minute() {
    let mut link = Link::new(Owner::System, Err("not asked".into()), false);
    let waits: Vec<u64> = (1..=7)
        .map(|n| {
            link.failures = n;
            link.backoff().as_secs()
        })
        .collect();
    assert_eq!(waits, [5, 10, 20, 40, 60, 60, 60]);
    assert!(matches!(link.connected(Patience::Wait), Answer::No(w) if w == "not asked"));
}

use super::*;
use crate::verdict::Kind;

#[test]
fn message_ids_are_distinct_128_bit_hex() {
    let kinds = [
        Kind::Accepted,
        Kind::Barrier,
        Kind::ControlTruncated,
        Kind::Oversize,
        Kind::NoCredentials,
        Kind::SenderDied,
        Kind::EmbeddedNul,
        Kind::SplitFailed,
        Kind::BarrierExtraFields,
        Kind::BarrierBadFds,
        Kind::NoUnit,
        Kind::NotAService,
        Kind::AccessNone,
        Kind::NotMainPid,
        Kind::MainPidUnknown,
        Kind::NotExecPid,
        Kind::ExecPidsUnknown,
    ];
    let mut ids: Vec<&str> = kinds
        .iter()
        .map(|k| message_id(Outcome::Rejected, Some(*k)))
        .collect();
    ids.extend([
        message_id(Outcome::NotDelivered, None),
        message_id(Outcome::Unknown, None),
        DROPS_MESSAGE_ID,
    ]);
    for id in &ids {
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    }
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "MESSAGE_IDs must be distinct");
}

#[test]
fn level_filters_outcomes() {
    let j = |outcome| Judgement {
        outcome,
        ..Default::default()
    };
    assert!(wanted(JournalLevel::All, &j(Outcome::Accepted)));
    assert!(!wanted(JournalLevel::Rejections, &j(Outcome::Accepted)));
    assert!(!wanted(JournalLevel::Rejections, &j(Outcome::Unknown)));
    assert!(wanted(JournalLevel::Rejections, &j(Outcome::Rejected)));
    assert!(wanted(JournalLevel::Rejections, &j(Outcome::NotDelivered)));
}

/// A manager's unit name and a recorded comm with controls, C1 and bidi characters: what
/// is sent to journald holds none of them raw.
#[test]
fn entries_are_escaped_as_sent() {
    let mut ev = crate::recording::records::tests::sample_event();
    ev.comm = "a\u{1b}[2J\u{7}".into();
    let j = Judgement {
        unit: Some("x\u{9b}\u{202e}.service".into()),
        outcome: Outcome::Accepted,
        ..Default::default()
    };
    let e = event_entry(&Shown::unknown_socket(&ev, &j)).escaped();
    let all = std::iter::once(&e.message).chain(e.fields.iter().map(|(_, v)| v));
    for text in all {
        assert!(!text.chars().any(crate::safe_text::is_hidden), "{text:?}");
    }
    assert!(e.message.contains("a\\x1b[2J\\x07"), "{}", e.message);
}

#[test]
fn missing_journal_is_one_clear_error() {
    // Our own process is no container init with a journal.
    let err = JournalSink::new(JournalLevel::All, Some(std::process::id()))
        .err()
        .expect("no socket there");
    assert!(err.to_string().contains("no journald socket at"), "{err}");
}

/// A socket file nobody reads any more (journald stopped) is found out at start too.
#[test]
fn a_journal_socket_nobody_reads_is_found_at_start() {
    let dir = std::env::temp_dir().join(format!("observer-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("socket");
    let _ = std::fs::remove_file(&socket);
    let bound = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    reachable(&socket).unwrap();
    drop(bound);
    let err = reachable(&socket).unwrap_err().to_string();
    assert!(err.starts_with("no journald reading the socket"), "{err}");
    assert!(
        reachable(&dir.join("none"))
            .unwrap_err()
            .to_string()
            .starts_with("no journald socket at")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

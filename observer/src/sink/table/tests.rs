use super::*;
use crate::{judge::Judgement, pairing::Correction};

/// A recording's or a manager's strings, through a row and a delivery line: every control,
/// C1, bidi and zero-width character comes out escaped, and the columns still line up.
#[test]
fn hostile_strings_never_reach_the_terminal_raw() {
    let mut ev = crate::recording::records::tests::sample_event();
    ev.comm = "\u{1b}]0;pwn\u{7}\r".into();
    ev.payload = "STATUS=\u{202e}evil\u{200b}\u{feff}".as_bytes().to_vec();
    ev.len = ev.payload.len() as u32;
    let j = Judgement {
        unit: Some("x\u{9b}31m\u{2066}.service".into()),
        outcome: Outcome::Accepted,
        ..Default::default()
    };
    let mut sink = TableSink::new(Vec::new(), Zone::utc());
    sink.event(&Shown::unknown_socket(&ev, &j)).unwrap();
    let c = Correction {
        event: ev.clone(),
        unit: j.unit.clone(),
        delivery: crate::pairing::Delivery {
            delivered: Delivered::No,
            note: Some("gone\u{1b}[2J".into()),
            ..Default::default()
        },
    };
    sink.delivery(&Corrected {
        correction: &c,
        socket: crate::sink::SocketView::of(c.event.watch_id, None),
    })
    .unwrap();
    let out = String::from_utf8(sink.out).unwrap();
    assert!(
        !out.chars().any(|c| c != '\n' && safe_text::is_hidden(c)),
        "{out:?}"
    );
    assert!(out.contains("\\x1b]0;pwn\\x07"), "{out}");
    assert!(out.contains("\\xe2\\x80\\xae"), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
}

#[test]
fn fit_pads_and_cuts() {
    assert_eq!(fit("ab", 4), "ab  ");
    assert_eq!(fit("abcdef", 4), "abc…");
    assert_eq!(fit("abcdef", 0), "abcdef");
}

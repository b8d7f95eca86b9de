//! What a manager says, whatever its bytes (the peer on a manager's socket may be any user's
//! program): a D-Bus message off its connection through the signal decoding and checks
//! (observer/src/manager/heard.rs, said.rs), and the same bytes as a unit name, an object path,
//! a value of each kind and free text. Nothing the observer keeps may hold a control character;
//! a unit name kept passes systemd's rules; a value is kept as sent only when systemd sends it.
//!
//! Seeds: the signals tests/hostile/fake_manager.py lies with, and systemd's own.

#![no_main]

use libfuzzer_sys::fuzz_target;
use observer::said::{self, Kind};

const KINDS: [Kind; 7] = [
    Kind::ActiveState,
    Kind::SubState,
    Kind::ServiceResult,
    Kind::JobType,
    Kind::JobResult,
    Kind::ServiceType,
    Kind::NotifyAccess,
];

fn clean(s: &str) -> bool {
    !s.chars().any(char::is_control)
}

fuzz_target!(|data: &[u8]| {
    for s in said::strings_kept(data) {
        assert!(clean(&s), "kept from a signal: {s:?}");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if said::unit_name(text) {
        assert!(text.bytes().all(|b| b.is_ascii_graphic()), "{text:?}");
    }
    if let Some(unit) = said::unit_from_object_path(text) {
        assert!(said::unit_name(&unit) && clean(&unit), "{unit:?}");
    }
    for kind in KINDS {
        let v = said::value(kind, text);
        assert!(clean(&v), "{kind:?}: {v:?}");
        assert_eq!(said::is_known(kind, text), v == text, "{kind:?}: {text:?}");
    }
    assert!(clean(&said::text(text)));
});

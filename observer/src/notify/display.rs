//! How a payload is shown: the observer's own escaping (lossless, nothing hidden), and the
//! one-line summary the table and the stories print. Not a systemd port: systemd's own escaping,
//! for the log lines the rules reproduce, is `systemd_basic::escape`.

use super::{Field, Key};

/// Display escaping: C-style `\n \r \t \0 \\`, other hidden characters (controls, bidi,
/// zero-width: `safe_text::is_hidden`) and invalid UTF-8 as `\xNN`, printable ASCII and other
/// valid UTF-8 kept. Lossless and never panics.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    while !rest.is_empty() {
        let (good, bad) = match std::str::from_utf8(rest) {
            Ok(s) => (s, 0),
            Err(e) => {
                let (ok, tail) = rest.split_at(e.valid_up_to());
                // error_len() is None only for a truncated sequence at the end: all of it is bad.
                (
                    std::str::from_utf8(ok).unwrap_or_default(),
                    e.error_len().unwrap_or(tail.len()),
                )
            }
        };
        for c in good.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                c if crate::safe_text::is_hidden(c) => crate::safe_text::push_visible(&mut out, c),
                c => out.push(c),
            }
        }
        let skip = good.len();
        rest[skip..skip + bad]
            .iter()
            .for_each(|b| out.push_str(&format!("\\x{b:02x}")));
        rest = &rest[skip + bad..];
    }
    out
}

/// One-line human summary, e.g. `READY=1 STATUS="hello"`. Text values are quoted; numbers and
/// flags are not; lines without `=` are shown escaped as they are.
pub fn summary(fields: &[Field]) -> String {
    let text = |k: Key| {
        matches!(
            k,
            Key::Status
                | Key::BusError
                | Key::VarlinkError
                | Key::FdName
                | Key::Custom
                | Key::Unknown
        )
    };
    fields
        .iter()
        .map(|f| {
            if !f.has_equals {
                return f.name.clone();
            }
            let plain =
                !f.value.is_empty() && f.value.bytes().all(|c| c.is_ascii_graphic() && c != b'"');
            if text(f.key) || !plain {
                format!("{}=\"{}\"", f.name, f.value.replace('"', "\\\""))
            } else {
                format!("{}={}", f.name, f.value)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

//! Mirrors systemd's src/basic/escape.c: `cescape()`, which systemd's log lines use for text
//! from a sender, so the lines the observer reproduces match the journal byte for byte.

/// systemd's `cescape()` (src/basic/escape.c:14 `cescape_char()`): octal for bytes < 0x20 or
/// ≥ 0x7f, so log lines this observer reproduces match the journal byte for byte.
pub fn cescape(bytes: &[u8]) -> String {
    bytes.iter().map(|&c| cescape_char(c)).collect()
}

pub(super) fn cescape_char(c: u8) -> String {
    match c {
        0x07 => "\\a".into(),
        0x08 => "\\b".into(),
        0x0c => "\\f".into(),
        b'\n' => "\\n".into(),
        b'\r' => "\\r".into(),
        b'\t' => "\\t".into(),
        0x0b => "\\v".into(),
        b'\\' => "\\\\".into(),
        b'"' => "\\\"".into(),
        b'\'' => "\\'".into(),
        c if !(b' '..0x7f).contains(&c) => format!("\\{:o}{:o}{:o}", c >> 6, (c >> 3) & 7, c & 7),
        c => (c as char).to_string(),
    }
}

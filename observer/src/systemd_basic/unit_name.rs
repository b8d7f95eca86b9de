//! Mirrors systemd's src/basic/unit-name.c: which strings are unit names.

use super::unit_def::UNIT_TYPES;

/// `UNIT_NAME_MAX` (src/basic/unit-name.h): names must be shorter.
const UNIT_NAME_MAX: usize = 256;

/// `unit_name_is_valid()` (src/basic/unit-name.c) for the flags used here: PLAIN ("foo.service")
/// and/or INSTANCE ("foo@bar.service"); templates ("foo@.service") never name a running unit.
pub fn unit_name_is_valid(n: &str, plain: bool, instance: bool) -> bool {
    if n.is_empty() || n.len() >= UNIT_NAME_MAX {
        return false;
    }
    let Some(dot) = n.rfind('.').filter(|&d| d > 0) else {
        return false;
    };
    if !UNIT_TYPES.contains(&&n[dot + 1..]) {
        return false;
    }
    let stem = &n[..dot];
    // VALID_CHARS plus '@': DIGITS LETTERS ":-_.\\" — escapes such as "\x2d" stay escaped.
    let valid = |c: char| c.is_ascii_alphanumeric() || ":-_.\\@".contains(c);
    if !stem.chars().all(valid) {
        return false;
    }
    match stem.find('@') {
        None => plain,
        Some(0) => false,
        Some(at) => instance && dot > at + 1,
    }
}

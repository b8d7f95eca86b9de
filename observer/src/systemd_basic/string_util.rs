//! Mirrors systemd's src/basic/string-util.c (and string-util.h): which strings are safe to
//! keep (`BUSERROR=`, `VARLINKERROR=`), and `cellescape()`, which cuts a logged string to fit.

use super::escape::cescape_char;

/// `string_is_safe_ascii()` (string-util.h:241 v257.13): ASCII, no control chars, quotes or
/// backslash. `no_globs` adds v262's `string_is_safe(…, STRING_ASCII)` refusal of `*?[`.
pub fn string_is_safe_ascii(s: &[u8], no_globs: bool) -> bool {
    s.iter().all(|&c| {
        (b' '..0x7f).contains(&c) && !b"\"'\\".contains(&c) && !(no_globs && b"*?[".contains(&c))
    })
}

/// `cellescape(buf, len, s)` (src/basic/string-util.c:529 v257.13): escape, and cut to fit
/// `len - 1` bytes ending in an ellipsis when it does not. The ellipsis is "…" (3 bytes), what
/// `special_glyph_full(SPECIAL_GLYPH_ELLIPSIS)` gives when PID 1's `is_locale_utf8()` holds (its
/// default, also under LANG=C).
pub fn cellescape(bytes: &[u8], len: usize) -> String {
    let (mut out, mut widths) = (String::new(), Vec::new());
    for &c in bytes {
        let e = cescape_char(c);
        if out.len() + e.len() + 1 > len {
            // Make room for the ellipsis by dropping up to four of the last escaped characters.
            for w in widths.iter().rev().take(4) {
                if out.len() + 4 <= len {
                    break;
                }
                out.truncate(out.len() - w);
            }
            let room = len.saturating_sub(out.len() + 1);
            out.push_str(match room {
                0 => "",
                1 => ".",
                2 => "..",
                _ => "…",
            });
            return out;
        }
        widths.push(e.len());
        out.push_str(&e);
    }
    out
}

//! One escaping for every output. What the observer prints, writes to the journal or puts in a
//! report comes from places it does not trust: the kernel (a sender's comm, its payload),
//! managers (unit names, states, results, job types over D-Bus) and recordings (any bytes with
//! valid checksums). None of it may reach a terminal, a journal or a browser as a character that
//! acts instead of showing: an escape sequence, a carriage return, a bidi override that draws
//! the rest of the line reversed, a zero-width character that hides text.
//!
//! Hidden characters ([`is_hidden`]): the C0 controls and DEL, the C1 controls (U+0080–U+009F),
//! the bidi controls (U+061C, U+200E/F, U+202A–U+202E, U+2066–U+2069) and the invisible ones
//! (zero-width space/joiners, word joiner, U+FEFF, soft hyphen, fillers, variation selectors,
//! tags, line/paragraph separators).
//!
//! Two forms, one rule:
//! - visible text (table, replay, diagnose, journal, HTML, stderr): `\n`, `\r`, `\t` and `\0` by
//!   name, any other hidden character as `\xNN` for each of its UTF-8 bytes (U+202E is
//!   `\xe2\x80\xae`, U+009B is `\xc2\x9b`), the form `notify::escape` gives payloads. It is for
//!   reading, not lossless: a backslash is left as it is;
//! - JSON: `\uXXXX` (a surrogate pair above U+FFFF), so a JSON reader gets the exact string
//!   back while the bytes written hold no hidden character.
//!
//! Architecture Invariant: every sink and view passes what it writes through one of these.

use std::borrow::Cow;

/// Whether `c` acts on a terminal or a text renderer instead of showing as a glyph.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'                      // soft hyphen
            | '\u{034F}'                    // combining grapheme joiner
            | '\u{061C}'                    // Arabic letter mark (bidi)
            | '\u{115F}' | '\u{1160}'       // Hangul fillers
            | '\u{17B4}' | '\u{17B5}'       // Khmer inherent vowels (invisible)
            | '\u{180B}'..='\u{180F}'       // Mongolian variation selectors, vowel separator
            | '\u{200B}'..='\u{200F}'       // zero-width space, non-joiner, joiner; LRM, RLM
            | '\u{2028}'..='\u{202E}'       // line/paragraph separators; bidi embeddings, overrides
            | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, bidi isolates
            | '\u{3164}'                    // Hangul filler
            | '\u{FE00}'..='\u{FE0F}'       // variation selectors
            | '\u{FEFF}'                    // zero-width no-break space (byte order mark)
            | '\u{FFA0}'                    // halfwidth Hangul filler
            | '\u{FFF9}'..='\u{FFFB}'       // interlinear annotation controls
            | '\u{1BCA0}'..='\u{1BCA3}'     // shorthand format controls
            | '\u{1D173}'..='\u{1D17A}'     // musical symbol format controls
            | '\u{E0000}'..='\u{E007F}'     // tags
            | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
        )
}

/// Appends `c` in its visible form (see the module comment).
pub fn push_visible(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\0' => out.push_str("\\0"),
        c => {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        }
    }
}

/// One value (a table cell, a journal field, a line of stderr): every hidden character made
/// visible, newlines included, so the value stays on one line.
pub fn text(s: &str) -> Cow<'_, str> {
    visible(s, is_hidden)
}

/// Text the observer laid out in lines itself (a story, a page): as [`text`], but `\n` stays.
pub fn lines(s: &str) -> Cow<'_, str> {
    visible(s, |c| c != '\n' && is_hidden(c))
}

fn visible(s: &str, hide: impl Fn(char) -> bool) -> Cow<'_, str> {
    let Some(first) = s.find(&hide) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 16);
    out.push_str(&s[..first]);
    for c in s[first..].chars() {
        if hide(c) {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A line of serialized JSON (serde_json's output): every hidden character as a `\u` escape.
/// serde_json escapes C0 already but writes DEL, C1 and the rest raw; all of those can only
/// stand inside a JSON string (it writes nothing else outside ASCII), where `\uXXXX` is valid.
pub fn json(line: &str) -> Cow<'_, str> {
    // Fast path: plain ASCII below DEL holds nothing to escape.
    if line.bytes().all(|b| b < 0x7f) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 16);
    for c in line.chars() {
        if is_hidden(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests;

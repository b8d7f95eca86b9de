use super::*;

/// Every character the issue names, and the classes around them.
const HOSTILE: &[char] = &[
    '\u{1b}',
    '\u{07}',
    '\r',
    '\n',
    '\t',
    '\0',
    '\u{7f}',
    '\u{80}',
    '\u{9b}',
    '\u{9f}',
    '\u{61c}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{200f}',
    '\u{202a}',
    '\u{202e}',
    '\u{2066}',
    '\u{2069}',
    '\u{2060}',
    '\u{feff}',
    '\u{2028}',
    '\u{e0041}',
];

/// What no output may hold raw: any byte of a hidden character's UTF-8 form in a position
/// where it decodes to that character.
fn holds_hidden(s: &str) -> bool {
    s.chars().any(is_hidden)
}

#[test]
fn every_hidden_character_is_made_visible() {
    for &c in HOSTILE {
        assert!(is_hidden(c), "{:?} should count as hidden", c);
        let s = format!("a{c}b");
        assert!(!holds_hidden(&text(&s)), "{:?} → {:?}", c, text(&s));
        assert!(!holds_hidden(&json(&serde_json::to_string(&s).unwrap())));
    }
    assert_eq!(text("\u{1b}[2J\u{7}"), "\\x1b[2J\\x07");
    assert_eq!(text("a\nb\r\t\0"), "a\\nb\\r\\t\\0");
    assert_eq!(text("\u{9b}31m"), "\\xc2\\x9b31m");
    assert_eq!(text("abc\u{202e}fed"), "abc\\xe2\\x80\\xaefed");
    assert_eq!(
        text("x\u{200b}y\u{feff}"),
        "x\\xe2\\x80\\x8by\\xef\\xbb\\xbf"
    );
}

#[test]
fn plain_text_is_kept_as_is_and_borrowed() {
    for s in [
        "",
        "foo.service",
        "héllo € ✓ 日本",
        "a\\x1b stays",
        "tab-free",
    ] {
        assert!(matches!(text(s), Cow::Borrowed(_)), "{s}");
        assert!(matches!(lines(s), Cow::Borrowed(_)), "{s}");
        let j = serde_json::to_string(s).unwrap();
        assert!(matches!(json(&j), Cow::Borrowed(_)) || !j.is_ascii());
        assert_eq!(json(&j), j);
    }
}

#[test]
fn lines_keep_newlines_only() {
    assert_eq!(lines("a\nb\u{1b}c\r\n"), "a\nb\\x1bc\\r\n");
}

#[test]
fn json_escapes_round_trip_exactly() {
    let s: String = HOSTILE.iter().collect::<String>() + "ok ✓";
    let line = serde_json::to_string(&serde_json::json!({ "unit": s })).unwrap();
    let safe = json(&line);
    assert!(!holds_hidden(&safe), "{safe}");
    assert!(safe.contains("\\u009b") && safe.contains("\\u202e") && safe.contains("\\u007f"));
    // Above U+FFFF: a surrogate pair, as JSON spells it.
    assert!(safe.contains("\\udb40\\udc41"), "{safe}");
    let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
    assert_eq!(back["unit"], s);
}

#[test]
fn random_strings_never_keep_a_hidden_character() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..2000 {
        let s: String = (0..(next() % 40))
            .filter_map(|_| {
                let r = next();
                if r % 3 == 0 {
                    Some(HOSTILE[(r >> 8) as usize % HOSTILE.len()])
                } else {
                    char::from_u32((r >> 16) as u32 % 0x11_0000)
                }
            })
            .collect();
        assert!(!holds_hidden(&text(&s)));
        assert!(!lines(&s).chars().any(|c| c != '\n' && is_hidden(c)));
        let j = serde_json::to_string(&s).unwrap();
        let safe = json(&j);
        assert!(!holds_hidden(&safe));
        assert_eq!(serde_json::from_str::<String>(&safe).unwrap(), s);
    }
}

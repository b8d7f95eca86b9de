use super::*;
use crate::systemd_basic::{
    escape::cescape,
    fd_util::fdname_is_valid,
    parse_util::{parse_errno, parse_pid, safe_atou64},
    string_util::cellescape,
};

fn keys(p: &[u8]) -> Vec<(Key, String, String)> {
    parse(p)
        .into_iter()
        .map(|f| (f.key, f.name, f.value))
        .collect()
}

#[test]
fn splits_on_newlines() {
    // strv_split_newlines(): one field per line (strv.c:241 v252.39).
    assert_eq!(
        keys(b"READY=1\nSTATUS=hello"),
        vec![
            (Key::Ready, "READY".into(), "1".into()),
            (Key::Status, "STATUS".into(), "hello".into())
        ]
    );
}

#[test]
fn empty_payload_has_no_fields() {
    // strv_split_full() of "" yields an empty strv (strv.c:265 v252.39); systemd still
    // processes it and logs "n/a" for the tags.
    let p = parse_payload(b"");
    assert!(p.fields.is_empty() && !p.embedded_nul && p.split_error.is_none());
}

#[test]
fn empty_lines_crlf_and_trailing_newline_vanish() {
    // extract_first_word() coalesces runs of "\n\r" (extract-word.c:37 v252.39 skips leading
    // separators); strv_split_newlines_full() drops a trailing empty word.
    let want = keys(b"READY=1\nSTATUS=x");
    assert_eq!(keys(b"READY=1\nSTATUS=x\n"), want);
    assert_eq!(keys(b"\n\nREADY=1\n\n\nSTATUS=x\n\n"), want);
    assert_eq!(keys(b"READY=1\r\nSTATUS=x\r\n"), want);
    assert_eq!(keys(b"READY=1\rSTATUS=x"), want);
}

#[test]
fn lines_are_not_trimmed() {
    // strv_contains(tags, "READY=1") compares whole lines (service.c:4703 v257.13).
    let f = &parse(b"READY=1 ")[0];
    assert_eq!(f.key, Key::Ready);
    assert!(matches!(f.validity, Validity::NoEffect(_)));
    assert!(matches!(parse(b" READY=1")[0].key, Key::Unknown));
}

#[test]
fn line_without_equals_is_unknown() {
    let f = &parse(b"READY")[0];
    assert_eq!(
        (f.key, f.has_equals, f.name.as_str()),
        (Key::Unknown, false, "READY")
    );
    assert!(matches!(f.validity, Validity::NotInterpreted(_)));
}

#[test]
fn keys_are_case_sensitive_and_value_may_hold_equals() {
    assert_eq!(parse(b"ready=1")[0].key, Key::Unknown);
    let f = &parse(b"STATUS=a=b")[0];
    assert_eq!((f.key, f.value.as_str()), (Key::Status, "a=b"));
    assert_eq!(parse(b"X_MYAPP=1")[0].key, Key::Custom);
    assert_eq!(parse(b"EXIT_STATUS=3")[0].key, Key::ExitStatus);
}

#[test]
fn duplicate_value_keys_first_wins() {
    // strv_find_startswith() returns the first match (strv.c:49 v252.39).
    let f = parse(b"STATUS=first\nSTATUS=second");
    assert!(!f[0].shadowed && f[1].shadowed);
    // Flags use strv_contains(): no shadowing, any exact line counts.
    let f = parse(b"READY=0\nREADY=1");
    assert!(!f[1].shadowed);
    assert!(matches!(f[0].validity, Validity::NoEffect(_)) && f[1].validity == Validity::Valid);
}

#[test]
fn backslash_escapes_next_byte() {
    // extract_first_word() flags=0: "\X" → "X", even for separators (extract-word.c:67 v252.39).
    assert_eq!(parse(b"STATUS=a\\b")[0].raw, b"STATUS=ab");
    assert_eq!(parse(b"STATUS=a\\\\b")[0].raw, b"STATUS=a\\b");
    let f = parse(b"STATUS=a\\\nREADY=1");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].raw, b"STATUS=a\nREADY=1");
    assert_eq!(f[0].value, "a\\nREADY=1");
}

#[test]
fn trailing_backslash_fails_the_split() {
    // extract-word.c:88 v252.39 returns -EINVAL; manager.c:2589 then log_oom()s and drops.
    let p = parse_payload(b"STATUS=C:\\");
    assert!(p.split_error.is_some());
    assert_eq!(p.fields[0].raw, b"STATUS=C:\\");
    assert!(parse_payload(b"STATUS=C:\\\\").split_error.is_none());
}

#[test]
fn nul_handling() {
    // manager.c:2582 v252.39: NUL in the first n-1 bytes is fatal, one trailing NUL is fine.
    let p = parse_payload(b"READY=1\0");
    assert!(p.trailing_nul && !p.embedded_nul);
    assert_eq!(keys(b"READY=1\0"), keys(b"READY=1"));
    let p = parse_payload(b"READY=1\0STATUS=x");
    assert!(p.embedded_nul);
    assert_eq!(p.fields[0].value, "1\\0STATUS=x");
    assert!(parse_payload(b"\0").trailing_nul && !parse_payload(b"\0").embedded_nul);
    assert!(parse_payload(b"\0\0").embedded_nul);
}

#[test]
fn non_utf8_status_is_invalid_and_escaped() {
    // service.c:4224 v252.39: "Status message in notification message is not UTF-8 clean".
    let f = &parse(b"STATUS=caf\xe9")[0];
    assert!(matches!(f.validity, Validity::Invalid(_)));
    assert_eq!(f.value, "caf\\xe9");
    assert_eq!(parse(b"STATUS=caf\xc3\xa9")[0].value, "café");
    assert_eq!(parse(b"STATUS=")[0].validity, Validity::Valid); // clears the text
}

#[test]
fn big_payload_parses() {
    let mut p = b"STATUS=".to_vec();
    p.extend(std::iter::repeat_n(b'x', 5000));
    let f = parse(&p);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].value.len(), 5000);
}

#[test]
fn value_rules() {
    let v = |p: &[u8]| parse(p).remove(0).validity;
    assert_eq!(v(b"NOTIFYACCESS=all"), Validity::Valid);
    assert!(matches!(v(b"NOTIFYACCESS=ALL"), Validity::Invalid(_)));
    assert_eq!(v(b"WATCHDOG=trigger"), Validity::Valid);
    assert!(matches!(v(b"WATCHDOG=0"), Validity::Invalid(_)));
    assert_eq!(v(b"FDPOLL=0"), Validity::Valid);
    assert!(matches!(v(b"FDPOLL=1"), Validity::NoEffect(_)));
    assert_eq!(v(b"FDNAME="), Validity::Valid);
    assert!(matches!(v(b"FDNAME=a:b"), Validity::Invalid(_)));
    assert_eq!(
        v(&[b"FDNAME=".as_slice(), &[b'a'; 255]].concat()),
        Validity::Valid
    );
    assert!(matches!(
        v(&[b"FDNAME=".as_slice(), &[b'a'; 256]].concat()),
        Validity::Invalid(_)
    ));
    assert_eq!(
        v(b"BUSERROR=org.freedesktop.DBus.Error.Failed"),
        Validity::Valid
    );
    assert!(matches!(v(b"BUSERROR=a\"b"), Validity::Invalid(_)));
    assert!(matches!(v(b"STOPPING=yes"), Validity::NoEffect(_)));
    assert!(matches!(v(b"EXIT_STATUS=0"), Validity::NotInterpreted(_)));
    assert!(matches!(v(b"WATCHDOG_USEC=5s"), Validity::Invalid(_)));
    assert_eq!(v(b"MONOTONIC_USEC=123"), Validity::Valid);
}

#[test]
fn escaping() {
    assert_eq!(escape(b"a\nb\tc\r\0\\"), "a\\nb\\tc\\r\\0\\\\");
    assert_eq!(escape(b"\x01\x7f\xff\xc3"), "\\x01\\x7f\\xff\\xc3");
    assert_eq!(escape("héllo €".as_bytes()), "héllo €");
    assert_eq!(escape("\u{85}".as_bytes()), "\\xc2\\x85");
    // Bidi and zero-width characters would reorder or hide what follows them.
    assert_eq!(escape("a\u{202e}b".as_bytes()), "a\\xe2\\x80\\xaeb");
    assert_eq!(
        escape("\u{200b}\u{feff}".as_bytes()),
        "\\xe2\\x80\\x8b\\xef\\xbb\\xbf"
    );
    // cescape_char(): octal (escape.c:14 v252.39).
    assert_eq!(cescape(b"a\"\xe2\x80\xa6\x01"), "a\\\"\\342\\200\\246\\001");
    // cellescape(buf, 64, …) keeps short strings and ends long ones in "...".
    assert_eq!(cellescape(b"READY=1", 64), "READY=1");
    let long = cellescape(&[b'x'; 100], 64);
    assert_eq!(long.len(), 63);
    assert!(long.ends_with("…"));
    assert_eq!(cellescape(&[b'x'; 63], 64).len(), 63);
}

#[test]
fn summaries() {
    assert_eq!(
        summary(&parse(b"READY=1\nSTATUS=hello")),
        "READY=1 STATUS=\"hello\""
    );
    assert_eq!(
        summary(&parse(b"MAINPID=42\nX_A=b c\nfoo")),
        "MAINPID=42 X_A=\"b c\" foo"
    );
    assert_eq!(
        summary(&parse(b"STATUS=say \"hi\"")),
        "STATUS=\"say \\\"hi\\\"\""
    );
    assert_eq!(summary(&parse(b"ERRNO=")), "ERRNO=\"\"");
    assert_eq!(summary(&[]), "");
}

#[test]
fn serializes_snake_case() {
    let j = serde_json::to_value(parse(b"MAINPID=x\nFDSTOREREMOVE=1")).unwrap();
    assert_eq!(j[0]["key"], "main_pid");
    assert_eq!(j[0]["validity"]["status"], "invalid");
    assert_eq!(j[0]["validity"]["detail"], "Invalid argument");
    assert_eq!(j[1]["key"], "fd_store_remove");
    assert!(j[0].get("raw").is_none());
}

#[test]
fn random_bytes_never_panic() {
    // xorshift64*: deterministic, dependency-free. Bias towards bytes that matter here.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let alphabet = b"\n\r\\=\0\x80\xff\xc3\xa9 READYSTATUSMAINPID0123456789x";
    for _ in 0..800 {
        let len = (next() % 5000) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let r = next();
                if r % 2 == 0 {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                } else {
                    (r >> 16) as u8
                }
            })
            .collect();
        let p = parse_payload(&bytes);
        let _ = summary(&p.fields);
        let _ = serde_json::to_string(&p).unwrap();
        let _ = (
            escape(&bytes),
            cescape(&bytes),
            cellescape(&bytes, 64),
            cellescape(&bytes, 1),
        );
        for f in &p.fields {
            let v = f.raw_value();
            let _ = (
                safe_atou64(v),
                parse_pid(v),
                parse_errno(v),
                fdname_is_valid(v),
            );
        }
    }
}

use super::*;

#[test]
fn stars_questions_and_bare_names() {
    assert!(matches("foo.service", "foo.service"));
    assert!(matches("foo", "foo.service"));
    assert!(matches("tb-*", "tb-notify-python.service"));
    assert!(matches("foo@*.service", "foo@bar\\x2dbaz.service"));
    assert!(matches("foo\\x2d*", "foo\\x2dbar.service"));
    assert!(!matches("foo", "foobar.service"));
    assert!(!matches("?", "ab"));
}

#[test]
fn character_classes() {
    assert!(matches("tb-[ab]*", "tb-a.service"));
    assert!(!matches("tb-[ab]*", "tb-c.service"));
    assert!(matches("getty@tty[1-3].service", "getty@tty2.service"));
    assert!(!matches("getty@tty[1-3].service", "getty@tty4.service"));
    assert!(matches("x[!a]", "xb.service") && matches("x[^a]", "xb.service"));
    assert!(!matches("x[!a]", "xa.service"));
    assert!(matches("x[]]", "x].service"));
    assert!(matches("x[a-]", "x-.service"));
}

#[test]
fn malformed_globs_are_refused_with_a_reason() {
    for bad in ["[", "foo[", "foo[ab", "[!", "[]"] {
        let e = check(bad).unwrap_err();
        assert!(e.starts_with("unclosed '['"), "{bad}: {e}");
        assert!(!matches(bad, "foo.service"));
    }
    for good in ["*", "foo", "a[b]c", "[[]", "x]"] {
        assert_eq!(check(good), Ok(()), "{good}");
    }
}

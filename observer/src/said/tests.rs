use super::*;

#[test]
fn unit_names_by_systemds_rules() {
    for good in [
        "foo.service",
        "foo@bar\\x2dbaz.service",
        "a:b-c_d.e.socket",
        "1.service",
    ] {
        assert!(unit_name(good), "{good}");
    }
    for bad in [
        "",
        "foo",
        ".service",
        "foo.bogus",
        "foo@.service",
        "@x.service",
        "\x1b[2J.service",
        "foo\x07.service",
        "foo\u{9b}.service",
        "foo\u{202e}.service",
        "foo bar.service",
        &format!("{}.service", "a".repeat(250)),
    ] {
        assert!(!unit_name(bad), "{bad:?}");
    }
}

#[test]
fn object_paths_that_decode_to_control_characters_name_no_unit() {
    let p = |s: &str| unit_from_object_path(&format!("/org/freedesktop/systemd1/unit/{s}"));
    assert_eq!(p("foo_2eservice").as_deref(), Some("foo.service"));
    assert_eq!(
        p("foo_40bar_5cx2dbaz_2eservice").as_deref(),
        Some("foo@bar\\x2dbaz.service")
    );
    assert_eq!(p("x_1b_5b2J_07_2eservice"), None);
    assert_eq!(p("x_c2_9b_2eservice"), None, "C1 CSI");
    assert_eq!(p("x_ff_2eservice"), None, "not UTF-8");
    assert_eq!(p("bad_2"), None);
    assert_eq!(unit_from_object_path("/org/freedesktop/systemd1"), None);
}

#[test]
fn unknown_values_are_kept_marked_and_escaped() {
    assert_eq!(value(Kind::ActiveState, "active"), "active");
    assert_eq!(value(Kind::SubState, "start-post"), "start-post");
    assert_eq!(value(Kind::ServiceResult, "exit-code"), "exit-code");
    assert_eq!(value(Kind::JobType, "restart"), "restart");
    assert_eq!(value(Kind::JobResult, "canceled"), "canceled");
    assert_eq!(value(Kind::ServiceType, "notify-reload"), "notify-reload");
    assert_eq!(value(Kind::NotifyAccess, "exec"), "exec");
    let v = value(Kind::ActiveState, "\x1b]0;pwned\x07");
    assert_eq!(v, "unrecognised:\\x1b]0;pwned\\x07");
    assert!(is_unrecognised(&v));
    assert!(!v.chars().any(char::is_control));
    assert_eq!(
        value(Kind::ServiceResult, "\u{9b}2J"),
        "unrecognised:\\xc2\\x9b2J"
    );
    // A future systemd's value: shown as it is, marked.
    assert_eq!(value(Kind::SubState, "new-state"), "unrecognised:new-state");
}

#[test]
fn text_keeps_words_and_escapes_controls() {
    assert_eq!(text("Ready, 3 workers"), "Ready, 3 workers");
    assert_eq!(text("\x1b[31mred\x07"), "\\x1b[31mred\\x07");
    assert!(!text("a\u{85}b\u{9f}c\x7f").chars().any(char::is_control));
}

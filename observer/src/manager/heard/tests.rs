use super::*;

const ROOT: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

fn signal<B>(path: &str, iface: &str, member: &str, body: &B) -> zbus::Message
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    zbus::Message::signal(path, iface, member)
        .build(body)
        .unwrap()
}

fn kept(msg: &zbus::Message) -> Vec<String> {
    strings_kept(msg.data())
}

/// What a lying manager says (tests/hostile/fake_manager.py says the same on the wire).
#[test]
fn a_liars_names_are_dropped_and_its_states_marked() {
    let job = OwnedObjectPath::try_from(format!("{ROOT}/job/7")).unwrap();
    let evil = "\x1b[2J\x1b]0;owned\x07.service";
    let m = signal(ROOT, MANAGER, "JobNew", &(7u32, &job, evil));
    assert!(matches!(heard(&m), Heard::Wrong));
    let m = signal(ROOT, MANAGER, "JobNew", &(7u32, &job, "ok.service"));
    assert!(matches!(heard(&m), Heard::JobNew { unit, .. } if unit == "ok.service"));
    let m = signal(
        ROOT,
        MANAGER,
        "JobRemoved",
        &(7u32, &job, "ok.service", "\x1b]52;c;cHduZWQ=\x07"),
    );
    assert_eq!(
        kept(&m),
        ["ok.service", "unrecognised:\\x1b]52;c;cHduZWQ=\\x07"]
    );
    // A path that decodes to ESC names no unit.
    let changed: HashMap<&str, zbus::Variant> = [("ActiveState", "failed".into())].into();
    let m = signal(
        &format!("{ROOT}/unit/x_1b_5b2J_2eservice"),
        "org.freedesktop.DBus.Properties",
        "PropertiesChanged",
        &(
            "org.freedesktop.systemd1.Unit",
            &changed,
            Vec::<String>::new(),
        ),
    );
    assert!(matches!(heard(&m), Heard::Wrong));
    // A valid unit's states outside systemd's sets: kept, marked, escaped.
    let changed: HashMap<&str, zbus::Variant> = [
        ("ActiveState", "\x1b]0;pwned\x07".into()),
        ("SubState", "running".into()),
    ]
    .into();
    let m = signal(
        &format!("{ROOT}/unit/evil_2eservice"),
        "org.freedesktop.DBus.Properties",
        "PropertiesChanged",
        &(
            "org.freedesktop.systemd1.Unit",
            &changed,
            Vec::<String>::new(),
        ),
    );
    let k = kept(&m);
    assert_eq!(k[0], "evil.service");
    assert!(
        k.contains(&"unrecognised:\\x1b]0;pwned\\x07".to_string()),
        "{k:?}"
    );
    assert!(k.contains(&"running".to_string()), "{k:?}");
    assert!(k.iter().all(|s| !s.chars().any(char::is_control)), "{k:?}");
}

/// The hostile test's fake (tests/hostile/fake_manager.py) speaks real D-Bus: its lies, as
/// the `said` fuzz target's seeds hold them, decode, and come out checked.
#[test]
fn the_fakes_lies_decode_and_come_out_checked() {
    let seed = |name: &str| {
        std::fs::read(format!(
            "{}/../fuzz/seeds/said/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    assert!(strings_kept(&seed("jobnew-evil")).is_empty());
    assert!(strings_kept(&seed("changed-esc-path")).is_empty());
    assert_eq!(strings_kept(&seed("jobnew")), ["evil.service"]);
    let removed = strings_kept(&seed("jobremoved"));
    assert_eq!(removed[0], "evil.service");
    assert!(
        removed[1].starts_with("unrecognised:\\x1b]52"),
        "{removed:?}"
    );
    let changed = strings_kept(&seed("changed-unit"));
    assert!(changed.len() >= 3, "{changed:?}");
    assert!(changed.iter().all(|s| !s.chars().any(char::is_control)));
    assert_eq!(
        strings_kept(&seed("honest-changed")),
        ["tb-notify-python.service", "active", "running", "running"]
    );
}

#[test]
fn garbage_is_not_a_signal() {
    assert!(strings_kept(b"").is_empty());
    assert!(strings_kept(b"l\x04\x01\x01\xff\xff\xff\xff").is_empty());
}

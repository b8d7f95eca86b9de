use super::*;

#[test]
fn units_past_the_cap_share_the_overflow_series() {
    // A manager counts as one: room for it and two units.
    let mut cap = UnitCap::new(3);
    let mut unit = |m: &str, u: &str| cap.label(m, Some(u)).unit.to_string();
    assert_eq!(unit("system manager", "a.service"), "a.service");
    assert_eq!(unit("system manager", "b.service"), "b.service");
    assert_eq!(unit("system manager", "c.service"), OVERFLOW);
    // Already admitted ones keep their series.
    assert_eq!(unit("system manager", "a.service"), "a.service");
    // Another manager has no room left either.
    let other = cap.label("container 7", Some("a.service"));
    assert!(other.overflowed());
    assert_eq!(&*other.manager, OVERFLOW);
    assert_eq!(cap.refused(), 2);
}

#[test]
fn admitted_names_are_shared_not_copied() {
    let mut cap = UnitCap::new(10);
    let a = cap.label("system manager", Some("a.service"));
    let b = cap.label("system manager", Some("a.service"));
    assert!(Arc::ptr_eq(&a.unit, &b.unit) && Arc::ptr_eq(&a.manager, &b.manager));
}

#[test]
fn a_flood_of_units_keeps_the_set_bounded() {
    let mut cap = UnitCap::new(100);
    for i in 0..100_000 {
        cap.label("system manager", Some(&format!("run-u{i}.service")));
    }
    let units: usize = cap.by_manager.values().map(HashSet::len).sum();
    assert_eq!(units + cap.by_manager.len(), 100);
    assert_eq!(cap.refused(), 99_901);
}

#[test]
fn unit_labels_are_bounded_and_never_empty() {
    assert_eq!(unit_label(None), NO_UNIT);
    let long = "é".repeat(300);
    let l = unit_label(Some(&long));
    assert!(l.len() <= UNIT_NAME_MAX && l.len() >= UNIT_NAME_MAX - 1);
    assert!(l.chars().all(|c| c == 'é'));
    assert_eq!(unit_label(Some("x.service")), "x.service");
}

#[test]
fn other_keys_are_capped_too() {
    let mut cap = Cap::new(1);
    assert!(cap.admit(&"EPERM"));
    assert!(!cap.admit(&"EAGAIN"));
    assert!(cap.admit(&"EPERM"));
}

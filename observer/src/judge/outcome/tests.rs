use super::*;

#[test]
fn serde_spells_each_outcome_as_as_str_does() {
    for o in Outcome::ALL {
        let json = serde_json::to_value(o).unwrap();
        assert_eq!(json, o.as_str(), "{o:?}");
        assert_eq!(serde_json::from_value::<Outcome>(json).unwrap(), o);
        assert_eq!(Outcome::from_recorded(o.as_str()), o);
    }
}

#[test]
fn names_stay_as_users_filter_on_them() {
    let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
    assert_eq!(names, ["accepted", "rejected", "not-delivered", "unknown"]);
}

#[test]
fn an_unknown_recorded_name_is_unknown() {
    assert_eq!(Outcome::from_recorded("depends"), Outcome::Unknown);
    assert_eq!(Outcome::from_recorded(""), Outcome::Unknown);
}

//! Bounded label cardinality. Every series lives as long as the process (a counter that
//! vanished would read as a reset), so the set of label values must be bounded: a flood of
//! transient units (`run-u1234.service`, …) would otherwise grow memory without limit.

use std::{collections::HashSet, hash::Hash};

/// The unit label of everything past the cap (systemd's unit names never contain parentheses).
pub const OVERFLOW: &str = "(overflow)";
/// The unit label of a datagram no unit was found for.
pub const NO_UNIT: &str = "(none)";
/// systemd's UNIT_NAME_MAX: no real unit name is longer; anything longer is cut there.
pub const UNIT_NAME_MAX: usize = 256;

/// Admits the first `max` distinct keys; the ones after them are told to use the overflow series.
pub struct Cap<K> {
    max: usize,
    admitted: HashSet<K>,
    refused: u64,
}

impl<K: Eq + Hash + Clone> Cap<K> {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            admitted: HashSet::new(),
            refused: 0,
        }
    }

    /// Whether `key` has (or now gets) a series of its own.
    pub fn admit(&mut self, key: &K) -> bool {
        if self.admitted.contains(key) {
            return true;
        }
        if self.admitted.len() < self.max {
            self.admitted.insert(key.clone());
            return true;
        }
        self.refused += 1;
        false
    }

    /// How many times a key was sent to the overflow series.
    pub fn refused(&self) -> u64 {
        self.refused
    }
}

/// A unit name as a label value: at most UNIT_NAME_MAX bytes (cut at a character boundary).
/// The encoder escapes what the exposition format needs; this only bounds the length.
pub fn unit_label(unit: Option<&str>) -> String {
    let Some(unit) = unit else {
        return NO_UNIT.to_owned();
    };
    let mut end = unit.len().min(UNIT_NAME_MAX);
    while !unit.is_char_boundary(end) {
        end -= 1;
    }
    unit[..end].to_owned()
}

/// (manager, unit) → the unit label to use: the unit itself while under the cap, else OVERFLOW.
pub struct UnitCap(Cap<(String, String)>);

impl UnitCap {
    pub fn new(max: usize) -> Self {
        Self(Cap::new(max))
    }

    pub fn label(&mut self, manager: &str, unit: Option<&str>) -> String {
        let unit = unit_label(unit);
        if self.0.admit(&(manager.to_owned(), unit.clone())) {
            unit
        } else {
            OVERFLOW.to_owned()
        }
    }

    pub fn refused(&self) -> u64 {
        self.0.refused()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_past_the_cap_share_the_overflow_series() {
        let mut cap = UnitCap::new(2);
        assert_eq!(cap.label("system manager", Some("a.service")), "a.service");
        assert_eq!(cap.label("system manager", Some("b.service")), "b.service");
        assert_eq!(cap.label("system manager", Some("c.service")), OVERFLOW);
        // Already admitted ones keep their series.
        assert_eq!(cap.label("system manager", Some("a.service")), "a.service");
        // The same unit name under another manager is another series.
        assert_eq!(cap.label("container 7", Some("a.service")), OVERFLOW);
        assert_eq!(cap.refused(), 2);
    }

    #[test]
    fn a_flood_of_units_keeps_the_set_bounded() {
        let mut cap = UnitCap::new(100);
        for i in 0..100_000 {
            cap.label("system manager", Some(&format!("run-u{i}.service")));
        }
        assert_eq!(cap.0.admitted.len(), 100);
        assert_eq!(cap.refused(), 99_900);
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
}

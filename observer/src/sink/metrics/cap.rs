//! Bounded label cardinality. Every series lives as long as the process (a counter that
//! vanished would read as a reset), so the set of label values must be bounded: a flood of
//! transient units (`run-u1234.service`, …) would otherwise grow memory without limit.

use std::{
    collections::{HashMap, HashSet},
    hash::Hash,
    sync::Arc,
};

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
}

impl<K: Eq + Hash + Clone> Cap<K> {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            admitted: HashSet::new(),
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
        false
    }
}

/// A unit name as a label value: at most UNIT_NAME_MAX bytes (cut at a character boundary).
/// The encoder escapes what the exposition format needs; this only bounds the length.
pub fn unit_label(unit: Option<&str>) -> &str {
    let Some(unit) = unit else {
        return NO_UNIT;
    };
    let mut end = unit.len().min(UNIT_NAME_MAX);
    while !unit.is_char_boundary(end) {
        end -= 1;
    }
    &unit[..end]
}

/// The manager and unit labels of a series, shared (each event clones two pointers, no text).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Names {
    pub manager: Arc<str>,
    pub unit: Arc<str>,
}

impl Names {
    pub fn overflowed(&self) -> bool {
        &*self.unit == OVERFLOW
    }
}

/// (manager, unit) → their labels: the names themselves for the first `max` of them (a manager
/// counts as one too), then OVERFLOW. Each name is allocated once, when it is admitted.
pub struct UnitCap {
    max: usize,
    admitted: usize,
    by_manager: HashMap<Arc<str>, HashSet<Arc<str>>>,
    overflow: Arc<str>,
    refused: u64,
}

impl UnitCap {
    pub fn new(max: usize) -> Self {
        Self {
            max,
            admitted: 0,
            by_manager: HashMap::new(),
            overflow: Arc::from(OVERFLOW),
            refused: 0,
        }
    }

    pub fn label(&mut self, manager: &str, unit: Option<&str>) -> Names {
        let unit = unit_label(unit);
        if let Some((m, units)) = self.by_manager.get_key_value(manager)
            && let Some(u) = units.get(unit)
        {
            return Names {
                manager: m.clone(),
                unit: u.clone(),
            };
        }
        let m = match self.by_manager.get_key_value(manager) {
            Some((m, _)) => m.clone(),
            None if self.admitted >= self.max => {
                self.refused += 1;
                return Names {
                    manager: self.overflow.clone(),
                    unit: self.overflow.clone(),
                };
            }
            None => {
                self.admitted += 1;
                let m: Arc<str> = Arc::from(manager);
                self.by_manager.insert(m.clone(), HashSet::new());
                m
            }
        };
        let units = self.by_manager.get_mut(manager).expect("inserted above");
        let unit = if self.admitted < self.max {
            self.admitted += 1;
            let u: Arc<str> = Arc::from(unit);
            units.insert(u.clone());
            u
        } else {
            self.refused += 1;
            self.overflow.clone()
        };
        Names { manager: m, unit }
    }

    pub fn refused(&self) -> u64 {
        self.refused
    }
}

#[cfg(test)]
mod tests;

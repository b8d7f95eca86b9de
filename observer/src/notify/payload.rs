//! A payload split into fields as `manager_dispatch_notify_fd()` (src/core/manager.c) and
//! `service_notify_message()` (src/core/service.c) see it: NUL handling, the split into lines,
//! which key each line has and which lines are shadowed by an earlier one.

use serde::Serialize;

use super::{Key, Validity, escape, validity::validity};
use crate::systemd_basic::strv::split_newlines;

/// One line of the payload, after systemd's splitting and backslash unescaping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub key: Key,
    /// Text before the first `=` (the whole line when there is none), escaped for display.
    pub name: String,
    /// Text after the first `=`, escaped for display; empty when there is no `=`.
    pub value: String,
    pub has_equals: bool,
    pub validity: Validity,
    /// A previous line with the same key wins (`strv_find_startswith()` returns the first).
    pub shadowed: bool,
    /// The line's bytes exactly as systemd holds them (may be non-UTF-8).
    #[serde(skip)]
    pub raw: Vec<u8>,
}

impl Field {
    pub fn raw_value(&self) -> &[u8] {
        split_eq(&self.raw).1.unwrap_or(&[])
    }
}

/// The whole datagram as systemd sees it before any unit is involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payload {
    pub fields: Vec<Field>,
    /// A NUL anywhere but the last byte: systemd drops the message (manager.c:2582 v252.39).
    pub embedded_nul: bool,
    /// One trailing NUL is permitted and ignored ("We permit one trailing NUL byte").
    pub trailing_nul: bool,
    /// Why `strv_split_newlines()` would fail (then systemd drops the message); `fields` then
    /// shows a lenient split, keeping the stray backslash.
    pub split_error: Option<String>,
}

/// Parses a payload; never panics. See the module comment for the rules.
pub fn parse_payload(payload: &[u8]) -> Payload {
    // buf[n] = 0 then C-string semantics: a single trailing NUL simply ends the string.
    let trailing_nul = payload.last() == Some(&0);
    let body = if trailing_nul {
        &payload[..payload.len() - 1]
    } else {
        payload
    };
    let embedded_nul = body.contains(&0);
    let (lines, split_error) = split_newlines(body);
    let mut seen: Vec<Key> = Vec::new();
    let fields = lines
        .into_iter()
        .map(|raw| {
            let (name, value) = split_eq(&raw);
            let key = if value.is_some() {
                Key::from_name(name)
            } else {
                Key::Unknown
            };
            let shadowed = key.first_wins() && seen.contains(&key);
            seen.push(key);
            Field {
                key,
                name: escape(name),
                value: value.map(escape).unwrap_or_default(),
                has_equals: value.is_some(),
                validity: validity(key, value),
                shadowed,
                raw,
            }
        })
        .collect();
    Payload {
        fields,
        embedded_nul,
        trailing_nul,
        split_error,
    }
}

/// Just the fields of `parse_payload()`.
pub fn parse(payload: &[u8]) -> Vec<Field> {
    parse_payload(payload).fields
}

pub(super) fn split_eq(line: &[u8]) -> (&[u8], Option<&[u8]>) {
    match line.iter().position(|&c| c == b'=') {
        Some(p) => (&line[..p], Some(&line[p + 1..])),
        None => (line, None),
    }
}

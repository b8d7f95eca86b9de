//! Recordings made by hand, as a hostile user would make them: any JSON bodies, framed with
//! valid checksums (recording format 1: a 16-byte header, then per record the sync word, the
//! body length and a CRC-32 over both, then the body). Written here from the format's
//! description, not with the observer's own code, so a test reads what an attacker can write.

use serde_json::{Value, json};

/// CRC-32 (IEEE 802.3, reflected, as zlib and crc32fast compute it).
fn crc32(parts: &[&[u8]]) -> u32 {
    let mut crc = !0u32;
    for b in parts.iter().flat_map(|p| p.iter()) {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A recording holding `records` (each `{"kind": {...}}`, as the observer writes them).
pub fn recording(records: &[Value]) -> Vec<u8> {
    let mut out = b"OBSNOTIF".to_vec();
    out.extend(1u32.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    for r in records {
        let body = serde_json::to_vec(r).expect("JSON");
        let len = (body.len() as u32).to_le_bytes();
        out.extend(b"REC\x1e");
        out.extend(len);
        out.extend(crc32(&[&len, &body]).to_le_bytes());
        out.extend(body);
    }
    out
}

/// Every kind of character that acts on a terminal or a text renderer: a window title and a
/// clipboard write (OSC 0, OSC 52), clear screen, BEL, CR, backspace, DEL, C1 CSI, the bidi
/// override that draws the rest reversed, isolates, zero-width space/joiner, BOM, a tag.
pub const HOSTILE: &str = "\u{1b}]0;owned\u{7}\u{1b}]52;c;cHduZWQ=\u{7}\u{1b}[2J\r\u{8}\u{7f}\u{9b}31m\u{202e}desrever\u{2066}\u{200b}\u{200d}\u{feff}\u{e0041}";

/// Whether `c` must never reach an output raw (the observer's own list, restated).
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{061C}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// The hidden characters in `bytes` (newlines aside), for an assertion message.
pub fn hidden_in(bytes: &[u8]) -> Vec<char> {
    String::from_utf8_lossy(bytes)
        .chars()
        .filter(|&c| c != '\n' && is_hidden(c))
        .collect()
}

/// A session whose every string is hostile, then a unit of a hostile name going through a
/// start that fails (states, job, result, settings hostile too), a datagram from it with a
/// hostile comm and payload, and a clean end.
pub fn hostile_session() -> Vec<Value> {
    let unit = format!("evil{HOSTILE}.service");
    let t0: i64 = 1_795_472_847_000_000_000;
    let change = |at: i64, fields: Value| {
        let mut change = json!({ "unit": unit, "mono_ns": at - t0 + 1_000_000_000 });
        if let (Some(c), Value::Object(f)) = (change.as_object_mut(), fields) {
            c.extend(f);
        }
        json!({ "unit": { "manager": format!("manager{HOSTILE}"), "wall_ns": at, "change": change } })
    };
    let payload = format!("READY=1\nSTATUS={HOSTILE}");
    vec![
        json!({ "session": {
            "started": "2026-11-23T22:27:26.000000Z",
            "host": HOSTILE, "kernel": HOSTILE, "observer_version": HOSTILE, "strategy": HOSTILE,
            "hooks": [HOSTILE],
            "watched": [{ "id": 1, "owner": format!("manager{HOSTILE}"), "address": HOSTILE }],
            "realtime_minus_monotonic_ns": t0 - 1_000_000_000,
        }}),
        change(
            t0,
            json!({ "full": true, "active_state": "inactive", "sub_state": "dead",
                "service_type": HOSTILE, "notify_access": HOSTILE,
                "timeout_start_usec": 3_000_000u64 }),
        ),
        change(
            t0 + 1_000_000,
            json!({ "job": format!("start queued{HOSTILE}") }),
        ),
        change(
            t0 + 2_000_000,
            json!({ "active_state": format!("activating{HOSTILE}"), "sub_state": format!("start{HOSTILE}"), "main_pid": 55 }),
        ),
        json!({ "event": {
            "event": {
                "mono_ns": 1_003_000_000u64, "wall_ns": t0 + 3_000_000, "pid": 55, "tid": 55,
                "uid": 0, "gid": 0, "comm": HOSTILE, "cgroup_id": 1, "dest": HOSTILE,
                "watch_id": 1, "matched_by_identity": true, "connected": false,
                "payload": hex(payload.as_bytes()), "len": payload.len(), "creds": null,
                "fds": 0, "result": payload.len(), "hook": 2, "msg_index": 0, "flags": 0,
                "ns_pid": 55, "pidns_ino": 0, "cgroup_name": HOSTILE,
                "cgroup_parent_name": HOSTILE,
            },
            "unit": unit, "outcome": "rejected", "note": HOSTILE,
            "delivery": { "delivered": true, "queue_delay_us": 2_900_000u64,
                "manager_creds": null, "reader_pid": 1, "note": HOSTILE },
            "kind": HOSTILE, "reason": HOSTILE, "inputs": null,
        }}),
        change(
            t0 + 3_100_000_000,
            json!({ "active_state": format!("failed{HOSTILE}"), "sub_state": "failed",
                "result": format!("timeout{HOSTILE}"), "job": format!("start done{HOSTILE}") }),
        ),
        json!({ "end": { "events": 1, "dropped": 0, "untracked": 0, "malformed": 0 } }),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;

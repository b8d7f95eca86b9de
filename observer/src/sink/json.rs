//! `--json`: one JSON object per line. Events have `"record": "event"`; the run also writes a
//! `start` record (what is captured, how), `drops` records, and a closing `summary`.

use std::io::{BufWriter, Write};

use observer_common::Hook;
use serde::{Serialize, Serializer};
use serde_json::{Value, json};

use super::{Corrected, Shown, Sink, Start, Summary, read_wall_ns};
use crate::{
    decode::{Creds, Event},
    judge::Outcome,
    notify,
    pairing::{Delivered, Delivery},
    verdict::{FieldNote, Kind, LogLevel, LogLine},
    wall_time::rfc3339_utc as rfc3339,
};

pub struct JsonSink<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W) -> Self {
        Self {
            // Large enough that a burst goes out in few writes (flushed after every batch).
            out: BufWriter::with_capacity(64 * 1024, out),
        }
    }

    fn line(&mut self, v: &Value) -> std::io::Result<()> {
        self.write_line(v)
    }

    /// One JSON line, every hidden character `\u`-escaped (safe_text): serde_json leaves DEL,
    /// C1 and bidi characters raw.
    fn write_line(&mut self, v: &impl Serialize) -> std::io::Result<()> {
        let line = serde_json::to_string(v)?;
        self.out
            .write_all(crate::safe_text::json(&line).as_bytes())?;
        self.out.write_all(b"\n")
    }
}

/// One event as its JSON line says it (also for recordings: `serde_json::to_value` it), borrowing
/// from the event and its judgement: serialized straight to the output, with no `Value` (a map
/// of owned strings) built per event. Same keys and values as when it was built as a `Value`
/// (see the test); the top-level fields keep that form's order (its keys' byte order).
#[derive(Serialize)]
pub struct EventRecord<'a> {
    caveats: Option<&'a Vec<String>>,
    cgroup_id: u64,
    comm: &'a str,
    connected: bool,
    creds: Option<Creds>,
    delivered: Delivered,
    delivery_note: &'a Option<String>,
    dest: &'a str,
    error: Option<String>,
    fds: u32,
    field_notes: Option<&'a Vec<FieldNote>>,
    fields: Vec<notify::Field>,
    gid: u32,
    hint: Option<&'a str>,
    #[serde(serialize_with = "debug_str")]
    hook: Hook,
    kind: Option<Kind>,
    len: u32,
    log_level: Option<LogLevel>,
    logs: Option<&'a Vec<LogLine>>,
    manager_creds: Option<Creds>,
    matched_by: &'static str,
    mono_ns: u64,
    msg_index: u32,
    note: &'a Option<String>,
    ns_pid: u32,
    #[serde(serialize_with = "escaped")]
    payload: &'a [u8],
    pid: u32,
    pidfd: bool,
    queue_delay_us: Option<u64>,
    read_by: Option<u32>,
    #[serde(serialize_with = "optional_rfc3339_str")]
    read_ts: Option<i128>,
    reason: Option<&'a str>,
    record: &'static str,
    result: i64,
    sender_alive: Option<bool>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sender_exited: bool,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_escaped"
    )]
    sender_payload: &'a Option<Vec<u8>>,
    socket: &'a str,
    tid: u32,
    truncated: bool,
    #[serde(serialize_with = "rfc3339_str")]
    ts: i128,
    uid: u32,
    unit: &'a Option<String>,
    verdict: Outcome,
}

impl<'a> EventRecord<'a> {
    pub fn new(shown: &'a Shown<'_>) -> Self {
        let (ev, j) = (shown.event, shown.judgement);
        let v = j.verdict.as_ref();
        let d = &j.delivery;
        Self {
            caveats: v.map(|v| &v.caveats),
            cgroup_id: ev.cgroup_id,
            comm: &ev.comm,
            connected: ev.connected,
            creds: ev.creds,
            delivered: d.delivered,
            delivery_note: &d.note,
            dest: &ev.dest,
            error: (ev.result < 0)
                .then(|| crate::systemd_basic::errno_list::result_errno_name(ev.result)),
            fds: ev.fds,
            field_notes: v.map(|v| &v.field_notes),
            fields: ev.fields(),
            gid: ev.gid,
            hint: v.map(|v| v.hint.as_str()).filter(|h| !h.is_empty()),
            hook: ev.hook,
            kind: v.map(|v| v.kind),
            len: ev.len,
            log_level: v.map(|v| v.log_level),
            logs: v.map(|v| &v.logs),
            manager_creds: d.manager_creds,
            matched_by: if ev.matched_by_identity {
                "identity"
            } else {
                "path"
            },
            mono_ns: ev.mono_ns,
            msg_index: ev.msg_index,
            note: &j.note,
            ns_pid: ev.ns_pid,
            payload: &ev.payload,
            pid: ev.pid,
            pidfd: d.pidfd,
            queue_delay_us: d.queue_delay_us,
            read_by: d.reader_pid,
            read_ts: read_wall_ns(ev, d),
            reason: v.map(|v| v.reason.as_str()),
            record: "event",
            result: ev.result,
            sender_alive: d.sender_alive,
            sender_exited: d.sender_exited,
            sender_payload: &d.sender_payload,
            socket: &shown.socket.label,
            tid: ev.tid,
            truncated: ev.truncated(),
            ts: ev.wall_ns,
            uid: ev.uid,
            unit: &j.unit,
            verdict: j.outcome,
        }
    }
}

fn escaped<S: Serializer>(payload: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&notify::escape(payload))
}

fn optional_escaped<S: Serializer>(payload: &&Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match payload {
        Some(p) => s.serialize_str(&notify::escape(p)),
        None => s.serialize_none(),
    }
}

fn debug_str<S: Serializer>(hook: &Hook, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{hook:?}"))
}

fn rfc3339_str<S: Serializer>(wall_ns: &i128, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*wall_ns))
}

fn optional_rfc3339_str<S: Serializer>(wall_ns: &Option<i128>, s: S) -> Result<S::Ok, S::Error> {
    match wall_ns {
        Some(ns) => s.serialize_str(&rfc3339(*ns)),
        None => s.serialize_none(),
    }
}

/// The manager-side keys: `delivered` (true, false, "unknown"), `queue_delay_us`,
/// `manager_creds` ({pid, uid, gid} as the manager received them), `read_ts`, `read_by` (the
/// reader's host PID), `pidfd` (an SCM_PIDFD came too), `sender_alive` (the process the
/// credentials name was not yet reaped when the manager took the datagram; `sender_exited`, only
/// when true: it had exited though, a zombie) and `delivery_note`;
/// `sender_payload` (escaped) when the manager read other bytes than the sender's buffer showed.
fn add_delivery(out: &mut Value, ev: &Event, d: &Delivery) {
    let keys = json!({
        "delivered": d.delivered,
        "queue_delay_us": d.queue_delay_us,
        "manager_creds": d.manager_creds,
        "read_ts": read_wall_ns(ev, d).map(rfc3339),
        "read_by": d.reader_pid,
        "pidfd": d.pidfd,
        "sender_alive": d.sender_alive,
        "delivery_note": d.note,
    });
    if let (Some(o), Value::Object(k)) = (out.as_object_mut(), keys) {
        o.extend(k);
        if d.sender_exited {
            o.insert("sender_exited".into(), true.into());
        }
        if let Some(p) = &d.sender_payload {
            o.insert("sender_payload".into(), notify::escape(p).into());
        }
    }
}

/// A `delivery` record: what became of a datagram shown earlier as not read yet. It names the
/// event by `mono_ns`, `pid`, `tid` and `msg_index`, and repeats `dest`, `socket`, `unit` and
/// `payload` so that it reads on its own.
pub fn correction_json(corrected: &Corrected<'_>) -> Value {
    let c = corrected.correction;
    let ev = &c.event;
    let mut out = json!({
        "record": "delivery",
        "ts": rfc3339(ev.wall_ns),
        "mono_ns": ev.mono_ns,
        "pid": ev.pid,
        "tid": ev.tid,
        "msg_index": ev.msg_index,
        "dest": ev.dest,
        "socket": corrected.socket.label,
        "unit": c.unit,
        "payload": notify::escape(&ev.payload),
    });
    add_delivery(&mut out, ev, &c.delivery);
    out
}

impl<W: Write> Sink for JsonSink<W> {
    fn start(&mut self, s: &Start<'_>) -> std::io::Result<()> {
        let watching: Vec<Value> = s
            .watched
            .iter()
            .map(|w| {
                json!({"id": w.id, "owner": w.owner.label(), "address": w.address,
                    "trust": w.trust.map(|t| t.name())})
            })
            .collect();
        let refused: Vec<Value> = s
            .refused
            .iter()
            .map(|(st, why)| json!({"strategy": st, "reason": why}))
            .collect();
        self.line(&json!({"record": "start", "strategy": s.strategy, "hooks": s.hooks, "refused": refused, "watching": watching}))?;
        self.flush()
    }

    fn event(&mut self, shown: &Shown<'_>) -> std::io::Result<()> {
        self.write_line(&EventRecord::new(shown))
    }

    fn delivery(&mut self, corrected: &Corrected<'_>) -> std::io::Result<()> {
        self.line(&correction_json(corrected))
    }

    fn drops(&mut self, new: u64, total: u64) -> std::io::Result<()> {
        self.line(&json!({"record": "drops", "dropped": new, "total_dropped": total, "reason": "ring buffer full"}))
    }

    fn finish(&mut self, s: &Summary) -> std::io::Result<()> {
        self.line(&json!({"record": "summary", "events": s.events, "dropped": s.dropped, "untracked": s.untracked, "malformed": s.malformed}))?;
        self.flush()
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    fn idle(&mut self) -> std::io::Result<()> {
        self.line(&json!({"record": "idle"}))?;
        self.flush()
    }
}

#[cfg(test)]
mod tests;

//! `--json`: one JSON object per line. Events have `"record": "event"`; the run also writes a
//! `start` record (what is captured, how), `drops` records, and a closing `summary`.

use std::{
    collections::BTreeMap,
    io::{BufWriter, Write},
};

use serde_json::{Value, json};

use super::{Sink, Start, Summary, read_wall_ns, rfc3339, watch_label};
use crate::{
    decode::Event,
    delivery::{Correction, Delivery},
    judge::Judgement,
    notify,
    watch::Watched,
};

pub struct JsonSink<W: Write> {
    out: BufWriter<W>,
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W) -> Self {
        Self {
            out: BufWriter::new(out),
        }
    }

    fn line(&mut self, v: &Value) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, v)?;
        self.out.write_all(b"\n")
    }
}

/// The JSON form of one event (also used by recordings and tests).
pub fn event_json(ev: &Event, j: &Judgement, watched: &BTreeMap<u32, Watched>) -> Value {
    let v = j.verdict.as_ref();
    let mut out = json!({
        "record": "event",
        "ts": rfc3339(ev.wall_ns),
        "mono_ns": ev.mono_ns,
        "pid": ev.pid,
        "ns_pid": ev.ns_pid,
        "tid": ev.tid,
        "uid": ev.uid,
        "gid": ev.gid,
        "comm": ev.comm,
        "cgroup_id": ev.cgroup_id,
        "dest": ev.dest,
        "socket": watch_label(ev, watched),
        "matched_by": if ev.matched_by_identity { "identity" } else { "path" },
        "connected": ev.connected,
        "payload": notify::escape(&ev.payload),
        "len": ev.len,
        "truncated": ev.truncated(),
        "creds": ev.creds,
        "fds": ev.fds,
        "result": ev.result,
        "error": (ev.result < 0).then(|| crate::decode::errno_name(ev.result)),
        "hook": format!("{:?}", ev.hook),
        "msg_index": ev.msg_index,
        "fields": ev.fields(),
        "unit": j.unit,
        "verdict": j.outcome,
        "kind": v.map(|v| v.kind),
        "reason": v.map(|v| v.reason.as_str()),
        "log_level": v.map(|v| v.log_level),
        "hint": v.map(|v| v.hint.as_str()).filter(|h| !h.is_empty()),
        "field_notes": v.map(|v| &v.field_notes),
        "caveats": v.map(|v| &v.caveats),
        "logs": v.map(|v| &v.logs),
        "note": j.note,
    });
    add_delivery(&mut out, ev, &j.delivery);
    out
}

/// The manager-side keys: `delivered` (true, false, "unknown"), `queue_delay_us`,
/// `manager_creds` ({pid, uid, gid} as the manager received them), `read_ts`, `read_by` (the
/// reader's host PID), `pidfd` (an SCM_PIDFD came too) and `delivery_note`.
fn add_delivery(out: &mut Value, ev: &Event, d: &Delivery) {
    let keys = json!({
        "delivered": d.delivered,
        "queue_delay_us": d.queue_delay_us,
        "manager_creds": d.manager_creds,
        "read_ts": read_wall_ns(ev, d).map(rfc3339),
        "read_by": d.reader_pid,
        "pidfd": d.pidfd,
        "delivery_note": d.note,
    });
    if let (Some(o), Value::Object(k)) = (out.as_object_mut(), keys) {
        o.extend(k);
    }
}

/// A `delivery` record: what became of a datagram shown earlier as not read yet. It names the
/// event by `mono_ns`, `pid`, `tid` and `msg_index`, and repeats `dest`, `socket`, `unit` and
/// `payload` so that it reads on its own.
pub fn correction_json(c: &Correction, watched: &BTreeMap<u32, Watched>) -> Value {
    let ev = &c.event;
    let mut out = json!({
        "record": "delivery",
        "ts": rfc3339(ev.wall_ns),
        "mono_ns": ev.mono_ns,
        "pid": ev.pid,
        "tid": ev.tid,
        "msg_index": ev.msg_index,
        "dest": ev.dest,
        "socket": watch_label(ev, watched),
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
            .map(|w| json!({"id": w.id, "owner": w.owner, "address": w.address}))
            .collect();
        let refused: Vec<Value> = s
            .refused
            .iter()
            .map(|(st, why)| json!({"strategy": st, "reason": why}))
            .collect();
        self.line(&json!({"record": "start", "strategy": s.strategy, "hooks": s.hooks, "refused": refused, "watching": watching}))?;
        self.flush()
    }

    fn event(
        &mut self,
        ev: &Event,
        j: &Judgement,
        watched: &BTreeMap<u32, Watched>,
    ) -> std::io::Result<()> {
        self.line(&event_json(ev, j, watched))
    }

    fn delivery(
        &mut self,
        c: &Correction,
        watched: &BTreeMap<u32, Watched>,
    ) -> std::io::Result<()> {
        self.line(&correction_json(c, watched))
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
}

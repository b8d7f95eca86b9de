//! `--json`: one JSON object per line. Events have `"record": "event"`; the run also writes a
//! `start` record (what is captured, how), `drops` records, and a closing `summary`.

use std::{
    collections::BTreeMap,
    io::{BufWriter, Write},
};

use serde_json::{Value, json};

use super::{Sink, Start, Summary, rfc3339, watch_label};
use crate::{decode::Event, judge::Judgement, notify, watch::Watched};

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
    json!({
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
    })
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

//! A recorded event's judgement, judged again from the inputs recorded with it (no manager
//! needed): what replay, diagnose and report show for it.

use super::records::{EventRecord, kind_name};
use crate::judge::{self, Judgement};

/// The judgement of a recorded event: judged again where it has a verdict's inputs.
pub fn judgement_of(r: &EventRecord) -> Judgement {
    let mut delivery = r.delivery.clone();
    delivery.read_mono_ns = r.read_mono_ns;
    let Some(inputs) = &r.inputs else {
        return Judgement {
            unit: r.unit.clone(),
            outcome: r.outcome,
            verdict: None,
            note: r.note.clone(),
            inputs: None,
            delivery,
            sender_pid: None,
        };
    };
    let mut j = judge::rejudge(&r.event, r.unit.clone(), inputs);
    j.note = r.note.clone();
    j.delivery = delivery;
    if let Some(v) = j.verdict.as_mut() {
        let now = kind_name(v.kind);
        if r.kind.as_deref().is_some_and(|k| k != now) {
            v.caveats.push(format!(
                "judged {} when recorded; this observer's rules say {now}",
                r.kind.as_deref().unwrap_or("-")
            ));
        }
    }
    j
}

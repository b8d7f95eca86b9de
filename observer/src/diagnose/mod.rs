//! `observer diagnose`: each unit's story in plain words — start requested, what arrived from
//! whom, what systemd did with it, how it ended, and the likely cause with the fix.
//! From recordings, or live (the record pipeline into memory, a story printed as each start
//! attempt settles).

pub mod cause;
pub mod live;
pub mod story;

use story::{Attempt, Item, Story};

use crate::{
    cli::{DiagnoseArgs, ReplayFilter},
    judge::Outcome,
    manager::UnitChange,
    recording::{
        reader,
        records::{EventRecord, Record},
    },
    wall_time::Zone,
};

pub async fn run(args: DiagnoseArgs, verbose: u8) -> anyhow::Result<()> {
    if args.files.is_empty() {
        return live::run(args, verbose).await;
    }
    let reading = reader::read_all(&args.files, args.filter.force);
    reader::nothing_readable(reading.files, &reading.damage)?;
    let records: Vec<&Record> = reading.records.iter().map(|(_, _, r)| r).collect();
    let text = render_all(&records, &args.filter);
    // Stories quote managers, senders and recordings: escaped, the lines kept.
    std::io::Write::write_all(
        &mut crate::stdout::Stdout,
        crate::safe_text::lines(&text).as_bytes(),
    )?;
    if text.is_empty() {
        eprintln!("observer: no unit in the recording matches");
    }
    reader::report_damage(&reading.damage, reading.unknown)
}

/// Every matching unit's story.
pub fn render_all(records: &[&Record], filter: &ReplayFilter) -> String {
    let mut out = String::new();
    let zone = filter.zone();
    for s in story::stories(records) {
        if !filter.keeps_unit(Some(&s.unit)) {
            continue;
        }
        let attempts = told(&s, filter);
        if !attempts.is_empty() {
            out += &render(&s, &attempts, &zone);
        }
    }
    out
}

/// The attempts of a story worth telling that fall in the filter's time window.
pub fn told<'a>(s: &'a Story, filter: &ReplayFilter) -> Vec<&'a Attempt> {
    s.attempts
        .iter()
        .filter(|a| a.items.iter().any(|i| filter.in_time(i.wall_ns())))
        .filter(|a| worth_telling(a))
        .collect()
}

/// Not a unit merely seen idle (loaded, stopped) before anything happened to it.
pub fn worth_telling(a: &Attempt) -> bool {
    a.start_ns.is_some() || a.result.is_some() || a.events().next().is_some()
}

/// One unit: a heading with its settings, then per attempt its lines and the finding, its
/// times in `zone`.
pub fn render(s: &Story, attempts: &[&Attempt], zone: &Zone) -> String {
    let mut out = format!("● {} ({})", s.unit, s.manager);
    let set = &s.settings;
    let mut facts = Vec::new();
    if let Some(t) = &set.service_type {
        facts.push(format!("Type={t}"));
    }
    if let Some(a) = &set.notify_access {
        facts.push(format!("NotifyAccess={a}"));
    }
    if let Some(t) = set.timeout_start_usec.filter(|t| *t != u64::MAX) {
        facts.push(format!("TimeoutStartSec={}", cause::secs(t as i128 * 1000)));
    }
    if let Some(w) = set.watchdog_usec.filter(|w| *w != 0) {
        facts.push(format!("WatchdogSec={}", cause::secs(w as i128 * 1000)));
    }
    if !facts.is_empty() {
        out += &format!(" — {}", facts.join(", "));
    }
    out.push('\n');
    for a in attempts {
        let mut last = UnitChange::default();
        for item in &a.items {
            if let Some(line) = line(item, &mut last) {
                out += &format!("  {}  {line}\n", zone.clock_ms(item.wall_ns()));
            }
        }
        let f = cause::explain(a, set, zone);
        out += &format!("  ⇒ {}\n", f.text);
    }
    out.push('\n');
    out
}

/// A story line for an item; None for a change that changes nothing shown.
fn line(item: &Item, last: &mut UnitChange) -> Option<String> {
    match item {
        Item::Change(c, _) => {
            let mut parts = Vec::new();
            if let Some(j) = &c.job {
                parts.push(j.clone());
            }
            if c.sub_state.is_some() && c.sub_state != last.sub_state {
                parts.push(format!(
                    "{} ({})",
                    c.active_state.as_deref().unwrap_or("state"),
                    c.sub_state.as_deref().unwrap_or("")
                ));
                last.sub_state.clone_from(&c.sub_state);
            }
            if c.main_pid.is_some() && c.main_pid != last.main_pid {
                parts.push(format!("MainPID {}", c.main_pid.unwrap_or(0)));
                last.main_pid = c.main_pid;
            }
            if c.result.is_some() && c.result != last.result {
                if last.result.is_some() || c.result.as_deref() != Some("success") {
                    parts.push(format!("Result={}", c.result.as_deref().unwrap_or("")));
                }
                last.result.clone_from(&c.result);
            }
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        Item::Event(e) => Some(event_line(e)),
        Item::Elsewhere(e, to) => Some(format!("{} — sent to {to}", sender(e))),
    }
}

fn sender(e: &EventRecord) -> String {
    // A payload seen in part is never told as the whole message.
    let incomplete = e
        .event
        .incomplete_text()
        .map(|t| format!("{t} "))
        .unwrap_or_default();
    let rewritten = if e.delivery.sender_payload.is_some() {
        " (as the manager read it: the sender's buffer showed other bytes)"
    } else {
        ""
    };
    format!(
        "PID {} ({}, uid {}) sent {incomplete}{}{rewritten}",
        e.event.pid,
        e.event.comm,
        e.event.uid,
        crate::notify::summary(&e.event.fields())
    )
}

fn event_line(e: &EventRecord) -> String {
    let j = crate::recording::rejudge::judgement_of(e);
    let what = match (j.outcome, &j.verdict) {
        (Outcome::Rejected, Some(v)) => format!("REJECTED: {}", v.reason),
        (Outcome::NotDelivered, _) => format!(
            "send failed with {}: systemd never received it",
            crate::systemd_basic::errno_list::result_errno_name(e.event.result)
        ),
        (o, _) => o.to_string(),
    };
    format!("{} → {what}{}", sender(e), read_text(e))
}

/// How the manager's side went, when it says something: read late, or never read.
fn read_text(e: &EventRecord) -> String {
    use crate::pairing::Delivered;
    match (e.delivery.delivered, e.delivery.queue_delay_us) {
        (Delivered::Yes, Some(us)) if us >= 100_000 => {
            format!(
                " (read by the manager {} later)",
                cause::secs(us as i128 * 1000)
            )
        }
        (Delivered::No, _) if e.event.result >= 0 => " (never read by the manager)".into(),
        _ => String::new(),
    }
}

#[cfg(test)]
pub(crate) mod tests;

//! libtest's JSON events (`-Z unstable-options --format json`, the pinned toolchain being a
//! nightly), read instead of matching its human text. They are picked out of a stream that
//! carries other lines too: a test's own output under `--nocapture`, or a VM guest's console
//! with the kernel's messages and the guest script's `@@` markers between them.

use serde_json::Value;

/// The arguments that make a test executable write JSON events, with each test's time.
pub const JSON_ARGS: [&str; 5] = [
    "-Z",
    "unstable-options",
    "--format",
    "json",
    "--report-time",
];

/// How one test ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Failed,
    Ignored,
}

impl Outcome {
    pub fn from_passed(passed: bool) -> Self {
        if passed { Self::Ok } else { Self::Failed }
    }

    /// As libtest's text output says it (and as the lane report has always printed it).
    pub fn word(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "FAILED",
            Self::Ignored => "ignored",
        }
    }
}

/// One test's result, as a lane reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct TestResult {
    pub name: String,
    pub outcome: Outcome,
    /// `--report-time`'s exec_time, in seconds.
    pub secs: Option<f64>,
}

impl TestResult {
    pub fn new(name: impl Into<String>, outcome: Outcome) -> Self {
        Self {
            name: name.into(),
            outcome,
            secs: None,
        }
    }
}

/// The JSON event on this line, if it holds one: found by its opening `{ "type"` wherever the
/// line has it (a console may put other bytes before it), read up to the object's end.
pub fn event(line: &str) -> Option<Value> {
    let start = line.find("{ \"type\"").or_else(|| line.find("{\"type\""))?;
    let value = serde_json::Deserializer::from_str(&line[start..])
        .into_iter::<Value>()
        .next()?
        .ok()?;
    value.get("type")?.as_str()?;
    Some(value)
}

/// The results of the tests that ended in `text`, in the order they ended.
pub fn results(text: &str) -> Vec<TestResult> {
    text.lines()
        .filter_map(event)
        .filter_map(|e| result_of(&e))
        .collect()
}

/// A finished test's result; None for other events ("started", suites, timeout warnings).
fn result_of(e: &Value) -> Option<TestResult> {
    if e.get("type")?.as_str()? != "test" {
        return None;
    }
    let outcome = match e.get("event")?.as_str()? {
        "ok" => Outcome::Ok,
        "failed" => Outcome::Failed,
        "ignored" => Outcome::Ignored,
        _ => return None,
    };
    Some(TestResult {
        name: e.get("name")?.as_str()?.to_owned(),
        outcome,
        secs: e.get("exec_time").and_then(Value::as_f64),
    })
}

/// A line for people: a JSON event as libtest's text output would say it (None for those it
/// does not show), any other line as it is.
pub fn human(line: &str) -> Option<String> {
    let Some(e) = event(line) else {
        return Some(line.to_owned());
    };
    let text = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or_default();
    let num = |k: &str| e.get(k).and_then(Value::as_u64).unwrap_or_default();
    match (text("type"), text("event")) {
        ("suite", "started") => Some(match num("test_count") {
            1 => "running 1 test".to_string(),
            n => format!("running {n} tests"),
        }),
        ("suite", outcome @ ("ok" | "failed")) => Some(format!(
            "test result: {}. {} passed; {} failed; {} ignored; {} filtered out",
            if outcome == "ok" { "ok" } else { "FAILED" },
            num("passed"),
            num("failed"),
            num("ignored"),
            num("filtered_out"),
        )),
        ("test", "timeout") => Some(format!(
            "test {} has been running for over 60 seconds",
            text("name")
        )),
        ("test", _) => {
            let r = result_of(&e)?;
            let mut out = format!("test {} ... {}", r.name, r.outcome.word());
            if let Some(s) = r.secs {
                out += &format!(" <{s:.3}s>");
            }
            if r.outcome == Outcome::Ignored && !text("message").is_empty() {
                out += &format!(", {}", text("message"));
            }
            // A failed test's captured output comes with its event.
            if !text("stdout").is_empty() {
                out += &format!("\n---- {} stdout ----\n{}", r.name, text("stdout"));
            }
            Some(out)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;

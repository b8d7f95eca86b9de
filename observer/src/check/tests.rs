use super::*;
use crate::capture::Hook;

fn usable() -> StrategyCheck {
    StrategyCheck {
        strategy: "tracepoint".into(),
        status: Status::Usable {
            hooks: vec!["tp_btf/sock_send_length".parse::<Hook>().unwrap()],
            reads: Reads::Captured(vec!["tp_btf/consume_skb".parse().unwrap()]),
            reads_refused: vec!["fentry/skb_free_datagram: no".into()],
        },
    }
}

#[test]
fn json_says_what_the_table_says() {
    let refused = StrategyCheck {
        strategy: "fentry".into(),
        status: Status::Refused {
            why: "not allowed".into(),
        },
    };
    let json = serde_json::to_value(Report {
        strategies: &[refused, usable()],
    })
    .unwrap();
    assert_eq!(
        json,
        serde_json::json!({"strategies": [
            {"strategy": "fentry", "status": "refused", "why": "not allowed"},
            {"strategy": "tracepoint", "status": "usable",
             "hooks": ["tp_btf/sock_send_length"],
             "reads": {"captured": ["tp_btf/consume_skb"]},
             "reads_refused": ["fentry/skb_free_datagram: no"]},
        ]})
    );
}

#[test]
fn the_table_detail_is_as_before() {
    assert_eq!(
        detail(&usable().status),
        "tp_btf/sock_send_length\nreads: tp_btf/consume_skb\n  (reads: refused fentry/skb_free_datagram: no)"
    );
}

use super::*;

#[test]
fn delays() {
    let d = |delivered, us| Delivery {
        delivered,
        queue_delay_us: us,
        ..Default::default()
    };
    assert_eq!(delay_text(&d(Delivered::Yes, Some(420))), "420µs");
    assert_eq!(delay_text(&d(Delivered::Yes, Some(12_340))), "12.3ms");
    assert_eq!(delay_text(&d(Delivered::Yes, Some(2_812_000))), "2.8s");
    assert_eq!(delay_text(&d(Delivered::No, None)), "unread");
    assert_eq!(delay_text(&d(Delivered::Unknown, None)), "-");
}

#[test]
fn results() {
    assert_eq!(result_text(7), "ok 7");
    assert_eq!(result_text(-11), "EAGAIN");
}

use super::*;

#[test]
fn labels_read_back_as_the_owner_that_wrote_them() {
    for owner in [
        SocketOwner::Explicit,
        SocketOwner::Manager("system manager".into()),
        SocketOwner::Manager("container 12 user manager (uid 1000)".into()),
    ] {
        assert_eq!(SocketOwner::from_label(owner.label()), owner);
    }
    assert_eq!(SocketOwner::Explicit.to_string(), "--socket");
}

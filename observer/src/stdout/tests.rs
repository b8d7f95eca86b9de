use super::*;

#[test]
fn only_a_closed_stdout_counts() {
    let gone = anyhow::Error::from(mark(io::Error::from(io::ErrorKind::BrokenPipe)));
    assert!(reader_gone(&gone));
    assert!(reader_gone(&gone.context("writing the table")));
    // Another pipe breaking (a journal relay, a manager's socket) is a real error.
    let other = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe));
    assert!(!reader_gone(&other));
    let other = anyhow::Error::from(mark(io::Error::from(io::ErrorKind::PermissionDenied)));
    assert!(!reader_gone(&other));
}

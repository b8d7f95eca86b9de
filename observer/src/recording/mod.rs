//! Recordings: what `observer record` writes and `replay`/`diagnose` read.
//!
//! - frame.rs: the byte layout (header, checksummed frames);
//! - records.rs: what is in them (session, events with their verdict inputs, unit changes);
//! - writer.rs: durable appends and rotation;
//! - reader.rs: reading back, with damage reported by file and offset.

pub mod frame;
pub mod reader;
pub mod records;
pub mod writer;

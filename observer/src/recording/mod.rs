//! Recordings: what `observer record` writes and `replay`/`diagnose` read.
//!
//! - frame.rs: the byte layout (header, checksummed frames);
//! - records.rs: what is in them (session, events with their verdict inputs, unit changes);
//! - schema.rs: how that is written, its own types (convert.rs: from and to records.rs's);
//! - writer.rs: durable appends and rotation;
//! - reader.rs: reading back, with damage reported by file and offset.

mod convert;
pub mod frame;
pub mod reader;
pub mod records;
pub mod schema;
pub mod writer;

pub use convert::{from_body, to_body};

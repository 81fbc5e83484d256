//! Where records come from: [`file`](mod@file) (JSON lines from a file or stdin, for embedded
//! mode) and [`kafka`] (a consumer group, or a backfill from a start position).

pub mod file;
pub mod kafka;

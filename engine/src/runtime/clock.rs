//! The wall clock. The only place that reads it: replay and the NFA run in event time only,
//! so their output never depends on when they run. The daemon reads it to move an idle
//! partition's time forward.

/// Milliseconds since the Unix epoch, now.
#[allow(clippy::disallowed_methods)] // this module is where wall time may be read
pub fn wall_millis() -> i64 {
    let since =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

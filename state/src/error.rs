//! The one error type of the state crate.
//!
//! Callers branch on the variant, never on message text: [`StateError::Corrupt`] and
//! [`StateError::VersionMismatch`] mean the stored state cannot be trusted or read by this build,
//! so the daemon refuses to start rather than guess; [`StateError::Io`] and
//! [`StateError::Backend`] are failures of the medium, some of which go away when retried
//! (see [`StateError::is_retryable`]).

use std::error::Error;
use std::io;
use std::ops::RangeInclusive;

/// Everything that can go wrong reading or writing state.
///
/// Display messages do not repeat the wrapped source; print the chain (`{:#}` with anyhow) to
/// see it.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Stored bytes do not decode: a truncated value, a bad tag, a key of the wrong shape.
    /// The message says which value and where.
    #[error("corrupt state: {0}")]
    Corrupt(String),

    /// A value was written in a format version this build cannot read (written by a newer
    /// release, or by one so old that support for it was dropped).
    #[error(
        "{what} is stored in format version {found}, but this build reads versions {}..={}",
        supported.start(),
        supported.end()
    )]
    VersionMismatch {
        /// Which kind of value, e.g. `"nfa runs"`.
        what: &'static str,
        /// The version byte found in the value.
        found: u8,
        /// The versions this build can decode.
        supported: RangeInclusive<u8>,
    },

    /// The operating system failed an I/O operation of the store (disk, files).
    #[error("state I/O failed")]
    Io(#[from] io::Error),

    /// The storage engine reported a failure that is not plain I/O.
    #[error("state backend failed")]
    Backend {
        /// The backend's own error.
        source: Box<dyn Error + Send + Sync>,
        /// Whether the backend says the same call may succeed later (busy, timed out).
        retryable: bool,
    },
}

impl StateError {
    /// A corruption error with a message naming the value and what is wrong with it.
    pub fn corrupt(message: impl Into<String>) -> Self {
        StateError::Corrupt(message.into())
    }

    /// A backend failure that retrying will not fix.
    pub fn backend(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        StateError::Backend { source: source.into(), retryable: false }
    }

    /// A backend failure that may go away when the same call is retried (with back-off).
    pub fn backend_retryable(source: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        StateError::Backend { source: source.into(), retryable: true }
    }

    /// Whether retrying the failed call, after a back-off, may succeed.
    ///
    /// Corruption and version mismatches never heal by themselves. I/O errors are retryable
    /// only for kinds that describe a passing condition (interrupted, timed out, out of space
    /// or quota, which an operator may free); backend errors carry the backend's own judgement.
    pub fn is_retryable(&self) -> bool {
        match self {
            StateError::Corrupt(_) | StateError::VersionMismatch { .. } => false,
            StateError::Io(err) => matches!(
                err.kind(),
                io::ErrorKind::Interrupted
                    | io::ErrorKind::WouldBlock
                    | io::ErrorKind::TimedOut
                    | io::ErrorKind::StorageFull
                    | io::ErrorKind::QuotaExceeded
                    | io::ErrorKind::ResourceBusy
            ),
            StateError::Backend { retryable, .. } => *retryable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passing_conditions_are_retryable() {
        assert!(!StateError::corrupt("runs: truncated").is_retryable());
        assert!(
            !StateError::VersionMismatch { what: "runs", found: 9, supported: 1..=2 }
                .is_retryable()
        );
        assert!(StateError::from(io::Error::from(io::ErrorKind::TimedOut)).is_retryable());
        assert!(!StateError::from(io::Error::from(io::ErrorKind::PermissionDenied)).is_retryable());
        assert!(StateError::backend_retryable("busy").is_retryable());
        assert!(!StateError::backend("broken").is_retryable());
    }

    #[test]
    fn messages_name_what_and_versions() {
        let err = StateError::VersionMismatch { what: "nfa runs", found: 3, supported: 1..=2 };
        assert_eq!(
            err.to_string(),
            "nfa runs is stored in format version 3, but this build reads versions 1..=2"
        );
        assert_eq!(StateError::corrupt("x").to_string(), "corrupt state: x");
        let err = StateError::backend("disk on fire");
        assert_eq!(err.to_string(), "state backend failed");
        assert_eq!(err.source().map(|s| s.to_string()).as_deref(), Some("disk on fire"));
    }
}

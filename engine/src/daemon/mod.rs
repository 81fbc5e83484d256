//! The long-running `cepheus run`: configuration, and the two ways to run.
//!
//! - [`embedded`]: no brokers configured. JSON lines from a file or stdin, triggers on stdout,
//!   DLQ and late records on stderr; the same engine and routing as the Kafka daemon.
//! - [`supervisor`]: a Kafka consumer group. One worker per assigned partition number owns
//!   that partition's [`crate::runtime::Pipeline`]; outputs go through
//!   [`crate::io::sink::kafka::KafkaSink`]; offsets are stored only after the broker
//!   acknowledged everything their records caused ([`worker`]).

pub mod config;
pub mod embedded;
pub mod repartition;
pub mod supervisor;
pub mod topics;
pub mod worker;

pub use config::Config;

/// Who must act on an error (STYLE.md): the supervisor branches on this, never on text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad rules or configuration: fix and restart.
    User,
    /// Kafka or the disk: retried with back-off where that can help.
    External,
    /// A bug.
    Internal,
}

/// Why the daemon stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Config(String),
    #[error("kafka: {context}: {source}")]
    Kafka { context: String, source: rdkafka::error::KafkaError },
    #[error("delivery failed for a record to {topic}: {message}")]
    Delivery { topic: String, message: String },
    #[error("reading input: {0}")]
    Read(std::io::Error),
    #[error("writing output: {0}")]
    Write(std::io::Error),
    #[error("internal error: {0}")]
    Internal(String),
}

impl DaemonError {
    pub fn class(&self) -> ErrorClass {
        match self {
            DaemonError::Config(_) => ErrorClass::User,
            DaemonError::Kafka { .. }
            | DaemonError::Delivery { .. }
            | DaemonError::Read(_)
            | DaemonError::Write(_) => ErrorClass::External,
            DaemonError::Internal(_) => ErrorClass::Internal,
        }
    }

    pub(crate) fn kafka(context: impl Into<String>, source: rdkafka::error::KafkaError) -> Self {
        DaemonError::Kafka { context: context.into(), source }
    }
}

/// A line on stderr for the operator: never a record's payload, which may hold health data.
pub(crate) fn log(level: &str, message: std::fmt::Arguments<'_>) {
    eprintln!("cepheus {level}: {message}");
}

//! Where records come from and where results go: [`source`] (JSON lines, Kafka) and [`sink`]
//! (stdout and stderr, Kafka). [`sink::Router`] turns what the runtime emitted into
//! [`sink::OutRecord`]s, the same for every sink, so embedded mode and Kafka agree.

pub mod sink;
pub mod source;

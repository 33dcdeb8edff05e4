//! The SC211 camera's MQTT protocol: its topics, its commands, and tolerant readers for what it
//! publishes (see `docs/PROTOCOL.md`: the vendor documents topics, not payloads).

mod alarm;
mod claim;
mod command;
mod json;
pub mod snapshot;
mod status;
mod topic;

pub use alarm::AlarmKind;
pub use claim::{find_mac, find_mac_in, BadMac};
pub use command::{CameraCommand, UnknownCommand};
pub use json::{parse_object, MessageError};
pub use status::StatusReport;
pub use topic::{CameraTopic, CameraTopics, Pattern, TopicKind};

#[cfg(test)]
mod tests;

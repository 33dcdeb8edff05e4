//! The commands a camera obeys, and the topics they go to.

use std::fmt;
use std::str::FromStr;

use crate::mac::Mac;

/// A command the camera obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CameraCommand {
    /// Wakes a sleeping camera; it then turns on Wi-Fi and 4G and sends its status.
    Wake,
    /// Asks an awake camera for its status.
    Status,
    Reboot,
    Shutdown,
    /// Starts an online firmware upgrade.
    Upgrade,
}

impl CameraCommand {
    pub const ALL: [CameraCommand; 5] = [
        CameraCommand::Wake,
        CameraCommand::Status,
        CameraCommand::Reboot,
        CameraCommand::Shutdown,
        CameraCommand::Upgrade,
    ];

    /// The word the camera expects, which is also the button's `payload_press`.
    pub fn payload(self) -> &'static str {
        match self {
            CameraCommand::Wake => "wake",
            CameraCommand::Status => "status",
            CameraCommand::Reboot => "reboot",
            CameraCommand::Shutdown => "shutdown",
            CameraCommand::Upgrade => "upgrade",
        }
    }

    /// The camera's own topic for this command.
    pub fn topic(self, prefix: &str, mac: Mac) -> String {
        let kind = match self {
            CameraCommand::Wake => "Wake",
            CameraCommand::Status => "Status",
            CameraCommand::Reboot | CameraCommand::Shutdown | CameraCommand::Upgrade => "Config",
        };
        format!("{prefix}/{kind}/{mac}")
    }
}

impl serde::Serialize for CameraCommand {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.payload())
    }
}

impl<'de> serde::Deserialize<'de> for CameraCommand {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for CameraCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.payload())
    }
}

/// A command payload that names none of the camera's commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a camera command (wake, status, reboot, shutdown, upgrade)")]
pub struct UnknownCommand(pub String);

impl FromStr for CameraCommand {
    type Err = UnknownCommand;
    fn from_str(s: &str) -> Result<Self, UnknownCommand> {
        let s = s.trim();
        CameraCommand::ALL
            .into_iter()
            .find(|c| c.payload().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownCommand(s.to_string()))
    }
}

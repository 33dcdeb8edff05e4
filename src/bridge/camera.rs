//! What the bridge knows about one camera: its names, its last values, whether it is awake, and
//! the commands waiting for it.

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::config::{default_camera_name, CameraConfig};
use crate::discovery::{CameraEntity, CameraInfo};
use crate::mac::Mac;
use crate::protocol::CameraCommand;

/// What the bridge knows about one camera.
#[derive(Debug, Clone, Default)]
pub(super) struct Camera {
    pub(super) name: String,
    pub(super) area: Option<String>,
    /// Listed in the file (as opposed to discovered from its messages).
    pub(super) configured: bool,
    /// Its own `awake_timeout`, when the file gives one.
    pub(super) awake_timeout: Option<Duration>,
    pub(super) model: Option<String>,
    pub(super) sw_version: Option<String>,

    /// When the alarm turns itself off; `None` while it is off.
    pub(super) alarm_until: Option<Instant>,
    /// When the alarm last turned on, and when the last alarm came: each event tells both, so an
    /// automation can keep a cooldown per camera without state of its own.
    pub(super) alarm_since: Option<Instant>,
    pub(super) last_alarm: Option<Instant>,
    pub(super) alarm_attributes: Option<Bytes>,
    /// Until when the next snapshot counts as the alarm's own picture; `None` when none is due.
    pub(super) alarm_snapshot_until: Option<Instant>,
    pub(super) status: Option<Bytes>,
    pub(super) battery: Option<f64>,
    pub(super) battery_voltage: Option<f64>,
    pub(super) signal_dbm: Option<i32>,
    pub(super) last_status: Option<String>,
    pub(super) last_seen: Option<String>,

    pub(super) presence: Presence,
    pub(super) commands: CommandQueue,
}

/// Whether a camera is awake, and when it was last heard from.
#[derive(Debug, Clone, Default)]
pub(super) struct Presence {
    /// Until when the camera counts as awake; `None` while it sleeps.
    pub(super) awake_until: Option<Instant>,
    /// When its last message arrived, for attributing payloads that name no camera.
    pub(super) heard: Option<Instant>,
    /// When "last seen" was last published.
    pub(super) last_seen_sent: Option<Instant>,
}

/// Commands pressed while the camera slept, and the wakes sent for them.
#[derive(Debug, Clone, Default)]
pub(super) struct CommandQueue {
    /// In order, waiting for it to wake.
    pub(super) pending: Vec<CameraCommand>,
    /// Wakes sent for the pending commands, and when the latest one is given up on.
    pub(super) wakes_sent: u32,
    pub(super) wake_deadline: Option<Instant>,
    pub(super) last_command_error: Option<String>,
}

impl Camera {
    pub(super) fn from_config(c: &CameraConfig) -> Camera {
        Camera {
            name: c.name.clone(),
            area: c.area.clone(),
            configured: true,
            awake_timeout: c.awake_timeout,
            ..Camera::default()
        }
    }

    pub(super) fn discovered(mac: Mac) -> Camera {
        Camera {
            name: default_camera_name(mac),
            ..Camera::default()
        }
    }

    pub(super) fn info(&self, mac: Mac) -> CameraInfo<'_> {
        CameraInfo {
            mac,
            name: &self.name,
            area: self.area.as_deref(),
            model: self.model.as_deref(),
            sw_version: self.sw_version.as_deref(),
        }
    }

    /// Entities whose value only some firmware reports are announced once a value is seen.
    pub(super) fn has(&self, entity: CameraEntity) -> bool {
        match entity {
            CameraEntity::BatteryVoltage => self.battery_voltage.is_some(),
            CameraEntity::Signal => self.signal_dbm.is_some(),
            _ => true,
        }
    }
}

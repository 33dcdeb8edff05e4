//! What the bridge knows about one camera: its names, its last values, whether it is awake, and
//! the commands waiting for it.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;

use super::number_payload;
use crate::config::{default_camera_name, CameraConfig};
use crate::discovery::{CameraEntity, CameraInfo, StateTopic};
use crate::mac::Mac;
use crate::protocol::{CameraCommand, StatusReport};

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
    /// What its snapshots call it (`devName`): its device's model when its status names none,
    /// and an unlisted camera's name.
    pub(super) dev_name: Option<String>,

    /// When the alarm last turned on, and when the last alarm came: each event tells both, so an
    /// automation can keep a cooldown per camera without state of its own.
    pub(super) alarm_since: Option<Instant>,
    pub(super) last_alarm: Option<Instant>,
    pub(super) alarm_attributes: Option<Bytes>,
    /// The last alarm's picture, while none has come yet.
    pub(super) picture_due: Option<PictureDue>,
    /// When the picture shown was taken, by the camera's clock (when it tells it): an older one
    /// delivered late does not replace it.
    pub(super) shown_taken: Option<SystemTime>,
    /// Its snapshots' times were found implausible (and said so, once).
    pub(super) clock_warned: bool,
    pub(super) status: Option<Bytes>,
    pub(super) battery: Option<f64>,
    pub(super) battery_voltage: Option<f64>,
    pub(super) signal_dbm: Option<i32>,
    pub(super) last_status: Option<String>,
    pub(super) last_seen: Option<String>,
    /// The last answer on the configuration-respond topic: when (RFC 3339), and what, as
    /// attributes.
    pub(super) config_answer: Option<(String, Bytes)>,

    pub(super) presence: Presence,
    pub(super) commands: CommandQueue,
}

/// An alarm waiting for its picture: the next snapshot is the alarm's when it arrives by `until`,
/// or was taken (by the camera's clock) within the window of the alarm's arrival `at`: over 4G a
/// picture may come minutes after it was taken.
#[derive(Debug, Clone, Copy)]
pub(super) struct PictureDue {
    pub(super) until: Instant,
    pub(super) at: SystemTime,
}

impl PictureDue {
    pub(super) fn met_by(&self, now: Instant, taken: Option<SystemTime>, window: Duration) -> bool {
        let taken_within = taken.is_some_and(|t| match t.duration_since(self.at) {
            Ok(after) => after <= window,
            Err(before) => before.duration() <= window,
        });
        now <= self.until || taken_within
    }
}

/// What a status changed besides values: Home Assistant is told of the device again when it
/// did.
pub(super) struct StatusTaken {
    /// A value only some firmware reports came for the first time: its entity is announced.
    pub(super) new_entities: bool,
    /// The firmware or model changed: the device's card shows them.
    pub(super) device_changed: bool,
}

/// When a camera was last heard from. (Whether it is awake is its `Asleep` timer: set while
/// awake.)
#[derive(Debug, Clone, Default)]
pub(super) struct Presence {
    /// When its last message arrived, for attributing payloads that name no camera.
    pub(super) heard: Option<Instant>,
    /// When "last seen" was last published.
    pub(super) last_seen_sent: Option<Instant>,
}

/// Commands pressed while the camera slept, and the wakes sent for them. (When the latest wake
/// is given up on is its `WakeUnanswered` timer.)
#[derive(Debug, Clone, Default)]
pub(super) struct CommandQueue {
    /// In order, waiting for it to wake; each command once.
    pending: Vec<CameraCommand>,
    /// Wakes sent for the pending commands.
    wakes_sent: u32,
    /// Why the last commands were given up, until new ones go out.
    last_error: Option<String>,
}

impl CommandQueue {
    /// Commands an earlier run saved.
    pub(super) fn restored(pending: Vec<CameraCommand>) -> CommandQueue {
        CommandQueue {
            pending,
            ..CommandQueue::default()
        }
    }

    pub(super) fn pending(&self) -> &[CameraCommand] {
        &self.pending
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub(super) fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    pub(super) fn wakes_sent(&self) -> u32 {
        self.wakes_sent
    }

    /// Queues `command` unless it waits already.
    pub(super) fn push(&mut self, command: CameraCommand) {
        if !self.pending.contains(&command) {
            self.pending.push(command);
        }
    }

    /// One more wake sent.
    pub(super) fn wake_sent(&mut self) {
        self.wakes_sent += 1;
    }

    /// The wakes count again from none (after a restart, or the camera broker's return).
    pub(super) fn restart_wakes(&mut self) {
        self.wakes_sent = 0;
    }

    /// The camera spoke: every command goes out, in order, and the queue starts over.
    pub(super) fn take_all(&mut self) -> Vec<CameraCommand> {
        let commands = std::mem::take(&mut self.pending);
        *self = CommandQueue::default();
        commands
    }

    /// No answer to the last wake allowed: the commands are dropped, and `why` kept.
    pub(super) fn give_up(&mut self, why: String) {
        *self = CommandQueue {
            last_error: Some(why),
            ..CommandQueue::default()
        };
    }
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

    /// Takes the name its snapshots give (`devName`): its model, and an unlisted camera's name
    /// (the MAC keeps two of one product apart). Whether it changed.
    pub(super) fn take_dev_name(&mut self, mac: Mac, dev_name: String) -> bool {
        if self.dev_name.as_ref() == Some(&dev_name) {
            return false;
        }
        if !self.configured {
            self.name = format!("{dev_name} {mac}");
        }
        self.dev_name = Some(dev_name);
        true
    }

    pub(super) fn info(&self, mac: Mac) -> CameraInfo<'_> {
        CameraInfo {
            mac,
            name: &self.name,
            area: self.area.as_deref(),
            model: self.model.as_deref().or(self.dev_name.as_deref()),
            sw_version: self.sw_version.as_deref(),
        }
    }

    /// The retained states its values make, each encoded here only: what an announcement
    /// publishes, and what a status compares before and after (a value that did not change is
    /// not sent again). The alarm and awake states are its timers', and the pending commands
    /// have their own publisher.
    pub(super) fn retained_states(&self) -> Vec<(StateTopic, Bytes)> {
        let text = |s: &Option<String>| s.clone().map(Bytes::from);
        [
            (StateTopic::AlarmAttributes, self.alarm_attributes.clone()),
            (StateTopic::Status, self.status.clone()),
            (StateTopic::LastStatus, text(&self.last_status)),
            (StateTopic::Battery, self.battery.map(number_payload)),
            (
                StateTopic::BatteryVoltage,
                self.battery_voltage.map(number_payload),
            ),
            (
                StateTopic::Signal,
                self.signal_dbm.map(|d| Bytes::from(d.to_string())),
            ),
            (StateTopic::LastSeen, text(&self.last_seen)),
            (
                StateTopic::ConfigAnswer,
                self.config_answer
                    .as_ref()
                    .map(|(t, _)| Bytes::from(t.clone())),
            ),
            (
                StateTopic::ConfigAnswerAttributes,
                self.config_answer.as_ref().map(|(_, a)| a.clone()),
            ),
        ]
        .into_iter()
        .filter_map(|(state, value)| Some((state, value?)))
        .collect()
    }

    /// Takes in a status report (`attributes`: the payload as the Status sensor's attributes,
    /// `received`: when it came, RFC 3339). A value the report lacks keeps the last one.
    pub(super) fn take_status(
        &mut self,
        report: &StatusReport,
        attributes: Bytes,
        received: String,
    ) -> StatusTaken {
        let taken = StatusTaken {
            new_entities: (report.battery_voltage.is_some() && self.battery_voltage.is_none())
                || (report.signal_dbm.is_some() && self.signal_dbm.is_none()),
            device_changed: (report.firmware.is_some() && report.firmware != self.sw_version)
                || (report.model.is_some() && report.model != self.model),
        };
        self.battery = report.battery_percent.or(self.battery);
        self.battery_voltage = report.battery_voltage.or(self.battery_voltage);
        self.signal_dbm = report.signal_dbm.or(self.signal_dbm);
        self.sw_version = report.firmware.clone().or(self.sw_version.take());
        self.model = report.model.clone().or(self.model.take());
        // Several reports in one second (a burst) share one time.
        self.last_status = Some(received);
        self.status = Some(attributes);
        taken
    }

    /// Entities whose value only some firmware reports are announced once a value is seen.
    pub(super) fn has(&self, entity: CameraEntity) -> bool {
        match entity {
            CameraEntity::BatteryVoltage => self.battery_voltage.is_some(),
            CameraEntity::Signal => self.signal_dbm.is_some(),
            CameraEntity::ConfigAnswer => self.config_answer.is_some(),
            _ => true,
        }
    }
}

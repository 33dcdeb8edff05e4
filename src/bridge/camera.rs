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
    name: String,
    area: Option<String>,
    /// Listed in the file (as opposed to discovered from its messages).
    configured: bool,
    /// Its own `awake_timeout`, when the file gives one.
    awake_timeout: Option<Duration>,
    model: Option<String>,
    sw_version: Option<String>,
    /// What its snapshots call it (`devName`): its device's model when its status names none,
    /// and an unlisted camera's name.
    dev_name: Option<String>,

    /// When the alarm last turned on, and when the last alarm came: each event tells both, so an
    /// automation can keep a cooldown per camera without state of its own.
    alarm_since: Option<Instant>,
    last_alarm: Option<Instant>,
    alarm_attributes: Option<Bytes>,
    /// The last alarm's picture, while none has come yet.
    picture_due: Option<PictureDue>,
    /// When the picture shown was taken, by the camera's clock (when it tells it): an older one
    /// delivered late does not replace it.
    shown_taken: Option<SystemTime>,
    /// Its snapshots' times were found implausible (and said so, once).
    clock_warned: bool,
    status: Option<Bytes>,
    battery: Option<f64>,
    battery_voltage: Option<f64>,
    signal_dbm: Option<i32>,
    last_status: Option<String>,
    last_seen: Option<String>,
    /// The last answer on the configuration-respond topic: when (RFC 3339), and what, as
    /// attributes.
    config_answer: Option<(String, Bytes)>,

    presence: Presence,
    commands: CommandQueue,
}

/// An alarm waiting for its picture: the next snapshot is the alarm's when it arrives by `until`,
/// or was taken (by the camera's clock) within the window of the alarm's arrival `at`: over 4G a
/// picture may come minutes after it was taken.
#[derive(Debug, Clone, Copy)]
struct PictureDue {
    until: Instant,
    at: SystemTime,
}

impl PictureDue {
    fn met_by(&self, now: Instant, taken: Option<SystemTime>, window: Duration) -> bool {
        let taken_within = taken.is_some_and(|t| match t.duration_since(self.at) {
            Ok(after) => after <= window,
            Err(before) => before.duration() <= window,
        });
        now <= self.until || taken_within
    }
}

/// When a camera was last heard from. (Whether it is awake is its `Asleep` timer: set while
/// awake.)
#[derive(Debug, Clone, Default)]
struct Presence {
    /// When its last message arrived, for attributing payloads that name no camera.
    heard: Option<Instant>,
    /// When "last seen" was last published.
    last_seen_sent: Option<Instant>,
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

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// Listed in the file (as opposed to discovered from its messages).
    pub(super) fn is_configured(&self) -> bool {
        self.configured
    }

    pub(super) fn dev_name(&self) -> Option<&str> {
        self.dev_name.as_deref()
    }

    /// Its battery's charge, in %, as last reported.
    pub(super) fn battery(&self) -> Option<f64> {
        self.battery
    }

    /// Its own `awake_timeout`, when the file gives one.
    pub(super) fn awake_timeout(&self) -> Option<Duration> {
        self.awake_timeout
    }

    pub(super) fn commands(&self) -> &CommandQueue {
        &self.commands
    }

    /// The queue keeps its own rules (each command once, wakes counted).
    pub(super) fn commands_mut(&mut self) -> &mut CommandQueue {
        &mut self.commands
    }

    /// Commands an earlier run left waiting for it.
    pub(super) fn restore_commands(&mut self, pending: Vec<CameraCommand>) {
        self.commands = CommandQueue::restored(pending);
    }

    /// Listed in the file as `c`: its awake time, name and area are the file's from now on.
    /// Its name before, when Home Assistant's view of the device changed (a name, an area, or a
    /// camera discovered before and listed now).
    pub(super) fn list(&mut self, c: &CameraConfig) -> Option<String> {
        self.awake_timeout = c.awake_timeout;
        if self.name == c.name && self.area == c.area && self.configured {
            return None;
        }
        self.area = c.area.clone();
        self.configured = true;
        Some(std::mem::replace(&mut self.name, c.name.clone()))
    }

    /// When its last message arrived, for attributing payloads that name no camera.
    pub(super) fn heard(&self) -> Option<Instant> {
        self.presence.heard
    }

    /// A message from it arrived `now` (at `last_seen`, RFC 3339). Whether "last seen" is due
    /// for publication: at most once every `every`, so a burst is not announced message by
    /// message.
    pub(super) fn hear(&mut self, now: Instant, last_seen: String, every: Duration) -> bool {
        self.presence.heard = Some(now);
        self.last_seen = Some(last_seen);
        let due = self
            .presence
            .last_seen_sent
            .is_none_or(|t| now.saturating_duration_since(t) >= every);
        if due {
            self.presence.last_seen_sent = Some(now);
        }
        due
    }

    /// An alarm arrived `now` (`received` by this machine's clock), `began` unless the alarm was
    /// on already; its next snapshot by `picture_until` (or taken within the window of
    /// `received`) is its picture. When the alarm turned on, and when the previous one came.
    pub(super) fn take_alarm(
        &mut self,
        now: Instant,
        received: SystemTime,
        began: bool,
        picture_until: Instant,
        attributes: Bytes,
    ) -> (Instant, Option<Instant>) {
        if began {
            self.alarm_since = Some(now);
        }
        let since = *self.alarm_since.get_or_insert(now);
        let previous = self.last_alarm.replace(now);
        self.picture_due = Some(PictureDue {
            until: picture_until,
            at: received,
        });
        self.alarm_attributes = Some(attributes);
        (since, previous)
    }

    /// Whether a snapshot arriving `now`, `taken` by the camera's clock, is the last alarm's
    /// picture. Either way no later one is.
    pub(super) fn take_alarm_picture(
        &mut self,
        now: Instant,
        taken: Option<SystemTime>,
        window: Duration,
    ) -> bool {
        self.picture_due
            .take()
            .is_some_and(|due| due.met_by(now, taken, window))
    }

    /// A picture `taken` (by the camera's clock) arrived: whether it is older than the one
    /// shown, delivered late; if not, it is the one shown now.
    pub(super) fn show_picture(&mut self, taken: Option<SystemTime>) -> bool {
        let late = taken.is_some_and(|t| self.shown_taken.is_some_and(|shown| t < shown));
        if !late {
            self.shown_taken = taken;
        }
        late
    }

    /// Its snapshots' time is implausible: whether to say so (the first time only).
    pub(super) fn warn_clock_once(&mut self) -> bool {
        !std::mem::replace(&mut self.clock_warned, true)
    }

    /// An answer on the configuration-respond topic (`received`, RFC 3339; `shown`, its
    /// attributes). Whether it is the first, whose entity is then announced.
    pub(super) fn take_config_answer(&mut self, received: String, shown: Bytes) -> bool {
        self.config_answer.replace((received, shown)).is_none()
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
    /// Whether Home Assistant must be told of the device again.
    pub(super) fn take_status(
        &mut self,
        report: &StatusReport,
        attributes: Bytes,
        received: String,
    ) -> bool {
        // A value only some firmware reports came for the first time (its entity is announced),
        // or the firmware or model changed (the device's card shows them).
        let new_entities = (report.battery_voltage.is_some() && self.battery_voltage.is_none())
            || (report.signal_dbm.is_some() && self.signal_dbm.is_none());
        let device_changed = (report.firmware.is_some() && report.firmware != self.sw_version)
            || (report.model.is_some() && report.model != self.model);
        self.battery = report.battery_percent.or(self.battery);
        self.battery_voltage = report.battery_voltage.or(self.battery_voltage);
        self.signal_dbm = report.signal_dbm.or(self.signal_dbm);
        self.sw_version = report.firmware.clone().or(self.sw_version.take());
        self.model = report.model.clone().or(self.model.take());
        // Several reports in one second (a burst) share one time.
        self.last_status = Some(received);
        self.status = Some(attributes);
        new_entities || device_changed
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

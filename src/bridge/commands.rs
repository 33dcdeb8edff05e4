//! Button presses, and the queue that keeps them while a camera sleeps.
//!
//! The camera obeys `status`, `reboot`, `shutdown` and `upgrade` only while awake, and it sleeps
//! most of the time. So a command for a sleeping camera is queued; the bridge sends `wake` and waits
//! for the camera to speak (its status follows every wake), then sends the queue in order. No answer
//! within `command_timeout`: wake again, up to `wake_retries` wakes; after that the commands are
//! given up, logged, and shown on the camera's "Pending commands" sensor. The queue is saved, so a
//! restart of the bridge does not lose it.

use std::time::Instant;

use bytes::Bytes;
use tracing::{info, warn};

use super::{Bridge, CameraTimer, Link};
use crate::discovery::StateTopic;
use crate::mac::{Mac, MacError};
use crate::protocol::CameraCommand;

impl Bridge {
    /// A command that names no camera, or no command: counted, and shown as the last error.
    fn refuse_command(&mut self, topic: &str, why: &dyn std::fmt::Display) {
        self.reject(format!("{topic}: command refused: {why}"));
    }

    pub(super) fn on_command(
        &mut self,
        topic: &str,
        mac: Result<Mac, MacError>,
        payload: &[u8],
        now: Instant,
    ) {
        let text = String::from_utf8_lossy(payload);
        let (mac, command) = match (mac, text.parse::<CameraCommand>()) {
            (Ok(mac), Ok(cmd)) => (mac, cmd),
            (Err(e), _) => return self.refuse_command(topic, &e),
            (_, Err(e)) => return self.refuse_command(topic, &e),
        };
        let awake = self.is_awake(mac);
        let Some(cam) = self.cameras.get_mut(&mac) else {
            // Only cameras Home Assistant was told of have buttons: anything else is a stray or a
            // forged command, and the camera broker is no place to pass it on to.
            return self.reject(format!(
                "{topic}: {command} refused: camera {mac} is not one of the bridge's cameras \
                 (not in the file, nor discovered)"
            ));
        };
        if command == CameraCommand::Wake || awake {
            info!("{} ({mac}): sending {command}", cam.name());
            return self.send_command(mac, command);
        }
        cam.commands_mut().push(command);
        info!(
            "{} ({mac}): asleep; {command} queued until it wakes ({} waiting)",
            cam.name(),
            cam.commands().pending().len()
        );
        if self.timers.get(mac, CameraTimer::WakeUnanswered).is_none() {
            self.send_wake(mac, now);
        }
        self.publish_pending(mac);
        self.save_state();
    }

    fn send_command(&mut self, mac: Mac, command: CameraCommand) {
        let topic = command.topic(&self.config.camera_topic_prefix, mac);
        self.publish(
            Link::Camera,
            topic,
            Bytes::from_static(command.payload().as_bytes()),
            false,
        );
    }

    /// Sends a wake for the queued commands, and gives it `command_timeout` to work.
    fn send_wake(&mut self, mac: Mac, now: Instant) {
        let timeout = self.config.command_timeout;
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        cam.commands_mut().wake_sent();
        self.timers
            .set(mac, CameraTimer::WakeUnanswered, now + timeout);
        info!(
            "{} ({mac}): waking it for {} queued command(s) (wake {} of {})",
            cam.name(),
            cam.commands().pending().len(),
            cam.commands().wakes_sent(),
            self.config.wake_retries
        );
        self.send_command(mac, CameraCommand::Wake);
    }

    /// The camera spoke, so it is awake: what waited for it goes out, in order.
    pub(super) fn send_pending(&mut self, mac: Mac) {
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        if cam.commands().is_empty() {
            return;
        }
        let commands = cam.commands_mut().take_all();
        self.timers.stop(mac, CameraTimer::WakeUnanswered);
        let list: Vec<&str> = commands.iter().map(|c| c.payload()).collect();
        info!("{} ({mac}): awake; sending {}", cam.name(), list.join(", "));
        for command in commands {
            self.send_command(mac, command);
        }
        self.publish_pending(mac);
        self.save_state();
    }

    /// After a restart, or once the camera broker is back: wake the cameras commands wait for.
    pub(super) fn resume_pending(&mut self, now: Instant) {
        let waiting: Vec<Mac> = self
            .cameras
            .iter()
            .filter(|(_, c)| !c.commands().is_empty())
            .map(|(m, _)| *m)
            .collect();
        for mac in waiting {
            if let Some(cam) = self.cameras.get_mut(&mac) {
                cam.commands_mut().restart_wakes();
            }
            self.send_wake(mac, now);
        }
    }

    /// No word from the camera since the last wake (its timer ran out): wake it again, or give
    /// up.
    pub(super) fn wake_unanswered(&mut self, mac: Mac, now: Instant) {
        let retries = self.config.wake_retries;
        let timeout = self.config.command_timeout;
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        if cam.commands().wakes_sent() < retries {
            return self.send_wake(mac, now);
        }
        let list: Vec<&str> = cam
            .commands()
            .pending()
            .iter()
            .map(|c| c.payload())
            .collect();
        let wakes = cam.commands().wakes_sent();
        let message = format!(
            "{} ({mac}): {} not sent: the camera did not answer {wakes} wakes over {}s",
            cam.name(),
            list.join(", "),
            timeout.as_secs() * u64::from(wakes)
        );
        warn!("{message}");
        cam.commands_mut().give_up(message.clone());
        self.note_error(message);
        self.publish_pending(mac);
        self.save_state();
    }

    /// The "Pending commands" sensor: how many wait, which, and the last one given up.
    pub(super) fn publish_pending(&mut self, mac: Mac) {
        let Some(cam) = self.cameras.get(&mac) else {
            return;
        };
        let attributes = serde_json::json!({
            "commands": cam.commands().pending().iter().map(|c| c.payload()).collect::<Vec<_>>(),
            "last_error": cam.commands().last_error(),
        });
        let count = Bytes::from(cam.commands().pending().len().to_string());
        self.publish_state(
            mac,
            StateTopic::PendingAttributes,
            Bytes::from(attributes.to_string()),
        );
        self.publish_state(mac, StateTopic::Pending, count);
    }
}

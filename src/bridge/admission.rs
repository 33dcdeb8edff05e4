//! Cameras not listed in the file: which of them become devices, within bounds, and which were
//! dismissed (deleted in Home Assistant, removed from the file) and stay out.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::camera::Camera;
use super::reload::Clear;
use super::sender::Incoming;
use super::Bridge;
use crate::discovery::Counter;
use crate::logging::Throttle;
use crate::mac::Mac;

/// At most one unlisted camera becomes a device per this long: a stranger flooding random MACs
/// gets nowhere near `discover_max` in seconds, and a real new camera is added by its next message.
pub const NEW_CAMERA_EVERY: Duration = Duration::from_secs(10);

/// Refused unlisted cameras are logged at most once per this long (the sensor counts them all).
pub const REFUSALS_LOGGED_EVERY: Duration = Duration::from_secs(60);

/// How many dismissed cameras are remembered; the oldest is forgotten first.
pub const MAX_DISMISSED: usize = 256;

/// What decides whether an unlisted camera becomes a device.
#[derive(Debug)]
pub(super) struct Admission {
    /// Cameras not to be discovered again, oldest first (see [`super::Saved::dismissed`]), at
    /// most [`MAX_DISMISSED`]: changed only through [`Admission::dismiss`], which keeps the cap.
    dismissed: VecDeque<Mac>,
    /// When the last unlisted camera was added (they are added one per [`NEW_CAMERA_EVERY`]).
    last_added: Option<Instant>,
    /// Refusals are logged once per [`REFUSALS_LOGGED_EVERY`], the others counted into the next.
    refusals: Throttle,
}

impl Admission {
    /// Keeps `mac` from being discovered again (until it is listed).
    pub(super) fn dismiss(&mut self, mac: Mac) {
        if !self.dismissed.contains(&mac) {
            if self.dismissed.len() >= MAX_DISMISSED {
                self.dismissed.pop_front();
            }
            self.dismissed.push_back(mac);
        }
    }

    /// The cameras dismissed, oldest first.
    pub(super) fn dismissed(&self) -> impl Iterator<Item = Mac> + '_ {
        self.dismissed.iter().copied()
    }

    /// Forgets the dismissals of cameras `listed` again: the file decides for them now.
    pub(super) fn forget(&mut self, listed: impl Fn(&Mac) -> bool) {
        self.dismissed.retain(|m| !listed(m));
    }
}

impl Default for Admission {
    fn default() -> Admission {
        Admission {
            dismissed: VecDeque::new(),
            last_added: None,
            refusals: Throttle::new(REFUSALS_LOGGED_EVERY),
        }
    }
}

impl Bridge {
    /// The user deleted an unlisted camera's device in Home Assistant (which empties its
    /// discovery configs): forget it, and do not let its messages bring it back. Listing it in the
    /// file does.
    pub(super) fn on_device_deleted(&mut self, mac: Mac) {
        let Some(cam) = self.cameras.get(&mac) else {
            return;
        };
        if cam.is_configured() {
            // Listed cameras are the file's to remove; the next announcement restores it.
            return;
        }
        info!(
            "{} ({mac}): deleted in Home Assistant; forgotten, and not added again unless listed \
             in the file",
            cam.name()
        );
        self.cameras.remove(&mac);
        self.timers.stop_all(mac);
        // Home Assistant emptied its device config already (once per entity, as it deletes them);
        // another would only make it warn that there is nothing left to clean up.
        let topics = self.topics.clone();
        self.clear_camera(&topics, mac, Clear::States);
        self.admission.dismiss(mac);
        self.save_state();
    }

    /// A camera not in the file spoke: it becomes a device, within bounds. On a broker anyone can
    /// publish to, every random MAC would otherwise be a device in Home Assistant and a write of
    /// the state file. Refused: discovery off, the camera dismissed, `discover_max` unlisted
    /// cameras already, or another added less than [`NEW_CAMERA_EVERY`] ago.
    pub(super) fn admit_unlisted(
        &mut self,
        topic: &str,
        message: Incoming,
        mac: Mac,
        now: Instant,
    ) -> bool {
        let what = message.what;
        let unlisted = || self.cameras.values().filter(|c| !c.is_configured()).count();
        let why = if !self.config.discover_unknown {
            Some("discover_unknown is off".to_string())
        } else if self.admission.dismissed.contains(&mac) {
            Some("it was deleted in Home Assistant or removed from the file; list it to bring it back".to_string())
        } else if unlisted() >= self.config.discover_max {
            Some(format!(
                "{} unlisted cameras are devices already (discover_max); list it in the file to add it",
                self.config.discover_max
            ))
        } else if self
            .admission
            .last_added
            .is_some_and(|t| now.saturating_duration_since(t) < NEW_CAMERA_EVERY)
        {
            Some(format!(
                "another unlisted camera was added less than {}s ago; a later message may add it",
                NEW_CAMERA_EVERY.as_secs()
            ))
        } else {
            None
        };
        if let Some(why) = why {
            self.refuse_camera(
                format!("{topic}: {what} from camera {mac}, which is not in the configuration; ignored: {why}"),
                now,
            );
            return false;
        }
        let mut cam = Camera::discovered(mac);
        if let Some(dev_name) = message.dev_name {
            cam.take_dev_name(mac, dev_name.to_string());
        }
        info!(
            "{}: new camera, not in the configuration; adding it to Home Assistant",
            cam.name()
        );
        self.cameras.insert(mac, cam);
        self.admission.last_added = Some(now);
        self.save_state();
        if self.ha_connected {
            self.announce_camera(mac, now);
        }
        true
    }

    /// Counts a refused unlisted camera; logs it, or folds it into the next line when one was
    /// logged less than [`REFUSALS_LOGGED_EVERY`] ago.
    fn refuse_camera(&mut self, message: String, now: Instant) {
        self.diagnostics.count(Counter::RefusedCameras, 1);
        match self.admission.refusals.line(&message, now) {
            Some(line) => {
                warn!("{line}");
                self.note_error(message);
            }
            None => debug!("{message}"),
        }
    }
}

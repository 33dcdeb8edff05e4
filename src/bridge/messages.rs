//! Every message the bridge receives, routed by topic: what the cameras publish (to
//! [`snapshots`](super::snapshots) and [`reports`](super::reports), each first given to the camera
//! that sent it by [`sender`](super::sender)), and from Home Assistant's side its birth messages,
//! button presses and device deletions.

use std::time::{Instant, SystemTime};

use bytes::Bytes;
use tracing::debug;

use super::{cut, Bridge, Link};
use crate::mac::Mac;
use crate::protocol::CameraTopic;

/// A topic is quoted in logs and errors up to this many characters (a stranger's may be 64 KB).
pub(super) const MAX_TOPIC_SHOWN: usize = 120;

/// A camera's message as it arrived: on `topic`, whose levels may name its camera
/// (`topic_mac`), received at `received` by the wall clock and `now` by the core's.
pub(super) struct Arrived<'a> {
    pub(super) topic: &'a str,
    pub(super) topic_mac: Option<Mac>,
    pub(super) payload: Bytes,
    pub(super) received: SystemTime,
    pub(super) now: Instant,
}

impl Bridge {
    pub(super) fn on_message(
        &mut self,
        topic: &str,
        payload: Bytes,
        retain: bool,
        received: SystemTime,
        now: Instant,
    ) {
        if let Some(kind) = self.config.camera_topics.parse(topic) {
            let (topic_mac, on): (_, fn(&mut Bridge, Arrived)) = match kind {
                CameraTopic::Snapshot(mac) => (mac, Bridge::on_snapshot),
                CameraTopic::Alarm(mac) => (mac, Bridge::on_alarm),
                CameraTopic::Status(mac) => (mac, Bridge::on_status),
                CameraTopic::ConfigRespond(mac) => (mac, Bridge::on_config_answer),
            };
            on(
                self,
                Arrived {
                    topic,
                    topic_mac,
                    payload,
                    received,
                    now,
                },
            );
        } else if topic == self.topics.ha_status() {
            if payload.as_ref() == b"online" {
                self.on_birth(now);
            }
        } else if let Some(mac) = self.topics.parse_command(topic) {
            // Its MAC level is anyone's text: quoted short in logs and in the last error.
            let shown = cut(topic, MAX_TOPIC_SHOWN);
            if retain {
                // Left on the broker by someone: replayed at every start of the bridge, it would
                // press the button again each time. Taken down, not obeyed.
                self.reject(format!(
                    "{shown}: a retained command ({} bytes) is not obeyed: commands are presses, \
                     not states; clearing it",
                    payload.len()
                ));
                self.publish(Link::Ha, topic.to_string(), Bytes::new(), true);
            } else if payload.is_empty() {
                debug!("{shown}: empty (a retained command being cleared); ignored");
            } else {
                self.on_command(&shown, mac, &payload, now);
            }
        } else if payload.is_empty() {
            // A camera's device config emptied: Home Assistant deleting the device, or us. (An
            // emptied per-entity config is this release moving it, or an earlier one's clean-up.)
            if let Some(mac) = self.topics.device_config_camera(topic) {
                self.on_device_deleted(mac);
            }
        } else if let Some(mac) = self.topics.announced_camera(topic, &payload) {
            if retain {
                self.on_announcement(mac);
            }
        } else if let Some(mac) = self.topics.legacy_announced_camera(topic, &payload) {
            if retain {
                self.on_legacy_announcement(mac);
            }
        } else {
            debug!(
                "{}: not a topic the bridge reads; ignored",
                cut(topic, MAX_TOPIC_SHOWN)
            );
        }
    }
}

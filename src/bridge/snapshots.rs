//! Snapshots: the JPEG in whatever form the camera sent it, given to its camera, shown in Home
//! Assistant, archived, and after an alarm kept as the alarm's picture.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tracing::{info, warn};

use super::messages::Arrived;
use super::sender::{claimed, Incoming};
use super::{ArchiveRequest, Bridge};
use crate::discovery::StateTopic;
use crate::mac::Mac;
use crate::protocol::snapshot::{self, Extracted};

/// A JPEG sliced out of a payload that much larger is copied out, so the payload's buffer is
/// freed rather than kept alive, uncounted, by the slice until it is sent.
const MAX_PINNED_SURPLUS: usize = 64 << 10;

/// A snapshot's time further ahead of this machine's clock than this is a clock not set.
const MAX_CLOCK_AHEAD: Duration = Duration::from_secs(5 * 60);

/// A snapshot's time further back than this is a clock not set (a camera's 4G link may hold a
/// picture for minutes, an outage for days, not longer).
const MAX_PICTURE_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

impl Bridge {
    /// A snapshot: its JPEG found whatever its form, given to its camera, and shown, archived
    /// and (after an alarm) kept as the alarm's picture.
    pub(super) fn on_snapshot(&mut self, m: Arrived) {
        let Arrived {
            topic,
            topic_mac,
            payload,
            received,
            now,
        } = m;
        let size = payload.len();
        // Even as a spaced hex dump (the most verbose form), a JPEG within the limit takes at most
        // about four bytes a byte: anything larger is refused unread, without a decoded copy.
        let readable = self.config.max_camera_payload();
        if size > readable {
            return self.reject(format!(
                "{topic}: {size}-byte snapshot rejected: larger than any payload holding a JPEG \
                 within snapshot_max_bytes ({}); not read",
                self.config.snapshot_max_bytes
            ));
        }
        let mut found = match snapshot::extract(&payload) {
            Ok(s) => s,
            Err(e) => {
                return self.reject(format!(
                    "{topic}: {size}-byte snapshot rejected: {e}; nothing published"
                ));
            }
        };
        // The payload is no longer needed; only the JPEG is kept: a slice of it when that is
        // nearly all of it, else a copy, so a large header does not stay in memory unseen.
        let sliced = payload.as_ptr_range().contains(&found.jpeg.as_ptr());
        if sliced && size - found.jpeg.len() > MAX_PINNED_SURPLUS {
            found.jpeg = Bytes::copy_from_slice(&found.jpeg);
        }
        drop(payload);
        // An unlisted camera is added under the name its picture gives, if any.
        let claim = claimed(topic_mac, found.mac.clone());
        let message = Incoming {
            what: "snapshot",
            dev_name: found.facts.dev_name.as_deref(),
        };
        let Some(mac) = self.sender(topic, message, size, claim, received, now) else {
            return;
        };
        let jpeg_len = found.jpeg.len();
        if jpeg_len > self.config.snapshot_max_bytes {
            let name = self
                .cameras
                .get(&mac)
                .map_or(String::new(), |c| c.name().to_string());
            return self.reject(format!(
                "{topic}: snapshot of {jpeg_len} bytes from {name} ({mac}) is larger than \
                 snapshot_max_bytes ({}); not forwarded. Raise snapshot_max_bytes if your broker \
                 accepts larger messages",
                self.config.snapshot_max_bytes
            ));
        }
        if let Some(dev_name) = found.facts.dev_name.take() {
            self.take_dev_name(mac, dev_name);
        }
        let taken = found
            .facts
            .taken
            .and_then(|t| self.plausible(mac, t, received));
        self.show_snapshot(mac, found, taken, received, now);
    }

    /// A snapshot given to its camera: shown unless an older one than the picture shown, archived,
    /// and kept as the alarm's picture when it is one.
    fn show_snapshot(
        &mut self,
        mac: Mac,
        found: Extracted,
        taken: Option<SystemTime>,
        received: SystemTime,
        now: Instant,
    ) {
        let jpeg_len = found.jpeg.len();
        let window = self.config.alarm_snapshot_window;
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        let after_alarm = cam.take_alarm_picture(now, taken, window);
        // By the camera's clock, older than the picture shown: delivered late, it is kept (in
        // the archive, and as the alarm's picture if it is that) but does not replace it.
        let late = cam.show_picture(taken);
        info!(
            "{} ({mac}): snapshot, {jpeg_len} bytes ({}){}{}",
            cam.name(),
            found.form,
            if after_alarm { ", the alarm's" } else { "" },
            if late {
                ", taken before the one shown: not shown"
            } else {
                ""
            }
        );
        let folder = crate::discovery::sanitize_id(cam.name());
        if self.config.archive.is_some() {
            self.archive(ArchiveRequest {
                camera: folder,
                jpeg: found.jpeg.clone(),
                taken: taken.unwrap_or(received),
                alarm: after_alarm,
            });
        }
        if after_alarm {
            self.publish_state(mac, StateTopic::AlarmSnapshot, found.jpeg.clone());
        }
        // Not kept: the broker retains it for Home Assistant, and a Pi's memory is better spent
        // elsewhere than on a copy of every camera's last picture.
        if !late {
            self.publish_state(mac, StateTopic::Snapshot, found.jpeg);
        }
    }

    /// The name a snapshot gives its camera: Home Assistant is told when it is new.
    fn take_dev_name(&mut self, mac: Mac, dev_name: String) {
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        if cam.take_dev_name(mac, dev_name) {
            info!(
                "{} ({mac}): its snapshots name it {:?}",
                cam.name(),
                cam.dev_name()
            );
            self.publish_discovery(mac);
            self.save_state();
        }
    }

    /// A snapshot's `time` as a time, unless it is further from `received` than a clock that was
    /// set can be: a camera whose clock was never set sends 1970 or 2000 (said once a camera).
    fn plausible(&mut self, mac: Mac, secs: u64, received: SystemTime) -> Option<SystemTime> {
        let taken = SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs));
        let off = taken.map(|t| match t.duration_since(received) {
            Ok(ahead) => (ahead > MAX_CLOCK_AHEAD).then_some((ahead, "ahead of")),
            Err(behind) => {
                (behind.duration() > MAX_PICTURE_AGE).then_some((behind.duration(), "behind"))
            }
        });
        let cam = self.cameras.get_mut(&mac)?;
        match off {
            Some(None) => taken,
            off => {
                if cam.warn_clock_once() {
                    let by = off.flatten().map_or("far off".to_string(), |(d, way)| {
                        format!(
                            "{} {way}",
                            humantime::format_duration(Duration::from_secs(d.as_secs()))
                        )
                    });
                    warn!(
                        "{} ({mac}): its snapshots' time ({secs}) is {by} this machine's clock; \
                         ignored: pictures are filed and ordered by when they arrive. Is the \
                         camera's clock set (NTP, time zone)?",
                        cam.name()
                    );
                }
                None
            }
        }
    }
}

//! Whether a camera is awake: heard from within its `awake_timeout`, then asleep until its next
//! message. "Last seen" is published from here too.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tracing::debug;

use super::{awake_state, Bridge, CameraTimer, Link};
use crate::discovery::StateTopic;
use crate::mac::Mac;

/// "Last seen" is published at most this often for a camera.
pub(super) const LAST_SEEN_EVERY: Duration = Duration::from_secs(60);

impl Bridge {
    /// A message from `mac` arrived: it is awake (for `awake_timeout` from now), and commands
    /// waiting for it go out.
    pub(super) fn seen(&mut self, mac: Mac, received: SystemTime, now: Instant) {
        let timeout = self.awake_timeout(mac);
        let was_awake = self.is_awake(mac);
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        self.timers.set(mac, CameraTimer::Asleep, now + timeout);
        let last_seen = humantime::format_rfc3339_seconds(received).to_string();
        // "Last seen" to the minute is enough: a camera sending a burst is not re-announced each time.
        let announce = cam.hear(now, last_seen.clone(), LAST_SEEN_EVERY);
        if !was_awake {
            debug!("{} ({mac}): awake", cam.name());
            self.publish_state(mac, StateTopic::Awake, awake_state(true));
        }
        if announce {
            self.publish_state(mac, StateTopic::LastSeen, Bytes::from(last_seen));
        }
        self.send_pending(mac);
    }

    /// Whether `mac` is awake: heard from within its `awake_timeout`. Its Asleep timer is set
    /// while it is, and due timers are fired before every event ([`Bridge::handle`]).
    pub(super) fn is_awake(&self, mac: Mac) -> bool {
        self.timers.get(mac, CameraTimer::Asleep).is_some()
    }

    pub(super) fn awake_timeout(&self, mac: Mac) -> Duration {
        self.cameras
            .get(&mac)
            .and_then(|c| c.awake_timeout())
            .unwrap_or(self.config.awake_timeout)
    }

    /// The camera has been quiet for its `awake_timeout` (its timer ran out): it sleeps. Its
    /// entities keep their values and stay available; only "Awake" turns to `asleep`.
    pub(super) fn fall_asleep(&mut self, mac: Mac) {
        let Some(cam) = self.cameras.get(&mac) else {
            return;
        };
        debug!("{} ({mac}): asleep", cam.name());
        self.publish(
            Link::Ha,
            self.topics.state(mac, StateTopic::Awake),
            awake_state(false),
            true,
        );
    }
}

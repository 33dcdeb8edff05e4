//! Which camera sent a message: the MAC its topic or payload names, else the only camera listed,
//! else the one heard from lately. A camera not listed is admitted here (see
//! [`admission`](super::admission)), and the sender is marked awake.

use std::time::{Duration, Instant, SystemTime};

use tracing::warn;

use super::Bridge;
use crate::discovery::Counter;
use crate::mac::Mac;
use crate::protocol::BadMac;

/// A payload without a MAC is given to the camera heard from within this long, if only one was.
pub const ATTRIBUTION_WINDOW: Duration = Duration::from_secs(10);

/// A camera's message as its sender is worked out: what it is (for logs), and the name it gives
/// its camera (a snapshot's `devName`), under which an unlisted camera is added.
#[derive(Debug, Clone, Copy)]
pub(super) struct Incoming<'a> {
    pub(super) what: &'static str,
    pub(super) dev_name: Option<&'a str>,
}

impl From<&'static str> for Incoming<'_> {
    fn from(what: &'static str) -> Self {
        Incoming {
            what,
            dev_name: None,
        }
    }
}

/// The camera a message is for: the topic's MAC wins; else what the payload names.
pub(super) fn claimed(
    topic_mac: Option<Mac>,
    payload: Result<Option<Mac>, BadMac>,
) -> Result<Option<Mac>, BadMac> {
    match topic_mac {
        Some(mac) => Ok(Some(mac)),
        None => payload,
    }
}

impl Bridge {
    /// Which camera a payload is from: the MAC it names, else the only configured camera, else the
    /// one camera heard from within [`ATTRIBUTION_WINDOW`]. Makes an unknown camera appear when
    /// `discover_unknown` is on, and marks the camera awake. `None` (logged and counted) when it
    /// cannot tell.
    pub(super) fn sender(
        &mut self,
        topic: &str,
        message: Incoming,
        size: usize,
        mac: Result<Option<Mac>, BadMac>,
        received: SystemTime,
        now: Instant,
    ) -> Option<Mac> {
        let what = message.what;
        let mac = match mac {
            Err(bad) => {
                // A false claim is not a missing one: it is given to no camera, not even the
                // only one.
                self.reject(format!(
                    "{topic}: {size}-byte {what} refused: {bad}; not given to any camera"
                ));
                return None;
            }
            Ok(Some(mac)) => mac,
            Ok(None) => {
                return self.unnamed_sender(topic, message, size, received, now);
            }
        };
        self.named_sender(topic, message, mac, received, now)
    }

    /// A payload that names no camera: the only configured one, or the one heard from lately.
    fn unnamed_sender(
        &mut self,
        topic: &str,
        message: Incoming,
        size: usize,
        received: SystemTime,
        now: Instant,
    ) -> Option<Mac> {
        let what = message.what;
        let mac = match () {
            () if self.config.cameras.len() == 1 => self.config.cameras[0].mac,
            () => {
                // Rare (only payloads naming no camera), so a scan of the cameras is fine here,
                // and nothing has to be kept up to date on the path every message takes.
                let heard: Vec<Mac> = self
                    .cameras
                    .iter()
                    .filter(|(_, c)| {
                        c.heard()
                            .is_some_and(|t| now.saturating_duration_since(t) <= ATTRIBUTION_WINDOW)
                    })
                    .map(|(m, _)| *m)
                    .collect();
                let why = match heard[..] {
                    [_] => None,
                    [] => Some(format!(
                        "{topic}: {size}-byte {what} names no camera and none was heard from in \
                         the last {}s; dropped. Firmware that puts the MAC in the payload or topic \
                         avoids this",
                        ATTRIBUTION_WINDOW.as_secs()
                    )),
                    _ => Some(format!(
                        "{topic}: {size}-byte {what} names no camera and {} cameras were heard \
                         from in the last {}s; dropped rather than given to the wrong one",
                        heard.len(),
                        ATTRIBUTION_WINDOW.as_secs()
                    )),
                };
                if let Some(why) = why {
                    warn!("{why}");
                    self.diagnostics.count(Counter::Unattributed, 1);
                    self.note_error(why);
                    return None;
                }
                heard[0]
            }
        };
        self.named_sender(topic, message, mac, received, now)
    }

    /// A payload from `mac`: an unlisted camera admitted (or refused), and the camera marked
    /// heard from and awake.
    fn named_sender(
        &mut self,
        topic: &str,
        message: Incoming,
        mac: Mac,
        received: SystemTime,
        now: Instant,
    ) -> Option<Mac> {
        if !self.cameras.contains_key(&mac) && !self.admit_unlisted(topic, message, mac, now) {
            return None;
        }
        self.seen(mac, received, now);
        Some(mac)
    }
}

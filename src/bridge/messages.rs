//! Every message the bridge receives, routed by topic: what the cameras publish (snapshots,
//! alarms, statuses) and which camera published it, and from Home Assistant's side its birth
//! messages, button presses and device deletions.

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tracing::{debug, info, warn};

use super::camera::PictureDue;
use super::{awake_state, cut, Action, ArchiveRequest, Bridge, CameraTimer, Counter, Link};
use crate::discovery::StateTopic;
use crate::mac::Mac;
use crate::protocol::snapshot;
use crate::protocol::{find_mac_in, parse_object, AlarmKind, BadMac, CameraTopic, StatusReport};

/// "Last seen" is published at most this often for a camera.
pub(super) const LAST_SEEN_EVERY: Duration = Duration::from_secs(60);

/// A payload without a MAC is given to the camera heard from within this long, if only one was.
pub const ATTRIBUTION_WINDOW: Duration = Duration::from_secs(10);

/// Alarms and status reports larger than this are refused unread: a camera's are a few hundred
/// bytes, and JSON parsed from a stranger's megabytes costs many times their size in memory.
pub(super) const MAX_REPORT_BYTES: usize = 64 << 10;

/// A JPEG sliced out of a payload that much larger is copied out, so the payload's buffer is
/// freed rather than kept alive, uncounted, by the slice until it is sent.
const MAX_PINNED_SURPLUS: usize = 64 << 10;

/// A snapshot's time further ahead of this machine's clock than this is a clock not set.
const MAX_CLOCK_AHEAD: Duration = Duration::from_secs(5 * 60);

/// A snapshot's time further back than this is a clock not set (a camera's 4G link may hold a
/// picture for minutes, an outage for days, not longer).
const MAX_PICTURE_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// A topic is quoted in logs and errors up to this many characters (a stranger's may be 64 KB).
const MAX_TOPIC_SHOWN: usize = 120;

/// A report's JSON is shown as its entities' attributes up to this size; a larger one (no camera
/// sends one) is summarised instead, so Home Assistant's recorder never meets a stranger's 60 KB.
pub(super) const MAX_ATTRIBUTES_BYTES: usize = 8 << 10;

/// An alarm event's seconds since the camera's Alarm turned on (0: this alarm turned it on), to
/// the millisecond.
pub(super) const ALARM_ON_FOR: &str = "alarm_on_for";

/// An alarm event's seconds since the camera's previous alarm (`null`: none since the start).
pub(super) const SINCE_PREVIOUS_ALARM: &str = "since_previous_alarm";

/// Seconds from `then` to `now`, to the millisecond: only the alarm that turned the Alarm on
/// reads exactly 0.
fn seconds(now: Instant, then: Instant) -> f64 {
    now.saturating_duration_since(then).as_millis() as f64 / 1000.0
}

/// What a message is, for logs, and the name it gives its camera (a snapshot's `devName`): an
/// unlisted camera is added under it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Named<'a> {
    pub(super) what: &'static str,
    pub(super) dev_name: Option<&'a str>,
}

impl From<&'static str> for Named<'_> {
    fn from(what: &'static str) -> Self {
        Named {
            what,
            dev_name: None,
        }
    }
}

/// The camera a message is for: the topic's MAC wins; else what the payload names.
fn claimed(
    topic_mac: Option<Mac>,
    payload: Result<Option<Mac>, BadMac>,
) -> Result<Option<Mac>, BadMac> {
    match topic_mac {
        Some(mac) => Ok(Some(mac)),
        None => payload,
    }
}

/// A report as attributes: itself, or a note of its size when it is too large to show.
fn attributes(what: &str, payload: Bytes) -> Bytes {
    if payload.len() <= MAX_ATTRIBUTES_BYTES {
        return payload;
    }
    let note = serde_json::json!({
        "note": format!(
            "the {what} was {} bytes, too large to show (at most {MAX_ATTRIBUTES_BYTES})",
            payload.len()
        )
    });
    Bytes::from(note.to_string())
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
            match kind {
                CameraTopic::Snapshot(mac) => self.on_snapshot(topic, mac, payload, received, now),
                CameraTopic::Alarm(mac) => self.on_alarm(topic, mac, payload, received, now),
                CameraTopic::Status(mac) => self.on_status(topic, mac, payload, received, now),
                CameraTopic::ConfigRespond(mac) => {
                    self.on_config_answer(topic, mac, payload, received, now)
                }
            }
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

    fn on_snapshot(
        &mut self,
        topic: &str,
        topic_mac: Option<Mac>,
        payload: Bytes,
        received: SystemTime,
        now: Instant,
    ) {
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
        let claim = claimed(topic_mac, found.mac);
        let named = Named {
            what: "snapshot",
            dev_name: found.facts.dev_name.as_deref(),
        };
        let Some(mac) = self.attribute(topic, named, size, claim, received, now) else {
            return;
        };
        let jpeg_len = found.jpeg.len();
        if jpeg_len > self.config.snapshot_max_bytes {
            let name = self
                .cameras
                .get(&mac)
                .map_or(String::new(), |c| c.name.clone());
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
        let window = self.config.alarm_snapshot_window;
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        let after_alarm = cam
            .picture_due
            .take()
            .is_some_and(|due| due.met_by(now, taken, window));
        // By the camera's clock, older than the picture shown: delivered late, it is kept (in
        // the archive, and as the alarm's picture if it is that) but does not replace it.
        let late = taken.is_some_and(|t| cam.shown_taken.is_some_and(|shown| t < shown));
        info!(
            "{} ({mac}): snapshot, {jpeg_len} bytes ({}){}{}",
            cam.name,
            found.form,
            if after_alarm { ", the alarm's" } else { "" },
            if late {
                ", taken before the one shown: not shown"
            } else {
                ""
            }
        );
        if !late {
            cam.shown_taken = taken;
        }
        let folder = crate::discovery::sanitize_id(&cam.name);
        if self.config.archive.is_some() {
            self.actions.push_back(Action::Archive(ArchiveRequest {
                camera: folder,
                jpeg: found.jpeg.clone(),
                taken: taken.unwrap_or(received),
                alarm: after_alarm,
            }));
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
                cam.name, cam.dev_name
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
                if !cam.clock_warned {
                    cam.clock_warned = true;
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
                        cam.name
                    );
                }
                None
            }
        }
    }

    fn on_alarm(
        &mut self,
        topic: &str,
        topic_mac: Option<Mac>,
        payload: Bytes,
        received: SystemTime,
        now: Instant,
    ) {
        let size = payload.len();
        if size > MAX_REPORT_BYTES {
            return self.reject(too_large(topic, "alarm", size));
        }
        // An alarm is an alarm even when its payload is not JSON; keep what it said.
        let (payload_mac, attributes, fields) = read_report("alarm", payload);
        let kind = AlarmKind::of(&fields);
        let claim = claimed(topic_mac, payload_mac);
        let Some(mac) = self.attribute(topic, "alarm".into(), size, claim, received, now) else {
            return;
        };
        let until = now + self.config.alarm_off_after;
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        info!("{} ({mac}): alarm ({})", cam.name, kind.as_str());
        // A new alarm while on only pushes the end back; ON is retained already.
        let was_on = self.timers.get(mac, CameraTimer::AlarmOff).is_some();
        self.timers.set(mac, CameraTimer::AlarmOff, until);
        if !was_on {
            cam.alarm_since = Some(now);
        }
        let on_for = cam.alarm_since.map_or(0.0, |t| seconds(now, t));
        let since_previous = cam.last_alarm.replace(now).map(|t| seconds(now, t));
        // The next snapshot within the window is this alarm's picture.
        cam.picture_due = Some(PictureDue {
            until: now + self.config.alarm_snapshot_window,
            at: received,
        });
        cam.alarm_attributes = Some(attributes.clone());
        self.publish_state(mac, StateTopic::AlarmAttributes, attributes);
        if !was_on {
            self.publish_state(mac, StateTopic::Alarm, Bytes::from_static(b"ON"));
        }
        // One event per alarm, never retained: replayed, it would be a new alarm. Its attributes
        // are the alarm's own fields, when they are of a size to show.
        let mut event = if size <= MAX_ATTRIBUTES_BYTES {
            fields
        } else {
            serde_json::Map::new()
        };
        event.insert("event_type".into(), kind.as_str().into());
        event.insert(ALARM_ON_FOR.into(), on_for.into());
        event.insert(SINCE_PREVIOUS_ALARM.into(), since_previous.into());
        let json = serde_json::to_vec(&event);
        // The feed's copy says which camera (its topic does not); the camera's own `mac` field,
        // if any, is the same camera once attributed.
        event.insert("mac".into(), mac.to_string().into());
        match (json, serde_json::to_vec(&event)) {
            (Ok(json), Ok(feed)) => {
                self.publish_event(mac, Bytes::from(json), Bytes::from(feed), now)
            }
            (Err(e), _) | (_, Err(e)) => warn!("{topic}: alarm event not published: {e}"),
        }
    }

    fn on_status(
        &mut self,
        topic: &str,
        topic_mac: Option<Mac>,
        payload: Bytes,
        received: SystemTime,
        now: Instant,
    ) {
        let Some(report) = self.read_status(topic, topic_mac, &payload) else {
            return;
        };
        let claim = claimed(topic_mac, report.mac.clone());
        let size = payload.len();
        let Some(mac) = self.attribute(topic, "status".into(), size, claim, received, now) else {
            return;
        };
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        let before = cam.retained_states();
        let received = humantime::format_rfc3339_seconds(received).to_string();
        let taken = cam.take_status(&report, attributes("status", payload), received);
        let battery = cam
            .battery
            .map_or(String::new(), |b| format!(", battery {b}%"));
        info!("{} ({mac}): status{battery}", cam.name);
        // Values are retained: one that did not change is not sent again (the status is).
        let changed: Vec<(StateTopic, Bytes)> = cam
            .retained_states()
            .into_iter()
            .filter(|now| now.0 == StateTopic::Status || !before.contains(now))
            .collect();
        if taken.new_entities || taken.device_changed {
            self.publish_discovery(mac);
        }
        for (state, value) in changed {
            self.publish_state(mac, state, value);
        }
    }

    /// An answer on the configuration-respond topic: kept and shown as the "Configuration
    /// answer" entity's attributes, bounded as a status is, and never acted on.
    fn on_config_answer(
        &mut self,
        topic: &str,
        topic_mac: Option<Mac>,
        payload: Bytes,
        received: SystemTime,
        now: Instant,
    ) {
        let size = payload.len();
        if size > MAX_REPORT_BYTES {
            return self.reject(too_large(topic, "configuration answer", size));
        }
        let (payload_mac, shown, _) = read_report("configuration answer", payload);
        let claim = claimed(topic_mac, payload_mac);
        let what = "configuration answer".into();
        let Some(mac) = self.attribute(topic, what, size, claim, received, now) else {
            return;
        };
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        info!("{} ({mac}): configuration answer, {size} bytes", cam.name);
        let first = cam.config_answer.is_none();
        let received = humantime::format_rfc3339_seconds(received).to_string();
        cam.config_answer = Some((received.clone(), shown.clone()));
        if first {
            self.publish_discovery(mac);
        }
        self.publish_state(mac, StateTopic::ConfigAnswerAttributes, shown);
        self.publish_state(mac, StateTopic::ConfigAnswer, Bytes::from(received));
    }

    /// A status payload read, within its size; `None` when it is a status request or refused.
    fn read_status(
        &mut self,
        topic: &str,
        topic_mac: Option<Mac>,
        payload: &[u8],
    ) -> Option<StatusReport> {
        let size = payload.len();
        if size > MAX_REPORT_BYTES {
            self.reject(too_large(topic, "status", size));
            return None;
        }
        match parse_object(payload) {
            Ok(obj) => Some(StatusReport::read(&obj)),
            // `<prefix>/Status/<MAC>` also carries status requests (ours, or another client's).
            Err(_) if topic_mac.is_some() => {
                debug!("{topic}: a status request, not a report");
                None
            }
            Err(e) => {
                self.reject(format!("{topic}: {size}-byte status rejected: {e}"));
                None
            }
        }
    }

    /// Which camera a payload is from: the MAC it names, else the only configured camera, else the
    /// one camera heard from within [`ATTRIBUTION_WINDOW`]. Makes an unknown camera appear when
    /// `discover_unknown` is on, and marks the camera awake. `None` (logged and counted) when it
    /// cannot tell.
    fn attribute(
        &mut self,
        topic: &str,
        named: Named,
        size: usize,
        mac: Result<Option<Mac>, BadMac>,
        received: SystemTime,
        now: Instant,
    ) -> Option<Mac> {
        let what = named.what;
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
                return self.attribute_unnamed(topic, named, size, received, now);
            }
        };
        self.attribute_named(topic, named, mac, received, now)
    }

    /// A payload that names no camera: the only configured one, or the one heard from lately.
    fn attribute_unnamed(
        &mut self,
        topic: &str,
        named: Named,
        size: usize,
        received: SystemTime,
        now: Instant,
    ) -> Option<Mac> {
        let what = named.what;
        let mac = match () {
            () if self.config.cameras.len() == 1 => self.config.cameras[0].mac,
            () => {
                // Rare (only payloads naming no camera), so a scan of the cameras is fine here,
                // and nothing has to be kept up to date on the path every message takes.
                let heard: Vec<Mac> = self
                    .cameras
                    .iter()
                    .filter(|(_, c)| {
                        c.presence
                            .heard
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
        self.attribute_named(topic, named, mac, received, now)
    }

    fn attribute_named(
        &mut self,
        topic: &str,
        named: Named,
        mac: Mac,
        received: SystemTime,
        now: Instant,
    ) -> Option<Mac> {
        if !self.cameras.contains_key(&mac) && !self.admit_unlisted(topic, named, mac, now) {
            return None;
        }
        if let Some(cam) = self.cameras.get_mut(&mac) {
            cam.presence.heard = Some(now);
        }
        self.seen(mac, received, now);
        Some(mac)
    }

    /// A message from `mac` arrived: it is awake (for `awake_timeout` from now), and commands
    /// waiting for it go out.
    fn seen(&mut self, mac: Mac, received: SystemTime, now: Instant) {
        let timeout = self.awake_timeout(mac);
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        let was_awake = self.timers.get(mac, CameraTimer::Asleep).is_some();
        self.timers.set(mac, CameraTimer::Asleep, now + timeout);
        let last_seen = humantime::format_rfc3339_seconds(received).to_string();
        cam.last_seen = Some(last_seen.clone());
        // "Last seen" to the minute is enough: a camera sending a burst is not re-announced each time.
        let announce = cam
            .presence
            .last_seen_sent
            .is_none_or(|t| now.saturating_duration_since(t) >= LAST_SEEN_EVERY);
        if announce {
            cam.presence.last_seen_sent = Some(now);
        }
        if !was_awake {
            debug!("{} ({mac}): awake", cam.name);
            self.publish_state(mac, StateTopic::Awake, awake_state(true));
        }
        if announce {
            self.publish_state(mac, StateTopic::LastSeen, Bytes::from(last_seen));
        }
        self.send_pending(mac);
    }

    pub(super) fn awake_timeout(&self, mac: Mac) -> Duration {
        self.cameras
            .get(&mac)
            .and_then(|c| c.awake_timeout)
            .unwrap_or(self.config.awake_timeout)
    }

    /// The camera has been quiet for its `awake_timeout` (its timer ran out): it sleeps. Its
    /// entities keep their values and stay available; only "Awake" turns to `asleep`.
    pub(super) fn fall_asleep(&mut self, mac: Mac) {
        let Some(cam) = self.cameras.get(&mac) else {
            return;
        };
        debug!("{} ({mac}): asleep", cam.name);
        self.publish(
            Link::Ha,
            self.topics.state(mac, StateTopic::Awake),
            awake_state(false),
            true,
        );
    }
}

/// A report (an alarm, a configuration answer) as the camera sent it: the MAC it names, its
/// attributes for Home Assistant, and its fields. One that is not JSON is kept as its text,
/// `{"raw": …}` (up to 1,024 characters), so that what the camera said is not lost.
fn read_report(
    what: &str,
    payload: Bytes,
) -> (
    Result<Option<Mac>, BadMac>,
    Bytes,
    serde_json::Map<String, serde_json::Value>,
) {
    match parse_object(&payload) {
        Ok(obj) => (find_mac_in(&obj), attributes(what, payload), obj),
        Err(_) => {
            let raw: String = String::from_utf8_lossy(&payload)
                .chars()
                .take(1024)
                .collect();
            let mut fields = serde_json::Map::new();
            fields.insert("raw".into(), raw.into());
            let shown = serde_json::Value::Object(fields.clone()).to_string();
            (Ok(Mac::find_in(&payload)), Bytes::from(shown), fields)
        }
    }
}

fn too_large(topic: &str, what: &str, size: usize) -> String {
    format!(
        "{topic}: {size}-byte {what} rejected unread: larger than {MAX_REPORT_BYTES} bytes, which \
         no camera report comes near"
    )
}

//! The cameras' reports: alarms, status reports and configuration answers. Each takes one
//! skeleton ([`Bridge::take_report`]): bounded before it is read, read tolerantly, given to its
//! camera; then each kind does its own part.

use std::time::Instant;

use bytes::Bytes;
use serde_json::{Map, Value};
use tracing::{debug, info, warn};

use super::messages::Arrived;
use super::sender::claimed;
use super::{Bridge, CameraTimer};
use crate::discovery::StateTopic;
use crate::mac::Mac;
use crate::protocol::{find_mac_in, parse_object, AlarmKind, BadMac, StatusReport};

/// Alarms and status reports larger than this are refused unread: a camera's are a few hundred
/// bytes, and JSON parsed from a stranger's megabytes costs many times their size in memory.
pub(super) const MAX_REPORT_BYTES: usize = 64 << 10;

/// A report's JSON is shown as its entities' attributes up to this size; a larger one (no camera
/// sends one) is summarised instead, so Home Assistant's recorder never meets a stranger's 60 KB.
pub(super) const MAX_ATTRIBUTES_BYTES: usize = 8 << 10;

/// An alarm event's seconds since the camera's Alarm turned on (0: this alarm turned it on), to
/// the millisecond.
pub(super) const ALARM_ON_FOR: &str = "alarm_on_for";

/// An alarm event's seconds since the camera's previous alarm (`null`: none since the start).
pub(super) const SINCE_PREVIOUS_ALARM: &str = "since_previous_alarm";

/// The MAC a report names, if any, or the false one it claims.
type Sent = Result<Option<Mac>, BadMac>;

/// Seconds from `then` to `now`, to the millisecond: only the alarm that turned the Alarm on
/// reads exactly 0.
fn seconds(now: Instant, then: Instant) -> f64 {
    now.saturating_duration_since(then).as_millis() as f64 / 1000.0
}

/// A report as attributes: itself, or a note of its size when it is too large to show.
fn report_attributes(what: &str, payload: Bytes) -> Bytes {
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
    /// The one skeleton of every report (alarm, status, configuration answer): refused unread
    /// past [`MAX_REPORT_BYTES`], read by `read` into the MAC it names and what it says (`None`:
    /// not a report, or refused, which `read` has said), and given to the camera that sent it.
    fn take_report<R>(
        &mut self,
        m: &Arrived,
        what: &'static str,
        read: impl FnOnce(&mut Bridge, &str, Option<Mac>, &Bytes) -> Option<(Sent, R)>,
    ) -> Option<(Mac, R)> {
        let size = m.payload.len();
        if size > MAX_REPORT_BYTES {
            self.reject(format!(
                "{}: {size}-byte {what} rejected unread: larger than {MAX_REPORT_BYTES} bytes, \
                 which no camera report comes near",
                m.topic
            ));
            return None;
        }
        let (named, report) = read(self, m.topic, m.topic_mac, &m.payload)?;
        let claim = claimed(m.topic_mac, named);
        let mac = self.sender(m.topic, what.into(), size, claim, m.received, m.now)?;
        Some((mac, report))
    }

    /// An alarm: the camera's Alarm on (or kept on), its attributes, one event, and the next
    /// snapshot within the window taken as its picture.
    pub(super) fn on_alarm(&mut self, m: Arrived) {
        let (topic, size, received, now) = (m.topic, m.payload.len(), m.received, m.now);
        // An alarm is an alarm even when its payload is not JSON; keep what it said.
        let read = |_: &mut Bridge, _: &str, _, payload: &Bytes| {
            Some(read_report("alarm", payload.clone()))
        };
        let Some((mac, (attributes, fields))) = self.take_report(&m, "alarm", read) else {
            return;
        };
        let kind = AlarmKind::of(&fields);
        let until = now + self.config.alarm_off_after;
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        info!("{} ({mac}): alarm ({})", cam.name(), kind.as_str());
        // A new alarm while on only pushes the end back; ON is retained already.
        let was_on = self.timers.get(mac, CameraTimer::AlarmOff).is_some();
        self.timers.set(mac, CameraTimer::AlarmOff, until);
        // The next snapshot within the window is this alarm's picture.
        let picture_until = now + self.config.alarm_snapshot_window;
        let (since, previous) =
            cam.take_alarm(now, received, !was_on, picture_until, attributes.clone());
        let on_for = seconds(now, since);
        let since_previous = previous.map(|t| seconds(now, t));
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

    /// A status report: the camera's values, each sent on when it changed.
    pub(super) fn on_status(&mut self, m: Arrived) {
        let Some((mac, report)) = self.take_report(&m, "status", Bridge::read_status) else {
            return;
        };
        let (payload, received) = (m.payload, m.received);
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        let before = cam.retained_states();
        let received = humantime::format_rfc3339_seconds(received).to_string();
        let announce_again =
            cam.take_status(&report, report_attributes("status", payload), received);
        let battery = cam
            .battery()
            .map_or(String::new(), |b| format!(", battery {b}%"));
        info!("{} ({mac}): status{battery}", cam.name());
        // Values are retained: one that did not change is not sent again (the status is).
        let changed: Vec<(StateTopic, Bytes)> = cam
            .retained_states()
            .into_iter()
            .filter(|now| now.0 == StateTopic::Status || !before.contains(now))
            .collect();
        if announce_again {
            self.publish_discovery(mac);
        }
        for (state, value) in changed {
            self.publish_state(mac, state, value);
        }
    }

    /// An answer on the configuration-respond topic: kept and shown as the "Configuration
    /// answer" entity's attributes, bounded as a status is, and never acted on.
    pub(super) fn on_config_answer(&mut self, m: Arrived) {
        let read = |_: &mut Bridge, _: &str, _, payload: &Bytes| {
            Some(read_report("configuration answer", payload.clone()))
        };
        let what = "configuration answer";
        let Some((mac, (shown, _))) = self.take_report(&m, what, read) else {
            return;
        };
        let (size, received) = (m.payload.len(), m.received);
        let Some(cam) = self.cameras.get_mut(&mac) else {
            return;
        };
        info!("{} ({mac}): configuration answer, {size} bytes", cam.name());
        let received = humantime::format_rfc3339_seconds(received).to_string();
        let first = cam.take_config_answer(received.clone(), shown.clone());
        if first {
            self.publish_discovery(mac);
        }
        self.publish_state(mac, StateTopic::ConfigAnswerAttributes, shown);
        self.publish_state(mac, StateTopic::ConfigAnswer, Bytes::from(received));
    }

    /// A status payload read; `None` when it is a status request, or refused.
    fn read_status(
        &mut self,
        topic: &str,
        topic_mac: Option<Mac>,
        payload: &Bytes,
    ) -> Option<(Sent, StatusReport)> {
        match parse_object(payload) {
            Ok(obj) => {
                let report = StatusReport::read(&obj);
                Some((report.mac.clone(), report))
            }
            // `<prefix>/Status/<MAC>` also carries status requests (ours, or another client's).
            Err(_) if topic_mac.is_some() => {
                debug!("{topic}: a status request, not a report");
                None
            }
            Err(e) => {
                let size = payload.len();
                self.reject(format!("{topic}: {size}-byte status rejected: {e}"));
                None
            }
        }
    }
}

/// A report (an alarm, a configuration answer) as the camera sent it: the MAC it names, its
/// attributes for Home Assistant, and its fields. One that is not JSON is kept as its text,
/// `{"raw": …}` (up to 1,024 characters), so that what the camera said is not lost.
fn read_report(what: &str, payload: Bytes) -> (Sent, (Bytes, Map<String, Value>)) {
    match parse_object(&payload) {
        Ok(obj) => (find_mac_in(&obj), (report_attributes(what, payload), obj)),
        Err(_) => {
            let raw: String = String::from_utf8_lossy(&payload)
                .chars()
                .take(1024)
                .collect();
            let mut fields = Map::new();
            fields.insert("raw".into(), raw.into());
            let shown = Value::Object(fields.clone()).to_string();
            (Ok(Mac::find_in(&payload)), (Bytes::from(shown), fields))
        }
    }
}

//! One client's session: its subscriptions, and the messages owed to it (in flight, or queued
//! while it is away or has its receive maximum in flight).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use rumqttc::mqttbytes::QoS;
use tracing::{debug, warn};

use super::{limits, max_qos, Online};
use crate::broker::codec::{Outbound, Reason};
use crate::broker::message::Message;
use crate::topic::topic_matches;

/// A subscription as kept.
pub(super) struct Subscribed {
    pub(super) filter: String,
    pub(super) qos: QoS,
    pub(super) no_local: bool,
    pub(super) retain_as_published: bool,
    pub(super) id: Option<u32>,
}

/// A QoS 1 or 2 message sent to a client and not yet acknowledged.
pub(super) enum Inflight {
    Sent(Message),
    /// QoS 2: the client has it (PUBREC), the broker released it (PUBREL), awaiting PUBCOMP.
    Released,
}

#[derive(Default)]
pub(super) struct Session {
    pub(super) subscriptions: Vec<Subscribed>,
    /// How long it is kept after its connection ends, in seconds.
    pub(super) expiry: u32,
    /// When its connection ended.
    pub(super) gone_since: Option<Instant>,
    pub(super) online: Option<Online>,
    pub(super) inflight: BTreeMap<u16, Inflight>,
    /// QoS 1 and 2 messages waiting: the client is away, or has its receive maximum in flight.
    pub(super) queued: VecDeque<Message>,
    pub(super) queued_bytes: usize,
    pub(super) last_pkid: u16,
    /// QoS 2 messages from the client, received and not yet released, by packet id.
    pub(super) unreleased: BTreeSet<u16>,
}

impl Session {
    pub(super) fn next_pkid(&mut self) -> u16 {
        loop {
            self.last_pkid = self.last_pkid.checked_add(1).unwrap_or(1);
            if !self.inflight.contains_key(&self.last_pkid) {
                return self.last_pkid;
            }
        }
    }

    pub(super) fn expired(&self, now: Instant) -> bool {
        self.online.is_none()
            && self.gone_since.is_some_and(|g| {
                now.saturating_duration_since(g) >= Duration::from_secs(u64::from(self.expiry))
            })
    }

    /// Sends `m` now, or keeps it for later, as the session's state allows.
    pub(super) fn deliver(&mut self, client_id: &str, mut m: Message, now: Instant) {
        if m.expired(now) {
            return;
        }
        let Some(online) = &self.online else {
            if self.expiry > 0 && m.qos != QoS::AtMostOnce {
                self.queue(client_id, m);
            }
            return;
        };
        if online
            .maximum_packet
            .is_some_and(|max| crate::broker::codec::v5::publish_size(&m, now) > max)
        {
            debug!(
                "embedded broker: {client_id}: a message on {} is larger than it takes; not sent to it",
                m.topic
            );
            return;
        }
        if m.qos != QoS::AtMostOnce {
            let window = online.receive_maximum.min(limits::INFLIGHT);
            if self.inflight.len() >= window {
                if window == limits::INFLIGHT {
                    warn!(
                        "embedded broker: {client_id} has {} messages unacknowledged; closing its connection",
                        self.inflight.len()
                    );
                    online.kick.kick(Reason::QuotaExceeded);
                }
                // Flow control (MQTT 5.0 §4.9): it waits for an acknowledgement.
                self.queue(client_id, m);
                return;
            }
            m.pkid = self.next_pkid();
            // Kept until acknowledged: if the client is too slow to take it now, it goes again
            // when the client returns.
            self.inflight.insert(m.pkid, Inflight::Sent(m.clone()));
        }
        if let Some(online) = &self.online {
            online.send(Outbound::Publish(m));
        }
    }

    /// Sends what waits, as far as the client's receive maximum allows.
    pub(super) fn drain(&mut self, client_id: &str, now: Instant) {
        let Some(online) = &self.online else {
            return;
        };
        let window = online.receive_maximum.min(limits::INFLIGHT);
        while self.inflight.len() < window {
            let Some(m) = self.queued.pop_front() else {
                break;
            };
            self.queued_bytes -= m.size();
            self.deliver(client_id, m, now);
        }
    }

    pub(super) fn queue(&mut self, client_id: &str, m: Message) {
        self.queued_bytes += m.size();
        self.queued.push_back(m);
        let mut dropped = 0;
        while self.queued.len() > limits::QUEUED || self.queued_bytes > limits::QUEUED_BYTES {
            let Some(old) = self.queued.pop_front() else {
                break;
            };
            self.queued_bytes -= old.size();
            dropped += 1;
        }
        if dropped > 0 {
            debug!("embedded broker: {client_id} has a full queue: {dropped} oldest message(s) dropped");
        }
    }

    /// The most any of its subscriptions matching `m` grants it, with their identifiers and
    /// whether one keeps the retain flag; None when none matches.
    pub(super) fn matching(&self, m: &Message, own: bool) -> Option<(QoS, Vec<u32>, bool)> {
        let mut granted: Option<QoS> = None;
        let (mut ids, mut keep_retain) = (Vec::new(), false);
        for s in &self.subscriptions {
            if (own && s.no_local) || !topic_matches(&s.filter, &m.topic) {
                continue;
            }
            granted = Some(granted.map_or(s.qos, |g| max_qos(g, s.qos)));
            ids.extend(s.id);
            keep_retain |= s.retain_as_published;
        }
        granted.map(|q| (q, ids, keep_retain))
    }
}

//! The one form a message takes inside the broker, whichever protocol version brought it and
//! whichever will take it away: sessions, subscriptions and the retained store hold this, and
//! each connection's codec translates at its edge (`codec`). MQTT 5.0's properties are an
//! optional part that a 3.1.1 connection simply does not write.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rumqttc::mqttbytes::QoS;

/// An application message on its way through the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Bytes,
    pub qos: QoS,
    pub retain: bool,
    /// Set on a message sent again to a client that had not acknowledged it.
    pub dup: bool,
    /// The packet id it goes out under (0 for QoS 0, and until a session gives it one).
    pub pkid: u16,
    /// The MQTT 5.0 properties passed from publisher to subscriber unchanged. Shared, so that a
    /// message delivered to many sessions is one allocation.
    pub properties: Option<Arc<Properties>>,
    /// MQTT 5.0's message expiry: when it may no longer be delivered.
    pub expires: Option<Instant>,
    /// The subscription identifiers it goes out with, one per matching subscription that had one
    /// (MQTT 5.0 §3.3.2.3.8). Empty for every message the broker keeps.
    pub subscription_ids: Vec<u32>,
}

/// What MQTT 5.0 asks a server to forward from publisher to subscriber unchanged
/// (§3.3.2.3): the others (topic alias, subscription identifier, expiry) are the broker's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Properties {
    pub payload_format: Option<u8>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Bytes>,
    pub user_properties: Vec<(String, String)>,
}

impl Properties {
    /// None for a message that carries none of them, so that 3.1.1 traffic allocates nothing.
    pub fn some(self) -> Option<Arc<Properties>> {
        (self != Properties::default()).then(|| Arc::new(self))
    }
}

impl Message {
    pub fn new(topic: impl Into<String>, qos: QoS, payload: impl Into<Bytes>) -> Message {
        Message {
            topic: topic.into(),
            payload: payload.into(),
            qos,
            retain: false,
            dup: false,
            pkid: 0,
            properties: None,
            expires: None,
            subscription_ids: Vec::new(),
        }
    }

    /// Whether its expiry has passed at `now` (it is then dropped, never delivered).
    pub fn expired(&self, now: Instant) -> bool {
        self.expires.is_some_and(|e| e <= now)
    }

    /// The expiry interval a subscriber is told at `now`: what is left, in whole seconds rounded
    /// up (§3.3.2.3.3: the received value less the time it waited).
    pub fn expiry_left(&self, now: Instant) -> Option<u32> {
        self.expires.map(|e| {
            let left = e.saturating_duration_since(now);
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            u32::try_from(secs).unwrap_or(u32::MAX)
        })
    }

    /// The deadline for an expiry interval given at `now`.
    pub fn expiry(now: Instant, interval: Option<u32>) -> Option<Instant> {
        interval.and_then(|s| now.checked_add(Duration::from_secs(u64::from(s))))
    }

    /// What it costs in a queue: its topic and payload, and the properties it carries.
    pub fn size(&self) -> usize {
        let properties = self.properties.as_ref().map_or(0, |p| {
            p.content_type.as_ref().map_or(0, String::len)
                + p.response_topic.as_ref().map_or(0, String::len)
                + p.correlation_data.as_ref().map_or(0, Bytes::len)
                + p.user_properties
                    .iter()
                    .map(|(k, v)| k.len() + v.len() + 4)
                    .sum::<usize>()
        });
        self.topic.len() + self.payload.len() + properties
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_left_rounds_up_and_runs_out() {
        let now = Instant::now();
        let mut m = Message::new("t", QoS::AtLeastOnce, "x");
        assert_eq!(m.expiry_left(now), None);
        m.expires = Message::expiry(now, Some(6));
        assert_eq!(m.expiry_left(now), Some(6));
        assert_eq!(m.expiry_left(now + Duration::from_millis(2500)), Some(4));
        assert!(!m.expired(now + Duration::from_millis(5999)));
        assert!(m.expired(now + Duration::from_secs(6)));
    }

    #[test]
    fn a_message_without_properties_carries_none() {
        assert_eq!(Properties::default().some(), None);
        let p = Properties {
            content_type: Some("text/plain".into()),
            ..Properties::default()
        };
        assert!(p.some().is_some());
    }
}

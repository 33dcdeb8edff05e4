//! The broker's edge: each connection reads and writes its own protocol version's packets, and
//! the rest of the broker sees only the types here. MQTT 3.1.1 ([`v4`]) and MQTT 5.0 ([`v5`])
//! are both read and written with rumqttc's own codecs; this module adds what a server needs on
//! top of them: telling the versions apart at CONNECT, and bounding what a packet may carry
//! before rumqttc parses it (MQTT 5.0's properties, [`check_properties`]).
//!
//! One message form crosses between the versions ([`Message`]): a 3.1.1 subscriber gets a 5.0
//! publisher's message without its properties, and a 5.0 subscriber a 3.1.1 publisher's with
//! none.

pub mod v4;
pub mod v5;

use bytes::BytesMut;
use rumqttc::mqttbytes::QoS;

use super::message::Message;
use super::session::limits;

/// The protocol a connection speaks, fixed by its CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// MQTT 3.1.1 (and 3.1): the cameras, the bridge itself, Home Assistant before 2026.6.
    V4,
    /// MQTT 5.0: Home Assistant from 2026.6 on by default, and only it from 2027.1.
    V5,
}

/// A client's CONNECT, in the broker's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    pub version: Version,
    pub client_id: String,
    /// Start without the session kept for this client id (3.1.1's clean session).
    pub clean_start: bool,
    /// How long the session outlives the connection, in seconds ([`NEVER`] for ever): 0 or
    /// for ever for 3.1.1, whatever the client asks for 5.0.
    pub session_expiry: u32,
    pub keep_alive: u16,
    pub will: Option<Will>,
    pub login: Option<(String, String)>,
    /// MQTT 5.0: how many QoS 1 and 2 messages it takes unacknowledged.
    pub receive_maximum: u16,
    /// MQTT 5.0: the largest packet it takes.
    pub maximum_packet: Option<u32>,
    /// MQTT 5.0: how many topic aliases it takes from the broker.
    pub topic_alias_maximum: u16,
    /// MQTT 5.0 enhanced authentication, which this broker does not offer.
    pub authentication_method: bool,
    pub user_properties: usize,
}

/// A session expiry that never runs out (MQTT 5.0 §3.1.2.11.2).
pub const NEVER: u32 = u32::MAX;

/// A last will: published when the connection ends without a DISCONNECT, after its delay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    pub message: Message,
    /// MQTT 5.0's will delay, in seconds.
    pub delay: u32,
    /// Its message expiry interval, which starts when it is published.
    pub expiry: Option<u32>,
}

/// A packet from a logged-in client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    Publish {
        message: Message,
        /// MQTT 5.0: a topic alias it sets or uses.
        topic_alias: Option<u16>,
        /// MQTT 5.0: its message expiry interval, in seconds.
        expiry: Option<u32>,
    },
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    Subscribe {
        pkid: u16,
        filters: Vec<Subscription>,
        /// MQTT 5.0's subscription identifier.
        id: Option<u32>,
    },
    Unsubscribe {
        pkid: u16,
        filters: Vec<String>,
    },
    PingReq,
    Disconnect {
        /// MQTT 5.0: DISCONNECT with reason 0x04 asks for the will to be published.
        with_will: bool,
        /// MQTT 5.0: a new session expiry interval.
        session_expiry: Option<u32>,
    },
    /// A packet a client must not send now (a second CONNECT, AUTH, a server's packet).
    Unexpected(&'static str),
}

/// One filter of a SUBSCRIBE, with MQTT 5.0's options (3.1.1's are the defaults).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub filter: String,
    pub qos: QoS,
    /// Not sent the client's own messages.
    pub no_local: bool,
    /// Live messages keep the retain flag they were published with.
    pub retain_as_published: bool,
    pub retain_handling: RetainHandling,
}

impl Subscription {
    pub fn new(filter: impl Into<String>, qos: QoS) -> Subscription {
        Subscription {
            filter: filter.into(),
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::OnSubscribe,
        }
    }
}

/// When a subscription is sent the retained messages it matches (MQTT 5.0 §3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetainHandling {
    OnSubscribe,
    OnNewSubscription,
    Never,
}

/// A packet for a client, in the broker's terms; its connection writes it in its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    ConnAck {
        code: ConnectCode,
        session_present: bool,
        /// MQTT 5.0: the id given to a client that sent none.
        assigned_client_id: Option<String>,
    },
    Publish(Message),
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    SubAck {
        pkid: u16,
        codes: Vec<SubscribeCode>,
    },
    UnsubAck {
        pkid: u16,
        /// Whether each filter was subscribed (MQTT 5.0's 0x00 or 0x11).
        existed: Vec<bool>,
    },
    PingResp,
    /// MQTT 5.0 only: the server closes the connection, saying why. 3.1.1 has no such packet,
    /// and its connection is just closed.
    Disconnect(Reason),
}

/// How a CONNECT is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectCode {
    Accepted,
    BadLogin,
    ClientIdNotValid,
    /// No room for another session.
    Unavailable,
    /// MQTT 5.0: enhanced authentication asked for.
    BadAuthenticationMethod,
    /// MQTT 5.0: a CONNECT over a bound (its user properties).
    QuotaExceeded,
}

/// How a subscription is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeCode {
    Granted(QoS),
    /// Not a valid filter (0x8F in 5.0; 0x80 in 3.1.1).
    FilterInvalid,
    /// Over the subscriptions one client may hold (0x97 in 5.0).
    QuotaExceeded,
    /// `$share/...`: shared subscriptions are not offered (0x9E in 5.0).
    SharedNotSupported,
}

/// Why the broker closes a connection (MQTT 5.0's DISCONNECT reason codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    MalformedPacket,
    ProtocolError,
    KeepAliveTimeout,
    SessionTakenOver,
    ReceiveMaximumExceeded,
    TopicAliasInvalid,
    PacketTooLarge,
    /// It does not read what it is sent, or holds too many messages unacknowledged.
    QuotaExceeded,
    SharedSubscriptionsNotSupported,
    SubscriptionIdentifiersNotSupported,
}

impl Reason {
    /// The reason code on the wire.
    pub fn code(self) -> u8 {
        match self {
            Reason::MalformedPacket => 0x81,
            Reason::ProtocolError => 0x82,
            Reason::KeepAliveTimeout => 0x8D,
            Reason::SessionTakenOver => 0x8E,
            Reason::ReceiveMaximumExceeded => 0x93,
            Reason::TopicAliasInvalid => 0x94,
            Reason::PacketTooLarge => 0x95,
            Reason::QuotaExceeded => 0x97,
            Reason::SharedSubscriptionsNotSupported => 0x9E,
            Reason::SubscriptionIdentifiersNotSupported => 0xA1,
        }
    }

    pub fn from_code(code: u8) -> Option<Reason> {
        [
            Reason::MalformedPacket,
            Reason::ProtocolError,
            Reason::KeepAliveTimeout,
            Reason::SessionTakenOver,
            Reason::ReceiveMaximumExceeded,
            Reason::TopicAliasInvalid,
            Reason::PacketTooLarge,
            Reason::QuotaExceeded,
            Reason::SharedSubscriptionsNotSupported,
            Reason::SubscriptionIdentifiersNotSupported,
        ]
        .into_iter()
        .find(|r| r.code() == code)
    }
}

/// Why no packet was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// More bytes are needed: at least this many.
    #[error("incomplete packet")]
    Incomplete(usize),
    #[error("packet larger than allowed")]
    TooLarge,
    /// Properties over [`limits::USER_PROPERTIES`] or [`limits::PROPERTY_BYTES`].
    #[error("properties over the broker's limits")]
    OverLimits,
    /// Not MQTT, or not this version of it (the kind of error, never the content).
    #[error("malformed packet: {0}")]
    Malformed(String),
}

impl ReadError {
    /// What a 5.0 client is told before its connection closes.
    pub fn reason(&self) -> Reason {
        match self {
            ReadError::TooLarge => Reason::PacketTooLarge,
            ReadError::OverLimits => Reason::QuotaExceeded,
            ReadError::Incomplete(_) | ReadError::Malformed(_) => Reason::MalformedPacket,
        }
    }
}

/// The first byte and remaining length of the packet at the start of `buf`, and its fixed
/// header's length. Refuses a remaining length over `max` before the rest is read.
pub fn frame(buf: &[u8], max: usize) -> Result<(u8, usize, usize), ReadError> {
    let Some(&first) = buf.first() else {
        return Err(ReadError::Incomplete(2));
    };
    let mut remaining = 0usize;
    for (i, &b) in buf[1..].iter().take(4).enumerate() {
        remaining |= usize::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            if remaining > max {
                return Err(ReadError::TooLarge);
            }
            let header = i + 2;
            if buf.len() < header + remaining {
                return Err(ReadError::Incomplete(header + remaining - buf.len()));
            }
            return Ok((first, header, remaining));
        }
    }
    if buf.len() >= 5 {
        return Err(ReadError::Malformed("remaining length over 4 bytes".into()));
    }
    Err(ReadError::Incomplete(1))
}

/// Reads a CONNECT of either version (the protocol level tells them apart).
pub fn read_connect(buf: &mut BytesMut, max: usize) -> Result<Connect, ReadError> {
    let (first, header, _) = frame(buf, max)?;
    if first != 0x10 {
        return Err(ReadError::Malformed(format!(
            "packet type {} before CONNECT",
            first >> 4
        )));
    }
    // The variable header: the protocol name ("MQTT", or "MQIsdp" for 3.1), then its level.
    let name = usize::from(u16::from_be_bytes([
        buf.get(header).copied().unwrap_or(0),
        buf.get(header + 1).copied().unwrap_or(0),
    ]));
    match buf.get(header + 2 + name) {
        Some(5) => v5::read_connect(buf, max),
        _ => v4::read_connect(buf, max),
    }
}

/// Reads the next packet from a logged-in client of `version`.
pub fn read(version: Version, buf: &mut BytesMut, max: usize) -> Result<Inbound, ReadError> {
    match version {
        Version::V4 => v4::read(buf, max),
        Version::V5 => v5::read(buf, max),
    }
}

/// The topic aliases a 5.0 connection sends: each topic gets the next free one until the
/// client's maximum, and keeps it for the connection's life.
#[derive(Debug, Default)]
pub struct OutgoingAliases {
    maximum: u16,
    given: std::collections::HashMap<String, u16>,
}

impl OutgoingAliases {
    pub fn new(client_maximum: u16) -> OutgoingAliases {
        OutgoingAliases {
            maximum: client_maximum.min(limits::TOPIC_ALIASES),
            given: std::collections::HashMap::new(),
        }
    }

    /// The alias to send `topic` under, and whether the topic must go with it (its first use).
    pub fn alias(&mut self, topic: &str) -> Option<(u16, bool)> {
        if let Some(&a) = self.given.get(topic) {
            return Some((a, false));
        }
        let next = u16::try_from(self.given.len() + 1).ok()?;
        if next > self.maximum {
            return None;
        }
        self.given.insert(topic.to_string(), next);
        Some((next, true))
    }
}

/// Writes `packet` for a client of `version`; false when it is not to be written (a 3.1.1
/// DISCONNECT, or a message over the client's maximum packet size).
pub fn write(
    version: Version,
    packet: &Outbound,
    out: &mut BytesMut,
    aliases: &mut OutgoingAliases,
    now: std::time::Instant,
) -> bool {
    match version {
        Version::V4 => v4::write(packet, out),
        Version::V5 => v5::write(packet, out, aliases, now),
    }
}

/// Checks the MQTT 5.0 properties that start at `at` in `body` (a packet after its fixed
/// header) against the broker's bounds, before rumqttc parses them: a packet of a few MB could
/// otherwise hold a million empty user properties, each an allocation.
pub fn check_properties(body: &[u8], at: usize) -> Result<(), ReadError> {
    let malformed = || ReadError::Malformed("properties cut short".into());
    let Some(rest) = body.get(at..) else {
        return Err(malformed());
    };
    let (len_len, len) = varint(rest).ok_or_else(malformed)?;
    if len > limits::PROPERTY_BYTES {
        return Err(ReadError::OverLimits);
    }
    let props = rest.get(len_len..len_len + len).ok_or_else(malformed)?;
    let (mut i, mut users) = (0, 0);
    let string_at = |i: usize| -> Option<usize> {
        let n = props.get(i..i + 2)?;
        Some(2 + usize::from(u16::from_be_bytes([n[0], n[1]])))
    };
    while i < props.len() {
        let id = props[i];
        i += 1;
        let skip = match id {
            1 | 23 | 25 | 36 | 37 | 40 | 41 | 42 => Some(1),
            19 | 33 | 34 | 35 => Some(2),
            2 | 17 | 24 | 39 => Some(4),
            11 => props.get(i..).and_then(varint).map(|(n, _)| n),
            3 | 8 | 9 | 18 | 21 | 22 | 26 | 28 | 31 => string_at(i),
            38 => {
                users += 1;
                string_at(i).and_then(|k| string_at(i + k).map(|v| k + v))
            }
            _ => return Err(ReadError::Malformed(format!("property {id}"))),
        };
        i += skip.ok_or_else(malformed)?;
    }
    if users > limits::USER_PROPERTIES {
        return Err(ReadError::OverLimits);
    }
    Ok(())
}

/// A variable byte integer: its length in bytes, and its value.
fn varint(b: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, &byte) in b.iter().take(4).enumerate() {
        value |= usize::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((i + 1, value));
        }
    }
    None
}

/// A topic name a client may publish to: not empty (unless an alias stands for it), no
/// wildcards, no NUL (MQTT §4.7.3).
pub fn valid_topic(topic: &str) -> bool {
    !topic.is_empty() && !topic.contains(['+', '#', '\0'])
}

#[cfg(test)]
mod tests;

//! MQTT 5.0 at the broker's edge, with rumqttc's own version-5 codec: Home Assistant speaks it.
//!
//! What the broker says of itself in CONNACK is here ([`connack_properties`]): what it bounds
//! (packet size, receive maximum, topic aliases) and what it does not offer (shared
//! subscriptions, subscription identifiers), so that a client never has to find out by trying.

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rumqttc::mqttbytes::QoS;
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, ConnAckProperties, ConnectReturnCode, DisconnectReasonCode, Filter, Packet, PubAck,
    PubComp, PubRec, PubRel, Publish, PublishProperties, RetainForwardRule, SubAck,
    SubscribeReasonCode, UnsubAck, UnsubAckReason,
};

use super::{
    check_properties, frame, Connect, ConnectCode, Inbound, Outbound, OutgoingAliases, ReadError,
    RetainHandling, SubscribeCode, Subscription, Version, Will,
};
use crate::broker::message::{Message, Properties};
use crate::broker::session::limits;
use crate::broker::{MAX_FIXED_HEADER, MAX_PACKET};
use rumqttc::v5::mqttbytes::{Error, QoS as QoS5};

/// rumqttc's two codecs each have a QoS of their own.
fn qos_in(q: QoS5) -> QoS {
    match q {
        QoS5::AtMostOnce => QoS::AtMostOnce,
        QoS5::AtLeastOnce => QoS::AtLeastOnce,
        QoS5::ExactlyOnce => QoS::ExactlyOnce,
    }
}

fn qos_out(q: QoS) -> QoS5 {
    match q {
        QoS::AtMostOnce => QoS5::AtMostOnce,
        QoS::AtLeastOnce => QoS5::AtLeastOnce,
        QoS::ExactlyOnce => QoS5::ExactlyOnce,
    }
}

fn error(e: Error) -> ReadError {
    match e {
        Error::InsufficientBytes(n) => ReadError::Incomplete(n),
        Error::PayloadSizeLimitExceeded { .. } => ReadError::TooLarge,
        other => ReadError::Malformed(other.to_string()),
    }
}

/// Where a packet's properties start, after its fixed header, for [`check_properties`]; None
/// for a packet that carries none.
fn properties_at(first: u8, body: &[u8]) -> Option<usize> {
    match first >> 4 {
        // PUBLISH: the topic, then a packet id at QoS 1 and 2.
        3 => {
            let topic = body.get(..2).map(|n| u16::from_be_bytes([n[0], n[1]]))?;
            Some(2 + usize::from(topic) + if first & 0b0110 != 0 { 2 } else { 0 })
        }
        // The acknowledgements: a packet id, a reason code, then properties if any.
        4..=7 => (body.len() > 3).then_some(3),
        8 | 10 => Some(2),
        // DISCONNECT and AUTH: a reason code, then properties if any.
        14 | 15 => (body.len() > 1).then_some(1),
        _ => None,
    }
}

pub fn read(buf: &mut BytesMut, max: usize) -> Result<Inbound, ReadError> {
    let (first, header, remaining) = frame(buf, max)?;
    if let Some(at) = properties_at(first, &buf[header..header + remaining]) {
        check_properties(&buf[header..header + remaining], at)?;
    }
    // A DISCONNECT with nothing after its fixed header is a normal one (§3.14.2.1), which
    // rumqttc's reader refuses.
    if first == 0xE0 && remaining == 0 {
        let _ = buf.split_to(header);
        return Ok(Inbound::Disconnect {
            with_will: false,
            session_expiry: None,
        });
    }
    let max = u32::try_from(max).unwrap_or(u32::MAX);
    Ok(match Packet::read(buf, Some(max)).map_err(error)? {
        Packet::Publish(p) => publish(p)?,
        Packet::PubAck(a) => Inbound::PubAck(a.pkid),
        Packet::PubRec(a) => Inbound::PubRec(a.pkid),
        Packet::PubRel(a) => Inbound::PubRel(a.pkid),
        Packet::PubComp(a) => Inbound::PubComp(a.pkid),
        Packet::Subscribe(s) => Inbound::Subscribe {
            pkid: s.pkid,
            id: s
                .properties
                .and_then(|p| p.id)
                .map(|id| u32::try_from(id).unwrap_or(u32::MAX)),
            filters: s.filters.into_iter().map(subscription).collect(),
        },
        Packet::Unsubscribe(u) => Inbound::Unsubscribe {
            pkid: u.pkid,
            filters: u.filters,
        },
        Packet::PingReq(_) => Inbound::PingReq,
        Packet::Disconnect(d) => Inbound::Disconnect {
            with_will: d.reason_code == DisconnectReasonCode::DisconnectWithWillMessage,
            session_expiry: d.properties.and_then(|p| p.session_expiry_interval),
        },
        Packet::Connect(..) => Inbound::Unexpected("CONNECT"),
        Packet::Auth(_) => Inbound::Unexpected("AUTH"),
        Packet::ConnAck(_) => Inbound::Unexpected("CONNACK"),
        Packet::SubAck(_) => Inbound::Unexpected("SUBACK"),
        Packet::UnsubAck(_) => Inbound::Unexpected("UNSUBACK"),
        Packet::PingResp(_) => Inbound::Unexpected("PINGRESP"),
    })
}

fn subscription(f: Filter) -> Subscription {
    Subscription {
        filter: f.path,
        qos: qos_in(f.qos),
        no_local: f.nolocal,
        retain_as_published: f.preserve_retain,
        retain_handling: match f.retain_forward_rule {
            RetainForwardRule::OnEverySubscribe => RetainHandling::OnSubscribe,
            RetainForwardRule::OnNewSubscribe => RetainHandling::OnNewSubscription,
            RetainForwardRule::Never => RetainHandling::Never,
        },
    }
}

fn publish(p: Publish) -> Result<Inbound, ReadError> {
    // rumqttc reads a version-5 topic as bytes: MQTT requires UTF-8 (§1.5.4).
    let topic = String::from_utf8(p.topic.to_vec())
        .map_err(|_| ReadError::Malformed("topic is not UTF-8".into()))?;
    let props = p.properties.unwrap_or_default();
    let mut message = Message::new(topic, qos_in(p.qos), p.payload);
    message.retain = p.retain;
    message.dup = p.dup;
    message.pkid = p.pkid;
    message.properties = Properties {
        payload_format: props.payload_format_indicator,
        content_type: props.content_type,
        response_topic: props.response_topic,
        correlation_data: props.correlation_data,
        user_properties: props.user_properties,
    }
    .some();
    if !props.subscription_identifiers.is_empty() {
        // Only a server sends these (§3.3.4-6).
        return Err(ReadError::Malformed(
            "subscription identifier in PUBLISH".into(),
        ));
    }
    Ok(Inbound::Publish {
        message,
        topic_alias: props.topic_alias,
        expiry: props.message_expiry_interval,
    })
}

pub fn read_connect(buf: &mut BytesMut, max: usize) -> Result<Connect, ReadError> {
    let max = u32::try_from(max).unwrap_or(u32::MAX);
    let Packet::Connect(c, will, login) = Packet::read(buf, Some(max)).map_err(error)? else {
        return Err(ReadError::Malformed("not a CONNECT".into()));
    };
    let props = c.properties.unwrap_or_default();
    let mut user_properties = props.user_properties.len();
    let will = match will {
        Some(w) => {
            let topic = String::from_utf8(w.topic.to_vec())
                .map_err(|_| ReadError::Malformed("will topic is not UTF-8".into()))?;
            let wp =
                w.properties
                    .unwrap_or_else(|| rumqttc::v5::mqttbytes::v5::LastWillProperties {
                        delay_interval: None,
                        payload_format_indicator: None,
                        message_expiry_interval: None,
                        content_type: None,
                        response_topic: None,
                        correlation_data: None,
                        user_properties: Vec::new(),
                    });
            user_properties += wp.user_properties.len();
            let mut message = Message::new(topic, qos_in(w.qos), w.message);
            message.retain = w.retain;
            message.properties = Properties {
                payload_format: wp.payload_format_indicator,
                content_type: wp.content_type,
                response_topic: wp.response_topic,
                correlation_data: wp.correlation_data,
                user_properties: wp.user_properties,
            }
            .some();
            Some(Will {
                message,
                delay: wp.delay_interval.unwrap_or(0),
                expiry: wp.message_expiry_interval,
            })
        }
        None => None,
    };
    Ok(Connect {
        version: Version::V5,
        client_id: c.client_id,
        clean_start: c.clean_start,
        session_expiry: props.session_expiry_interval.unwrap_or(0),
        keep_alive: c.keep_alive,
        will,
        login: login.map(|l| (l.username, l.password)),
        // 0 is a protocol error (§3.1.2.11.3); read as the smallest window.
        receive_maximum: props.receive_maximum.unwrap_or(u16::MAX).max(1),
        maximum_packet: props.max_packet_size.filter(|&m| m > 0),
        topic_alias_maximum: props.topic_alias_max.unwrap_or(0),
        authentication_method: props.authentication_method.is_some(),
        user_properties,
    })
}

/// What the broker tells every 5.0 client of itself, and the id it gave one that sent none.
pub fn connack_properties(assigned_client_id: Option<String>) -> ConnAckProperties {
    ConnAckProperties {
        session_expiry_interval: None,
        receive_max: Some(limits::RECEIVE_MAXIMUM),
        max_qos: None,
        retain_available: Some(1),
        max_packet_size: u32::try_from(MAX_PACKET + MAX_FIXED_HEADER).ok(),
        assigned_client_identifier: assigned_client_id,
        topic_alias_max: Some(limits::TOPIC_ALIASES),
        reason_string: None,
        user_properties: Vec::new(),
        wildcard_subscription_available: Some(1),
        subscription_identifiers_available: Some(1),
        shared_subscription_available: Some(0),
        server_keep_alive: None,
        response_information: None,
        server_reference: None,
        authentication_method: None,
        authentication_data: None,
    }
}

/// The packet a message goes out as, with the properties it carries and the expiry it has
/// left, under a topic alias where the client takes them.
fn publish_packet(m: &Message, aliases: &mut OutgoingAliases, now: Instant) -> Publish {
    let mut props = PublishProperties {
        message_expiry_interval: m.expiry_left(now).map(|s| s.max(1)),
        subscription_identifiers: m.subscription_ids.iter().map(|&i| i as usize).collect(),
        ..PublishProperties::default()
    };
    if let Some(p) = &m.properties {
        props.payload_format_indicator = p.payload_format;
        props.content_type.clone_from(&p.content_type);
        props.response_topic.clone_from(&p.response_topic);
        props.correlation_data.clone_from(&p.correlation_data);
        props.user_properties.clone_from(&p.user_properties);
    }
    let mut topic = Bytes::copy_from_slice(m.topic.as_bytes());
    if let Some((alias, first)) = aliases.alias(&m.topic) {
        props.topic_alias = Some(alias);
        if !first {
            topic = Bytes::new();
        }
    }
    Publish {
        dup: m.dup && m.qos != QoS::AtMostOnce,
        qos: qos_out(m.qos),
        retain: m.retain,
        topic,
        pkid: m.pkid,
        payload: m.payload.clone(),
        properties: (props != PublishProperties::default()).then_some(props),
    }
}

/// The size of `m` as a 5.0 PUBLISH, for a client's maximum packet size.
pub fn publish_size(m: &Message, now: Instant) -> usize {
    let mut m = m.clone();
    if m.qos != QoS::AtMostOnce {
        m.pkid = 1;
    }
    publish_packet(&m, &mut OutgoingAliases::new(0), now).size()
}

pub fn write(
    packet: &Outbound,
    out: &mut BytesMut,
    aliases: &mut OutgoingAliases,
    now: Instant,
) -> bool {
    let p = match packet {
        Outbound::ConnAck {
            code,
            session_present,
            assigned_client_id,
        } => Packet::ConnAck(ConnAck {
            session_present: *session_present,
            code: match code {
                ConnectCode::Accepted => ConnectReturnCode::Success,
                ConnectCode::BadLogin => ConnectReturnCode::BadUserNamePassword,
                ConnectCode::ClientIdNotValid => ConnectReturnCode::ClientIdentifierNotValid,
                ConnectCode::Unavailable => ConnectReturnCode::ServerUnavailable,
                ConnectCode::BadAuthenticationMethod => ConnectReturnCode::BadAuthenticationMethod,
                ConnectCode::QuotaExceeded => ConnectReturnCode::QuotaExceeded,
            },
            properties: (*code == ConnectCode::Accepted)
                .then(|| connack_properties(assigned_client_id.clone())),
        }),
        Outbound::Publish(m) => Packet::Publish(publish_packet(m, aliases, now)),
        Outbound::PubAck(id) => Packet::PubAck(PubAck::new(*id, None)),
        Outbound::PubRec(id) => Packet::PubRec(PubRec::new(*id, None)),
        Outbound::PubRel(id) => Packet::PubRel(PubRel::new(*id, None)),
        Outbound::PubComp(id) => Packet::PubComp(PubComp::new(*id, None)),
        Outbound::SubAck { pkid, codes } => Packet::SubAck(SubAck {
            pkid: *pkid,
            return_codes: codes
                .iter()
                .map(|c| match c {
                    SubscribeCode::Granted(q) => SubscribeReasonCode::Success(qos_out(*q)),
                    SubscribeCode::FilterInvalid => SubscribeReasonCode::TopicFilterInvalid,
                    SubscribeCode::QuotaExceeded => SubscribeReasonCode::QuotaExceeded,
                    SubscribeCode::SharedNotSupported => {
                        SubscribeReasonCode::SharedSubscriptionsNotSupported
                    }
                })
                .collect(),
            properties: None,
        }),
        Outbound::UnsubAck { pkid, existed } => Packet::UnsubAck(UnsubAck {
            pkid: *pkid,
            reasons: existed
                .iter()
                .map(|&e| {
                    if e {
                        UnsubAckReason::Success
                    } else {
                        UnsubAckReason::NoSubscriptionExisted
                    }
                })
                .collect(),
            properties: None,
        }),
        Outbound::PingResp => Packet::PingResp(rumqttc::v5::mqttbytes::v5::PingResp),
        // Written by hand: rumqttc's writer puts a property length after the reason code that
        // its remaining length does not count, and its reader wants one. With an empty property
        // list counted, every reader takes it (§3.14.2.2).
        Outbound::Disconnect(reason) => {
            out.extend_from_slice(&[0xE0, 0x02, reason.code(), 0x00]);
            return true;
        }
    };
    let max = u32::try_from(MAX_PACKET + MAX_FIXED_HEADER).ok();
    p.write(out, max).is_ok()
}

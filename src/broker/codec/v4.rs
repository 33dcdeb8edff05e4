//! MQTT 3.1.1 at the broker's edge, with rumqttc's codec: the cameras and the bridge speak it.

use bytes::BytesMut;
use rumqttc::mqttbytes::{self, QoS};
use rumqttc::{
    ConnAck, ConnectReturnCode, Packet, PubAck, PubComp, PubRec, PubRel, Publish, SubAck,
    SubscribeReasonCode, UnsubAck,
};

use super::{
    frame, Connect, ConnectCode, Inbound, Outbound, ReadError, SubscribeCode, Subscription,
    Version, Will, NEVER,
};
use crate::broker::message::Message;

fn packet(buf: &mut BytesMut, max: usize) -> Result<Packet, ReadError> {
    frame(buf, max)?;
    Packet::read(buf, max).map_err(|e| match e {
        mqttbytes::Error::InsufficientBytes(n) => ReadError::Incomplete(n),
        mqttbytes::Error::PayloadSizeLimitExceeded(_) => ReadError::TooLarge,
        other => ReadError::Malformed(other.to_string()),
    })
}

pub fn read_connect(buf: &mut BytesMut, max: usize) -> Result<Connect, ReadError> {
    let Packet::Connect(c) = packet(buf, max)? else {
        return Err(ReadError::Malformed("not a CONNECT".into()));
    };
    let will = c.last_will.map(|w| {
        let mut message = Message::new(w.topic, w.qos, w.message);
        message.retain = w.retain;
        Will {
            message,
            delay: 0,
            expiry: None,
        }
    });
    Ok(Connect {
        version: Version::V4,
        session_expiry: if c.clean_session { 0 } else { NEVER },
        clean_start: c.clean_session,
        client_id: c.client_id,
        keep_alive: c.keep_alive,
        will,
        login: c.login.map(|l| (l.username, l.password)),
        receive_maximum: u16::MAX,
        maximum_packet: None,
        topic_alias_maximum: 0,
        authentication_method: false,
        user_properties: 0,
    })
}

pub fn read(buf: &mut BytesMut, max: usize) -> Result<Inbound, ReadError> {
    Ok(match packet(buf, max)? {
        Packet::Publish(p) => {
            let mut message = Message::new(p.topic, p.qos, p.payload);
            message.retain = p.retain;
            message.dup = p.dup;
            message.pkid = p.pkid;
            Inbound::Publish {
                message,
                topic_alias: None,
                expiry: None,
            }
        }
        Packet::PubAck(a) => Inbound::PubAck(a.pkid),
        Packet::PubRec(a) => Inbound::PubRec(a.pkid),
        Packet::PubRel(a) => Inbound::PubRel(a.pkid),
        Packet::PubComp(a) => Inbound::PubComp(a.pkid),
        Packet::Subscribe(s) => Inbound::Subscribe {
            pkid: s.pkid,
            filters: s
                .filters
                .into_iter()
                .map(|f| Subscription::new(f.path, f.qos))
                .collect(),
            id: None,
        },
        Packet::Unsubscribe(u) => Inbound::Unsubscribe {
            pkid: u.pkid,
            filters: u.topics,
        },
        Packet::PingReq => Inbound::PingReq,
        Packet::Disconnect => Inbound::Disconnect {
            with_will: false,
            session_expiry: None,
        },
        Packet::Connect(_) => Inbound::Unexpected("CONNECT"),
        Packet::ConnAck(_) => Inbound::Unexpected("CONNACK"),
        Packet::SubAck(_) => Inbound::Unexpected("SUBACK"),
        Packet::UnsubAck(_) => Inbound::Unexpected("UNSUBACK"),
        Packet::PingResp => Inbound::Unexpected("PINGRESP"),
    })
}

pub fn write(packet: &Outbound, out: &mut BytesMut) -> bool {
    let p = match packet {
        Outbound::ConnAck {
            code,
            session_present,
            ..
        } => {
            let code = match code {
                ConnectCode::Accepted => ConnectReturnCode::Success,
                ConnectCode::BadLogin => ConnectReturnCode::BadUserNamePassword,
                ConnectCode::ClientIdNotValid => ConnectReturnCode::BadClientId,
                ConnectCode::Unavailable
                | ConnectCode::BadAuthenticationMethod
                | ConnectCode::QuotaExceeded => ConnectReturnCode::ServiceUnavailable,
            };
            Packet::ConnAck(ConnAck::new(code, *session_present))
        }
        Outbound::Publish(m) => {
            let mut p = Publish::from_bytes(&m.topic, m.qos, m.payload.clone());
            p.retain = m.retain;
            p.dup = m.dup && m.qos != QoS::AtMostOnce;
            p.pkid = m.pkid;
            Packet::Publish(p)
        }
        Outbound::PubAck(id) => Packet::PubAck(PubAck::new(*id)),
        Outbound::PubRec(id) => Packet::PubRec(PubRec::new(*id)),
        Outbound::PubRel(id) => Packet::PubRel(PubRel::new(*id)),
        Outbound::PubComp(id) => Packet::PubComp(PubComp::new(*id)),
        Outbound::SubAck { pkid, codes } => Packet::SubAck(SubAck::new(
            *pkid,
            codes
                .iter()
                .map(|c| match c {
                    SubscribeCode::Granted(q) => SubscribeReasonCode::Success(*q),
                    _ => SubscribeReasonCode::Failure,
                })
                .collect(),
        )),
        Outbound::UnsubAck { pkid, .. } => Packet::UnsubAck(UnsubAck::new(*pkid)),
        Outbound::PingResp => Packet::PingResp,
        Outbound::Disconnect(_) => return false,
    };
    // Nothing larger than the broker took in goes out; rumqttc's limit counts the fixed header.
    p.write(
        out,
        crate::broker::MAX_PACKET + crate::broker::MAX_FIXED_HEADER,
    )
    .is_ok()
}

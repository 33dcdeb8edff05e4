use std::time::{Duration, Instant};

use bytes::BytesMut;
use proptest::prelude::*;
use rumqttc::v5::mqttbytes::v5 as wire5;
use rumqttc::v5::mqttbytes::QoS as QoS5;

use super::*;
use crate::broker::message::Properties;

fn bytes5(p: &wire5::Packet) -> BytesMut {
    let mut out = BytesMut::new();
    p.write(&mut out, None).expect("encodes");
    out
}

fn connect5(props: Option<wire5::ConnectProperties>) -> wire5::Packet {
    wire5::Packet::Connect(
        wire5::Connect {
            keep_alive: 30,
            client_id: "ha".into(),
            clean_start: true,
            properties: props,
        },
        None,
        Some(wire5::Login::new("home", "pw")),
    )
}

fn publish5(user_properties: usize) -> wire5::Packet {
    let props = wire5::PublishProperties {
        user_properties: (0..user_properties)
            .map(|i| (format!("k{i}"), "v".into()))
            .collect(),
        ..Default::default()
    };
    wire5::Packet::Publish(wire5::Publish::new(
        "a/b",
        QoS5::AtMostOnce,
        "x",
        Some(props),
    ))
}

#[test]
fn a_connect_says_which_version_the_connection_speaks() {
    let mut props = wire5::ConnectProperties::new();
    props.session_expiry_interval = Some(3600);
    props.receive_maximum = Some(20);
    props.max_packet_size = Some(1 << 20);
    props.topic_alias_max = Some(5);
    let c = read_connect(&mut bytes5(&connect5(Some(props))), 4096).unwrap();
    assert_eq!(c.version, Version::V5);
    assert_eq!(
        (
            c.session_expiry,
            c.receive_maximum,
            c.maximum_packet,
            c.topic_alias_maximum
        ),
        (3600, 20, Some(1 << 20), 5)
    );
    assert_eq!(c.login, Some(("home".into(), "pw".into())));

    let mut out = BytesMut::new();
    let mut v4 = rumqttc::Connect::new("cam");
    v4.clean_session = false;
    rumqttc::Packet::Connect(v4).write(&mut out, 4096).unwrap();
    let c = read_connect(&mut out, 4096).unwrap();
    assert_eq!(c.version, Version::V4);
    // 3.1.1's clean session 0 keeps the session for ever.
    assert_eq!((c.clean_start, c.session_expiry), (false, NEVER));
}

#[test]
fn a_connect_over_the_login_limit_is_not_read() {
    let mut props = wire5::ConnectProperties::new();
    props.user_properties = vec![("k".into(), "v".repeat(5000))];
    assert_eq!(
        read_connect(&mut bytes5(&connect5(Some(props))), 4096),
        Err(ReadError::TooLarge)
    );
}

#[test]
fn user_properties_are_counted_before_they_are_parsed() {
    let ok = read(
        Version::V5,
        &mut bytes5(&publish5(limits::USER_PROPERTIES)),
        1 << 20,
    );
    assert!(matches!(ok, Ok(Inbound::Publish { .. })), "{ok:?}");
    assert_eq!(
        read(
            Version::V5,
            &mut bytes5(&publish5(limits::USER_PROPERTIES + 1)),
            1 << 20
        ),
        Err(ReadError::OverLimits)
    );
    assert_eq!(ReadError::OverLimits.reason(), Reason::QuotaExceeded);
}

#[test]
fn properties_over_8_kib_are_refused() {
    let props = wire5::PublishProperties {
        content_type: Some("t".repeat(limits::PROPERTY_BYTES)),
        ..Default::default()
    };
    let p = wire5::Packet::Publish(wire5::Publish::new("a", QoS5::AtMostOnce, "x", Some(props)));
    assert_eq!(
        read(Version::V5, &mut bytes5(&p), 1 << 20),
        Err(ReadError::OverLimits)
    );
}

#[test]
fn a_disconnect_with_no_reason_code_is_a_normal_one() {
    let mut buf = BytesMut::from(&[0xE0u8, 0x00, 0xC0, 0x00][..]);
    assert_eq!(
        read(Version::V5, &mut buf, 100),
        Ok(Inbound::Disconnect {
            with_will: false,
            session_expiry: None
        })
    );
    // The next packet (a PINGREQ) is still there.
    assert_eq!(read(Version::V5, &mut buf, 100), Ok(Inbound::PingReq));
}

#[test]
fn a_packet_over_the_limit_is_refused_from_its_header() {
    // A PUBLISH announcing 1 MB, of which only the header has arrived.
    let mut buf = BytesMut::from(&[0x30u8, 0x80, 0x80, 0x40][..]);
    assert_eq!(read(Version::V5, &mut buf, 1000), Err(ReadError::TooLarge));
    assert_eq!(read(Version::V4, &mut buf, 1000), Err(ReadError::TooLarge));
    assert_eq!(ReadError::TooLarge.reason(), Reason::PacketTooLarge);
}

fn message_with_everything(now: Instant) -> Message {
    let mut m = Message::new("cam/alarm", QoS::AtLeastOnce, "{}");
    m.pkid = 7;
    m.retain = true;
    m.expires = Some(now + Duration::from_secs(60));
    m.subscription_ids = vec![3];
    m.properties = Properties {
        payload_format: Some(1),
        content_type: Some("application/json".into()),
        response_topic: Some("cam/answer".into()),
        correlation_data: Some(bytes::Bytes::from_static(b"42")),
        user_properties: vec![("a".into(), "2".into())],
    }
    .some();
    m
}

#[test]
fn a_5_0_subscriber_gets_every_property_unchanged() {
    let now = Instant::now();
    let mut out = BytesMut::new();
    let m = message_with_everything(now);
    assert!(write(
        Version::V5,
        &Outbound::Publish(m),
        &mut out,
        &mut OutgoingAliases::new(0),
        now
    ));
    let wire5::Packet::Publish(p) = wire5::Packet::read(&mut out, None).unwrap() else {
        panic!()
    };
    assert_eq!(
        (&p.topic[..], p.pkid, p.retain),
        (&b"cam/alarm"[..], 7, true)
    );
    let props = p.properties.unwrap();
    assert_eq!(props.payload_format_indicator, Some(1));
    assert_eq!(props.content_type.as_deref(), Some("application/json"));
    assert_eq!(props.response_topic.as_deref(), Some("cam/answer"));
    assert_eq!(props.correlation_data.as_deref(), Some(&b"42"[..]));
    assert_eq!(props.user_properties, vec![("a".into(), "2".into())]);
    assert_eq!(props.message_expiry_interval, Some(60));
    assert_eq!(props.subscription_identifiers, vec![3]);
}

#[test]
fn a_3_1_1_subscriber_gets_the_same_message_without_properties() {
    let now = Instant::now();
    let mut out = BytesMut::new();
    let m = message_with_everything(now);
    assert!(write(
        Version::V4,
        &Outbound::Publish(m),
        &mut out,
        &mut OutgoingAliases::new(0),
        now
    ));
    let rumqttc::Packet::Publish(p) = rumqttc::Packet::read(&mut out, 1 << 20).unwrap() else {
        panic!()
    };
    assert_eq!(
        (p.topic.as_str(), &p.payload[..], p.pkid),
        ("cam/alarm", &b"{}"[..], 7)
    );
    assert!(out.is_empty());
}

#[test]
fn a_3_1_1_connection_has_no_disconnect_packet() {
    let mut out = BytesMut::new();
    let d = Outbound::Disconnect(Reason::SessionTakenOver);
    assert!(!write(
        Version::V4,
        &d,
        &mut out,
        &mut OutgoingAliases::new(0),
        Instant::now()
    ));
    assert!(write(
        Version::V5,
        &d,
        &mut out,
        &mut OutgoingAliases::new(0),
        Instant::now()
    ));
    assert_eq!(&out[..], &[0xE0, 0x02, 0x8E, 0x00]);
}

#[test]
fn the_connack_says_what_the_broker_bounds_and_does_not_offer() {
    let mut out = BytesMut::new();
    let ack = Outbound::ConnAck {
        code: ConnectCode::Accepted,
        session_present: false,
        assigned_client_id: Some("auto-1".into()),
    };
    assert!(write(
        Version::V5,
        &ack,
        &mut out,
        &mut OutgoingAliases::new(0),
        Instant::now()
    ));
    let wire5::Packet::ConnAck(c) = wire5::Packet::read(&mut out, None).unwrap() else {
        panic!()
    };
    let p = c.properties.unwrap();
    assert_eq!(p.assigned_client_identifier.as_deref(), Some("auto-1"));
    assert_eq!(p.shared_subscription_available, Some(0));
    assert_eq!(p.receive_max, Some(limits::RECEIVE_MAXIMUM));
    assert_eq!(p.topic_alias_max, Some(limits::TOPIC_ALIASES));
    assert_eq!(p.max_packet_size, Some(32 << 20 | 5));
}

#[test]
fn outgoing_topic_aliases_name_a_topic_once_up_to_the_clients_maximum() {
    let mut a = OutgoingAliases::new(2);
    assert_eq!(a.alias("a"), Some((1, true)));
    assert_eq!(a.alias("a"), Some((1, false)));
    assert_eq!(a.alias("b"), Some((2, true)));
    assert_eq!(a.alias("c"), None);
    assert_eq!(OutgoingAliases::new(0).alias("a"), None);
}

proptest! {
    #[test]
    fn any_bytes_read_as_either_version_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        for version in [Version::V4, Version::V5] {
            let mut buf = BytesMut::from(&data[..]);
            while read(version, &mut buf, 4096).is_ok() {}
        }
        let _ = read_connect(&mut BytesMut::from(&data[..]), 4096);
        let _ = check_properties(&data, 0);
    }
}

use super::*;

use proptest::prelude::*;
use rumqttc::v5::mqttbytes::v5;
use rumqttc::{Packet, PubAck, Publish, Subscribe, SubscribeFilter, Unsubscribe};

/// Packets a client may send, with topics and filters from a small alphabet so that they
/// match each other often.
fn packet() -> impl Strategy<Value = Packet> {
    let topic = "[ab+#/]{0,6}";
    let qos = (0u8..3).prop_map(|q| rumqttc::qos(q).unwrap());
    // Publishes mostly to a few valid topics, so that retained messages are replaced and
    // cleared, and sometimes to anything (wildcards, empty levels).
    let publish_topic = prop_oneof![
        3 => prop_oneof![Just("a"), Just("a/b"), Just("b/")].prop_map(String::from),
        1 => topic.prop_map(String::from),
    ];
    prop_oneof![
        (
            publish_topic,
            qos.clone(),
            any::<bool>(),
            any::<u16>(),
            // Empty often: an empty retained message clears the topic's.
            prop_oneof![
                1 => Just(Vec::new()),
                3 => proptest::collection::vec(any::<u8>(), 0..32),
            ]
        )
            .prop_map(|(t, q, retain, pkid, payload)| {
                let mut p = Publish::new(t, q, payload);
                p.retain = retain;
                p.pkid = if q == rumqttc::QoS::AtMostOnce {
                    0
                } else {
                    pkid.max(1)
                };
                Packet::Publish(p)
            }),
        (topic, qos).prop_map(|(f, q)| Packet::Subscribe(Subscribe::new_many([
            SubscribeFilter::new(f, q)
        ]))),
        topic.prop_map(|f| Packet::Unsubscribe(Unsubscribe::new(f))),
        any::<u16>().prop_map(|p| Packet::PubAck(PubAck::new(p.max(1)))),
        Just(Packet::PingReq),
    ]
}

/// MQTT 5.0 packets a client may send, with the properties and options the broker acts on:
/// topic aliases (valid and not), expiry, user properties, subscription options and
/// identifiers, a DISCONNECT that changes the session expiry.
fn packet5() -> impl Strategy<Value = v5::Packet> {
    let topic = "[ab+#/]{0,6}";
    let qos = (0u8..3).prop_map(|q| rumqttc::v5::mqttbytes::qos(q).unwrap());
    let publish_topic = prop_oneof![
        3 => prop_oneof![Just("a"), Just("a/b"), Just(""), Just("b/")].prop_map(String::from),
        1 => topic.prop_map(String::from),
    ];
    let props = (
        proptest::option::of(0u16..40),
        proptest::option::of(0u32..4),
        proptest::collection::vec(("[a-c]{0,3}", "[a-c]{0,3}"), 0..40),
    )
        .prop_map(
            |(topic_alias, expiry, user_properties)| v5::PublishProperties {
                topic_alias,
                message_expiry_interval: expiry,
                user_properties,
                ..Default::default()
            },
        );
    prop_oneof![
        (
            publish_topic,
            qos.clone(),
            any::<bool>(),
            any::<u16>(),
            props,
            proptest::collection::vec(any::<u8>(), 0..16)
        )
            .prop_map(|(t, q, retain, pkid, props, payload)| {
                let mut p = v5::Publish::new(t, q, payload, Some(props));
                p.retain = retain;
                p.pkid = if q == rumqttc::v5::mqttbytes::QoS::AtMostOnce {
                    0
                } else {
                    pkid.max(1)
                };
                v5::Packet::Publish(p)
            }),
        (
            topic,
            qos,
            any::<bool>(),
            any::<bool>(),
            0u8..3,
            proptest::option::of(1usize..5)
        )
            .prop_map(|(f, q, nolocal, preserve_retain, rh, id)| {
                let mut filter = v5::Filter::new(f, q);
                filter.nolocal = nolocal;
                filter.preserve_retain = preserve_retain;
                filter.retain_forward_rule = match rh {
                    0 => v5::RetainForwardRule::OnEverySubscribe,
                    1 => v5::RetainForwardRule::OnNewSubscribe,
                    _ => v5::RetainForwardRule::Never,
                };
                let props = id.map(|id| v5::SubscribeProperties {
                    id: Some(id),
                    user_properties: vec![],
                });
                v5::Packet::Subscribe(v5::Subscribe::new(filter, props))
            }),
        topic.prop_map(|f| v5::Packet::Unsubscribe(v5::Unsubscribe::new(f, None))),
        any::<u16>().prop_map(|p| v5::Packet::PubAck(v5::PubAck::new(p.max(1), None))),
        any::<u16>().prop_map(|p| v5::Packet::PubRec(v5::PubRec::new(p.max(1), None))),
        any::<u16>().prop_map(|p| v5::Packet::PubRel(v5::PubRel::new(p.max(1), None))),
        any::<u16>().prop_map(|p| v5::Packet::PubComp(v5::PubComp::new(p.max(1), None))),
        Just(v5::Packet::PingReq(v5::PingReq)),
    ]
}

proptest! {
    #[test]
    fn any_sequence_of_client_packets_keeps_the_state_consistent(
        clean in any::<bool>(),
        packets in proptest::collection::vec(packet(), 0..40),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    ) {
        let mut data = vec![u8::from(clean)];
        for p in packets {
            let mut out = bytes::BytesMut::new();
            if p.write(&mut out, MAX_PACKET).is_ok() {
                data.extend_from_slice(&out);
            }
        }
        // A few damaged bytes, as a fuzzer would try.
        for (at, byte) in flips {
            if data.len() > 1 {
                let i = 1 + at.index(data.len() - 1);
                data[i] = byte;
            }
        }
        fuzz_client_bytes(&data);
    }

    #[test]
    fn any_sequence_of_mqtt5_packets_keeps_the_state_consistent(
        clean in any::<bool>(),
        packets in proptest::collection::vec(packet5(), 0..40),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    ) {
        let mut data = vec![2 | u8::from(clean)];
        for p in packets {
            let mut out = bytes::BytesMut::new();
            if p.write(&mut out, None).is_ok() {
                data.extend_from_slice(&out);
            }
        }
        for (at, byte) in flips {
            if data.len() > 1 {
                let i = 1 + at.index(data.len() - 1);
                data[i] = byte;
            }
        }
        fuzz_client_bytes(&data);
    }

    #[test]
    fn any_bytes_from_a_client_keep_the_state_consistent(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzz_client_bytes(&data);
    }
}

#[test]
fn equal_digests_and_only_those_are_the_same() {
    assert!(same(&sha256("pw"), &sha256("pw")));
    assert!(!same(&sha256("pw"), &sha256("pW")));
    assert!(!same(&sha256(""), &sha256("pw")));
}

proptest! {
    #[test]
    fn only_the_one_login_is_accepted(user in "\\PC{0,12}", password in "\\PC{0,12}") {
        let c = Credentials::new("home", &Secret::new("s3cret-pw"));
        prop_assert_eq!(
            c.accept(&user, &password),
            user == "home" && password == "s3cret-pw"
        );
        prop_assert!(c.accept("home", "s3cret-pw"));
        prop_assert!(!c.accept("home", &password) || password == "s3cret-pw");
        prop_assert!(!c.accept(&user, "s3cret-pw") || user == "home");
    }
}

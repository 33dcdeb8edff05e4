//! The embedded broker speaks MQTT 5.0 beside 3.1.1, as Home Assistant from 2026.6 on (and only
//! from 2027.1) connects to it. Each feature the broker offers, the crossings between the
//! versions, and its guards, met as a real version-5 client meets them: rumqttc's own v5 codec
//! over a plain socket (doing exactly what each test says), rumqttc's v5 client, and Debian's
//! `mosquitto_pub`/`mosquitto_sub -V mqttv5`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use common::*;
use rumqttc::v5::mqttbytes::v5::{
    ConnAck, Connect, ConnectProperties, ConnectReturnCode, Disconnect, DisconnectProperties,
    DisconnectReasonCode, Filter, LastWill, LastWillProperties, Login, Packet, PubAck, PubComp,
    PubRec, PubRel, Publish, PublishProperties, RetainForwardRule, Subscribe, SubscribeProperties,
    SubscribeReasonCode,
};
use rumqttc::v5::mqttbytes::QoS;

/// A version-5 client that sends and reads packets one at a time.
struct Raw5 {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw5 {
    fn open(port: u16) -> Raw5 {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Raw5 {
            stream,
            buf: BytesMut::new(),
        }
    }

    fn send(&mut self, packet: Packet) {
        let mut out = BytesMut::new();
        packet.write(&mut out, None).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// The next packet within `timeout`; `None` once the broker closed the connection or sent
    /// nothing in time.
    fn next_within(&mut self, timeout: Duration) -> Option<Packet> {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
        let deadline = Instant::now() + timeout;
        loop {
            // A DISCONNECT without reason code is a normal one, which rumqttc's reader refuses.
            if self.buf.len() >= 2 && self.buf[0] == 0xE0 && self.buf[1] == 0 {
                let _ = self.buf.split_to(2);
                return Some(Packet::Disconnect(Disconnect::new(
                    DisconnectReasonCode::NormalDisconnection,
                )));
            }
            match Packet::read(&mut self.buf, None) {
                Ok(p) => return Some(p),
                Err(rumqttc::v5::mqttbytes::Error::InsufficientBytes(_)) => {}
                Err(e) => panic!("bad packet from the broker: {e}"),
            }
            if Instant::now() >= deadline {
                return None;
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(_) => return None,
            }
        }
    }

    fn next(&mut self) -> Option<Packet> {
        self.next_within(WAIT)
    }

    fn connect_with(
        port: u16,
        id: &str,
        clean: bool,
        props: ConnectProperties,
        will: Option<LastWill>,
        login: Option<(&str, &str)>,
    ) -> (Raw5, ConnAck) {
        let mut raw = Raw5::open(port);
        raw.send(Packet::Connect(
            Connect {
                keep_alive: 60,
                client_id: id.into(),
                clean_start: clean,
                properties: Some(props),
            },
            will,
            login.map(|(u, p)| Login::new(u, p)),
        ));
        match raw.next() {
            Some(Packet::ConnAck(ack)) => (raw, ack),
            other => panic!("{id}: expected CONNACK, got {other:?}"),
        }
    }

    fn connect(port: u16, id: &str) -> Raw5 {
        let (raw, ack) = Raw5::connect_with(port, id, true, ConnectProperties::new(), None, None);
        assert_eq!(ack.code, ConnectReturnCode::Success);
        raw
    }

    fn subscribe_with(
        &mut self,
        filters: Vec<Filter>,
        id: Option<usize>,
    ) -> Vec<SubscribeReasonCode> {
        let props = id.map(|id| SubscribeProperties {
            id: Some(id),
            user_properties: vec![],
        });
        let mut s = Subscribe::new_many(filters, props);
        s.pkid = 1;
        self.send(Packet::Subscribe(s));
        loop {
            match self.next() {
                Some(Packet::SubAck(ack)) => return ack.return_codes,
                Some(_) => continue,
                other => panic!("expected SUBACK, got {other:?}"),
            }
        }
    }

    fn subscribe(&mut self, filter: &str, qos: QoS) {
        let codes = self.subscribe_with(vec![Filter::new(filter, qos)], None);
        assert!(
            matches!(codes[..], [SubscribeReasonCode::Success(_)]),
            "{codes:?}"
        );
    }

    fn publish(&mut self, topic: &str, qos: QoS, payload: &str, props: Option<PublishProperties>) {
        let mut p = Publish::new(topic, qos, payload.to_string(), props);
        p.pkid = if qos == QoS::AtMostOnce { 0 } else { 1 };
        self.send(Packet::Publish(p));
    }

    /// The next PUBLISH within `timeout`, acknowledging it as a client does (QoS 1 and 2).
    fn publish_within(&mut self, timeout: Duration) -> Option<Publish> {
        loop {
            match self.next_within(timeout)? {
                Packet::Publish(p) => {
                    match p.qos {
                        QoS::AtMostOnce => {}
                        QoS::AtLeastOnce => self.send(Packet::PubAck(PubAck::new(p.pkid, None))),
                        QoS::ExactlyOnce => self.send(Packet::PubRec(PubRec::new(p.pkid, None))),
                    }
                    return Some(p);
                }
                Packet::PubRel(r) => self.send(Packet::PubComp(PubComp::new(r.pkid, None))),
                _ => {}
            }
        }
    }

    fn next_publish(&mut self) -> Publish {
        self.publish_within(WAIT).expect("a publish")
    }

    /// The DISCONNECT the broker sends before it closes the connection: its reason.
    fn disconnect_reason(&mut self) -> DisconnectReasonCode {
        loop {
            match self.next() {
                Some(Packet::Disconnect(d)) => {
                    assert_eq!(
                        self.next_within(Duration::from_secs(2)),
                        None,
                        "closed after"
                    );
                    return d.reason_code;
                }
                Some(_) => continue,
                None => panic!("closed without a DISCONNECT"),
            }
        }
    }

    fn disconnect(mut self, props: Option<DisconnectProperties>) {
        let mut d = Disconnect::new(DisconnectReasonCode::NormalDisconnection);
        d.properties = props;
        self.send(Packet::Disconnect(d));
    }
}

fn topic(p: &Publish) -> &str {
    std::str::from_utf8(&p.topic).unwrap()
}

fn expiry(seconds: u32) -> ConnectProperties {
    let mut props = ConnectProperties::new();
    props.session_expiry_interval = Some(seconds);
    props
}

/// The embedded broker on a free port, inside the bridge as users run it, with one camera.
fn broker(extra: &str) -> (BridgeProcess, u16) {
    let port = free_port();
    let bridge = BridgeProcess::start(&format!(
        "mqtt:\n  embedded: true\n  listen: 127.0.0.1:{port}\n{extra}\ncameras:\n  - mac: {DRIVEWAY}\n"
    ));
    bridge.wait_log(&["Home Assistant broker: subscribed"]);
    (bridge, port)
}

#[test]
fn messages_cross_between_3_1_1_and_5_0_both_ways_byte_for_byte() {
    let (_bridge, port) = broker("");
    let mut v5 = Raw5::connect(port, "home-assistant");
    v5.subscribe("cross/#", QoS::AtLeastOnce);
    let mut v4 = Peer::connect(port, &["cross/#"]);
    let picture: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();

    v4.publish("cross/from-3", picture.clone(), false);
    let got = v5.next_publish();
    assert_eq!(
        (topic(&got), &got.payload[..]),
        ("cross/from-3", &picture[..])
    );
    // A 3.1.1 message carries no properties to a 5.0 subscriber.
    assert_eq!(got.properties, None);

    let props = PublishProperties {
        user_properties: vec![("a".into(), "1".into())],
        content_type: Some("text/plain".into()),
        ..Default::default()
    };
    v5.publish("cross/from-5", QoS::AtLeastOnce, "wake", Some(props));
    let got = v4.wait_for("the 5.0 message", |m| m.topic == "cross/from-5");
    assert_eq!(got.payload, b"wake");
}

/// A sleeping 3.1.1 camera: subscribed to its wake topic with a kept session, then gone.
fn sleeping_camera(port: u16) -> rumqttc::Connect {
    let mut connect = rumqttc::Connect::new("sc211-driveway");
    connect.clean_session = false;
    connect.keep_alive = 60;
    let mut camera = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut out = BytesMut::new();
    rumqttc::Packet::Connect(connect.clone())
        .write(&mut out, 1 << 20)
        .unwrap();
    let sub = rumqttc::Subscribe::new("4GSolarCam/Wake/+", rumqttc::QoS::AtLeastOnce);
    rumqttc::Packet::Subscribe(sub)
        .write(&mut out, 1 << 20)
        .unwrap();
    camera.write_all(&out).unwrap();
    // CONNACK and SUBACK: 4 and 5 bytes.
    let mut acks = [0u8; 9];
    camera.set_read_timeout(Some(WAIT)).unwrap();
    camera.read_exact(&mut acks).unwrap();
    connect
}

/// The camera wakes and connects with its session: the messages it was kept.
fn camera_wakes(port: u16, connect: rumqttc::Connect) -> Vec<rumqttc::Publish> {
    let mut camera = TcpStream::connect(("127.0.0.1", port)).unwrap();
    camera
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut out = BytesMut::new();
    rumqttc::Packet::Connect(connect)
        .write(&mut out, 1 << 20)
        .unwrap();
    camera.write_all(&out).unwrap();
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    loop {
        match rumqttc::Packet::read(&mut buf, 1 << 20) {
            Ok(rumqttc::Packet::Publish(p)) => got.push(p),
            Ok(_) => {}
            Err(_) => {
                let mut chunk = [0u8; 4096];
                match camera.read(&mut chunk) {
                    Ok(n) if n > 0 => buf.extend_from_slice(&chunk[..n]),
                    _ => return got,
                }
            }
        }
    }
}

#[test]
fn a_press_from_a_5_0_client_reaches_a_sleeping_3_1_1_camera_through_the_bridge() {
    let (bridge, port) = broker("");
    let camera = sleeping_camera(port);
    // Home Assistant as of 2026.6: a version-5 client pressing the Wake button.
    let mut ha = Raw5::connect(port, "home-assistant");
    ha.publish(
        &format!("solarcam/{DRIVEWAY}/command"),
        QoS::AtLeastOnce,
        "wake",
        None,
    );
    bridge.wait_log(&["(5CC5638AE24C): sending wake"]);
    let wakes = camera_wakes(port, camera);
    assert_eq!(wakes.len(), 1, "{wakes:?}");
    assert_eq!(
        (wakes[0].topic.as_str(), &wakes[0].payload[..]),
        ("4GSolarCam/Wake/5CC5638AE24C", &b"wake"[..])
    );
}

#[test]
fn mosquitto_clients_speaking_mqttv5_read_discovery_and_press_a_button() {
    let (bridge, port) = broker("");
    let sub = Command::new("mosquitto_sub")
        .args([
            "-V",
            "mqttv5",
            "-p",
            &port.to_string(),
            "-C",
            "1",
            "-W",
            "10",
        ])
        .args(["-t", "homeassistant/device/solarcam_5cc5638ae24c/config"])
        .output()
        .expect("mosquitto_sub");
    assert!(
        sub.status.success(),
        "{}",
        String::from_utf8_lossy(&sub.stderr)
    );
    let config: serde_json::Value = serde_json::from_slice(&sub.stdout).unwrap();
    assert_eq!(
        config["components"]["snapshot"]["topic"],
        format!("solarcam/{DRIVEWAY}/snapshot")
    );

    let camera = sleeping_camera(port);
    let press = Command::new("mosquitto_pub")
        .args(["-V", "mqttv5", "-p", &port.to_string(), "-q", "1"])
        .args(["-t", &format!("solarcam/{DRIVEWAY}/command"), "-m", "wake"])
        .status()
        .unwrap();
    assert!(press.success());
    bridge.wait_log(&["(5CC5638AE24C): sending wake"]);
    assert_eq!(camera_wakes(port, camera).len(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn rumqttcs_v5_client_connects_subscribes_and_publishes() {
    use rumqttc::v5::{AsyncClient, Event, Incoming, MqttOptions};
    let (_bridge, port) = broker("");
    let mut options = MqttOptions::new("rumqttc-v5", "127.0.0.1", port);
    options.set_session_expiry_interval(Some(60));
    let (client, mut events) = AsyncClient::new(options, 10);
    client.subscribe("v5/echo", QoS::ExactlyOnce).await.unwrap();
    client
        .publish(
            "v5/echo",
            QoS::ExactlyOnce,
            false,
            Bytes::from_static(b"qos 2"),
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, events.poll())
            .await
            .expect("the echo within 10 s")
            .expect("the connection");
        if let Event::Incoming(Incoming::Publish(p)) = event {
            assert_eq!(
                (&p.topic[..], &p.payload[..], p.qos),
                (&b"v5/echo"[..], &b"qos 2"[..], QoS::ExactlyOnce)
            );
            break;
        }
    }
}

#[test]
fn the_connack_says_what_is_offered_and_an_empty_client_id_is_given_one() {
    let (_bridge, port) = broker("");
    let (_c, ack) = Raw5::connect_with(port, "", true, ConnectProperties::new(), None, None);
    assert_eq!(ack.code, ConnectReturnCode::Success);
    let p = ack.properties.expect("CONNACK properties");
    assert!(p
        .assigned_client_identifier
        .is_some_and(|id| !id.is_empty()));
    assert_eq!(p.shared_subscription_available, Some(0));
    assert_eq!(p.subscription_identifiers_available, Some(1));
    assert_eq!(p.receive_max, Some(1000));
    assert_eq!(p.topic_alias_max, Some(32));
    assert_eq!(p.max_packet_size, Some((32 << 20) + 5));
}

#[test]
fn a_session_is_kept_for_its_expiry_interval_and_then_dropped() {
    let (_bridge, port) = broker("");
    // None asked for: gone with the connection.
    let (c, _) = Raw5::connect_with(port, "s", true, expiry(0), None, None);
    c.disconnect(None);
    let (c, ack) = Raw5::connect_with(port, "s", false, expiry(0), None, None);
    assert!(!ack.session_present);
    c.disconnect(None);
    // 2 s: there after 1 s, gone after 3.
    let (mut c, _) = Raw5::connect_with(port, "s", true, expiry(2), None, None);
    c.subscribe("s/t", QoS::AtLeastOnce);
    c.disconnect(None);
    sleep(Duration::from_secs(1));
    let (c, ack) = Raw5::connect_with(port, "s", false, expiry(2), None, None);
    assert!(ack.session_present);
    c.disconnect(None);
    sleep(Duration::from_secs(3));
    let (c, ack) = Raw5::connect_with(port, "s", false, expiry(2), None, None);
    assert!(!ack.session_present);
    // A DISCONNECT that sets the interval to 0 ends it there and then.
    c.disconnect(Some(DisconnectProperties {
        session_expiry_interval: Some(0),
        reason_string: None,
        user_properties: vec![],
        server_reference: None,
    }));
    sleep(Duration::from_millis(200));
    let (_c, ack) = Raw5::connect_with(port, "s", false, expiry(2), None, None);
    assert!(!ack.session_present);
}

#[test]
fn a_queued_message_expires_and_the_rest_are_told_what_is_left() {
    let (_bridge, port) = broker("");
    let (mut away, _) = Raw5::connect_with(port, "away", true, expiry(600), None, None);
    away.subscribe("exp/t", QoS::AtLeastOnce);
    away.disconnect(None);
    let mut publisher = Raw5::connect(port, "publisher");
    let with_expiry = |s| {
        Some(PublishProperties {
            message_expiry_interval: Some(s),
            ..Default::default()
        })
    };
    publisher.publish("exp/t", QoS::AtLeastOnce, "expires", with_expiry(1));
    publisher.publish("exp/t", QoS::AtLeastOnce, "stays", with_expiry(30));
    sleep(Duration::from_secs(2));
    let (mut away, ack) = Raw5::connect_with(port, "away", false, expiry(600), None, None);
    assert!(ack.session_present);
    let got = away.next_publish();
    assert_eq!(&got.payload[..], b"stays");
    let left = got.properties.unwrap().message_expiry_interval.unwrap();
    assert!((27..=29).contains(&left), "{left} s left of 30 after 2");
    assert!(away.publish_within(Duration::from_secs(1)).is_none());
}

#[test]
fn a_will_waits_for_its_delay_and_is_not_sent_when_the_client_returns() {
    let (_bridge, port) = broker("");
    let mut watcher = Raw5::connect(port, "watcher");
    watcher.subscribe("will/#", QoS::AtLeastOnce);
    let will = |delay| {
        Some(LastWill {
            topic: Bytes::from_static(b"will/gone"),
            message: Bytes::from_static(b"gone"),
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Some(LastWillProperties {
                delay_interval: Some(delay),
                payload_format_indicator: None,
                message_expiry_interval: None,
                content_type: None,
                response_topic: None,
                correlation_data: Some(Bytes::from_static(b"id-7")),
                user_properties: vec![("why".into(), "test".into())],
            }),
        })
    };
    let (c, _) = Raw5::connect_with(port, "w", true, expiry(60), will(2), None);
    let gone = Instant::now();
    drop(c);
    let got = watcher.next_publish();
    let waited = gone.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    let props = got.properties.unwrap();
    assert_eq!(props.user_properties, vec![("why".into(), "test".into())]);
    assert_eq!(props.correlation_data.as_deref(), Some(&b"id-7"[..]));

    // Back within the delay: no will.
    let (c, _) = Raw5::connect_with(port, "w", true, expiry(60), will(3), None);
    drop(c);
    sleep(Duration::from_secs(1));
    let (_back, _) = Raw5::connect_with(port, "w", false, expiry(60), None, None);
    assert!(watcher.publish_within(Duration::from_secs(4)).is_none());
}

#[test]
fn no_local_retain_as_published_and_retain_handling_do_what_they_say() {
    let (_bridge, port) = broker("");
    let mut a = Raw5::connect(port, "a");
    let mut f = Filter::new("opt/t", QoS::AtLeastOnce);
    f.nolocal = true;
    a.subscribe_with(vec![f], None);
    let mut b = Raw5::connect(port, "b");
    b.subscribe("opt/t", QoS::AtLeastOnce);
    a.publish("opt/t", QoS::AtLeastOnce, "from a", None);
    assert_eq!(&b.next_publish().payload[..], b"from a");
    assert!(
        a.publish_within(Duration::from_secs(1)).is_none(),
        "no local"
    );

    let mut c = Raw5::connect(port, "c");
    let mut f = Filter::new("opt/r", QoS::AtLeastOnce);
    f.preserve_retain = true;
    c.subscribe_with(vec![f], None);
    b.subscribe("opt/r", QoS::AtLeastOnce);
    a.publish("opt/r", QoS::AtLeastOnce, "kept", None);
    let mut p = Publish::new("opt/r", QoS::AtLeastOnce, "retained", None);
    p.retain = true;
    p.pkid = 2;
    a.send(Packet::Publish(p));
    assert!(!c.next_publish().retain);
    assert!(c.next_publish().retain, "retain as published");
    b.next_publish();
    assert!(!b.next_publish().retain, "live delivery has retain 0");

    let mut d = Raw5::connect(port, "d");
    let handling = |rule| {
        let mut f = Filter::new("opt/r", QoS::AtLeastOnce);
        f.retain_forward_rule = rule;
        vec![f]
    };
    d.subscribe_with(handling(RetainForwardRule::OnNewSubscribe), None);
    assert_eq!(&d.next_publish().payload[..], b"retained");
    d.subscribe_with(handling(RetainForwardRule::OnNewSubscribe), None);
    assert!(
        d.publish_within(Duration::from_secs(1)).is_none(),
        "not new: none"
    );
    d.subscribe_with(handling(RetainForwardRule::Never), None);
    assert!(
        d.publish_within(Duration::from_secs(1)).is_none(),
        "never: none"
    );
    d.subscribe_with(handling(RetainForwardRule::OnEverySubscribe), None);
    assert_eq!(&d.next_publish().payload[..], b"retained");
}

#[test]
fn topic_aliases_set_by_a_client_are_used_and_a_bad_one_closes_with_0x94() {
    let (_bridge, port) = broker("");
    let mut sub = Raw5::connect(port, "sub");
    sub.subscribe("alias/#", QoS::AtLeastOnce);
    let mut c = Raw5::connect(port, "aliaser");
    let alias = |a| {
        Some(PublishProperties {
            topic_alias: Some(a),
            ..Default::default()
        })
    };
    c.publish("alias/long/topic", QoS::AtMostOnce, "one", alias(32));
    c.publish("", QoS::AtMostOnce, "two", alias(32));
    for payload in ["one", "two"] {
        let p = sub.next_publish();
        assert_eq!(
            (topic(&p), &p.payload[..]),
            ("alias/long/topic", payload.as_bytes())
        );
    }
    // Past the Topic Alias Maximum the broker announced.
    c.publish("alias/x", QoS::AtMostOnce, "three", alias(33));
    assert_eq!(
        c.disconnect_reason(),
        DisconnectReasonCode::TopicAliasInvalid
    );
    // An alias never set.
    let mut c = Raw5::connect(port, "aliaser");
    c.publish("", QoS::AtMostOnce, "four", alias(5));
    assert_eq!(c.disconnect_reason(), DisconnectReasonCode::ProtocolError);
    assert!(sub.publish_within(Duration::from_secs(1)).is_none());
}

#[test]
fn the_broker_sends_topic_aliases_to_a_client_that_takes_them() {
    let (_bridge, port) = broker("");
    let mut props = ConnectProperties::new();
    props.topic_alias_max = Some(1);
    let (mut c, _) = Raw5::connect_with(port, "takes-aliases", true, props, None, None);
    c.subscribe("out/+", QoS::AtMostOnce);
    for _ in 0..2 {
        c.publish("out/a", QoS::AtMostOnce, "x", None);
    }
    c.publish("out/b", QoS::AtMostOnce, "y", None);
    let first = c.next_publish();
    let second = c.next_publish();
    let third = c.next_publish();
    assert_eq!(
        (
            topic(&first),
            first.properties.as_ref().unwrap().topic_alias
        ),
        ("out/a", Some(1))
    );
    assert_eq!(
        (
            topic(&second),
            second.properties.as_ref().unwrap().topic_alias
        ),
        ("", Some(1))
    );
    // One alias only: the second topic goes in full.
    assert_eq!(
        (
            topic(&third),
            third.properties.as_ref().and_then(|p| p.topic_alias)
        ),
        ("out/b", None)
    );
}

#[test]
fn a_clients_receive_maximum_holds_back_messages_until_it_acknowledges() {
    let (_bridge, port) = broker("");
    let mut props = ConnectProperties::new();
    props.receive_maximum = Some(2);
    let (mut slow, _) = Raw5::connect_with(port, "slow", true, props, None, None);
    slow.subscribe("flow/t", QoS::AtLeastOnce);
    let mut publisher = Raw5::connect(port, "publisher");
    for i in 0..3 {
        publisher.publish("flow/t", QoS::AtLeastOnce, &i.to_string(), None);
    }
    let mut got = Vec::new();
    while let Some(Packet::Publish(p)) = slow.next_within(Duration::from_secs(1)) {
        got.push(p);
    }
    assert_eq!(got.len(), 2, "two in flight, the third held back");
    slow.send(Packet::PubAck(PubAck::new(got[0].pkid, None)));
    let third = slow.next_publish();
    assert_eq!(&third.payload[..], b"2");
}

#[test]
fn a_message_over_the_clients_maximum_packet_size_is_not_sent_to_it() {
    let (_bridge, port) = broker("");
    let mut props = ConnectProperties::new();
    props.max_packet_size = Some(64);
    let (mut small, _) = Raw5::connect_with(port, "small", true, props, None, None);
    small.subscribe("size/t", QoS::AtLeastOnce);
    let mut publisher = Raw5::connect(port, "publisher");
    publisher.publish("size/t", QoS::AtLeastOnce, &"x".repeat(100), None);
    publisher.publish("size/t", QoS::AtLeastOnce, "fits", None);
    assert_eq!(&small.next_publish().payload[..], b"fits");
}

#[test]
fn request_and_response_properties_pass_through_unchanged_and_qos_2_arrives_once() {
    let (_bridge, port) = broker("");
    let mut responder = Raw5::connect(port, "responder");
    responder.subscribe("rr/request", QoS::ExactlyOnce);
    let mut requester = Raw5::connect(port, "requester");
    let props = PublishProperties {
        payload_format_indicator: Some(1),
        content_type: Some("application/json".into()),
        response_topic: Some("rr/response".into()),
        correlation_data: Some(Bytes::from_static(b"334")),
        user_properties: vec![("a".into(), "2".into()), ("c".into(), "3".into())],
        ..Default::default()
    };
    requester.publish("rr/request", QoS::ExactlyOnce, "{}", Some(props.clone()));
    // The same QoS 2 message again before PUBREL, as after a lost PUBREC: delivered once.
    let mut again = Publish::new("rr/request", QoS::ExactlyOnce, "{}", Some(props.clone()));
    again.pkid = 1;
    again.dup = true;
    requester.send(Packet::Publish(again));
    let got = responder.next_publish();
    assert_eq!(got.qos, QoS::ExactlyOnce);
    let mut p = got.properties.unwrap();
    p.topic_alias = None;
    assert_eq!(p, props);
    assert!(
        responder.publish_within(Duration::from_secs(1)).is_none(),
        "once"
    );
    requester.send(Packet::PubRel(PubRel::new(1, None)));
}

#[test]
fn shared_subscriptions_are_refused_with_0x9e_and_subscription_identifiers_come_back() {
    let (_bridge, port) = broker("");
    let mut c = Raw5::connect(port, "c");
    let codes = c.subscribe_with(
        vec![
            Filter::new("$share/group/ids/t", QoS::AtLeastOnce),
            Filter::new("ids/#", QoS::AtLeastOnce),
        ],
        Some(42),
    );
    assert_eq!(
        codes,
        [
            SubscribeReasonCode::SharedSubscriptionsNotSupported,
            SubscribeReasonCode::Success(QoS::AtLeastOnce)
        ]
    );
    c.subscribe_with(vec![Filter::new("ids/t", QoS::AtLeastOnce)], Some(7));
    c.publish("ids/t", QoS::AtMostOnce, "x", None);
    let mut ids = c
        .next_publish()
        .properties
        .unwrap()
        .subscription_identifiers;
    ids.sort_unstable();
    assert_eq!(ids, [7, 42]);
}

#[test]
fn more_user_properties_than_allowed_close_with_0x97_and_no_one_else_loses_anything() {
    let (_bridge, port) = broker("");
    let mut watcher = Raw5::connect(port, "watcher");
    watcher.subscribe("guard/#", QoS::AtLeastOnce);
    let mut stranger = Raw5::connect(port, "stranger");
    let props = PublishProperties {
        user_properties: (0..33).map(|i| (i.to_string(), String::new())).collect(),
        ..Default::default()
    };
    stranger.publish("guard/t", QoS::AtLeastOnce, "flood", Some(props));
    assert_eq!(
        stranger.disconnect_reason(),
        DisconnectReasonCode::QuotaExceeded
    );
    let mut other = Raw5::connect(port, "other");
    other.publish("guard/t", QoS::AtLeastOnce, "still here", None);
    assert_eq!(&watcher.next_publish().payload[..], b"still here");
}

#[test]
fn a_malformed_packet_closes_with_0x81() {
    let (_bridge, port) = broker("");
    let mut c = Raw5::connect(port, "c");
    // A SUBSCRIBE whose property length runs past the packet.
    c.send_bytes(&[0x82, 0x04, 0x00, 0x01, 0x7F, 0x00]);
    assert_eq!(c.disconnect_reason(), DisconnectReasonCode::MalformedPacket);
}

#[test]
fn more_unreleased_qos_2_messages_than_the_receive_maximum_close_with_0x93() {
    let (_bridge, port) = broker("");
    let mut c = Raw5::connect(port, "c");
    for pkid in 1..=1001u16 {
        let mut p = Publish::new("qos2/t", QoS::ExactlyOnce, "x", None);
        p.pkid = pkid;
        c.send(Packet::Publish(p));
    }
    assert_eq!(
        c.disconnect_reason(),
        DisconnectReasonCode::ReceiveMaximumExceeded
    );
}

#[test]
fn a_second_connection_with_the_same_id_closes_the_first_with_0x8e() {
    let (_bridge, port) = broker("");
    let mut first = Raw5::connect(port, "same");
    let _second = Raw5::connect(port, "same");
    assert_eq!(
        first.disconnect_reason(),
        DisconnectReasonCode::SessionTakenOver
    );
}

#[test]
fn the_login_holds_for_5_0_and_enhanced_authentication_is_refused() {
    let (_bridge, port) = broker("  username: home\n  password: s3cret-pw\n");
    let login = |user, pw| {
        Raw5::connect_with(
            port,
            "x",
            true,
            ConnectProperties::new(),
            None,
            Some((user, pw)),
        )
        .1
        .code
    };
    assert_eq!(login("home", "s3cret-pw"), ConnectReturnCode::Success);
    assert_eq!(
        login("home", "wrong"),
        ConnectReturnCode::BadUserNamePassword
    );
    let mut props = ConnectProperties::new();
    props.authentication_method = Some("SCRAM-SHA-1".into());
    let (_c, ack) = Raw5::connect_with(port, "x", true, props, None, Some(("home", "s3cret-pw")));
    assert_eq!(ack.code, ConnectReturnCode::BadAuthenticationMethod);
    // A 5.0 CONNECT is read only up to 4 KiB before the password is checked.
    let mut props = ConnectProperties::new();
    props.user_properties = vec![("k".into(), "v".repeat(5000))];
    let mut raw = Raw5::open(port);
    raw.send(Packet::Connect(
        Connect {
            keep_alive: 60,
            client_id: "big".into(),
            clean_start: true,
            properties: Some(props),
        },
        None,
        Some(Login::new("home", "s3cret-pw")),
    ));
    assert_eq!(raw.next(), None, "closed unanswered");
}

//! The embedded broker as a stranger on its port would meet it, and as a sleeping camera relies
//! on it. A raw MQTT client (rumqttc's codec over a plain socket) does exactly what each test
//! says, with no reconnects of its own.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

use bytes::BytesMut;
use common::*;
use rumqttc::mqttbytes::QoS;
use rumqttc::{
    Connect, ConnectReturnCode, Login, Packet, PubAck, Publish, Subscribe, SubscribeFilter,
};

/// A client that sends and reads MQTT packets one at a time.
struct Raw {
    stream: TcpStream,
    buf: BytesMut,
}

impl Raw {
    fn open(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        Raw {
            stream,
            buf: BytesMut::new(),
        }
    }

    fn send(&mut self, packet: Packet) {
        let mut out = BytesMut::new();
        packet.write(&mut out, 64 << 20).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    /// The next packet; `None` once the broker has closed the connection.
    fn next(&mut self) -> Option<Packet> {
        loop {
            match Packet::read(&mut self.buf, 64 << 20) {
                Ok(p) => return Some(p),
                Err(rumqttc::Error::InsufficientBytes(_)) => {}
                Err(e) => panic!("bad packet from the broker: {e}"),
            }
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return None,
                Err(e) => panic!("no packet from the broker within {WAIT:?}: {e}"),
            }
        }
    }

    /// Connects as `id`; returns (the CONNACK's code, session present).
    fn connect(
        port: u16,
        id: &str,
        clean: bool,
        login: Option<(&str, &str)>,
    ) -> (Raw, ConnectReturnCode, bool) {
        let mut raw = Raw::open(port);
        let mut connect = Connect::new(id);
        connect.clean_session = clean;
        connect.keep_alive = 60;
        connect.login = login.map(|(u, p)| Login::new(u, p));
        raw.send(Packet::Connect(connect));
        match raw.next() {
            Some(Packet::ConnAck(ack)) => (raw, ack.code, ack.session_present),
            other => panic!("{id}: expected CONNACK, got {other:?}"),
        }
    }

    fn subscribe(&mut self, filter: &str) {
        self.send(Packet::Subscribe(Subscribe::new_many([
            SubscribeFilter::new(filter.into(), QoS::AtLeastOnce),
        ])));
        match self.next() {
            Some(Packet::SubAck(_)) => {}
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    fn next_publish(&mut self) -> Publish {
        loop {
            match self.next() {
                Some(Packet::Publish(p)) => return p,
                Some(_) => continue,
                None => panic!("connection closed while waiting for a publish"),
            }
        }
    }
}

/// The bridge with its embedded broker on a free port, ready.
fn bridge_with_embedded_broker(extra: &str) -> (BridgeProcess, u16) {
    let port = free_port();
    let bridge = BridgeProcess::start(&format!(
        "mqtt:\n  embedded: true\n  listen: 127.0.0.1:{port}\n{extra}\ncameras:\n  - mac: {DRIVEWAY}\n"
    ));
    bridge.wait_log(&["Home Assistant broker: subscribed"]);
    (bridge, port)
}

#[test]
fn a_brief_connection_with_the_bridges_client_id_does_not_silence_it() {
    let (bridge, port) = bridge_with_embedded_broker("");
    // A stranger logs in as the bridge, and leaves.
    let (intruder, code, _) = Raw::connect(port, "solarcam-bridge", true, None);
    assert_eq!(code, ConnectReturnCode::Success);
    bridge.wait_log(&["Home Assistant broker: connection to", "lost"]);
    drop(intruder.stream.shutdown(std::net::Shutdown::Both));

    // The bridge connects again, subscribes again, and does its job.
    bridge.wait_log(&[
        "embedded broker: solarcam-bridge connected again: closing its older connection",
    ]);
    let camera = Peer::connect(port, &[]);
    let deadline = Instant::now() + WAIT;
    loop {
        camera.publish(
            "4GSolarCam/Status",
            format!(r#"{{"mac":"{DRIVEWAY}","battery":33}}"#),
            false,
        );
        if retained(port, "solarcam/5CC5638AE24C/battery").is_some_and(|m| m.text() == "33") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the bridge never read a status again:\n{}",
            bridge.log().join("\n")
        );
    }
}

#[test]
fn a_sleeping_camera_gets_the_wake_sent_while_it_slept() {
    let (bridge, port) = bridge_with_embedded_broker("");
    // The camera subscribes with a persistent session, then sleeps (its connection closes).
    let (mut camera, _, present) = Raw::connect(port, "sc211-driveway", false, None);
    assert!(!present);
    camera.subscribe("4GSolarCam/Wake/+");
    drop(camera);

    // Home Assistant presses Wake while it sleeps.
    let ha = Peer::connect(port, &[]);
    ha.publish("solarcam/5CC5638AE24C/command", "wake", false);
    bridge.wait_log(&["(5CC5638AE24C): sending wake"]);

    // It wakes, connects with its session, and the wake is there.
    let (mut camera, code, present) = Raw::connect(port, "sc211-driveway", false, None);
    assert_eq!(code, ConnectReturnCode::Success);
    assert!(present, "the broker kept no session");
    let wake = camera.next_publish();
    assert_eq!(wake.topic, "4GSolarCam/Wake/5CC5638AE24C");
    assert_eq!(wake.payload.as_ref(), b"wake");
}

#[test]
fn an_unacknowledged_message_comes_again_with_dup_after_a_reconnect() {
    let (_bridge, port) = bridge_with_embedded_broker("");
    let (mut client, _, _) = Raw::connect(port, "forgetful", false, None);
    client.subscribe("test/t");
    let publisher = Peer::connect(port, &[]);
    publisher.publish("test/t", "once", false);
    let first = client.next_publish();
    assert_eq!((first.qos, first.dup), (QoS::AtLeastOnce, false));
    drop(client); // no PUBACK

    let (mut client, _, present) = Raw::connect(port, "forgetful", false, None);
    assert!(present);
    let again = client.next_publish();
    assert_eq!(again.payload.as_ref(), b"once");
    assert_eq!(again.pkid, first.pkid);
    assert!(again.dup, "redelivery without DUP");
    client.send(Packet::PubAck(PubAck::new(again.pkid)));
}

#[test]
fn a_connect_larger_than_a_few_kib_is_not_read() {
    let (bridge, port) = bridge_with_embedded_broker("  username: home\n  password: s3cret-pw\n");
    let mut raw = Raw::open(port);
    let mut connect = Connect::new("x".repeat(8 << 10));
    connect.login = Some(Login::new("home", "s3cret-pw"));
    raw.send(Packet::Connect(connect));
    assert_eq!(raw.next(), None, "the broker answered an 8 KiB CONNECT");
    bridge.wait_log(&["did not connect properly", "bad packet"]);
}

#[test]
fn failed_logins_are_logged_once_per_10_s_and_never_with_the_password() {
    let (bridge, port) = bridge_with_embedded_broker("  username: home\n  password: s3cret-pw\n");
    for i in 0..30 {
        let (_, code, _) = Raw::connect(
            port,
            &format!("guess-{i}"),
            true,
            Some(("home", &format!("guess-{i}-pw"))),
        );
        assert_eq!(code, ConnectReturnCode::BadUserNamePassword);
    }
    let (_, code, _) = Raw::connect(port, "right", true, Some(("home", "s3cret-pw")));
    assert_eq!(code, ConnectReturnCode::Success);
    let refusals: Vec<String> = bridge
        .log()
        .into_iter()
        .filter(|l| l.contains("wrong username or password"))
        .collect();
    assert_eq!(refusals.len(), 1, "{refusals:#?}");
    assert!(bridge
        .log()
        .iter()
        .all(|l| !l.contains("s3cret-pw") && !l.contains("-pw")));
}

#[test]
fn a_client_that_stops_reading_is_disconnected_and_the_bridge_goes_on() {
    let (bridge, port) = bridge_with_embedded_broker("");
    let (mut sink, _, _) = Raw::connect(port, "does-not-read", true, None);
    sink.subscribe("flood/#");
    let pid = bridge.child.id();
    // 300 MB for a client that reads none of it: kept, it would be 300 MB of the bridge's memory.
    let publisher = Peer::connect(port, &[]);
    let chunk = vec![b'x'; 1 << 20];
    let mut done = Peer::connect(port, &["test/done"]);
    for i in 0..300 {
        publisher.publish(&format!("flood/{i}"), chunk.clone(), false);
    }
    publisher.publish("test/done", "", false);
    bridge.wait_log(&["does-not-read: connection closed", "stopped reading"]);
    // The broker has taken all 300 MB once the message after them arrives.
    done.next_on("test/done");
    let peak_kb = proc_kb(pid, "VmHWM:");
    eprintln!("bridge peak RSS {peak_kb} kB");
    assert!(peak_kb < 96 << 10, "peak RSS {peak_kb} kB");
    // Still serving.
    let camera = Peer::connect(port, &[]);
    camera.publish(
        "4GSolarCam/Status",
        format!(r#"{{"mac":"{DRIVEWAY}","battery":12}}"#),
        false,
    );
    wait_retained_value(port, "solarcam/5CC5638AE24C/battery", "12");
    drop(sink);
}

#[test]
fn a_client_that_vanishes_has_its_last_will_published_and_qos_1_is_acknowledged_and_kept() {
    let (_bridge, port) = bridge_with_embedded_broker("");
    let mut watcher = Raw::connect(port, "watcher", true, None).0;
    watcher.subscribe("test/#");

    // QoS 1 in: acknowledged; out to a QoS 1 subscriber: QoS 1.
    let (mut sender, _, _) = Raw::connect(port, "sender", true, None);
    let mut p = Publish::new("test/qos1", QoS::AtLeastOnce, "one".as_bytes().to_vec());
    p.pkid = 7;
    sender.send(Packet::Publish(p));
    match sender.next() {
        Some(Packet::PubAck(ack)) => assert_eq!(ack.pkid, 7),
        other => panic!("expected PUBACK, got {other:?}"),
    }
    let got = watcher.next_publish();
    assert_eq!(
        (got.topic.as_str(), got.qos),
        ("test/qos1", QoS::AtLeastOnce)
    );
    watcher.send(Packet::PubAck(PubAck::new(got.pkid)));

    // A client with a will drops its connection without DISCONNECT: the will goes out.
    let mut raw = Raw::open(port);
    let mut connect = Connect::new("with-will");
    connect.keep_alive = 60;
    connect.last_will = Some(rumqttc::LastWill::new(
        "test/will",
        "gone",
        QoS::AtLeastOnce,
        true,
    ));
    raw.send(Packet::Connect(connect));
    assert!(matches!(raw.next(), Some(Packet::ConnAck(_))));
    drop(raw);
    let will = watcher.next_publish();
    assert_eq!(
        (will.topic.as_str(), will.payload.as_ref()),
        ("test/will", &b"gone"[..])
    );
    // Retained, as it asked.
    wait_retained_value(port, "test/will", "gone");
}

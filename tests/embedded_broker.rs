//! The embedded broker as a stranger on its port would meet it, and as a sleeping camera relies
//! on it. A raw MQTT client (rumqttc's codec over a plain socket) does exactly what each test
//! says, with no reconnects of its own.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

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

/// README: "A CONNECT is read only up to 4 KiB before the password is checked", by its number.
#[test]
fn a_connect_of_4_kib_is_read_and_one_byte_more_is_not() {
    let (bridge, port) = bridge_with_embedded_broker("  username: home\n  password: s3cret-pw\n");
    // A CONNECT whose body is `size` bytes: the client id fills what the rest leaves.
    let connect = |size: usize| {
        let fixed = 2 + 4 + 1 + 1 + 2; // protocol name, level, flags, keep-alive
        let login = 2 + "home".len() + 2 + "s3cret-pw".len();
        let mut c = Connect::new("x".repeat(size - fixed - login - 2));
        c.login = Some(Login::new("home", "s3cret-pw"));
        c
    };
    let mut raw = Raw::open(port);
    raw.send(Packet::Connect(connect(4096)));
    assert!(
        matches!(raw.next(), Some(Packet::ConnAck(_))),
        "a 4 KiB CONNECT is answered"
    );
    let mut raw = Raw::open(port);
    raw.send(Packet::Connect(connect(4097)));
    assert_eq!(raw.next(), None, "the broker answered a CONNECT over 4 KiB");
    bridge.wait_log(&["did not connect properly", "bad packet"]);
}

#[test]
fn failed_logins_are_logged_once_per_10_s_and_never_with_the_password() {
    let (mut bridge, port) =
        bridge_with_embedded_broker("  username: home\n  password: s3cret-pw\n");
    let refuse = |i: usize, user: &str| {
        let (_, code, _) = Raw::connect(
            port,
            &format!("guess-{i}"),
            true,
            Some((user, &format!("guess-{i}-pw"))),
        );
        assert_eq!(code, ConnectReturnCode::BadUserNamePassword);
    };
    refuse(0, "home");
    // The first refusal was logged before its CONNACK came: its period ends 10 s from now at
    // the latest.
    let period_ends = Instant::now() + Duration::from_secs(10);
    for i in 1..30 {
        refuse(i, "home");
    }
    // A second burst after that period (the sleep makes it certain; nothing is asserted of how
    // long anything took): one more line, with the count of the 29 held back.
    std::thread::sleep(period_ends.saturating_duration_since(Instant::now()));
    for i in 30..35 {
        refuse(i, "someone");
    }
    let (_, code, _) = Raw::connect(port, "right", true, Some(("home", "s3cret-pw")));
    assert_eq!(code, ConnectReturnCode::Success);
    // The whole log, to its last line.
    let log = bridge.stop();
    let refusals: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("wrong username or password"))
        .collect();
    assert_eq!(refusals.len(), 2, "{refusals:#?}");
    assert!(
        refusals[0].contains("for \"home\"") && !refusals[0].contains("more refused"),
        "{}",
        refusals[0]
    );
    assert!(
        refusals[1].contains("for \"someone\" (29 more refused since the last such line)"),
        "{}",
        refusals[1]
    );
    assert!(log
        .iter()
        .all(|l| !l.contains("s3cret-pw") && !l.contains("-pw")));
}

#[test]
fn a_wrong_username_with_the_right_password_is_refused_as_is_the_reverse() {
    // Both are compared whatever the first gives (as SHA-256 digests, without an early exit:
    // `cargo bench --bench core -- login` prints how long refusals of each kind take).
    let (_bridge, port) = bridge_with_embedded_broker("  username: home\n  password: s3cret-pw\n");
    for (user, password) in [
        ("homer", "s3cret-pw"),
        ("home", "s3cret-pX"),
        ("home", "s3cret-pw-and-more"),
        ("", ""),
    ] {
        let (_, code, _) = Raw::connect(port, "guess", true, Some((user, password)));
        assert_eq!(
            code,
            ConnectReturnCode::BadUserNamePassword,
            "{user}/{password}"
        );
    }
    let (_, code, _) = Raw::connect(port, "anonymous", true, None);
    assert_eq!(code, ConnectReturnCode::BadUserNamePassword);
}

#[test]
fn at_most_256_connections_are_served_and_a_place_freed_is_taken_again() {
    let (bridge, port) = bridge_with_embedded_broker("");
    // The bridge's own connection is one of the 256.
    let mut clients: Vec<Raw> = (1..256)
        .map(|i| {
            let (raw, code, _) = Raw::connect(port, &format!("client-{i}"), true, None);
            assert_eq!(code, ConnectReturnCode::Success, "client {i}");
            raw
        })
        .collect();
    // The 257th is closed before it is read.
    let mut extra = Raw::open(port);
    extra.send(Packet::Connect(Connect::new("one-too-many")));
    assert_eq!(extra.next(), None, "the 257th connection was served");
    bridge.wait_log(&["refused: 256 connections open already"]);
    // One leaves: its place is free again.
    drop(clients.pop());
    let deadline = Instant::now() + WAIT;
    loop {
        let mut raw = Raw::open(port);
        raw.send(Packet::Connect(Connect::new("in-its-place")));
        if let Some(Packet::ConnAck(ack)) = raw.next() {
            assert_eq!(ack.code, ConnectReturnCode::Success);
            break;
        }
        // The closed socket's place is given back once the broker has seen it close.
        assert!(Instant::now() < deadline, "no place was freed");
    }
}

#[test]
fn packets_up_to_32_mb_are_taken_and_a_larger_one_closes_its_connection() {
    let (bridge, port) = bridge_with_embedded_broker("");
    let mut watcher = Raw::connect(port, "watcher", true, None).0;
    watcher.subscribe("big/#");
    let (mut sender, _, _) = Raw::connect(port, "sender", true, None);
    // The largest packet taken: 32 MiB after its fixed header (MQTT's "remaining length": the
    // topic's length and name, then the payload).
    let payload: Vec<u8> = (0..(32 << 20) - 2 - "big/ok".len())
        .map(|i| i as u8)
        .collect();
    let at_limit = Publish::new("big/ok", QoS::AtMostOnce, payload.clone());
    let mut out = BytesMut::new();
    Packet::Publish(at_limit.clone())
        .write(&mut out, 64 << 20)
        .unwrap();
    // 1 byte of type and flags, 4 of remaining length.
    assert_eq!(out.len(), 5 + (32 << 20));
    sender.send(Packet::Publish(at_limit));
    let got = watcher.next_publish();
    assert_eq!(got.topic, "big/ok");
    assert!(got.payload == payload, "the 32 MiB payload arrived changed");

    // One byte more: the connection is closed, and the broker serves the others on.
    let mut over = payload;
    over.push(0);
    let mut out = BytesMut::new();
    Packet::Publish(Publish::new("big/over", QoS::AtMostOnce, over))
        .write(&mut out, 64 << 20)
        .unwrap();
    // The broker closes the connection once it has read the header: the rest may not go.
    let _ = sender.stream.write_all(&out);
    assert_eq!(sender.next(), None, "a 32 MiB + 1 packet was read");
    bridge.wait_log(&["sender", "bad packet"]);
    let (mut again, code, _) = Raw::connect(port, "sender", true, None);
    assert_eq!(code, ConnectReturnCode::Success);
    again.send(Packet::Publish(Publish::new(
        "big/small",
        QoS::AtMostOnce,
        "x",
    )));
    assert_eq!(watcher.next_publish().topic, "big/small");
}

#[test]
fn no_packet_is_ever_printed_even_at_trace_level() {
    const MARK: &str = "PACKET-CONTENT-7f3a";
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, format!(
        "mqtt:\n  embedded: true\n  listen: 127.0.0.1:{port}\n  username: home\n  password: s3cret-pw\ncameras:\n  - mac: {DRIVEWAY}\n"
    )).unwrap();
    let mut bridge = BridgeProcess::start_at(dir, config, &[("RUST_LOG", "trace")]);
    bridge.wait_log(&["Home Assistant broker: subscribed"]);
    let login = Some(("home", "s3cret-pw"));
    let (mut raw, _, _) = Raw::connect(port, &format!("client-{MARK}"), true, login);
    raw.subscribe(&format!("{MARK}/#"));
    let mut p = Publish::new(
        format!("{MARK}/topic"),
        QoS::AtLeastOnce,
        format!("payload {MARK}"),
    );
    p.pkid = 1;
    raw.send(Packet::Publish(p));
    // A packet the broker cannot read, holding the mark too.
    let mut garbage = vec![0xF0, 0x20];
    garbage.extend_from_slice(format!("{MARK}{MARK}").as_bytes());
    raw.stream.write_all(&garbage).unwrap();
    assert!(std::iter::from_fn(|| raw.next()).count() >= 1);
    bridge.wait_log(&["bad packet"]);
    // A login with the mark as its password.
    let (_, code, _) = Raw::connect(port, "guess", true, Some(("home", MARK)));
    assert_eq!(code, ConnectReturnCode::BadUserNamePassword);
    let log = bridge.stop();
    // The password is inline in a file anyone may read (tempfile's 0644): said at the start.
    assert!(
        log.iter().any(|l| l.contains("WARN")
            && l.contains("holds a password and any user on this machine can read it")),
        "{log:#?}"
    );
    // Each packet was spoken of (its kind, its sender), none shown.
    for said in [
        "bad packet",
        "refused: wrong username or password",
        "connected from",
    ] {
        assert!(log.iter().any(|l| l.contains(said)), "{said}: {log:#?}");
    }
    let printed: Vec<&String> = log
        .iter()
        .filter(|l| l.contains(MARK) && !l.contains(&format!("client-{MARK}")))
        .collect();
    assert!(printed.is_empty(), "{printed:#?}");
    assert!(log.iter().all(|l| !l.contains("s3cret-pw")));
}

#[test]
fn after_a_restart_the_empty_broker_gets_discovery_and_states_again() {
    let port = free_port();
    let config = format!(
        "mqtt:\n  embedded: true\n  listen: 127.0.0.1:{port}\ncameras:\n  - mac: {DRIVEWAY}\n    name: Driveway\n"
    );
    let mut first = BridgeProcess::start(&config);
    first.wait_log(&["Home Assistant broker: subscribed"]);
    let before = retained_under(port, "#");
    first.stop();
    // Its broker went with it: nothing is kept across restarts.
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());

    // Its state directory is not needed: the cameras are the file's.
    let second = BridgeProcess::start(&config);
    second.wait_log(&["Home Assistant broker: subscribed"]);
    wait_retained_value(port, "solarcam/5CC5638AE24C/awake", "asleep");
    let after = retained_under(port, "#");
    let topics = |m: &std::collections::BTreeMap<String, Msg>| -> Vec<String> {
        m.keys()
            .filter(|t| !t.starts_with("solarcam/bridge/"))
            .cloned()
            .collect()
    };
    assert!(!topics(&before).is_empty());
    assert_eq!(topics(&after), topics(&before));
    let config_topic = device_topic(&node(DRIVEWAY));
    assert_eq!(after[&config_topic].payload, before[&config_topic].payload);
    assert_eq!(after["solarcam/bridge/availability"].text(), "online");
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
    // Kept, the flood is 300 MB. Dropped, the peak is its 16 MB queue and the buffers around
    // it plus what the allocator has not yet handed back: 36 to 100 MB over 13 runs (a debug
    // build, 2 cores), so the bound sits between the two, well clear of both.
    assert!(peak_kb < 200 << 10, "peak RSS {peak_kb} kB");
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

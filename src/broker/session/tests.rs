use super::*;
use crate::broker::codec::NEVER;
use std::sync::Arc;
use std::sync::OnceLock;
use tokio::sync::mpsc;

/// The tests' clock: a fixed start, moved on by hand where time matters.
fn t0() -> Instant {
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now)
}

/// A client's end of a connection: what the broker queued for it, and its kick signal.
struct Client {
    rx: mpsc::Receiver<Outbound>,
    kick: Arc<Kick>,
}

fn online(capacity: usize) -> (Online, Client) {
    let (tx, rx) = mpsc::channel(capacity);
    let online = Online::new(tx);
    let kick = online.kick.clone();
    (online, Client { rx, kick })
}

/// Connects as 3.1.1 does: clean session 1 (no expiry) or 0 (kept for ever).
fn connect(state: &mut State, id: &str, clean: bool) -> (u64, Client) {
    connect_with(state, id, clean, if clean { 0 } else { NEVER }, t0())
}

fn connect_with(
    state: &mut State,
    id: &str,
    clean: bool,
    expiry: u32,
    now: Instant,
) -> (u64, Client) {
    let (o, c) = online(limits::CLIENT_QUEUE);
    match state.connect(id, clean, expiry, o, false, now) {
        Admission::Accepted { connection } => (connection, c),
        Admission::Refused => panic!("{id} refused"),
    }
}

impl Client {
    fn packets(&mut self) -> Vec<Outbound> {
        std::iter::from_fn(|| self.rx.try_recv().ok()).collect()
    }

    fn kicked(&self) -> bool {
        self.kick.kicked()
    }
}

fn publish(topic: &str, qos: QoS, payload: &str) -> Message {
    Message::new(topic, qos, payload.as_bytes().to_vec())
}

fn publishes(packets: &[Outbound]) -> Vec<&Message> {
    packets
        .iter()
        .filter_map(|p| match p {
            Outbound::Publish(p) => Some(p),
            _ => None,
        })
        .collect()
}

/// The first packet, a CONNACK: its code and session present flag.
fn connack(packets: &[Outbound]) -> (ConnectCode, bool) {
    match &packets[0] {
        Outbound::ConnAck {
            code,
            session_present,
            ..
        } => (*code, *session_present),
        other => panic!("first packet {other:?}"),
    }
}

fn sub(filter: &str, qos: QoS) -> Vec<Subscription> {
    vec![Subscription::new(filter, qos)]
}

#[test]
fn a_second_connection_with_the_same_id_closes_the_first() {
    let mut state = State::default();
    let (first, a) = connect(&mut state, "bridge", true);
    let (second, _b) = connect(&mut state, "bridge", true);
    assert!(a.kicked());
    assert!(!state.current("bridge", first));
    assert!(state.current("bridge", second));
    // The first one's end does not end the second's session.
    state.disconnect("bridge", first, t0());
    assert!(state.current("bridge", second));
}

#[test]
fn a_persistent_session_keeps_subscriptions_and_queues_qos1_while_away() {
    let mut state = State::default();
    let (conn, mut cam) = connect(&mut state, "cam", false);
    state.subscribe("cam", 1, sub("wake/+", QoS::AtLeastOnce), None, t0());
    assert!(!connack(&cam.packets()).1);
    state.disconnect("cam", conn, t0());

    state.route(publish("wake/1", QoS::AtLeastOnce, "wake"), None, t0());
    state.route(publish("wake/1", QoS::AtMostOnce, "not kept"), None, t0());
    let (_, mut cam) = connect(&mut state, "cam", false);
    let packets = cam.packets();
    assert!(connack(&packets).1);
    let got = publishes(&packets);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload.as_ref(), b"wake");
    assert_eq!(got[0].qos, QoS::AtLeastOnce);
}

#[test]
fn an_unacknowledged_message_is_sent_again_with_dup_on_return() {
    let mut state = State::default();
    let (conn, mut cam) = connect(&mut state, "cam", false);
    state.subscribe("cam", 1, sub("t", QoS::AtLeastOnce), None, t0());
    state.route(publish("t", QoS::AtLeastOnce, "one"), None, t0());
    state.route(publish("t", QoS::AtLeastOnce, "two"), None, t0());
    let first: Vec<Message> = publishes(&cam.packets()).into_iter().cloned().collect();
    assert_eq!(first.len(), 2);
    assert!(first.iter().all(|p| !p.dup));
    state.acknowledged("cam", first[0].pkid, t0());
    state.disconnect("cam", conn, t0());

    let (_, mut cam) = connect(&mut state, "cam", false);
    let packets = cam.packets();
    let again = publishes(&packets);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].payload.as_ref(), b"two");
    assert_eq!(again[0].pkid, first[1].pkid);
    assert!(again[0].dup);
}

#[test]
fn a_clean_session_forgets_everything() {
    let mut state = State::default();
    let (conn, _cam) = connect(&mut state, "cam", false);
    state.subscribe("cam", 1, sub("t", QoS::AtLeastOnce), None, t0());
    state.disconnect("cam", conn, t0());
    state.route(publish("t", QoS::AtLeastOnce, "one"), None, t0());
    let (conn, mut cam) = connect(&mut state, "cam", true);
    let packets = cam.packets();
    assert!(!connack(&packets).1);
    assert!(publishes(&packets).is_empty());
    state.disconnect("cam", conn, t0());
    assert_eq!(state.sessions(), 0);
}

#[test]
fn an_absent_clients_queue_keeps_the_newest_within_its_bounds() {
    let mut state = State::default();
    let (conn, _cam) = connect(&mut state, "cam", false);
    state.subscribe("cam", 1, sub("t", QoS::AtLeastOnce), None, t0());
    state.disconnect("cam", conn, t0());
    for i in 0..limits::QUEUED + 500 {
        state.route(publish("t", QoS::AtLeastOnce, &i.to_string()), None, t0());
    }
    let (_, mut cam) = connect(&mut state, "cam", false);
    let packets = cam.packets();
    let got = publishes(&packets);
    assert_eq!(got.len(), limits::QUEUED);
    assert_eq!(got[0].payload.as_ref(), b"500");
}

/// README (The embedded broker): "1,000 unacknowledged and 1,000 queued messages per client
/// (32 MB; the oldest go first)", by its numbers.
#[test]
fn a_client_has_at_most_1000_unacknowledged_messages_then_is_told_to_go() {
    let mut state = State::default();
    let (_, mut cam) = connect(&mut state, "cam", false);
    state.subscribe("cam", 1, sub("t", QoS::AtLeastOnce), None, t0());
    cam.packets();
    for i in 0..1000 {
        state.route(publish("t", QoS::AtLeastOnce, &i.to_string()), None, t0());
    }
    assert_eq!(publishes(&cam.packets()).len(), 1000);
    assert!(!cam.kicked(), "1,000 unacknowledged are allowed");
    state.route(publish("t", QoS::AtLeastOnce, "1000"), None, t0());
    assert!(
        publishes(&cam.packets()).is_empty(),
        "the 1,001st is kept, not sent"
    );
    assert!(cam.kicked());
}

#[test]
fn an_absent_clients_queue_holds_1000_messages_or_32_mb_the_newest_kept() {
    let mut state = State::default();
    let (conn, _cam) = connect(&mut state, "cam", false);
    state.subscribe("cam", 1, sub("t", QoS::AtLeastOnce), None, t0());
    state.disconnect("cam", conn, t0());
    // By count: 1,200 small messages, the newest 1,000 kept.
    for i in 0..1200 {
        state.route(publish("t", QoS::AtLeastOnce, &i.to_string()), None, t0());
    }
    let (conn, mut cam) = connect(&mut state, "cam", false);
    let got = cam.packets();
    let got = publishes(&got);
    assert_eq!(got.len(), 1000);
    assert_eq!(got[0].payload.as_ref(), b"200");
    for p in &got {
        state.acknowledged("cam", p.pkid, t0());
    }
    state.disconnect("cam", conn, t0());
    // By bytes: 40 messages of 1 MiB (topic and payload), the newest 32 kept (32 MiB).
    let mb = "x".repeat(1 << 20);
    for i in 0..40 {
        state.route(
            publish(
                "t",
                QoS::AtLeastOnce,
                &format!("{i:02}{mb}")[..(1 << 20) - 1],
            ),
            None,
            t0(),
        );
    }
    let queued = &state.sessions["cam"].queued;
    assert_eq!(queued.len(), 32);
    assert_eq!(state.sessions["cam"].queued_bytes, 32 << 20);
    assert_eq!(&queued[0].payload[..2], b"08");
}

#[test]
fn a_client_that_does_not_read_is_told_to_go() {
    let mut state = State::default();
    let (o, slow) = online(4);
    let Admission::Accepted { .. } = state.connect("slow", true, 0, o, false, t0()) else {
        panic!()
    };
    state.subscribe("slow", 1, sub("t", QoS::AtMostOnce), None, t0());
    assert!(!slow.kicked());
    for _ in 0..4 {
        state.route(publish("t", QoS::AtMostOnce, "x"), None, t0());
    }
    assert!(slow.kicked());
}

#[test]
fn subscriptions_per_client_are_bounded() {
    let mut state = State::default();
    let (_, mut c) = connect(&mut state, "c", true);
    let filters = (0..limits::SUBSCRIPTIONS + 1)
        .map(|i| Subscription::new(format!("t/{i}"), QoS::AtMostOnce))
        .collect();
    state.subscribe("c", 7, filters, None, t0());
    let packets = c.packets();
    let Outbound::SubAck { pkid, codes } = &packets[1] else {
        panic!("{packets:?}")
    };
    assert_eq!(*pkid, 7);
    assert_eq!(codes.len(), limits::SUBSCRIPTIONS + 1);
    assert_eq!(codes.last(), Some(&SubscribeCode::QuotaExceeded));
    assert!(codes[..limits::SUBSCRIPTIONS]
        .iter()
        .all(|c| matches!(c, SubscribeCode::Granted(_))));
}

#[test]
fn retained_messages_are_bounded_in_count_and_bytes() {
    let mut state = State::default();
    for i in 0..limits::RETAINED + 10 {
        let mut p = publish(&format!("r/{i}"), QoS::AtMostOnce, "x");
        p.retain = true;
        state.route(p, None, t0());
    }
    assert_eq!(state.retained(), limits::RETAINED);
    // An existing topic may still be updated, and an empty payload clears one.
    let mut p = publish("r/0", QoS::AtMostOnce, "y");
    p.retain = true;
    state.route(p, None, t0());
    let mut p = publish("r/1", QoS::AtMostOnce, "");
    p.retain = true;
    state.route(p, None, t0());
    assert_eq!(state.retained(), limits::RETAINED - 1);

    let mut state = State::default();
    let big = "x".repeat(32 << 20);
    for i in 0..10 {
        let mut p = publish(&format!("big/{i}"), QoS::AtMostOnce, &big);
        p.retain = true;
        state.route(p, None, t0());
    }
    assert_eq!(state.retained(), limits::RETAINED_BYTES / (32 << 20) - 1);
}

#[test]
fn at_most_1024_sessions_are_kept_and_a_known_client_still_comes_back() {
    let mut state = State::default();
    let mut clients = Vec::new();
    for i in 0..limits::SESSIONS {
        clients.push(connect(&mut state, &format!("camera-{i}"), false));
    }
    let (o, mut c) = online(limits::CLIENT_QUEUE);
    assert!(matches!(
        state.connect("one-too-many", false, NEVER, o, false, t0()),
        Admission::Refused
    ));
    assert_eq!(
        c.packets(),
        [Outbound::ConnAck {
            code: ConnectCode::Unavailable,
            session_present: false,
            assigned_client_id: None
        }]
    );
    // A client whose session is kept is not a new session.
    let (_, mut again) = connect(&mut state, "camera-7", false);
    assert_eq!(connack(&again.packets()), (ConnectCode::Accepted, true));
}

#[test]
fn a_client_is_told_to_go_past_10_000_packets_or_16_mb_waiting_for_it() {
    // Packets: the 10,000th fits, the next does not.
    let (o, c) = online(limits::CLIENT_QUEUE);
    for i in 0..limits::CLIENT_QUEUE {
        assert!(o.send(Outbound::PingResp), "packet {i}");
    }
    assert!(!c.kicked());
    assert!(!o.send(Outbound::PingResp));
    assert!(c.kicked());

    // Bytes: publishes of 1 MB each (with their topic and overhead) up to 16 MB.
    let (o, c) = online(limits::CLIENT_QUEUE);
    let mb = "x".repeat((1 << 20) - 8 - "big".len());
    let one = publish("big", QoS::AtMostOnce, &mb);
    assert_eq!(packet_size(&Outbound::Publish(one.clone())), 1 << 20);
    for i in 0..16 {
        assert!(o.send(Outbound::Publish(one.clone())), "MB {i}");
    }
    assert!(!c.kicked());
    assert!(!o.send(Outbound::Publish(one)));
    assert!(c.kicked());

    // One packet larger than the whole budget still goes to a client that has nothing
    // waiting: a snapshot over 16 MB is not a reason to disconnect anyone.
    let (o, c) = online(limits::CLIENT_QUEUE);
    assert!(o.send(Outbound::Publish(publish(
        "huge",
        QoS::AtMostOnce,
        &"x".repeat(20 << 20)
    ))));
    assert!(!c.kicked());
}

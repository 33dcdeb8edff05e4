// The integration tests' own Mosquitto: one way to run one.
#[path = "../../../tests/common/mosquitto.rs"]
#[allow(unreachable_pub)]
mod test_mosquitto;

use super::*;
use test_mosquitto::Mosquitto;

fn open(port: u16, client_id: &str, persistent: bool) -> Connection {
    let broker = BrokerConfig {
        url: format!("mqtt://127.0.0.1:{port}").parse().unwrap(),
        username: None,
        password: None,
        password_file: None,
        client_id: client_id.into(),
        ca_file: None,
        client_cert: None,
        client_key: None,
        alpn: Vec::new(),
        reconnect_max: Duration::from_secs(1),
    };
    let opts = Options {
        name: "camera broker",
        last_will: None,
        persistent,
        max_incoming: 1 << 20,
        max_outgoing: 1 << 20,
        outbox_limit: 1 << 20,
        acks_wait_for: None,
    };
    Connection::open(&broker, opts).unwrap()
}

/// The next message, skipping connection events; within 10 s.
async fn next_message(c: &mut Connection) -> (String, Option<u16>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match tokio::time::timeout_at(deadline, c.incoming.recv()).await {
            Ok(Some(Incoming::Message { topic, ack, .. })) => return (topic, ack),
            Ok(Some(_)) => continue,
            Ok(None) | Err(_) => panic!("no message within 10 s"),
        }
    }
}

/// Once `bridge`'s subscription is in place: a message `camera` sends after the SUBSCRIBE comes
/// back (tried every 200 ms). The packet id to acknowledge, if it has one.
async fn until_subscribed(camera: &Connection, bridge: &mut Connection) -> Option<u16> {
    for _ in 0..50 {
        camera.publish(qos1("4GSolarCam/ready"));
        let wait = tokio::time::timeout(Duration::from_millis(200), next_message(bridge));
        if let Ok((_, ack)) = wait.await {
            return ack;
        }
    }
    panic!("never subscribed");
}

fn qos1(topic: &str) -> Publish {
    Publish {
        link: crate::bridge::Link::Camera,
        topic: topic.into(),
        payload: Bytes::from_static(b"{}"),
        qos: Qos::AtLeastOnce,
        retain: false,
    }
}

#[tokio::test]
async fn a_message_read_but_not_yet_handled_when_the_bridge_stops_comes_again_after_it() {
    let broker = Mosquitto::start();
    let camera = open(broker.port, "test-camera", false);
    let mut first = open(broker.port, "test-bridge", true);
    first.subscribe(vec!["4GSolarCam/#".into()]);
    let ack = until_subscribed(&camera, &mut first).await;
    first.ack(
        ack.expect("a QoS 1 message of a persistent session is acknowledged"),
        None,
    );
    // Three camera messages, read but not yet handled.
    for t in [
        "4GSolarCam/Status",
        "4GSolarCam/Alarm",
        "4GSolarCam/Snapshot",
    ] {
        camera.publish(qos1(t));
    }
    let mut read = Vec::new();
    while read.len() < 3 {
        let (topic, ack) = next_message(&mut first).await;
        // An earlier try's "ready", come back after the first.
        if topic == "4GSolarCam/ready" {
            first.ack(ack.unwrap(), None);
            continue;
        }
        read.push((topic, ack.unwrap()));
    }
    // The status is handled and acknowledged; the bridge stops before it handles the rest.
    let mut read = read.into_iter();
    let (status, ack) = read.next().unwrap();
    assert_eq!(status, "4GSolarCam/Status");
    first.ack(ack, None);
    drop(read);
    first.disconnect();
    assert!(first.closed(Duration::from_secs(10)).await);

    // The same session again: the broker sends the two it holds, not the status.
    let mut second = open(broker.port, "test-bridge", true);
    let mut again = Vec::new();
    for _ in 0..2 {
        let (topic, ack) = next_message(&mut second).await;
        second.ack(ack.unwrap(), None);
        again.push(topic);
    }
    assert_eq!(again, ["4GSolarCam/Alarm", "4GSolarCam/Snapshot"]);
    // And nothing else is waiting: the next message is a new one.
    camera.publish(qos1("4GSolarCam/Status/5CC5638AE24C"));
    let (next, _) = next_message(&mut second).await;
    assert_eq!(next, "4GSolarCam/Status/5CC5638AE24C");
}

#[test]
fn a_connection_closed_on_port_443_without_alpn_points_at_aws_iot_cores_alpn() {
    let reset = || {
        rumqttc::ConnectionError::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "Connection reset by peer",
        ))
    };
    let why = poll::describe(&reset(), "the system's CA certificates", true);
    assert!(
        why.ends_with(
            "if it is AWS IoT Core, port 443 takes MQTT only with `alpn: x-amzn-mqtt-ca`)"
        ),
        "{why}"
    );
    // Elsewhere, or with ALPN set, a reset is only a reset.
    assert_eq!(
        poll::describe(&reset(), "the system's CA certificates", false),
        "Connection reset by peer"
    );
}

/// README (Security): "Camera messages are left unread (8 at most wait in the bridge) until Home
/// Assistant's broker takes more".
#[tokio::test]
async fn while_the_main_loop_does_not_read_at_most_8_messages_wait_in_the_bridge() {
    let broker = Mosquitto::start();
    let camera = open(broker.port, "test-camera", false);
    let mut bridge = open(broker.port, "test-bridge", false);
    bridge.subscribe(vec!["4GSolarCam/#".into()]);
    until_subscribed(&camera, &mut bridge).await;
    // Drain what the subscription's tries brought.
    while tokio::time::timeout(Duration::from_millis(300), bridge.incoming.recv())
        .await
        .is_ok()
    {}
    // 30 messages while the main loop reads nothing: 8 wait in the queue (one more is in the
    // poller's hand, waiting for room); the rest stay with the broker, unread.
    for _ in 0..30 {
        camera.publish(qos1("4GSolarCam/Status"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut waiting = 0;
    while let Ok(Incoming::Message { .. }) = bridge.incoming.try_recv() {
        waiting += 1;
    }
    assert_eq!(waiting, 8);
    // And the rest come once it reads again.
    let mut rest = 0;
    while tokio::time::timeout(Duration::from_secs(2), next_message(&mut bridge))
        .await
        .is_ok()
    {
        rest += 1;
        if waiting + rest == 30 {
            break;
        }
    }
    assert_eq!(waiting + rest, 30);
}

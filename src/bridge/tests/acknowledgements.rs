//! Acknowledgements: a camera message is acknowledged after what it caused, never before, and
//! exactly once, whatever it holds.

use super::*;
use proptest::prelude::*;

fn ack(packet_id: u16) -> Ack {
    Ack {
        link: Link::Camera,
        packet_id,
    }
}

/// The actions a message acknowledged as `packet_id` brings.
fn acked(h: &mut Harness, topic: &str, payload: impl Into<Bytes>, packet_id: u16) -> Vec<Action> {
    h.event(Event::Message {
        topic: topic.into(),
        payload: payload.into(),
        retain: false,
        received: h.wall,
        ack: Some(ack(packet_id)),
    })
}

fn alarm(mac: &str) -> String {
    format!(r#"{{"mac":"{mac}","type":"pir"}}"#)
}

/// The packet ids acknowledged among `actions`, in order.
fn acks(actions: &[Action]) -> Vec<u16> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Acknowledge(a) => Some(a.packet_id),
            _ => None,
        })
        .collect()
}

/// Where among `actions` the publish on `topic` is.
fn position(actions: &[Action], topic: &str) -> usize {
    actions
        .iter()
        .position(|a| matches!(a, Action::Publish(p) if p.topic == topic))
        .unwrap_or_else(|| panic!("nothing on {topic}: {actions:#?}"))
}

fn position_of_ack(actions: &[Action], packet_id: u16) -> usize {
    actions
        .iter()
        .position(|a| *a == Action::Acknowledge(ack(packet_id)))
        .unwrap_or_else(|| panic!("{packet_id} not acknowledged: {actions:#?}"))
}

/// The actions the timers bring `d` later.
fn after(h: &mut Harness, d: Duration) -> Vec<Action> {
    h.now += d;
    h.bridge.handle_timeout(h.now);
    h.drain()
}

#[test]
fn an_alarm_is_acknowledged_after_its_state_event_and_feed_copy() {
    let mut h = Harness::connected(two_cameras());
    let actions = acked(&mut h, "4GSolarCam/Alarm", alarm(DRIVEWAY), 7);
    assert_eq!(acks(&actions), [7]);
    let acked_at = position_of_ack(&actions, 7);
    for topic in [
        "solarcam/5CC5638AE24C/alarm",
        "solarcam/5CC5638AE24C/alarm/event",
        "solarcam/alarms",
    ] {
        assert!(
            position(&actions, topic) < acked_at,
            "{topic}: {actions:#?}"
        );
    }
}

#[test]
fn a_message_that_causes_nothing_or_is_refused_is_acknowledged_at_once() {
    let only = format!("discover_unknown: false\ncameras:\n  - mac: {DRIVEWAY}\n");
    let mut h = Harness::connected(config(&only));
    assert_eq!(
        acks(&acked(&mut h, "4GSolarCam/Status", "not json", 1)),
        [1]
    );
    assert_eq!(
        acks(&acked(&mut h, "4GSolarCam/Alarm", Bytes::new(), 2)),
        [2]
    );
    // A camera the file does not list, with discovery off.
    let stranger = alarm("0A0B0C0D0E0F");
    assert_eq!(acks(&acked(&mut h, "4GSolarCam/Alarm", stranger, 3)), [3]);
    assert_eq!(acks(&acked(&mut h, "somewhere/else", "x", 4)), [4]);
}

#[test]
fn an_alarm_held_while_home_assistant_subscribes_holds_its_acknowledgement_and_the_ones_after() {
    let mut h = Harness::just_connected(two_cameras());
    assert!(acks(&acked(&mut h, "4GSolarCam/Alarm", alarm(BARN), 1)).is_empty());
    // A status from another camera: its states go out at once, its acknowledgement waits for
    // the event held before it (a kill now must bring both messages back).
    let status = acked(
        &mut h,
        "4GSolarCam/Status",
        r#"{"mac":"5CC5638AE24C","battery":80}"#,
        2,
    );
    position(&status, "solarcam/5CC5638AE24C/battery");
    assert!(acks(&status).is_empty(), "{status:#?}");
    assert!(acks(&after(&mut h, EVENT_SETTLE - Duration::from_millis(1))).is_empty());
    let released = after(&mut h, Duration::from_millis(1));
    assert_eq!(acks(&released), [1, 2]);
    let event = position(&released, "solarcam/5CC5638AE24D/alarm/event");
    let feed = position(&released, "solarcam/alarms");
    assert!(event < feed && feed < position_of_ack(&released, 1));
    // With nothing held, the next one goes at once again.
    assert_eq!(
        acks(&acked(&mut h, "4GSolarCam/Alarm", alarm(BARN), 3)),
        [3]
    );
}

#[test]
fn held_acknowledgements_go_out_at_a_stop_after_their_events_and_before_offline() {
    let mut h = Harness::just_connected(two_cameras());
    assert!(acks(&acked(&mut h, "4GSolarCam/Alarm", alarm(DRIVEWAY), 9)).is_empty());
    let actions = h.event(Event::Shutdown);
    let event = position(&actions, "solarcam/5CC5638AE24C/alarm/event");
    let acked_at = position_of_ack(&actions, 9);
    let offline = position(&actions, "solarcam/bridge/availability");
    assert!(event < acked_at && acked_at < offline, "{actions:#?}");
}

/// Hostile: a broker that does not wait for acknowledgements cannot make the bridge keep more
/// than [`MAX_HELD_ACKS`] of them; past it they go at once, and each goes exactly once.
#[test]
fn a_flood_of_messages_while_an_event_is_held_keeps_a_bounded_number_of_acknowledgements() {
    let mut h = Harness::just_connected(two_cameras());
    let total = u16::try_from(MAX_HELD_ACKS + 100).unwrap();
    let mut at_once = Vec::new();
    for id in 0..total {
        at_once.extend(acks(&acked(&mut h, "4GSolarCam/Alarm", alarm(BARN), id)));
    }
    let held = u16::try_from(MAX_HELD_ACKS).unwrap();
    assert_eq!(at_once, (held..total).collect::<Vec<_>>());
    assert_eq!(
        acks(&after(&mut h, EVENT_SETTLE)),
        (0..held).collect::<Vec<_>>()
    );
}

proptest! {
    /// Whatever arrives on whatever topic, held or not, every message is acknowledged exactly
    /// once and in order, by the time the held events have gone out.
    #[test]
    fn every_message_is_acknowledged_exactly_once_in_order(
        messages in proptest::collection::vec(
            (
                prop_oneof![
                    Just("4GSolarCam/Alarm"),
                    Just("4GSolarCam/Status"),
                    Just("4GSolarCam/Snapshot"),
                    Just("4GSolarCam/Config"),
                    Just("homeassistant/status"),
                    Just("other/topic"),
                ],
                prop_oneof![
                    proptest::collection::vec(any::<u8>(), 0..64),
                    Just(alarm(DRIVEWAY).into_bytes()),
                    Just(alarm(BARN).into_bytes()),
                ],
                0u64..2_000,
            ),
            0..60,
        ),
        settled in any::<bool>(),
    ) {
        let mut h = if settled {
            Harness::connected(two_cameras())
        } else {
            Harness::just_connected(two_cameras())
        };
        let mut seen = Vec::new();
        for (id, (topic, payload, wait_ms)) in messages.iter().enumerate() {
            seen.extend(acks(&after(&mut h, Duration::from_millis(*wait_ms))));
            let id = u16::try_from(id).unwrap();
            seen.extend(acks(&acked(&mut h, topic, payload.clone(), id)));
        }
        seen.extend(acks(&after(&mut h, EVENT_SETTLE + REANNOUNCE_EVERY)));
        seen.extend(acks(&after(&mut h, EVENT_SETTLE)));
        let all: Vec<u16> = (0..u16::try_from(messages.len()).unwrap()).collect();
        prop_assert_eq!(seen, all);
    }
}

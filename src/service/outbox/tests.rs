use super::*;
use crate::bridge::{Link, Qos};
use bytes::Bytes;

fn state(topic: &str, payload: &str) -> Outgoing {
    Outgoing::Publish(Publish {
        link: Link::Ha,
        topic: topic.into(),
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        qos: Qos::AtLeastOnce,
        retain: true,
    })
}

fn command(topic: &str) -> Outgoing {
    Outgoing::Publish(Publish {
        link: Link::Camera,
        topic: topic.into(),
        payload: Bytes::from_static(b"reboot"),
        qos: Qos::AtLeastOnce,
        retain: false,
    })
}

fn ack(packet_id: u16) -> Outgoing {
    Outgoing::Ack {
        packet_id,
        after: None,
    }
}

fn drain(o: &mut Outbox) -> Vec<Outgoing> {
    std::iter::from_fn(|| o.pop(Instant::now())).collect()
}

#[test]
fn while_connected_every_state_goes_out_in_order() {
    let mut o = Outbox::new(DEFAULT_LIMIT);
    o.set_connected(true, Instant::now());
    o.push(state("a/battery", "50"));
    o.push(state("a/battery", "49"));
    assert_eq!(o.take_dropped(), 0);
    assert_eq!(
        drain(&mut o),
        vec![state("a/battery", "50"), state("a/battery", "49")]
    );
}

#[test]
fn while_away_an_older_state_of_the_same_topic_is_replaced_by_the_newer_one() {
    let mut o = Outbox::new(DEFAULT_LIMIT);
    o.push(state("a/snapshot", "old"));
    o.push(state("a/battery", "50"));
    o.push(command("cam/Config/A"));
    o.push(state("a/snapshot", "new"));
    assert_eq!(o.take_dropped(), 1);
    assert_eq!(
        drain(&mut o),
        vec![
            state("a/battery", "50"),
            command("cam/Config/A"),
            state("a/snapshot", "new")
        ]
    );
    assert_eq!(o.bytes(), 0);
}

#[test]
fn acknowledgements_keep_their_place_behind_what_their_messages_caused() {
    for connected in [true, false] {
        let mut o = Outbox::new(DEFAULT_LIMIT);
        o.set_connected(connected, Instant::now());
        o.push(state("a/status", "{}"));
        o.push(ack(7));
        o.push(state("a/battery", "50"));
        o.push(ack(8));
        o.push(Outgoing::Disconnect);
        assert_eq!(o.take_dropped(), 0);
        assert_eq!(
            drain(&mut o),
            vec![
                state("a/status", "{}"),
                ack(7),
                state("a/battery", "50"),
                ack(8),
                Outgoing::Disconnect
            ]
        );
        assert_eq!(o.bytes(), 0);
    }
}

#[test]
fn over_budget_acknowledgements_are_kept_and_keep_their_place() {
    // An acknowledgement counts 64 bytes, each state 12: the second state is over budget
    // and the first goes.
    let mut o = Outbox::new(64 + 12 + 64);
    o.push(state("s1", "0123456789"));
    o.push(ack(1));
    o.push(state("s2", "0123456789"));
    o.push(ack(2));
    assert_eq!(o.take_dropped(), 1);
    assert_eq!(
        drain(&mut o),
        vec![ack(1), state("s2", "0123456789"), ack(2)]
    );
}

#[test]
fn acknowledgements_count_in_the_budget_that_holds_camera_messages_back() {
    let mut o = Outbox::new(DEFAULT_LIMIT);
    for id in 0..1000 {
        o.push(ack(id));
    }
    assert_eq!(o.bytes(), 1000 * ACK_SIZE);
}

fn tracked() -> Outbox {
    let mut o = Outbox::new(DEFAULT_LIMIT);
    o.track_writes();
    o
}

/// A tracked outbox, connected at `start`, with one event queued, and the mark just after it.
fn connected_with_an_event_queued(start: Instant) -> (Outbox, u64) {
    let mut o = tracked();
    o.set_connected(true, start);
    o.push(state("a/event", "{}"));
    let mark = o.queued_until();
    (o, mark)
}

#[test]
fn what_was_queued_before_a_mark_is_out_once_written_or_dropped() {
    let mut o = tracked();
    o.set_connected(true, Instant::now());
    assert!(o.out_before(o.queued_until()), "nothing queued");
    o.push(state("a/alarm", "ON"));
    o.push(state("a/event", "{}"));
    let mark = o.queued_until();
    o.push(state("a/battery", "50"));
    assert!(!o.out_before(mark));
    // Handed to the client is not out: written is.
    assert_eq!(o.pop(Instant::now()), Some(state("a/alarm", "ON")));
    assert_eq!(o.pop(Instant::now()), Some(state("a/event", "{}")));
    assert!(!o.out_before(mark));
    o.written();
    assert!(!o.out_before(mark));
    o.written();
    assert!(
        o.out_before(mark),
        "what came after the mark does not count"
    );
    assert!(!o.out_before(o.queued_until()));

    // Dropped while the broker is away: out too (nothing will write it).
    let mut o = tracked();
    o.push(state("a/snapshot", "old"));
    let mark = o.queued_until();
    o.push(state("a/snapshot", "new"));
    assert!(o.out_before(mark));
    assert!(!o.out_before(o.queued_until()));

    // A lost connection takes what the client held: it is not waited for.
    let mut o = tracked();
    o.push(state("a/alarm", "ON"));
    let mark = o.queued_until();
    o.pop(Instant::now());
    assert!(!o.out_before(mark));
    o.lost();
    assert!(o.out_before(mark));
}

#[test]
fn a_publish_handed_but_never_seen_written_holds_acknowledgements_10_s_at_most() {
    let start = Instant::now();
    let (mut o, mark) = connected_with_an_event_queued(start);
    o.pop(start);
    assert_eq!(o.acks_wait_until(), Some(start + Duration::from_secs(10)));
    assert!(!o.ack_may_go(mark, start + Duration::from_millis(9_999)));
    assert!(o.ack_may_go(mark, start + Duration::from_secs(10)));
    // Never seen written, it does not pile up: the next one handed forgets it.
    o.push(state("a/event", "{}"));
    o.pop(start + Duration::from_secs(10));
    assert_eq!(o.unwritten.len(), 1);
    // Not yet handed (the broker is slow to take it): that waits as long as it takes.
    let (o, mark) = connected_with_an_event_queued(start);
    assert_eq!(o.acks_wait_until(), None);
    assert!(!o.ack_may_go(mark, start + Duration::from_secs(3600)));
}

#[test]
fn untracked_nothing_handed_is_remembered() {
    let mut o = Outbox::new(DEFAULT_LIMIT);
    for _ in 0..1000 {
        o.push(state("a/battery", "50"));
        o.pop(Instant::now());
    }
    assert!(o.unwritten.is_empty());
}

#[test]
fn acknowledgements_wait_for_a_broker_that_is_away_60_s_at_most() {
    let start = Instant::now();
    let (mut o, mark) = connected_with_an_event_queued(start);
    assert!(
        !o.ack_may_go(mark, start + Duration::from_secs(3600)),
        "connected: it waits"
    );
    o.set_connected(false, start);
    // Away since `start`: a second failed attempt does not move that.
    o.set_connected(false, start + Duration::from_secs(30));
    assert_eq!(o.acks_wait_until(), Some(start + Duration::from_secs(60)));
    assert!(!o.ack_may_go(mark, start + Duration::from_millis(59_999)));
    assert!(o.ack_may_go(mark, start + Duration::from_secs(60)));
    // Back: the next outage counts from its own start.
    o.set_connected(true, start + Duration::from_secs(61));
    assert_eq!(o.acks_wait_until(), None);
    assert!(!o.ack_may_go(mark, start + Duration::from_secs(62)));
}
#[test]
fn commands_are_never_dropped_or_merged() {
    let mut o = Outbox::new(10);
    for _ in 0..5 {
        o.push(command("cam/Config/A"));
    }
    o.push(state("a/snapshot", "a big snapshot"));
    assert_eq!(o.take_dropped(), 0);
    assert_eq!(o.len(), 6);
}

#[test]
fn over_budget_the_oldest_states_go_first() {
    // Each state counts 12 bytes (topic and payload), the command 7.
    let mut o = Outbox::new(31);
    o.push(state("s1", "0123456789"));
    o.push(command("c"));
    o.push(state("s2", "0123456789"));
    o.push(state("s3", "0123456789"));
    assert_eq!(o.take_dropped(), 1);
    assert_eq!(
        drain(&mut o),
        vec![
            command("c"),
            state("s2", "0123456789"),
            state("s3", "0123456789")
        ]
    );
}

#[test]
fn a_message_bigger_than_the_budget_still_goes_out() {
    let mut o = Outbox::new(4);
    o.push(state("s", "much more than four bytes"));
    assert_eq!(o.len(), 1);
    assert_eq!(o.take_dropped(), 0);
    assert_eq!(
        o.pop(Instant::now()),
        Some(state("s", "much more than four bytes"))
    );
    assert_eq!(o.pop(Instant::now()), None);
    assert_eq!(o.bytes(), 0);
}

//! End-to-end figures against a real Mosquitto, printed as one table:
//!
//! - latency added by the bridge (camera publish → Home Assistant topic), p50 and p99, for a status
//!   and for a 500 KB snapshot, next to the broker's one hop to a direct subscriber and to a
//!   minimal relay written here with rumqttc (subscribe, republish unchanged): two hops, the floor
//!   for any bridge;
//! - throughput of alarms and status from 1,000 cameras, next to the broker's own rate;
//! - the bridge's memory: idle with 1, 100 and 10,000 cameras, and during a burst of 1 MB
//!   snapshots from 50 cameras;
//! - the time to publish discovery for 1,000 cameras, as Home Assistant receives it.
//!
//! `cargo bench --bench e2e` (needs mosquitto); BENCHMARKS.md records the figures.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{BridgeProcess, Mosquitto};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

const SAMPLE: &[u8] = include_bytes!("../assets/sample-snapshot.jpg");
const MAC: &str = "5CC5638AE24C";

fn client(port: u16, id: &str) -> (Client, rumqttc::Connection) {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    opts.set_max_packet_size(16 << 20, 16 << 20);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_inflight(200);
    let (client, mut connection) = Client::new(opts, 1000);
    // As the bridge does: no Nagle delay on small packets.
    connection.eventloop.network_options.set_tcp_nodelay(true);
    (client, connection)
}

/// Runs a publisher's event loop until the broker or the client is gone. Stopping at the first
/// error matters: rumqttc would otherwise retry at once, forever, and eat the CPU that later
/// sections measure.
fn drive(mut conn: rumqttc::Connection) {
    for ev in conn.iter() {
        if ev.is_err() {
            return;
        }
    }
}

/// A subscriber that sends (topic, payload, receipt time) for every message; returns once its
/// subscriptions are acknowledged.
fn listen(
    port: u16,
    id: &str,
    filters: &[&str],
) -> mpsc::Receiver<(String, bytes::Bytes, Instant)> {
    let (c, conn) = client(port, id);
    let (tx, rx) = mpsc::channel();
    // The subscriber stays connected for as long as its messages are wanted.
    let keep = c.clone();
    common::subscribe_in_thread(&c, conn, filters, move |p| {
        let _ = &keep;
        tx.send((p.topic, p.payload, Instant::now())).is_ok()
    });
    rx
}

/// The floor for any bridge: subscribe, republish the payload unchanged on another topic.
/// Lossless: a second thread publishes, so a full request queue waits instead of dropping.
fn minimal_relay(port: u16, from: &'static str, to: &'static str) {
    let (c, mut conn) = client(port, &format!("minimal-relay-{to}"));
    c.subscribe(from, QoS::AtLeastOnce).unwrap();
    let (tx, rx) = mpsc::channel::<bytes::Bytes>();
    thread::spawn(move || {
        for payload in rx {
            if c.publish(to, QoS::AtLeastOnce, true, payload.to_vec())
                .is_err()
            {
                return;
            }
        }
    });
    thread::spawn(move || {
        for ev in conn.iter() {
            match ev {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(p.payload);
                }
                Ok(_) => {}
                // The broker is gone (its section is over): a reconnect loop would eat the CPU
                // the next section measures.
                Err(_) => return,
            }
        }
    });
}

/// A valid JPEG of about `size` bytes whose first comment segment carries `seq`.
fn jpeg_with_seq(size: usize, seq: u32) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xFE, 0x00, 0x0E];
    j.extend_from_slice(format!("seq={seq:08}").as_bytes());
    let mut left = size.saturating_sub(SAMPLE.len() + 14);
    while left > 4 {
        let chunk = left.min(65535) - 2;
        j.extend_from_slice(&[0xFF, 0xFE]);
        j.extend_from_slice(&((chunk + 2) as u16).to_be_bytes());
        j.extend(std::iter::repeat_n(b'x', chunk));
        left = left.saturating_sub(chunk + 4);
    }
    j.extend_from_slice(&SAMPLE[2..]);
    j
}

fn seq_of(payload: &[u8]) -> Option<u32> {
    let at = payload.windows(4).take(256).position(|w| w == b"seq=")? + 4;
    std::str::from_utf8(payload.get(at..at + 8)?)
        .ok()?
        .parse()
        .ok()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

struct Row(String, String, String);

fn bridge_config(port: u16, cameras: usize, extra: &str) -> String {
    let mut s = format!("mqtt:\n  url: mqtt://127.0.0.1:{port}\n  client_id: bridge-bench\nlog_level: warn\n{extra}\ncameras:\n");
    s.push_str(&format!("  - mac: {MAC}\n    name: Bench\n"));
    for i in 1..cameras {
        s.push_str(&format!(
            "  - mac: \"{:012X}\"\n",
            0x0011_0000_0000u64 + i as u64
        ));
    }
    s
}

fn start_bridge(config: &str) -> BridgeProcess {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let b = BridgeProcess::start_at(dir, path, &[("RUST_LOG", "warn")]);
    thread::sleep(Duration::from_millis(300));
    b
}

/// One message at a time; each one's arrival on the three paths.
fn latency(port: u16, kind: &str, n: u32, gap: Duration, rows: &mut Vec<Row>) {
    type Payload = Box<dyn Fn(u32) -> Vec<u8>>;
    let (cam_topic, relay_topic, payload_of): (&'static str, &'static str, Payload) =
        if kind == "status" {
            (
                "4GSolarCam/Status",
                "relay/status",
                Box::new(|i| {
                    format!(r#"{{"mac":"{MAC}","battery":50,"id":"seq={i:08}"}}"#).into_bytes()
                }),
            )
        } else {
            (
                "4GSolarCam/Snapshot/5CC5638AE24C",
                "relay/snapshot",
                Box::new(|i| jpeg_with_seq(500 << 10, i)),
            )
        };
    let bridge_topic = format!("solarcam/{MAC}/{kind}");
    minimal_relay(port, cam_topic, relay_topic);
    let direct = listen(port, &format!("direct-{kind}"), &[cam_topic]);
    let relayed = listen(port, &format!("relayed-{kind}"), &[relay_topic]);
    let bridged = listen(port, &format!("bridged-{kind}"), &[&bridge_topic]);
    // Drain what subscribing delivered (retained messages from earlier runs).
    thread::sleep(Duration::from_millis(300));
    for rx in [&direct, &relayed, &bridged] {
        while rx.try_recv().is_ok() {}
    }
    let (publisher, conn) = client(port, &format!("camera-{kind}"));
    thread::spawn(move || drive(conn));
    let mut sent = HashMap::new();
    let payloads: Vec<Vec<u8>> = (0..n).map(&payload_of).collect();
    for (i, p) in payloads.into_iter().enumerate() {
        sent.insert(i as u32, Instant::now());
        publisher
            .publish(cam_topic, QoS::AtLeastOnce, false, p)
            .unwrap();
        thread::sleep(gap);
    }
    thread::sleep(Duration::from_millis(500));
    let collect = |rx: &mpsc::Receiver<(String, bytes::Bytes, Instant)>| {
        let mut d: Vec<Duration> = rx
            .try_iter()
            .filter_map(|(_, p, at)| Some(at.duration_since(*sent.get(&seq_of(&p)?)?)))
            .collect();
        d.sort();
        d
    };
    let (d, r, b) = (collect(&direct), collect(&relayed), collect(&bridged));
    let label = if kind == "status" {
        "status"
    } else {
        "500 KB snapshot"
    };
    for (path, v) in [
        ("broker, one hop", &d),
        ("minimal relay, two hops", &r),
        ("solarcam-bridge", &b),
    ] {
        rows.push(Row(
            format!("latency, {label}: {path}"),
            format!("p50 {} / p99 {}", ms(pct(v, 0.5)), ms(pct(v, 0.99))),
            format!("{} of {n} received", v.len()),
        ));
    }
    let ratio = pct(&b, 0.99).as_secs_f64() / pct(&r, 0.99).as_secs_f64().max(1e-9);
    let target = if kind == "status" { 1.25 } else { 1.5 };
    rows.push(Row(
        format!("latency, {label}: bridge p99 / relay p99"),
        format!("{ratio:.2}x"),
        format!(
            "target {target}x: {}",
            if ratio <= target { "met" } else { "MISSED" }
        ),
    ));
}

/// CPU time (user + system) a process has used so far.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let ticks = f.get(11).unwrap_or(&0) + f.get(12).unwrap_or(&0);
    // USER_HZ is 100 on every Linux this runs on.
    Duration::from_millis(ticks * 10)
}

/// Messages per second from 1,000 cameras (alarm and status alternating, each payload distinct),
/// measured two ways:
///
/// - *separately*: the broker to a direct subscriber, then through the minimal relay, then
///   through the bridge, one after the other; each has the whole machine. This is the capacity
///   lost by adding any second hop on a machine whose cores the broker shares.
/// - *in the same run*: one flood, watched at once by a direct subscriber, through the relay and
///   through the bridge; each rate is the messages it delivered over the time from the first
///   publish to its last delivery. This is whether the bridge keeps pace with what the broker
///   delivers.
///
/// With the CPU time each process spent (last separate run), since on a small board they share
/// the same cores.
fn throughput(port: u16, broker_pid: u32, bridge_pid: u32, rows: &mut Vec<Row>) {
    const CAMERAS: u64 = 1000;
    const MESSAGES: usize = 20_000;
    // Figures are medians of this many runs: a shared machine's rates vary by a quarter.
    const REPEATS: usize = 3;
    let macs: Vec<String> = (0..CAMERAS)
        .map(|i| format!("{:012X}", 0x0011_0000_0000u64 + i))
        .collect();
    let me = std::process::id();
    let kind = |i: usize| if i % 2 == 0 { "Alarm" } else { "Status" };
    let bridged_topic = |t: &str| t.ends_with("/status") || t.ends_with("/alarm/attributes");
    type Rx = mpsc::Receiver<(String, bytes::Bytes, Instant)>;
    // Publishes the flood; returns when the last one is handed to the client.
    let flood = |id: &str, topic_of: &dyn Fn(usize) -> String| {
        let (publisher, conn) = client(port, &format!("camera-flood-{id}"));
        thread::spawn(move || drive(conn));
        let start = Instant::now();
        for i in 0..MESSAGES {
            let mac = &macs[i % macs.len()];
            let payload = if i % 2 == 0 {
                format!(r#"{{"mac":"{mac}","type":"PIR","seq":{i}}}"#)
            } else {
                format!(r#"{{"mac":"{mac}","battery":{},"seq":{i}}}"#, i % 100)
            };
            publisher
                .publish(topic_of(i), QoS::AtLeastOnce, false, payload)
                .unwrap();
        }
        start
    };
    // Deliveries counted until 2 s of silence: (count, messages per second).
    let count = |rx: &Rx, start: Instant, wanted: &dyn Fn(&str) -> bool| {
        let (mut got, mut last) = (0, start);
        while let Ok((topic, _, at)) = rx.recv_timeout(Duration::from_secs(2)) {
            if wanted(&topic) {
                got += 1;
                last = at;
            }
        }
        let rate = got as f64 / last.duration_since(start).as_secs_f64().max(1e-9);
        (got, rate)
    };
    let cpus = || [cpu(broker_pid), cpu(bridge_pid), cpu(me)];
    let cpu_note = |before: [Duration; 3], after: [Duration; 3]| {
        let per_k = |i: usize| (after[i] - before[i]).as_secs_f64() * 1e6 / MESSAGES as f64;
        format!(
            "CPU per 1,000: broker {:.0} ms, bridge {:.0} ms, bench clients {:.0} ms",
            per_k(0),
            per_k(1),
            per_k(2)
        )
    };

    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let drain = |rx: &Rx| {
        thread::sleep(Duration::from_millis(300));
        while rx.try_recv().is_ok() {}
    };

    // Separately, each path with the machine to itself.
    minimal_relay(port, "bench/relay-in/+", "bench/relay-out");
    type TopicOf = Box<dyn Fn(usize) -> String>;
    let paths: [(&str, TopicOf, &[&str]); 3] = [
        (
            "direct",
            Box::new(move |i| format!("bench/direct/{}", kind(i))),
            &["bench/direct/#"],
        ),
        (
            "relayed",
            Box::new(move |i| format!("bench/relay-in/{}", kind(i))),
            &["bench/relay-out"],
        ),
        (
            "bridged",
            Box::new(move |i| format!("4GSolarCam/{}", kind(i))),
            &["solarcam/+/status", "solarcam/+/alarm/attributes"],
        ),
    ];
    let listeners: Vec<Rx> = paths
        .iter()
        .map(|(id, _, filters)| listen(port, &format!("count-{id}"), filters))
        .collect();
    let mut separate: Vec<(Vec<f64>, String)> = vec![(Vec::new(), String::new()); 3];
    for rep in 0..REPEATS {
        for (p, ((id, topic_of, _), rx)) in paths.iter().zip(&listeners).enumerate() {
            drain(rx);
            let before = cpus();
            let start = flood(&format!("{id}-{rep}"), topic_of.as_ref());
            let (got, rate) = count(rx, start, &|t| *id != "bridged" || bridged_topic(t));
            assert_eq!(got, MESSAGES, "{id}: {got} of {MESSAGES} delivered");
            separate[p].0.push(rate);
            if rep == REPEATS - 1 {
                separate[p].1 = cpu_note(before, cpus());
            }
        }
    }

    // In the same run: one flood, three paths watching it.
    minimal_relay(port, "4GSolarCam/+", "bench/relay-same-run");
    type Wanted<'a> = &'a dyn Fn(&str) -> bool;
    let same_rx: [(Rx, Wanted); 3] = [
        (listen(port, "same-direct", &["4GSolarCam/+"]), &|_| true),
        (
            listen(port, "same-relayed", &["bench/relay-same-run"]),
            &|_| true,
        ),
        (
            listen(
                port,
                "same-bridged",
                &["solarcam/+/status", "solarcam/+/alarm/attributes"],
            ),
            &bridged_topic,
        ),
    ];
    let mut same: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for rep in 0..REPEATS {
        for (rx, _) in &same_rx {
            drain(rx);
        }
        let start = flood(&format!("same-run-{rep}"), &|i| {
            format!("4GSolarCam/{}", kind(i))
        });
        for (p, (rx, wanted)) in same_rx.iter().enumerate() {
            let (got, rate) = count(rx, start, *wanted);
            assert_eq!(
                got, MESSAGES,
                "same run, path {p}: {got} of {MESSAGES} delivered"
            );
            same[p].push(rate);
        }
    }

    let labels = [
        "broker to a direct subscriber",
        "minimal relay",
        "solarcam-bridge",
    ];
    let share = |a: f64, b: f64| a / b.max(1e-9) * 100.0;
    let verdict = |pct: f64| format!("target 80%: {}", if pct >= 80.0 { "met" } else { "MISSED" });
    for (title, rates, notes) in [
        (
            "separately",
            separate
                .iter()
                .map(|(r, _)| median(r.clone()))
                .collect::<Vec<_>>(),
            separate.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>(),
        ),
        (
            "same run",
            same.iter().map(|r| median(r.clone())).collect(),
            vec![String::new(); 3],
        ),
    ] {
        for ((label, rate), note) in labels.iter().zip(&rates).zip(notes) {
            rows.push(Row(
                format!("throughput, {title}: {label}"),
                format!("{rate:.0} msg/s"),
                note,
            ));
        }
        let bridge = share(rates[2], rates[0]);
        rows.push(Row(
            format!("throughput, {title}: bridge / broker"),
            format!("{bridge:.0}%"),
            verdict(bridge),
        ));
        rows.push(Row(
            format!("throughput, {title}: relay / broker"),
            format!("{:.0}%", share(rates[1], rates[0])),
            "the ceiling for any bridge that republishes each message".into(),
        ));
        rows.push(Row(
            format!("throughput, {title}: bridge / relay"),
            format!("{:.0}%", share(rates[2], rates[1])),
            String::new(),
        ));
    }
}

fn rss_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn mb(kb: u64) -> String {
    format!("{:.1} MB", kb as f64 / 1024.0)
}

/// Waits until `n` discovery configs have arrived (or 60 s), returning how long that took.
fn await_configs(
    rx: &mpsc::Receiver<(String, bytes::Bytes, Instant)>,
    n: usize,
    from: Instant,
) -> (usize, Duration) {
    let mut got = 0;
    let mut last = from;
    while got < n {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok((t, p, at)) if t.ends_with("/config") && !p.is_empty() => {
                got += 1;
                last = at;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    (got, last.duration_since(from))
}

fn memory_and_discovery(rows: &mut Vec<Row>) {
    for cameras in [1usize, 100, 1000, 10_000] {
        let broker = Mosquitto::for_benchmarks();
        let rx = listen(broker.port, "ha-discovery", &["homeassistant/#"]);
        let start = Instant::now();
        let bridge = start_bridge(&bridge_config(broker.port, cameras, ""));
        let expected = cameras * 12 + 8;
        let (got, took) = await_configs(&rx, expected, start);
        thread::sleep(Duration::from_millis(500));
        let pid = bridge.child.id();
        let (rss, peak) = (rss_kb(pid, "VmRSS:"), rss_kb(pid, "VmHWM:"));
        if cameras == 1000 {
            rows.push(Row(
                "discovery for 1000 cameras, as received".into(),
                format!("{:.0} ms", took.as_secs_f64() * 1000.0),
                format!("{got} of {expected} configs, from process start"),
            ));
        }
        let target = match cameras {
            100 => "target < 10 MB",
            10_000 => "target < 40 MB",
            _ => "",
        };
        rows.push(Row(
            format!("memory, idle, {cameras} cameras"),
            format!("RSS {} (peak {})", mb(rss), mb(peak)),
            target.into(),
        ));
    }

    // 50 cameras send a 1 MB snapshot each, at once.
    let broker = Mosquitto::for_benchmarks();
    let bridge = start_bridge(&bridge_config(
        broker.port,
        50,
        "snapshot_max_bytes: 2000000",
    ));
    let rx = listen(broker.port, "ha-snapshots", &["solarcam/+/snapshot"]);
    thread::sleep(Duration::from_millis(500));
    while rx.try_recv().is_ok() {}
    let pid = bridge.child.id();
    let before = rss_kb(pid, "VmRSS:");
    let (publisher, conn) = client(broker.port, "burst");
    thread::spawn(move || drive(conn));
    for i in 0..50u64 {
        let mac = if i == 0 {
            MAC.to_string()
        } else {
            format!("{:012X}", 0x0011_0000_0000u64 + i)
        };
        publisher
            .publish(
                format!("4GSolarCam/Snapshot/{mac}"),
                QoS::AtLeastOnce,
                false,
                jpeg_with_seq(1 << 20, i as u32),
            )
            .unwrap();
    }
    let mut got = 0;
    while got < 50 && rx.recv_timeout(Duration::from_secs(20)).is_ok() {
        got += 1;
    }
    let peak = rss_kb(pid, "VmHWM:");
    thread::sleep(Duration::from_millis(500));
    let after = rss_kb(pid, "VmRSS:");
    rows.push(Row(
        "memory, burst of 50 x 1 MB snapshots".into(),
        format!(
            "RSS {} before, peak {}, {} after",
            mb(before),
            mb(peak),
            mb(after)
        ),
        format!(
            "{got} of 50 forwarded; peak - before = {} (50 MB in flight at most)",
            mb(peak.saturating_sub(before))
        ),
    ));
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this too, so only act when asked.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // `cargo bench --bench e2e -- throughput` runs only the sections named.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |section: &str| only.is_empty() || only.iter().any(|o| o == section);
    let mut rows = Vec::new();
    if wanted("latency") {
        let broker = Mosquitto::for_benchmarks();
        let _bridge = start_bridge(&bridge_config(broker.port, 1, ""));
        thread::sleep(Duration::from_millis(500));
        latency(
            broker.port,
            "status",
            400,
            Duration::from_millis(10),
            &mut rows,
        );
        latency(
            broker.port,
            "snapshot",
            100,
            Duration::from_millis(40),
            &mut rows,
        );
    }
    if wanted("throughput") {
        let broker = Mosquitto::for_benchmarks();
        let bridge = start_bridge(&bridge_config(broker.port, 1000, ""));
        thread::sleep(Duration::from_secs(2));
        throughput(broker.port, broker.pid(), bridge.child.id(), &mut rows);
    }
    if wanted("memory") {
        memory_and_discovery(&mut rows);
    }

    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w2 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    println!("\n{:w$}  {:w2$}  notes", "measure", "figure");
    println!("{}", "-".repeat(w + w2 + 40));
    for Row(a, b, c) in &rows {
        println!("{a:w$}  {b:w2$}  {c}");
    }
}

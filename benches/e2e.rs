//! End-to-end figures against a real Mosquitto, printed as one table:
//!
//! - latency added by the bridge (camera publish → Home Assistant topic), p50 and p99, for a status
//!   and for a 500 KB snapshot, next to the broker's one hop to a direct subscriber and to a
//!   minimal relay written here with rumqttc (subscribe, republish unchanged): two hops, the floor
//!   for any bridge;
//! - throughput of alarms and status from 1,000 cameras, next to the broker's own rate;
//! - the bridge's memory: idle with 1, 100 and 10,000 cameras, and during a burst of 1 MB
//!   snapshots from 50 cameras;
//! - the time to publish discovery for 1,000 cameras, as Home Assistant receives it;
//! - the embedded broker carrying a camera's 3.1.1 messages to an MQTT 5 subscriber (Home
//!   Assistant from 2026.6) beside a 3.1.1 one, in the same run: latency and throughput of each,
//!   and the bridge's memory with 100 cameras and both connected (`-- crossing`).
//!
//! `cargo bench --bench e2e` (needs mosquitto); BENCHMARKS.md records the figures.
//! `cargo bench --bench e2e -- --quick` (run by scripts/test): latency and throughput on the
//! stock broker only, a tenth of the messages, one run each: the ratios printed, and an exit
//! status of 1 if the bridge lost any message (no timed assertion).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{BridgeProcess, Mosquitto};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

use solarcam_bridge::bridge::EVENT_SETTLE;
use solarcam_bridge::test_support::SAMPLE_JPEG as SAMPLE;
const MAC: &str = "5CC5638AE24C";

/// `--quick`: fewer messages and runs (see the module's comment).
static QUICK: AtomicBool = AtomicBool::new(false);
/// Messages the bridge did not pass on, by measurement: any makes the run fail.
static LOST: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn quick() -> bool {
    QUICK.load(Ordering::Relaxed)
}

/// `n`, or a tenth of it in a quick run.
fn scaled(n: usize) -> usize {
    if quick() {
        (n / 10).max(1)
    } else {
        n
    }
}

/// How many times each measurement is repeated (its median reported): once in a quick run.
fn repeats() -> usize {
    if quick() {
        1
    } else {
        3
    }
}

fn note_loss(what: String, got: usize, sent: usize) {
    if got < sent {
        LOST.lock()
            .unwrap()
            .push(format!("{what}: {got} of {sent} passed on"));
    }
}

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
///
/// It republishes with QoS 0, as the bridge publishes to Home Assistant. With QoS 1 it stalls as
/// the bridge did: on a stock Mosquitto (Nagle on) each PUBACK the broker sends holds the next
/// message until the relay's delayed ACK, 22 ms p50 and 44 ms p99 (BENCHMARKS.md).
fn minimal_relay(port: u16, from: &'static str, to: &'static str) {
    let (c, mut conn) = client(port, &format!("minimal-relay-{to}"));
    c.subscribe(from, QoS::AtLeastOnce).unwrap();
    let (tx, rx) = mpsc::channel::<bytes::Bytes>();
    thread::spawn(move || {
        for payload in rx {
            if c.publish(to, QoS::AtMostOnce, true, payload.to_vec())
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

/// The two brokers every latency and throughput figure is measured on. Stock is the headline:
/// it is what Debian's package and the Home Assistant add-on run (Nagle's algorithm on, 20
/// messages in flight and 1,000 queued per client). Tuned turns Nagle off and lifts the caps.
#[derive(Clone, Copy, PartialEq)]
enum Broker {
    Stock,
    Tuned,
}

impl Broker {
    fn start(self) -> Mosquitto {
        match self {
            Broker::Stock => Mosquitto::start(),
            Broker::Tuned => Mosquitto::for_benchmarks(),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Broker::Stock => "stock Mosquitto",
            Broker::Tuned => "tuned Mosquitto",
        }
    }
}

/// One kind of camera message timed end to end.
struct Probe {
    label: &'static str,
    /// The camera's topic, the relay's output topic and the bridge's Home Assistant topic.
    cam_topic: &'static str,
    relay_topic: &'static str,
    bridge_topic: &'static str,
    /// The QoS the camera publishes with.
    qos: QoS,
    count: u32,
    gap: Duration,
    payload: fn(u32) -> Vec<u8>,
    /// Bridge p99 at most this many times the relay's, and (where given) the broker's one hop.
    max_vs_relay: f64,
    max_vs_hop: Option<f64>,
}

const PROBES: [Probe; 4] = [
    Probe {
        label: "status (QoS 1)",
        cam_topic: "4GSolarCam/Status",
        relay_topic: "relay/status",
        bridge_topic: "solarcam/5CC5638AE24C/status",
        qos: QoS::AtLeastOnce,
        count: 400,
        gap: Duration::from_millis(10),
        payload: |i| format!(r#"{{"mac":"{MAC}","battery":50,"id":"seq={i:08}"}}"#).into_bytes(),
        max_vs_relay: 1.25,
        max_vs_hop: Some(2.0),
    },
    Probe {
        label: "status (QoS 0)",
        cam_topic: "4GSolarCam/Status",
        relay_topic: "relay/status",
        bridge_topic: "solarcam/5CC5638AE24C/status",
        qos: QoS::AtMostOnce,
        count: 400,
        gap: Duration::from_millis(10),
        payload: |i| format!(r#"{{"mac":"{MAC}","battery":50,"id":"seq={i:08}"}}"#).into_bytes(),
        max_vs_relay: 1.25,
        max_vs_hop: Some(2.0),
    },
    // As the issue that found the Nagle stall measured it: a JSON line naming the camera, then
    // the JPEG, on the shared topic, QoS 0.
    Probe {
        label: "2 KB snapshot (QoS 0)",
        cam_topic: "4GSolarCam/Snapshot",
        relay_topic: "relay/snapshot-2k",
        bridge_topic: "solarcam/5CC5638AE24C/snapshot",
        qos: QoS::AtMostOnce,
        count: 300,
        gap: Duration::from_millis(20),
        payload: |i| {
            let mut p = format!("{{\"mac\":\"{MAC}\"}}\n").into_bytes();
            p.extend(jpeg_with_seq(2 << 10, i));
            p
        },
        max_vs_relay: 1.25,
        max_vs_hop: Some(2.0),
    },
    Probe {
        label: "500 KB snapshot (QoS 1)",
        cam_topic: "4GSolarCam/Snapshot/5CC5638AE24C",
        relay_topic: "relay/snapshot",
        bridge_topic: "solarcam/5CC5638AE24C/snapshot",
        qos: QoS::AtLeastOnce,
        count: 100,
        gap: Duration::from_millis(40),
        payload: |i| jpeg_with_seq(500 << 10, i),
        max_vs_relay: 1.5,
        max_vs_hop: None,
    },
];

/// Sorted delays of one run on the three paths: broker one hop, minimal relay, bridge.
type Delays = [Vec<Duration>; 3];

/// One message at a time; each one's arrival on the three paths, in the same run.
fn latency_run(port: u16, probe: &Probe, run: &str) -> Delays {
    minimal_relay(port, probe.cam_topic, probe.relay_topic);
    let direct = listen(port, &format!("direct-{run}"), &[probe.cam_topic]);
    let relayed = listen(port, &format!("relayed-{run}"), &[probe.relay_topic]);
    let bridged = listen(port, &format!("bridged-{run}"), &[probe.bridge_topic]);
    // Drain what subscribing delivered (retained messages from earlier runs).
    thread::sleep(Duration::from_millis(300));
    for rx in [&direct, &relayed, &bridged] {
        while rx.try_recv().is_ok() {}
    }
    let (publisher, conn) = client(port, &format!("camera-{run}"));
    thread::spawn(move || drive(conn));
    let payloads: Vec<Vec<u8>> = (0..scaled(probe.count as usize) as u32)
        .map(probe.payload)
        .collect();
    let mut sent = HashMap::new();
    for (i, p) in payloads.into_iter().enumerate() {
        sent.insert(i as u32, Instant::now());
        publisher
            .publish(probe.cam_topic, probe.qos, false, p)
            .unwrap();
        thread::sleep(probe.gap);
    }
    thread::sleep(Duration::from_millis(500));
    let _ = publisher.disconnect();
    let collect = |rx: &mpsc::Receiver<(String, bytes::Bytes, Instant)>| {
        let mut d: Vec<Duration> = rx
            .try_iter()
            .filter_map(|(_, p, at)| Some(at.duration_since(*sent.get(&seq_of(&p)?)?)))
            .collect();
        d.sort();
        d
    };
    [collect(&direct), collect(&relayed), collect(&bridged)]
}

/// Each probe, `repeats()` times on a fresh broker and bridge; the rows give the median of the
/// runs' p50 and p99 for each path, and the bridge's p99 against the relay's and the one hop's.
fn latency(broker: Broker, rows: &mut Vec<Row>) {
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    for (n, probe) in PROBES.iter().enumerate() {
        let runs: Vec<Delays> = (0..repeats())
            .map(|rep| {
                let mosquitto = broker.start();
                let _bridge = start_bridge(&bridge_config(mosquitto.port, 1, ""));
                thread::sleep(Duration::from_millis(500));
                latency_run(mosquitto.port, probe, &format!("{n}-{rep}"))
            })
            .collect();
        let at = |path: usize, p: f64| median(runs.iter().map(|r| pct(&r[path], p)).collect());
        let title = format!("latency, {}, {}", broker.label(), probe.label);
        for (path, name) in [
            "broker, one hop",
            "minimal relay, two hops",
            "solarcam-bridge",
        ]
        .into_iter()
        .enumerate()
        {
            let received: Vec<String> = runs.iter().map(|r| r[path].len().to_string()).collect();
            rows.push(Row(
                format!("{title}: {name}"),
                format!("p50 {} / p99 {}", ms(at(path, 0.5)), ms(at(path, 0.99))),
                format!(
                    "{} of {} received",
                    received.join(", "),
                    scaled(probe.count as usize)
                ),
            ));
        }
        for r in &runs {
            note_loss(
                format!("latency, {}, {}", broker.label(), probe.label),
                r[2].len(),
                scaled(probe.count as usize),
            );
        }
        let bridge = at(2, 0.99).as_secs_f64();
        let verdict = |ratio: f64, target: f64| {
            format!(
                "target {target}x: {}",
                if ratio <= target { "met" } else { "MISSED" }
            )
        };
        let vs_relay = bridge / at(1, 0.99).as_secs_f64().max(1e-9);
        rows.push(Row(
            format!("{title}: bridge p99 / relay p99"),
            format!("{vs_relay:.2}x"),
            verdict(vs_relay, probe.max_vs_relay),
        ));
        let vs_hop = bridge / at(0, 0.99).as_secs_f64().max(1e-9);
        rows.push(Row(
            format!("{title}: bridge p99 / one hop p99"),
            format!("{vs_hop:.2}x"),
            probe
                .max_vs_hop
                .map(|t| verdict(vs_hop, t))
                .unwrap_or_default(),
        ));
    }
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

/// Deliveries on one path, counted as they arrive by a thread of its own.
struct Tally {
    got: AtomicUsize,
    last: Mutex<Instant>,
}

impl Tally {
    fn start(
        rx: mpsc::Receiver<(String, bytes::Bytes, Instant)>,
        wanted: fn(&str) -> bool,
    ) -> Arc<Tally> {
        let tally = Arc::new(Tally {
            got: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        });
        let t = tally.clone();
        thread::spawn(move || {
            for (topic, _, at) in rx {
                if wanted(&topic) {
                    *t.last.lock().unwrap() = at;
                    t.got.fetch_add(1, Ordering::Release);
                }
            }
        });
        tally
    }

    fn got(&self) -> usize {
        self.got.load(Ordering::Acquire)
    }

    fn last(&self) -> Instant {
        *self.last.lock().unwrap()
    }
}

/// Messages per second from 1,000 cameras (alarm and status alternating, each payload distinct,
/// QoS 1), with at most `WINDOW` messages published but not yet delivered on the paths measured:
/// the rate a path sustains without loss. A stock Mosquitto queues 1,000 messages per client and
/// drops the rest, so an unpaced flood would measure its drops, not the path.
///
/// Measured two ways:
///
/// - *separately*: the broker to a direct subscriber, then through the minimal relay, then
///   through the bridge, one after the other; each has the whole machine. This is the capacity
///   lost by adding any second hop on a machine whose cores the broker shares.
/// - *in the same run*: one flood, watched at once by a direct subscriber, through the relay and
///   through the bridge, paced by the slowest; each rate is the messages it delivered over the
///   time from the first publish to its last delivery. This is whether the bridge keeps pace with
///   the relay.
///
/// With the CPU time each process spent (last separate run), since on a small board they share
/// the same cores.
fn throughput(broker: Broker, mosquitto: &Mosquitto, bridge_pid: u32, rows: &mut Vec<Row>) {
    let flood = Flood {
        port: mosquitto.port,
        messages: scaled(20_000),
        macs: (0..1000u64)
            .map(|i| format!("{:012X}", 0x0011_0000_0000u64 + i))
            .collect(),
    };
    wait_until_bridge_reads(flood.port, MAC);
    after_start(&flood, broker, rows);
    let pids = [mosquitto.pid(), bridge_pid, std::process::id()];
    let separately = throughput_separately(&flood, pids);
    let same_run = throughput_same_run(&flood);
    let broker = broker.label();
    for (title, run) in [("separately", separately), ("same run", same_run)] {
        report_throughput(
            rows,
            &format!("throughput, {broker}, {title}"),
            flood.messages,
            &run,
        );
    }
}

/// Returns once the bridge reads camera messages: a status of one camera (not one of the flood's),
/// sent again until its state comes back. A flood sent before the bridge subscribed would be lost to it.
fn wait_until_bridge_reads(port: u16, mac: &str) {
    let states = listen(port, "bridge-reads", &[&format!("solarcam/{mac}/status")]);
    let (probe, conn) = client(port, "bridge-reads-probe");
    thread::spawn(move || drive(conn));
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let status = format!(r#"{{"mac":"{mac}","battery":50}}"#);
        probe
            .publish("4GSolarCam/Status", QoS::AtLeastOnce, false, status)
            .unwrap();
        if states.recv_timeout(Duration::from_millis(200)).is_ok() {
            let _ = probe.disconnect();
            return;
        }
    }
    panic!("the bridge read no camera message within 30 s of its start");
}

/// A flood through the bridge 2 s after its start, on a row of its own. Starting, the bridge
/// announces every camera and holds alarm events for [`EVENT_SETTLE`] while Home Assistant
/// subscribes; the acknowledgements of the messages behind a held event wait with it (in order,
/// as MQTT wants, so that a kill cannot lose the event), and the broker, its window of
/// unacknowledged messages full, pauses the flow until they go. The same follows Home
/// Assistant's birth message. The throughput rows measure what comes after.
fn after_start(flood: &Flood, broker: Broker, rows: &mut Vec<Row>) {
    let tally = Tally::start(
        listen(flood.port, "count-after-start", BRIDGED),
        |t| bridged(t) && !t.contains(MAC), // not the probe's state, however late
    );
    let (got, rate) = flood.run(
        "after-start",
        &|i| format!("4GSolarCam/{}", kind(i)),
        &[&tally],
    )[0];
    let title = format!("throughput, {}, 2 s after the start", broker.label());
    note_loss(title.clone(), got, flood.messages);
    rows.push(Row(
        format!("{title}: solarcam-bridge"),
        format!("{rate:.0} msg/s"),
        format!(
            "delivered {got} of {}; alarm events held {} s while Home Assistant subscribes",
            flood.messages,
            EVENT_SETTLE.as_secs()
        ),
    ));
    // What was held goes out before the runs measured.
    thread::sleep(EVENT_SETTLE + Duration::from_millis(500));
}

/// One flood of camera messages at a broker, half alarms and half statuses from 1,000 cameras.
struct Flood {
    port: u16,
    messages: usize,
    macs: Vec<String>,
}

/// Each path's figures over the runs: the median rate, the fewest delivered, a note.
struct Throughput {
    rates: [f64; 3],
    fewest: [usize; 3],
    notes: [String; 3],
}

fn kind(i: usize) -> &'static str {
    if i % 2 == 0 {
        "Alarm"
    } else {
        "Status"
    }
}

fn any(_: &str) -> bool {
    true
}

/// The bridge's state topics a flood's messages come out on, and the test for them.
const BRIDGED: &[&str] = &["solarcam/+/status", "solarcam/+/alarm/attributes"];

fn bridged(t: &str) -> bool {
    t.ends_with("/status") || t.ends_with("/alarm/attributes")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

impl Flood {
    /// Publishes the flood, paced by the paths watched; then waits until each has everything or
    /// 2 s of silence. Returns each path's (delivered, messages per second).
    fn run(
        &self,
        id: &str,
        topic_of: &dyn Fn(usize) -> String,
        paths: &[&Tally],
    ) -> Vec<(usize, f64)> {
        const WINDOW: usize = 500;
        let (publisher, conn) = client(self.port, &format!("camera-flood-{id}"));
        thread::spawn(move || drive(conn));
        let base: Vec<usize> = paths.iter().map(|t| t.got()).collect();
        let delivered = |p: usize| paths[p].got() - base[p];
        let slowest = || (0..paths.len()).map(delivered).min().unwrap_or(0);
        let start = Instant::now();
        for i in 0..self.messages {
            while i >= slowest() + WINDOW {
                thread::sleep(Duration::from_micros(100));
            }
            let mac = &self.macs[i % self.macs.len()];
            let payload = if i % 2 == 0 {
                format!(r#"{{"mac":"{mac}","type":"PIR","seq":{i}}}"#)
            } else {
                format!(r#"{{"mac":"{mac}","battery":{},"seq":{i}}}"#, i % 100)
            };
            publisher
                .publish(topic_of(i), QoS::AtLeastOnce, false, payload)
                .unwrap();
        }
        let mut seen = slowest();
        let mut quiet_since = Instant::now();
        while slowest() < self.messages && quiet_since.elapsed() < Duration::from_secs(2) {
            thread::sleep(Duration::from_millis(10));
            if slowest() != seen {
                seen = slowest();
                quiet_since = Instant::now();
            }
        }
        let _ = publisher.disconnect();
        (0..paths.len())
            .map(|p| {
                let took = paths[p].last().duration_since(start).as_secs_f64();
                (delivered(p), delivered(p) as f64 / took.max(1e-9))
            })
            .collect()
    }
}

/// Each path with the machine to itself, one after the other; with the CPU time of the broker,
/// the bridge and the bench's clients (`pids`) in the last run.
fn throughput_separately(flood: &Flood, pids: [u32; 3]) -> Throughput {
    let port = flood.port;
    let cpus = || pids.map(cpu);
    let cpu_note = |before: [Duration; 3], after: [Duration; 3]| {
        let per_k = |i: usize| (after[i] - before[i]).as_secs_f64() * 1e6 / flood.messages as f64;
        format!(
            "; CPU per 1,000: broker {:.0} ms, bridge {:.0} ms, bench clients {:.0} ms",
            per_k(0),
            per_k(1),
            per_k(2)
        )
    };
    minimal_relay(port, "bench/relay-in/+", "bench/relay-out");
    type TopicOf = Box<dyn Fn(usize) -> String>;
    let paths: [(&str, TopicOf, Arc<Tally>); 3] = [
        (
            "direct",
            Box::new(move |i| format!("bench/direct/{}", kind(i))),
            Tally::start(listen(port, "count-direct", &["bench/direct/#"]), any),
        ),
        (
            "relayed",
            Box::new(move |i| format!("bench/relay-in/{}", kind(i))),
            Tally::start(listen(port, "count-relayed", &["bench/relay-out"]), any),
        ),
        (
            "bridged",
            Box::new(move |i| format!("4GSolarCam/{}", kind(i))),
            Tally::start(listen(port, "count-bridged", BRIDGED), bridged),
        ),
    ];
    // A stock broker may still drop: each path's fewest deliveries over the runs are reported.
    let mut fewest = [flood.messages; 3];
    let mut rates: [Vec<f64>; 3] = Default::default();
    let mut notes: [String; 3] = Default::default();
    for rep in 0..repeats() {
        for (p, (id, topic_of, tally)) in paths.iter().enumerate() {
            thread::sleep(Duration::from_millis(300));
            let before = cpus();
            let (got, rate) = flood.run(&format!("{id}-{rep}"), topic_of.as_ref(), &[tally])[0];
            fewest[p] = fewest[p].min(got);
            rates[p].push(rate);
            if rep == repeats() - 1 {
                notes[p] = cpu_note(before, cpus());
            }
        }
    }
    Throughput {
        rates: rates.map(median),
        fewest,
        notes,
    }
}

/// One flood, watched at once by a direct subscriber, through the relay and through the bridge.
fn throughput_same_run(flood: &Flood) -> Throughput {
    let port = flood.port;
    minimal_relay(port, "4GSolarCam/+", "bench/relay-same-run");
    let paths = [
        Tally::start(listen(port, "same-direct", &["4GSolarCam/+"]), any),
        Tally::start(listen(port, "same-relayed", &["bench/relay-same-run"]), any),
        Tally::start(listen(port, "same-bridged", BRIDGED), bridged),
    ];
    let mut fewest = [flood.messages; 3];
    let mut rates: [Vec<f64>; 3] = Default::default();
    for rep in 0..repeats() {
        thread::sleep(Duration::from_millis(300));
        let watched: Vec<&Tally> = paths.iter().map(|t| t.as_ref()).collect();
        let result = flood.run(
            &format!("same-run-{rep}"),
            &|i| format!("4GSolarCam/{}", kind(i)),
            &watched,
        );
        for (p, (got, rate)) in result.into_iter().enumerate() {
            fewest[p] = fewest[p].min(got);
            rates[p].push(rate);
        }
    }
    Throughput {
        rates: rates.map(median),
        fewest,
        notes: Default::default(),
    }
}

/// A run's rows: each path's rate, the relay against the broker, the bridge against the relay.
fn report_throughput(rows: &mut Vec<Row>, title: &str, messages: usize, run: &Throughput) {
    let labels = [
        "broker to a direct subscriber",
        "minimal relay",
        "solarcam-bridge",
    ];
    let share = |a: f64, b: f64| a / b.max(1e-9) * 100.0;
    for (p, label) in labels.iter().enumerate() {
        rows.push(Row(
            format!("{title}: {label}"),
            format!("{:.0} msg/s", run.rates[p]),
            format!(
                "fewest delivered {} of {messages}{}",
                run.fewest[p], run.notes[p]
            ),
        ));
    }
    note_loss(title.to_string(), run.fewest[2], messages);
    rows.push(Row(
        format!("{title}: relay / broker"),
        format!("{:.0}%", share(run.rates[1], run.rates[0])),
        "the ceiling for any bridge that republishes each message".into(),
    ));
    let bridge = share(run.rates[2], run.rates[1]);
    let met = if bridge >= 90.0 { "met" } else { "MISSED" };
    rows.push(Row(
        format!("{title}: bridge / relay"),
        format!("{bridge:.0}%"),
        format!("target 90%: {met}"),
    ));
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
            // Device configs only: the first start of this release also moves the per-entity
            // configs of earlier ones (a request on each old topic, then the topic emptied).
            Ok((t, p, at)) if t.contains("/device/") && t.ends_with("/config") && !p.is_empty() => {
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
        let broker = Broker::Stock.start();
        let rx = listen(broker.port, "ha-discovery", &["homeassistant/#"]);
        let start = Instant::now();
        let bridge = start_bridge(&bridge_config(broker.port, cameras, ""));
        // One device config per camera (14 entities and 6 alarm triggers), and the bridge's.
        let expected = cameras + 1;
        let (got, took) = await_configs(&rx, expected, start);
        thread::sleep(Duration::from_millis(500));
        let pid = bridge.child.id();
        let (rss, peak) = (
            common::proc_kb(pid, "VmRSS:"),
            common::proc_kb(pid, "VmHWM:"),
        );
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
    let (before, peak, after, got) = burst(50, "snapshot_max_bytes: 2000000", |i| {
        jpeg_with_seq(1 << 20, i)
    });
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

/// `cameras` cameras send one snapshot each at once (`payload(i)` for the i-th); returns the
/// bridge's RSS before, its peak, its RSS after, and how many snapshots Home Assistant got.
fn burst(cameras: u64, extra: &str, payload: impl Fn(u32) -> Vec<u8>) -> (u64, u64, u64, u64) {
    let broker = Broker::Stock.start();
    let bridge = start_bridge(&bridge_config(broker.port, cameras as usize, extra));
    let rx = listen(broker.port, "ha-snapshots", &["solarcam/+/snapshot"]);
    thread::sleep(Duration::from_millis(500));
    while rx.try_recv().is_ok() {}
    let pid = bridge.child.id();
    let before = common::proc_kb(pid, "VmRSS:");
    let (publisher, conn) = client(broker.port, "burst");
    thread::spawn(move || drive(conn));
    for i in 0..cameras {
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
                payload(i as u32),
            )
            .unwrap();
    }
    let mut got = 0;
    while got < cameras && rx.recv_timeout(Duration::from_secs(30)).is_ok() {
        got += 1;
    }
    let peak = common::proc_kb(pid, "VmHWM:");
    thread::sleep(Duration::from_millis(500));
    let after = common::proc_kb(pid, "VmRSS:");
    (before, peak, after, got)
}

/// The worst case the bridge lets a camera broker cause: a burst of the largest payloads it reads
/// at the default limits (a 1.9 MB JPEG as a spaced hex dump, 5.7 MB each), from 20 cameras at
/// once. Its peak is what the systemd unit's MemoryMax= must hold.
fn memory_worst_case(rows: &mut Vec<Row>) {
    let hex = common::hex(&jpeg_with_seq(1_899_000, 0), " ");
    let (before, peak, _, got) = burst(20, "", |_| hex.clone().into_bytes());
    rows.push(Row(
        "memory, worst case: 20 x 5.7 MB hex snapshots".into(),
        format!("RSS {} before, peak {}", mb(before), mb(peak)),
        format!("{got} of 20 forwarded; systemd MemoryMax=256M"),
    ));
}

/// SIGTERM to exit, with `offline` published and the queue flushed: the README promises 2 s.
fn stop(rows: &mut Vec<Row>) {
    let mut took: Vec<Duration> = (0..5)
        .map(|_| {
            let broker = Broker::Stock.start();
            let mut bridge = start_bridge(&bridge_config(broker.port, 100, ""));
            thread::sleep(Duration::from_millis(500));
            let asked = Instant::now();
            bridge.signal("TERM");
            bridge
                .wait_exit(Duration::from_secs(30))
                .expect("the bridge did not stop");
            asked.elapsed()
        })
        .collect();
    took.sort();
    rows.push(Row(
        "stop: SIGTERM to exit, 100 cameras".into(),
        format!("median {} / max {}", ms(took[2]), ms(took[4])),
        "5 runs; target < 2 s".into(),
    ));
}

/// One subscriber's side of the crossing: the delay of each message it got, and when the last
/// arrived.
fn crossing_subscriber(port: u16, v5: bool) -> mpsc::Receiver<(u32, Instant)> {
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let seq = |payload: &[u8]| u32::from_be_bytes(payload[..4].try_into().unwrap());
    if v5 {
        use rumqttc::v5::mqttbytes::QoS as QoS5;
        use rumqttc::v5::{Event as Event5, Incoming};
        let mut opts = rumqttc::v5::MqttOptions::new("crossing-v5", "127.0.0.1", port);
        opts.set_keep_alive(Duration::from_secs(30));
        // As the v4 clients here: no Nagle delay on small packets.
        let mut network = rumqttc::NetworkOptions::new();
        network.set_tcp_nodelay(true);
        opts.set_network_options(network);
        let (c, mut conn) = rumqttc::v5::Client::new(opts, 1000);
        c.subscribe("bench/crossing", QoS5::AtLeastOnce).unwrap();
        thread::spawn(move || {
            let _keep = c;
            for ev in conn.iter() {
                match ev {
                    Ok(Event5::Incoming(Incoming::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event5::Incoming(Incoming::Publish(p))) => {
                        if tx.send((seq(&p.payload), Instant::now())).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
    } else {
        let (c, mut conn) = client(port, "crossing-v4");
        c.subscribe("bench/crossing", QoS::AtLeastOnce).unwrap();
        thread::spawn(move || {
            let _keep = c;
            for ev in conn.iter() {
                match ev {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send((seq(&p.payload), Instant::now())).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
        });
    }
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("subscribed");
    rx
}

/// A crossing message: its sequence number, then a status-sized JSON.
fn crossing_body(seq: u32) -> Vec<u8> {
    let mut p = seq.to_be_bytes().to_vec();
    p.extend_from_slice(
        br#"{"devMac":"5CC5638AE24C","battery":87,"voltage":3.95,"csq":20,"firmware":"V1.2.3"}"#,
    );
    p
}

/// Up to `n` crossed messages (sequence number, when received), until 10 s pass without one.
fn crossing_collect(rx: &mpsc::Receiver<(u32, Instant)>, n: usize) -> Vec<(u32, Instant)> {
    let mut got = Vec::with_capacity(n);
    while got.len() < n {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(m) => got.push(m),
            Err(_) => break,
        }
    }
    got
}

/// The embedded broker, inside the bridge with 100 cameras, carrying a 3.1.1 camera's messages
/// (a status-sized JSON, QoS 1) to a 3.1.1 and an MQTT 5 subscriber at once: paced for latency,
/// then as fast as the publisher goes for throughput. Both subscribers see the same messages in
/// the same run, so their figures compare like for like.
fn crossing(rows: &mut Vec<Row>) {
    let port = common::free_port();
    let config = bridge_config(port, 100, "").replace(
        &format!("  url: mqtt://127.0.0.1:{port}\n"),
        &format!("  embedded: true\n  listen: 127.0.0.1:{port}\n"),
    );
    let bridge = start_bridge(&config);
    let pid = bridge.child.id();
    let v4 = crossing_subscriber(port, false);
    let v5 = crossing_subscriber(port, true);
    let (camera, conn) = client(port, "crossing-camera");
    thread::spawn(move || drive(conn));
    let (body, collect) = (crossing_body, crossing_collect);
    // Latency: one message a millisecond.
    let paced = scaled(5000);
    let mut sent = Vec::with_capacity(paced);
    for seq in 0..paced as u32 {
        sent.push(Instant::now());
        camera
            .publish("bench/crossing", QoS::AtLeastOnce, false, body(seq))
            .unwrap();
        thread::sleep(Duration::from_millis(1));
    }
    for (name, rx) in [("3.1.1 -> 3.1.1", &v4), ("3.1.1 -> MQTT 5", &v5)] {
        let got = collect(rx, paced);
        note_loss(format!("crossing latency, {name}"), got.len(), paced);
        let mut delays: Vec<Duration> = got
            .iter()
            .map(|(seq, at)| at.duration_since(sent[*seq as usize]))
            .collect();
        delays.sort();
        rows.push(Row(
            format!("embedded broker latency, {name}"),
            format!(
                "p50 {} p99 {}",
                ms(pct(&delays, 0.5)),
                ms(pct(&delays, 0.99))
            ),
            format!("{paced} status-sized QoS 1 messages, 1 per ms, both subscribers at once"),
        ));
    }
    // Throughput: as fast as the publisher goes.
    let blast = scaled(50_000);
    let start = Instant::now();
    for seq in 0..blast as u32 {
        camera
            .publish("bench/crossing", QoS::AtLeastOnce, false, body(seq))
            .unwrap();
    }
    for (name, rx) in [("3.1.1 -> 3.1.1", &v4), ("3.1.1 -> MQTT 5", &v5)] {
        let got = collect(rx, blast);
        note_loss(format!("crossing throughput, {name}"), got.len(), blast);
        let last = got.iter().map(|(_, at)| *at).max().unwrap_or(start);
        rows.push(Row(
            format!("embedded broker throughput, {name}"),
            format!(
                "{:.0} msg/s",
                got.len() as f64 / last.duration_since(start).as_secs_f64()
            ),
            format!(
                "{} of {blast} QoS 1 messages, both subscribers at once",
                got.len()
            ),
        ));
    }
    rows.push(Row(
        "memory, embedded broker, 100 cameras, a 3.1.1 and an MQTT 5 client".into(),
        format!(
            "RSS {} (peak {})",
            mb(common::proc_kb(pid, "VmRSS:")),
            mb(common::proc_kb(pid, "VmHWM:"))
        ),
        "target < 10 MB".into(),
    ));
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` runs this too, so only act when asked.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    QUICK.store(std::env::args().any(|a| a == "--quick"), Ordering::Relaxed);
    // `cargo bench --bench e2e -- throughput` runs only the sections named.
    let mut only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if quick() && only.is_empty() {
        only = vec!["latency".into(), "throughput".into()];
    }
    let wanted = |section: &str| only.is_empty() || only.iter().any(|o| o == section);
    let mut rows = Vec::new();
    let brokers: &[Broker] = if quick() {
        &[Broker::Stock]
    } else {
        &[Broker::Stock, Broker::Tuned]
    };
    for &broker in brokers {
        if wanted("latency") {
            latency(broker, &mut rows);
        }
        if wanted("throughput") {
            let mosquitto = broker.start();
            let bridge = start_bridge(&bridge_config(mosquitto.port, 1000, ""));
            // Connected and subscribed by then; its start-up announcement still settling.
            thread::sleep(Duration::from_secs(2));
            throughput(broker, &mosquitto, bridge.child.id(), &mut rows);
        }
    }
    if wanted("stop") {
        stop(&mut rows);
    }
    if wanted("crossing") {
        crossing(&mut rows);
    }
    if wanted("memory") {
        memory_and_discovery(&mut rows);
        memory_worst_case(&mut rows);
    }

    let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let w2 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    println!("\n{:w$}  {:w2$}  notes", "measure", "figure");
    println!("{}", "-".repeat(w + w2 + 40));
    for Row(a, b, c) in &rows {
        println!("{a:w$}  {b:w2$}  {c}");
    }
    let lost = LOST.lock().unwrap();
    if !lost.is_empty() {
        eprintln!("\nthe bridge lost messages:\n  {}", lost.join("\n  "));
        std::process::exit(1);
    }
    println!("\nnothing lost: every message sent reached Home Assistant's topic");
}

//! The pure parts, measured with criterion: snapshot extraction throughput in every payload form,
//! and the core's control work (discovery for 1,000 cameras, a reload that adds one to 1,000).
//!
//! `cargo bench --bench core`; figures are recorded in BENCHMARKS.md.

use std::time::{Instant, SystemTime};

use base64::Engine;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use solarcam_bridge::bridge::{Bridge, Event, Link};
use solarcam_bridge::broker::Credentials;
use solarcam_bridge::config::{Config, Secret};
use solarcam_bridge::protocol::snapshot::extract;

use solarcam_bridge::test_support::jpeg_of;

fn forms(img: &[u8]) -> Vec<(&'static str, Bytes)> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(img);
    let mut header = b"\x01\x00SC211\x005CC5638AE24C\x00\x00\x00\x00\x00".to_vec();
    header.extend_from_slice(img);
    let hex: String = img.iter().map(|b| format!("{b:02x} ")).collect();
    vec![
        ("raw", Bytes::copy_from_slice(img)),
        ("header+raw", Bytes::from(header)),
        ("hex dump", Bytes::from(hex)),
        ("base64", Bytes::from(b64.clone())),
        (
            "json base64",
            Bytes::from(format!(r#"{{"mac":"5CC5638AE24C","image":"{b64}"}}"#)),
        ),
    ]
}

fn snapshot_extraction(c: &mut Criterion) {
    let mut group = c.benchmark_group("snapshot extraction");
    group.sample_size(20);
    for size in [100 << 10, 1 << 20, 4 << 20] {
        let img = jpeg_of(size);
        for (form, payload) in forms(&img) {
            assert_eq!(extract(&payload).unwrap().jpeg.len(), img.len(), "{form}");
            group.throughput(Throughput::Bytes(payload.len() as u64));
            let id = BenchmarkId::new(form, format!("{} KB", size >> 10));
            group.bench_with_input(id, &payload, |b, p| b.iter(|| extract(p).unwrap()));
        }
    }
    group.finish();
}

fn config_with(n: usize) -> Config {
    let mut yaml = String::from("cameras:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "  - mac: \"{:012X}\"\n    name: Camera {i}\n",
            0x5CC5_0000_0000u64 + i as u64
        ));
    }
    Config::parse(&yaml, "bench.yaml", None).unwrap()
}

fn connected(config: Config) -> Bridge {
    let mut b = Bridge::new(config);
    b.handle(Event::Connected(Link::Ha), Instant::now());
    b.handle(Event::Connected(Link::Camera), Instant::now());
    while b.poll_action().is_some() {}
    b
}

fn control_work(c: &mut Criterion) {
    let mut group = c.benchmark_group("control work");
    group.sample_size(20);
    let thousand = config_with(1000);
    group.bench_function("discovery for 1000 cameras", |b| {
        b.iter_batched(
            || Bridge::new(thousand.clone()),
            |mut bridge| {
                bridge.handle(Event::Connected(Link::Ha), Instant::now());
                let mut n = 0;
                while bridge.poll_action().is_some() {
                    n += 1;
                }
                n
            },
            BatchSize::LargeInput,
        )
    });
    let plus_one = config_with(1001);
    group.bench_function("reload adding 1 camera to 1000", |b| {
        b.iter_batched(
            || connected(thousand.clone()),
            |mut bridge| {
                bridge.handle(
                    Event::ConfigReloaded(Box::new(plus_one.clone())),
                    Instant::now(),
                );
                let mut n = 0;
                while bridge.poll_action().is_some() {
                    n += 1;
                }
                n
            },
            BatchSize::LargeInput,
        )
    });
    let status = |battery: u32| Event::Message {
        topic: "4GSolarCam/Status".into(),
        payload: Bytes::from(format!(
            r#"{{"mac":"5CC500000001","battery":{battery},"csq":20,"firmware":"V1"}}"#
        )),
        retain: false,
        received: SystemTime::now(),
        ack: None,
    };
    let alarm = Event::Message {
        topic: "4GSolarCam/Alarm".into(),
        payload: Bytes::from_static(br#"{"mac":"5CC500000002","type":"PIR"}"#),
        retain: false,
        received: SystemTime::now(),
        ack: None,
    };
    // A camera already known and awake: what a steady stream of messages costs.
    let mut bridge = connected(thousand.clone());
    bridge.handle(status(80), Instant::now());
    bridge.handle(alarm.clone(), Instant::now());
    while bridge.poll_action().is_some() {}
    let mut battery = 0;
    group.bench_function("one status message, 1000 cameras", |b| {
        b.iter(|| {
            battery = (battery + 1) % 100;
            bridge.handle(status(battery), Instant::now());
            while bridge.poll_action().is_some() {}
        })
    });
    group.bench_function("one alarm message, 1000 cameras", |b| {
        b.iter(|| {
            bridge.handle(alarm.clone(), Instant::now());
            while bridge.poll_action().is_some() {}
        })
    });
    group.finish();
}

/// The embedded broker's login check, for attempts that are wrong in different places: a check
/// that stopped at the first differing byte would take visibly less for an early difference.
/// Each attempt costs two SHA-256 of its fields and a 32-byte comparison; only the fields'
/// lengths (hashed) move the figure, never where they differ from the real ones.
fn login(c: &mut Criterion) {
    let credentials = Credentials::new("home", &Secret::new("correct-horse-battery"));
    let long = "x".repeat(4096);
    let mut group = c.benchmark_group("login");
    for (name, user, password) in [
        ("right", "home", "correct-horse-battery"),
        ("wrong first byte", "home", "Xorrect-horse-battery"),
        ("wrong last byte", "home", "correct-horse-batterX"),
        (
            "wrong user, right password",
            "hom3",
            "correct-horse-battery",
        ),
        ("empty", "", ""),
        ("4 KiB password", "home", long.as_str()),
    ] {
        let expected = name == "right";
        assert_eq!(credentials.accept(user, password), expected, "{name}");
        group.bench_function(name, |b| {
            b.iter(|| {
                credentials.accept(std::hint::black_box(user), std::hint::black_box(password))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, snapshot_extraction, control_work, login);
criterion_main!(benches);

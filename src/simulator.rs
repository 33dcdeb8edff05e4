//! A virtual SC211, for trying the bridge without hardware and for tests.
//!
//! It behaves as PROTOCOL.md describes the real camera: it sleeps; `<prefix>/Wake/<MAC>` wakes it
//! and it publishes its status; while awake it answers `status` on `<prefix>/Status/<MAC>` and obeys
//! `reboot`, `shutdown` and `upgrade` on `<prefix>/Config/<MAC>` (logging them), and ignores them
//! while asleep; it publishes an alarm followed by a snapshot (a real JPEG after a binary header,
//! as the camera's firmware does) every `alarm_every`, or once; and falls asleep again `awake_for`
//! after the last thing that woke it.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::config::{BrokerUrl, Secret};
use crate::mac::Mac;

/// The picture the virtual camera takes every time (160x120).
pub const SAMPLE_JPEG: &[u8] = include_bytes!("../assets/sample-snapshot.jpg");

#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    pub broker: BrokerUrl,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub mac: Mac,
    pub prefix: String,
    /// Alarm (then snapshot) this often; `None` for never (or once, with `once`).
    pub alarm_every: Option<Duration>,
    /// One alarm and snapshot right after connecting, then only commands.
    pub once: bool,
    pub awake_for: Duration,
}

/// The snapshot payload as the camera sends it: a binary header naming the camera, then the JPEG.
pub fn snapshot_payload(mac: Mac, jpeg: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(jpeg.len() + 32);
    p.extend_from_slice(b"\x01\x00SC211\x00");
    p.extend_from_slice(mac.to_string().as_bytes());
    p.push(0);
    p.extend_from_slice(&(jpeg.len() as u32).to_be_bytes());
    p.extend_from_slice(jpeg);
    p
}

struct Camera {
    opts: SimulatorOptions,
    client: AsyncClient,
    awake_until: Option<Instant>,
    battery: f64,
    firmware: &'static str,
}

impl Camera {
    fn topic(&self, kind: &str) -> String {
        format!("{}/{kind}", self.opts.prefix)
    }

    fn awake(&self) -> bool {
        self.awake_until.is_some_and(|t| Instant::now() < t)
    }

    fn wake(&mut self, why: &str) {
        if !self.awake() {
            info!("camera {}: awake ({why}): Wi-Fi and 4G on", self.opts.mac);
        }
        self.awake_until = Some(Instant::now() + self.opts.awake_for);
    }

    async fn publish(&self, kind: &str, payload: Vec<u8>) {
        if let Err(e) = self
            .client
            .publish(self.topic(kind), QoS::AtLeastOnce, false, payload)
            .await
        {
            warn!("camera {}: cannot publish {kind}: {e}", self.opts.mac);
        }
    }

    async fn send_status(&mut self) {
        self.battery = (self.battery - 0.5).max(5.0);
        let status = serde_json::json!({
            "mac": self.opts.mac.to_string(),
            "model": "SC211-EU",
            "firmware": self.firmware,
            "battery": self.battery.round(),
            "battery_voltage": 3.4 + self.battery / 100.0 * 0.8,
            "csq": 22,
            "solar": "charging",
            "sdcard": "normal",
            "temperature": 18.5,
            "time": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        });
        info!(
            "camera {}: status (battery {}%)",
            self.opts.mac,
            self.battery.round()
        );
        self.publish("Status", status.to_string().into_bytes())
            .await;
    }

    async fn alarm_and_snapshot(&mut self) {
        self.wake("PIR alarm");
        let alarm = serde_json::json!({
            "mac": self.opts.mac.to_string(),
            "type": "PIR",
            "time": humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        });
        info!("camera {}: alarm, then snapshot", self.opts.mac);
        self.publish("Alarm", alarm.to_string().into_bytes()).await;
        self.publish("Snapshot", snapshot_payload(self.opts.mac, SAMPLE_JPEG))
            .await;
    }

    async fn command(&mut self, kind: &str, payload: &[u8]) {
        let mac = self.opts.mac;
        let word = String::from_utf8_lossy(payload).trim().to_ascii_lowercase();
        match kind {
            "Wake" => {
                self.wake("wake command");
                self.send_status().await;
            }
            _ if !self.awake() => {
                info!("camera {mac}: asleep: {kind} {word:?} ignored (wake it first)")
            }
            "Status" if word == "status" => self.send_status().await,
            "Config" => match word.as_str() {
                "reboot" => {
                    info!("camera {mac}: rebooting");
                    self.wake("reboot");
                    self.send_status().await;
                }
                "shutdown" => {
                    info!("camera {mac}: shutting down the application; asleep until woken");
                    self.awake_until = None;
                }
                "upgrade" => {
                    info!("camera {mac}: online upgrade");
                    self.firmware = "V1.0.1-sim";
                    self.send_status().await;
                }
                other => info!("camera {mac}: unknown config command {other:?} ignored"),
            },
            _ => {}
        }
    }
}

/// Runs the virtual camera until the process is stopped.
pub async fn run(opts: SimulatorOptions) {
    let mac = opts.mac;
    let mut mqtt = MqttOptions::new(
        format!("sc211-sim-{mac}"),
        opts.broker.host.clone(),
        opts.broker.port,
    );
    mqtt.set_keep_alive(Duration::from_secs(30));
    mqtt.set_max_packet_size(1 << 20, 1 << 20);
    if let Some(user) = &opts.username {
        mqtt.set_credentials(
            user.clone(),
            opts.password
                .as_ref()
                .map_or("", |p| p.expose())
                .to_string(),
        );
    }
    let (client, mut eventloop) = AsyncClient::new(mqtt, 16);
    let filters: Vec<String> = ["Wake", "Status", "Config"]
        .iter()
        .map(|k| format!("{}/{k}/{mac}", opts.prefix))
        .collect();
    let mut camera = Camera {
        client,
        awake_until: None,
        battery: 88.0,
        firmware: "V1.0.0-sim",
        opts,
    };
    let mut next_alarm: Option<Instant> = None;
    let mut first_connect = true;
    // SUBACKs still to come after a connect.
    let mut acks_due = 0;
    info!("camera {mac}: connecting to {}", camera.opts.broker);
    loop {
        let sleep_at = camera.awake_until;
        let far = Instant::now() + Duration::from_secs(3600);
        tokio::select! {
            event = eventloop.poll() => match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    info!("camera {mac}: connected, asleep");
                    acks_due = filters.len();
                    for f in &filters {
                        let _ = camera.client.subscribe(f.clone(), QoS::AtLeastOnce).await;
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) if acks_due > 0 => {
                    acks_due -= 1;
                    if acks_due == 0 {
                        // From here a command is heard (tests wait for this line).
                        info!("camera {mac}: listening for commands");
                        if first_connect {
                            first_connect = false;
                            if camera.opts.once || camera.opts.alarm_every.is_some() {
                                next_alarm = Some(Instant::now());
                            }
                        }
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let kind = p.topic.strip_prefix(&camera.opts.prefix).and_then(|r| r.strip_prefix('/')).and_then(|r| r.split('/').next()).unwrap_or("").to_string();
                    camera.command(&kind, &Bytes::clone(&p.payload)).await;
                }
                Ok(_) => {}
                Err(e) => {
                    warn!("camera {mac}: broker connection: {e}; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            },
            _ = tokio::time::sleep_until(next_alarm.unwrap_or(far)), if next_alarm.is_some() => {
                camera.alarm_and_snapshot().await;
                next_alarm = if camera.opts.once { None } else { camera.opts.alarm_every.map(|d| Instant::now() + d) };
            }
            _ = tokio::time::sleep_until(sleep_at.unwrap_or(far)), if sleep_at.is_some() => {
                camera.awake_until = None;
                info!("camera {mac}: asleep");
            }
        }
    }
}

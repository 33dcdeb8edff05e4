//! A virtual SC211, for trying the bridge without hardware and for tests.
//!
//! It behaves as `docs/PROTOCOL.md` describes the real camera: it sleeps; `<prefix>/Wake/<MAC>` wakes it
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
use crate::protocol::{CameraCommand, CameraTopics, TopicKind};

/// The picture the virtual camera takes every time (160x120).
pub const SAMPLE_JPEG: &[u8] = include_bytes!("../assets/sample-snapshot.jpg");

#[derive(Debug, Clone)]
pub struct SimulatorOptions {
    pub broker: BrokerUrl,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub mac: Mac,
    /// Where its commands come (`<prefix>/Wake/<MAC>` and the like).
    pub prefix: String,
    /// Where it publishes (and takes configuration requests), as set in its web page.
    pub topics: CameraTopics,
    /// Snapshots in the newer firmware's JSON envelope (`ts`, `values.devName`, `time`,
    /// `imageSize`, the image as a base64 data URL) instead of a binary header.
    pub envelope: bool,
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

/// The snapshot payload as newer firmware sends it (the vendor's MQTT application article).
pub fn snapshot_envelope(mac: Mac, jpeg: &[u8], taken: SystemTime) -> Vec<u8> {
    use base64::Engine;
    let secs = taken
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let image = base64::engine::general_purpose::STANDARD.encode(jpeg);
    serde_json::json!({
        "ts": secs * 1000,
        "values": {
            "devName": "4G Solar-powered Camera",
            "devMac": mac.to_string(),
            "file": format!("snapshot_{secs}"),
            "time": secs,
            "imageSize": jpeg.len(),
            "image": format!("data:image/jpeg;base64,{image}"),
        }
    })
    .to_string()
    .into_bytes()
}

/// A `KIND=TOPIC` setting of the simulator's command line: one of its topics as its web page
/// would set it.
#[derive(Debug, Clone)]
pub struct TopicSetting(pub TopicKind, pub String);

impl std::str::FromStr for TopicSetting {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (key, topic) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?}: write KIND=TOPIC, e.g. snapshot=home/gate/snapshot"))?;
        let kind = TopicKind::ALL
            .into_iter()
            .find(|k| k.key() == key)
            .ok_or_else(|| {
                let keys: Vec<&str> = TopicKind::ALL.iter().map(|k| k.key()).collect();
                format!(
                    "{key:?} is not a kind of topic; use one of {}",
                    keys.join(", ")
                )
            })?;
        Ok(TopicSetting(kind, topic.to_string()))
    }
}

struct Camera {
    opts: SimulatorOptions,
    client: AsyncClient,
    awake_until: Option<Instant>,
    battery: f64,
    firmware: &'static str,
}

impl Camera {
    fn awake(&self) -> bool {
        self.awake_until.is_some_and(|t| Instant::now() < t)
    }

    fn wake(&mut self, why: &str) {
        if !self.awake() {
            info!("camera {}: awake ({why}): Wi-Fi and 4G on", self.opts.mac);
        }
        self.awake_until = Some(Instant::now() + self.opts.awake_for);
    }

    async fn publish(&self, kind: TopicKind, payload: Vec<u8>) {
        let topic = self.opts.topics.topic_for(kind, self.opts.mac);
        if let Err(e) = self
            .client
            .publish(&topic, QoS::AtLeastOnce, false, payload)
            .await
        {
            warn!("camera {}: cannot publish on {topic}: {e}", self.opts.mac);
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
        self.publish(TopicKind::Status, status.to_string().into_bytes())
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
        self.publish(TopicKind::Alarm, alarm.to_string().into_bytes())
            .await;
        let snapshot = if self.opts.envelope {
            snapshot_envelope(self.opts.mac, SAMPLE_JPEG, SystemTime::now())
        } else {
            snapshot_payload(self.opts.mac, SAMPLE_JPEG)
        };
        self.publish(TopicKind::Snapshot, snapshot).await;
    }

    /// What a message on one of its command topics asks: anything on its Wake topic wakes it;
    /// elsewhere the payload names the command, which must have come on that command's topic.
    fn command_of(&self, topic: &str, payload: &[u8]) -> Option<CameraCommand> {
        let (prefix, mac) = (&self.opts.prefix, self.opts.mac);
        if topic == CameraCommand::Wake.topic(prefix, mac) {
            return Some(CameraCommand::Wake);
        }
        let command = String::from_utf8_lossy(payload)
            .parse::<CameraCommand>()
            .ok()?;
        (command.topic(prefix, mac) == topic).then_some(command)
    }

    async fn command(&mut self, topic: &str, payload: &[u8]) {
        let mac = self.opts.mac;
        if topic == self.opts.topics.topic_for(TopicKind::ConfigRequest, mac) {
            return self.configure(payload).await;
        }
        let Some(command) = self.command_of(topic, payload) else {
            let word = String::from_utf8_lossy(payload);
            return info!("camera {mac}: {word:?} on {topic} is not a command; ignored");
        };
        match command {
            CameraCommand::Wake => {
                self.wake("wake command");
                self.send_status().await;
            }
            _ if !self.awake() => {
                info!("camera {mac}: asleep: {command} ignored (wake it first)")
            }
            CameraCommand::Status => self.send_status().await,
            CameraCommand::Reboot => {
                info!("camera {mac}: rebooting");
                self.wake("reboot");
                self.send_status().await;
            }
            CameraCommand::Shutdown => {
                info!("camera {mac}: shutting down the application; asleep until woken");
                self.awake_until = None;
            }
            CameraCommand::Upgrade => {
                info!("camera {mac}: online upgrade");
                self.firmware = "V1.0.1-sim";
                self.send_status().await;
            }
        }
    }
}

impl Camera {
    /// A remote configuration request: answered on the respond topic while awake. (What the real
    /// camera takes and answers is not published; this answer only says what it was asked.)
    async fn configure(&mut self, payload: &[u8]) {
        let mac = self.opts.mac;
        if !self.awake() {
            return info!("camera {mac}: asleep: configuration request ignored");
        }
        let asked: String = String::from_utf8_lossy(payload).chars().take(256).collect();
        info!("camera {mac}: configuration request, answered");
        let answer = serde_json::json!({
            "devMac": mac.to_string(),
            "result": "ok",
            "request": asked,
        });
        self.publish(TopicKind::ConfigRespond, answer.to_string().into_bytes())
            .await;
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
    let mut filters: Vec<String> = CameraCommand::ALL
        .iter()
        .map(|c| c.topic(&opts.prefix, mac))
        .collect();
    filters.dedup();
    filters.push(opts.topics.topic_for(TopicKind::ConfigRequest, mac));
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
                    camera.command(&p.topic, &Bytes::clone(&p.payload)).await;
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

//! The `demo` command: the embedded broker, a virtual camera and the bridge in one process, and a
//! view of what Home Assistant would be told, printed as it happens.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;

use crate::broker::{Broker, BrokerError, BrokerSettings};
use crate::config::Config;
use crate::mac::Mac;
use crate::service::{self, ServiceError};
use crate::simulator::{self, SimulatorOptions};

pub const DEMO_MAC: &str = "5CC5638AE24C";

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub listen: SocketAddr,
    pub snapshot_file: PathBuf,
    pub alarm_every: Duration,
    /// Let anyone who reaches `listen` from another machine connect without a login.
    pub allow_anonymous: bool,
    /// Stop after this long (for scripts and tests); until Ctrl-C otherwise.
    pub run_for: Option<Duration>,
}

pub async fn run(opts: DemoOptions) -> Result<(), ServiceError> {
    let broker = match Broker::start(BrokerSettings {
        listen: opts.listen,
        credentials: None,
        allow_anonymous: opts.allow_anonymous,
    })
    .await
    {
        Ok(b) => b,
        Err(BrokerError::PortInUse { addr }) => return Err(ServiceError::DemoPortInUse(addr)),
        Err(e) => return Err(e.into()),
    };
    let port = broker.addr.port();
    let state_dir = std::env::temp_dir().join("solarcam-bridge-demo");
    let yaml = format!(
        "mqtt:\n  url: mqtt://127.0.0.1:{port}\n  client_id: solarcam-bridge-demo\nalarm_off_after: 10s\nstate_dir: {}\ncameras:\n  - mac: {DEMO_MAC}\n    name: Demo camera\n    area: Garden\n",
        state_dir.display()
    );
    let config =
        Config::parse(&yaml, "(demo)", None).expect("the demo's own configuration is valid");
    let mac: Mac = DEMO_MAC.parse().expect("a MAC");

    println!("solarcam-bridge demo: an MQTT broker, a virtual SC211 camera and the bridge, in one process.");
    println!("  broker    mqtt://{} (embedded)", broker.addr);
    println!(
        "  camera    virtual SC211 {mac}: an alarm and a snapshot every {}s",
        opts.alarm_every.as_secs()
    );
    println!(
        "  snapshot  the latest is written to {}",
        opts.snapshot_file.display()
    );
    println!(
        "To see it in Home Assistant: Settings > Devices & services > Add integration > MQTT,"
    );
    println!(
        "broker = this machine's address, port {port}. The demo listens on {}; for Home",
        broker.addr.ip()
    );
    println!(
        "Assistant on another machine start it with --listen 0.0.0.0:{port} --allow-anonymous"
    );
    println!("(anyone on your network can then publish to it). Ctrl-C stops it.");
    println!();

    tokio::spawn(view(port, opts.snapshot_file.clone()));
    tokio::spawn(simulator::run(SimulatorOptions {
        broker: format!("mqtt://127.0.0.1:{port}")
            .parse()
            .expect("a broker URL"),
        username: None,
        password: None,
        mac,
        prefix: config.camera_topic_prefix.clone(),
        topics: config.camera_topics.clone(),
        envelope: false,
        alarm_every: Some(opts.alarm_every),
        once: false,
        awake_for: Duration::from_secs(40),
    }));
    let stop = async move {
        match opts.run_for {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    service::run_until(None, config, None, stop).await
}

/// What an entity's state topic means, for printing.
struct Watched {
    label: String,
    unit: String,
    /// The camera entity's snapshot: saved to the snapshot file.
    snapshot: bool,
    /// Another picture (the last alarm snapshot): only its size is printed.
    picture: bool,
    /// The value last printed: a value repeated is not printed again.
    last: Option<Vec<u8>>,
}

/// Prints one component of a device config as Home Assistant shows it (a trigger, or an entity
/// with its id and name) and starts watching its state topic. The Wake button's entity id and
/// command topic, to press it.
fn show_component(
    device: &str,
    c: &Value,
    states: &mut HashMap<String, Watched>,
) -> Option<(String, String)> {
    let component = c["platform"].as_str().unwrap_or("?");
    if component == "device_automation" {
        // A trigger for the automation editor, not an entity with a state.
        let (kind, subtype) = (c["type"].as_str(), c["subtype"].as_str());
        println!(
            "trigger  {device}: {} {}",
            kind.unwrap_or("?"),
            subtype.unwrap_or("?")
        );
        return None;
    }
    let label = match c["name"].as_str() {
        Some(n) => format!("{device} {n}"),
        None => device.to_string(),
    };
    let entity_id = c["default_entity_id"].as_str().unwrap_or("?").to_string();
    let enabled = if c["enabled_by_default"] == false {
        " (disabled by default)"
    } else {
        ""
    };
    println!("entity   {entity_id:<45} \"{label}\"{enabled}");
    let state_topic = c["state_topic"]
        .as_str()
        .or(c["topic"].as_str())
        .or(c["image_topic"].as_str());
    // "Last seen" changes with every message; printing it would drown the rest.
    if let Some(t) = state_topic.filter(|t| !t.ends_with("/last_seen")) {
        let unit = c["unit_of_measurement"].as_str().unwrap_or("").to_string();
        let watched = Watched {
            label,
            unit,
            snapshot: component == "camera",
            picture: component == "image",
            last: None,
        };
        states.insert(t.to_string(), watched);
    }
    let topic = c["command_topic"].as_str()?;
    (c["payload_press"] == "wake").then(|| (entity_id, topic.to_string()))
}

/// Subscribes as Home Assistant would and prints the entities it would create and the states it
/// would show; presses the camera's Wake button once, as a user would.
async fn view(port: u16, snapshot_file: PathBuf) {
    let mut opts = MqttOptions::new("solarcam-demo-view", "127.0.0.1", port);
    opts.set_max_packet_size(8 << 20, 1 << 16);
    let (client, mut eventloop) = AsyncClient::new(opts, 16);
    let mut viewer = Viewer {
        client,
        snapshot_file,
        states: HashMap::new(),
        shown: HashSet::new(),
        pressed: false,
    };
    loop {
        let packet = match eventloop.poll().await {
            Ok(Event::Incoming(p)) => p,
            Ok(_) => continue,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        match packet {
            Packet::ConnAck(_) => {
                let _ = viewer
                    .client
                    .subscribe("homeassistant/#", QoS::AtLeastOnce)
                    .await;
                let _ = viewer
                    .client
                    .subscribe("solarcam/#", QoS::AtLeastOnce)
                    .await;
            }
            Packet::Publish(p)
                if p.topic.ends_with("/config") && p.topic.starts_with("homeassistant/device/") =>
            {
                viewer.device_config(&p.topic, &p.payload).await;
            }
            Packet::Publish(p) => viewer.state(&p.topic, &p.payload),
            _ => {}
        }
    }
}

/// What the demo's viewer has seen, as Home Assistant would hold it.
struct Viewer {
    client: AsyncClient,
    snapshot_file: PathBuf,
    /// The state topics of the entities shown, and what each last showed.
    states: HashMap<String, Watched>,
    /// Discovery is sent again when something changes (firmware learnt, a sensor appears); only
    /// entities not shown yet are printed.
    shown: HashSet<String>,
    pressed: bool,
}

impl Viewer {
    /// A device's discovery config: its entities and triggers, each shown once; the first Wake
    /// button pressed.
    async fn device_config(&mut self, topic: &str, payload: &[u8]) {
        let Ok(config) = serde_json::from_slice::<Value>(payload) else {
            return;
        };
        let device = config["device"]["name"].as_str().unwrap_or("?");
        let Some(components) = config["components"].as_object() else {
            return;
        };
        for (key, c) in components {
            if !self.shown.insert(format!("{topic} {key}")) {
                continue;
            }
            let wake = show_component(device, c, &mut self.states);
            if let (false, Some((entity_id, topic))) = (self.pressed, wake) {
                self.pressed = true;
                println!("press    {entity_id} (as Home Assistant would: \"wake\" on {topic})");
                let _ = self
                    .client
                    .publish(topic, QoS::AtLeastOnce, false, "wake")
                    .await;
            }
        }
    }

    /// A state message: printed when it changes what an entity shows. A picture always does, even
    /// the same bytes again: Home Assistant shows it as newly updated.
    fn state(&mut self, topic: &str, payload: &[u8]) {
        let Some(w) = self.states.get_mut(topic) else {
            return;
        };
        if !w.snapshot && !w.picture && w.last.as_deref() == Some(payload) {
            return;
        }
        w.last = Some(payload.to_vec());
        if w.snapshot {
            match std::fs::write(&self.snapshot_file, payload) {
                Ok(()) => println!(
                    "state    {}: a {}-byte JPEG, saved to {}",
                    w.label,
                    payload.len(),
                    self.snapshot_file.display()
                ),
                Err(e) => println!(
                    "state    {}: a {}-byte JPEG (cannot save it: {e})",
                    w.label,
                    payload.len()
                ),
            }
        } else if w.picture {
            println!("state    {}: a {}-byte JPEG", w.label, payload.len());
        } else if !payload.is_empty() {
            let value = String::from_utf8_lossy(payload);
            let space = if w.unit.is_empty() { "" } else { " " };
            println!("state    {}: {value}{space}{}", w.label, w.unit);
        }
    }
}

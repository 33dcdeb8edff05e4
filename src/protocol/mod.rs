//! The SC211 camera's MQTT protocol: its topics, its commands, and tolerant readers for what it
//! publishes (see `PROTOCOL.md` in the shared notes: the vendor documents topics, not payloads).

pub mod snapshot;

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value};

use crate::mac::Mac;

/// What a message on one of the camera topics is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraTopic {
    Snapshot(Option<Mac>),
    Alarm(Option<Mac>),
    /// A status report. `Status/<MAC>` is also where clients send `status` requests, so the
    /// payload tells the two apart.
    Status(Option<Mac>),
}

impl CameraTopic {
    /// Reads `<prefix>/Snapshot`, `<prefix>/Alarm`, `<prefix>/Status`, each optionally followed by
    /// `/<MAC>` as some firmware sends.
    pub fn parse(prefix: &str, topic: &str) -> Option<CameraTopic> {
        let rest = topic.strip_prefix(prefix)?.strip_prefix('/')?;
        let (kind, mac) = match rest.split_once('/') {
            Some((kind, mac)) => (kind, Some(mac.parse::<Mac>().ok()?)),
            None => (rest, None),
        };
        match kind {
            "Snapshot" => Some(CameraTopic::Snapshot(mac)),
            "Alarm" => Some(CameraTopic::Alarm(mac)),
            "Status" => Some(CameraTopic::Status(mac)),
            _ => None,
        }
    }

    /// The topic filters that receive everything [`CameraTopic::parse`] reads.
    pub fn filters(prefix: &str) -> Vec<String> {
        ["Snapshot", "Alarm", "Status"]
            .iter()
            .flat_map(|k| [format!("{prefix}/{k}"), format!("{prefix}/{k}/+")])
            .collect()
    }
}

/// A command the camera obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CameraCommand {
    /// Wakes a sleeping camera; it then turns on Wi-Fi and 4G and sends its status.
    Wake,
    /// Asks an awake camera for its status.
    Status,
    Reboot,
    Shutdown,
    /// Starts an online firmware upgrade.
    Upgrade,
}

impl CameraCommand {
    pub const ALL: [CameraCommand; 5] = [
        CameraCommand::Wake,
        CameraCommand::Status,
        CameraCommand::Reboot,
        CameraCommand::Shutdown,
        CameraCommand::Upgrade,
    ];

    /// The word the camera expects, which is also the button's `payload_press`.
    pub fn payload(self) -> &'static str {
        match self {
            CameraCommand::Wake => "wake",
            CameraCommand::Status => "status",
            CameraCommand::Reboot => "reboot",
            CameraCommand::Shutdown => "shutdown",
            CameraCommand::Upgrade => "upgrade",
        }
    }

    /// The camera's own topic for this command.
    pub fn topic(self, prefix: &str, mac: Mac) -> String {
        let kind = match self {
            CameraCommand::Wake => "Wake",
            CameraCommand::Status => "Status",
            CameraCommand::Reboot | CameraCommand::Shutdown | CameraCommand::Upgrade => "Config",
        };
        format!("{prefix}/{kind}/{mac}")
    }
}

impl serde::Serialize for CameraCommand {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.payload())
    }
}

impl<'de> serde::Deserialize<'de> for CameraCommand {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for CameraCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.payload())
    }
}

/// A command payload that names none of the camera's commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a camera command (wake, status, reboot, shutdown, upgrade)")]
pub struct UnknownCommand(pub String);

impl FromStr for CameraCommand {
    type Err = UnknownCommand;
    fn from_str(s: &str) -> Result<Self, UnknownCommand> {
        let s = s.trim();
        CameraCommand::ALL
            .into_iter()
            .find(|c| c.payload().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownCommand(s.to_string()))
    }
}

/// Why a JSON message was not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("JSON, but not an object")]
    NotObject,
}

/// Reads an Alarm or Status payload: a JSON object, possibly padded with whitespace or NULs.
pub fn parse_object(payload: &[u8]) -> Result<Map<String, Value>, MessageError> {
    let end = payload
        .iter()
        .rposition(|c| !(c.is_ascii_whitespace() || *c == 0))
        .map_or(0, |e| e + 1);
    match serde_json::from_slice::<Value>(&payload[..end]) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(MessageError::NotObject),
        Err(e) => Err(MessageError::NotJson(e.to_string())),
    }
}

/// `devMac`, `device_mac`, `MAC-Address` → `devmac`, `devicemac`, `macaddress`.
fn norm_key(k: &str) -> String {
    k.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// A key that names a MAC holds something else: the payload claims a camera it does not name.
/// It is refused rather than given to whichever camera it would otherwise be attributed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadMac {
    /// The key, normalised (`devMac` → `devmac`).
    pub key: String,
    /// The start of what it held, for the log (at most [`BadMac::SHOWN`] characters).
    pub shown: String,
    /// How many characters it held.
    pub chars: usize,
}

impl BadMac {
    /// How much of a bad value is shown: a stranger's megabyte is not copied into logs or states.
    pub const SHOWN: usize = 24;

    fn new(key: &str, value: &Value) -> BadMac {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        BadMac {
            key: key.to_string(),
            shown: text.chars().take(Self::SHOWN).collect(),
            chars: text.chars().count(),
        }
    }
}

impl fmt::Display for BadMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let more = if self.chars > Self::SHOWN { "…" } else { "" };
        write!(
            f,
            "its {} is \"{}{more}\" ({} characters), not a MAC address",
            self.key,
            self.shown.escape_debug(),
            self.chars
        )
    }
}

impl std::error::Error for BadMac {}

/// Finds the camera's MAC in a JSON payload: under a key that names a MAC or a device id, at any
/// depth (shallowest first), where the value holds a MAC. A key naming a MAC whose value is not
/// one (and no other that is) makes the payload's camera unknowable: [`BadMac`].
pub fn find_mac(value: &Value) -> Result<Option<Mac>, BadMac> {
    let mut leaves = Vec::new();
    flatten(value, "", 0, &mut leaves);
    mac_among(&leaves)
}

fn mac_among(leaves: &[Leaf]) -> Result<Option<Mac>, BadMac> {
    const ID_KEYS: [&str; 9] = [
        "sn",
        "devsn",
        "devicesn",
        "deviceid",
        "devid",
        "deveui",
        "serial",
        "serialnumber",
        "id",
    ];
    let read = |leaf: &Leaf| {
        let s = leaf.value.as_str()?;
        s.parse::<Mac>().ok().or_else(|| Mac::find_in(s.as_bytes()))
    };
    let is_mac_key = |leaf: &&Leaf| leaf.key.contains("mac");
    // Keys naming a MAC outrank generic ids, which may hold a serial number.
    if let Some(mac) = leaves.iter().filter(is_mac_key).find_map(read) {
        return Ok(Some(mac));
    }
    // Empty or null is "not told"; anything else under a MAC's key is a false claim.
    let told = |leaf: &&Leaf| match leaf.value {
        Value::Null => false,
        Value::String(s) => !s.trim().is_empty(),
        _ => true,
    };
    if let Some(bad) = leaves.iter().filter(is_mac_key).find(told) {
        return Err(BadMac::new(&bad.key, bad.value));
    }
    Ok(leaves
        .iter()
        .filter(|leaf| ID_KEYS.contains(&leaf.key.as_str()))
        .find_map(read))
}

struct Leaf<'a> {
    /// The leaf's own key, normalised.
    key: String,
    /// Parent and leaf keys joined, normalised (`battery.level` → `batterylevel`).
    path: String,
    value: &'a Value,
}

fn flatten<'a>(value: &'a Value, parent: &str, depth: usize, out: &mut Vec<Leaf<'a>>) {
    if let Value::Object(map) = value {
        flatten_map(map, parent, depth, out);
    }
}

fn flatten_map<'a>(
    map: &'a Map<String, Value>,
    parent: &str,
    depth: usize,
    out: &mut Vec<Leaf<'a>>,
) {
    // Deeper than this is not a status report: stop, rather than walk what a hostile payload built.
    const MAX_DEPTH: usize = 6;
    if depth >= MAX_DEPTH {
        return;
    }
    // Leaves at this level first, so the shallowest key wins.
    for (k, v) in map {
        if !v.is_object() {
            let key = norm_key(k);
            let path = format!("{parent}{key}");
            out.push(Leaf {
                key,
                path,
                value: v,
            });
        }
    }
    for (k, v) in map {
        if v.is_object() {
            flatten(v, &format!("{parent}{}", norm_key(k)), depth + 1, out);
        }
    }
}

/// The kind of an alarm, as Home Assistant's event entity and device triggers name it. The vendor
/// does not document the alarm payload, so the kind is read from a key such as `type`,
/// `alarmType`, `event` or `kind` (any case, at any depth) and matched loosely; anything else is
/// the generic `alarm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AlarmKind {
    Alarm,
    Motion,
    Pir,
    Person,
    Vehicle,
    Tamper,
}

impl AlarmKind {
    pub const ALL: [AlarmKind; 6] = [
        AlarmKind::Alarm,
        AlarmKind::Motion,
        AlarmKind::Pir,
        AlarmKind::Person,
        AlarmKind::Vehicle,
        AlarmKind::Tamper,
    ];

    /// The `event_type` and device-trigger subtype.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmKind::Alarm => "alarm",
            AlarmKind::Motion => "motion",
            AlarmKind::Pir => "pir",
            AlarmKind::Person => "person",
            AlarmKind::Vehicle => "vehicle",
            AlarmKind::Tamper => "tamper",
        }
    }

    /// The kind an alarm payload names (`{"type": "PIR"}`, `{"alarmType": "motion detection"}`...).
    pub fn of(alarm: &Map<String, Value>) -> AlarmKind {
        const KEYS: [&str; 7] = [
            "type",
            "alarmtype",
            "eventtype",
            "event",
            "kind",
            "alarm",
            "trigger",
        ];
        let mut leaves = Vec::new();
        flatten_map(alarm, "", 0, &mut leaves);
        leaves
            .iter()
            .filter(|l| KEYS.contains(&l.key.as_str()))
            .filter_map(|l| l.value.as_str())
            .map(Self::from_word)
            .find(|k| *k != AlarmKind::Alarm)
            .unwrap_or(AlarmKind::Alarm)
    }

    fn from_word(word: &str) -> AlarmKind {
        let w = word.to_ascii_lowercase();
        let has = |parts: &[&str]| parts.iter().any(|p| w.contains(p));
        if has(&["pir", "infrared"]) {
            AlarmKind::Pir
        } else if has(&["person", "human", "people", "pedestrian"]) {
            AlarmKind::Person
        } else if has(&["vehicle", "car", "plate", "anpr", "lpr"]) {
            AlarmKind::Vehicle
        } else if has(&["tamper", "shelter", "cover"]) {
            AlarmKind::Tamper
        } else if has(&["motion", "vmd"]) || w == "md" {
            AlarmKind::Motion
        } else {
            AlarmKind::Alarm
        }
    }
}

/// What the bridge reads out of a status report. Everything else stays in the raw JSON, which is
/// published whole as the entities' attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    /// The MAC it names; a key naming a MAC that holds none is an error.
    pub mac: Result<Option<Mac>, BadMac>,
    pub battery_percent: Option<f64>,
    pub battery_voltage: Option<f64>,
    pub signal_dbm: Option<i32>,
    pub firmware: Option<String>,
    pub model: Option<String>,
}

impl Default for StatusReport {
    fn default() -> StatusReport {
        StatusReport {
            mac: Ok(None),
            battery_percent: None,
            battery_voltage: None,
            signal_dbm: None,
            firmware: None,
            model: None,
        }
    }
}

impl StatusReport {
    pub fn read(status: &Map<String, Value>) -> StatusReport {
        const PERCENT: &[&str] = &[
            "battery",
            "bat",
            "batt",
            "batterylevel",
            "batlevel",
            "battlevel",
            "batterypercent",
            "batterypercentage",
            "batpercent",
            "batteryremain",
            "batterycapacity",
            "soc",
            "electricity",
            "power",
        ];
        const VOLTAGE: &[&str] = &[
            "batteryvoltage",
            "batvoltage",
            "battvoltage",
            "voltage",
            "batvol",
            "battvol",
            "vbat",
            "batteryvol",
            "batv",
        ];
        const RSSI: &[&str] = &["rssi", "rsrp", "signaldbm", "dbm"];
        const CSQ: &[&str] = &[
            "csq",
            "signal",
            "signalstrength",
            "signallevel",
            "signalquality",
        ];
        const FIRMWARE: &[&str] = &[
            "firmware",
            "firmwareversion",
            "fw",
            "fwversion",
            "fwver",
            "version",
            "swversion",
            "softwareversion",
            "softver",
            "firmwarever",
        ];
        const MODEL: &[&str] = &["model", "devicemodel", "productmodel", "devmodel"];

        let mut leaves = Vec::new();
        flatten_map(status, "", 0, &mut leaves);
        let lookup = |keys: &[&str]| -> Vec<&Value> {
            leaves
                .iter()
                .filter(|l| keys.contains(&l.key.as_str()) || keys.contains(&l.path.as_str()))
                .map(|l| l.value)
                .collect()
        };

        let mut report = StatusReport {
            mac: mac_among(&leaves),
            ..StatusReport::default()
        };
        for v in lookup(PERCENT) {
            match json_number(v) {
                Some(p) if (0.0..=100.0).contains(&p) => {
                    report.battery_percent.get_or_insert(p);
                }
                // A "battery" in millivolts: some firmware reports only that.
                Some(mv) if (1000.0..=30000.0).contains(&mv) => {
                    report.battery_voltage.get_or_insert(mv / 1000.0);
                }
                _ => {}
            }
        }
        for v in lookup(VOLTAGE) {
            match json_number(v) {
                Some(volts) if volts > 0.0 && volts <= 60.0 => {
                    report.battery_voltage = Some(volts);
                    break;
                }
                Some(mv) if (100.0..=60000.0).contains(&mv) => {
                    report.battery_voltage = Some(mv / 1000.0);
                    break;
                }
                _ => {}
            }
        }
        let dbm = lookup(RSSI)
            .into_iter()
            .filter_map(json_number)
            // Rounded before the range check: -0.4 dBm is no signal reading (a property test
            // found one published as "0").
            .map(f64::round)
            .find(|d| (-150.0..0.0).contains(d))
            .or_else(|| {
                lookup(CSQ)
                    .into_iter()
                    .filter_map(json_number)
                    .find_map(|v| {
                        if (-150.0..0.0).contains(&v.round()) {
                            Some(v.round())
                        } else if (0.0..=31.0).contains(&v) && v.fract() == 0.0 {
                            // 3GPP TS 27.007: CSQ n is -113 + 2n dBm (99 means unknown).
                            Some(-113.0 + 2.0 * v)
                        } else {
                            None
                        }
                    })
            });
        report.signal_dbm = dbm.map(|d| d.round() as i32);
        report.firmware = lookup(FIRMWARE).into_iter().find_map(text);
        report.model = lookup(MODEL).into_iter().find_map(text);
        report
    }
}

/// A number, or a string holding one (`"85"`, `"85%"`, `"3.9V"`, `"-71 dBm"`).
fn json_number(v: &Value) -> Option<f64> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let s = s.trim();
            let end = s
                .char_indices()
                .find(|(i, c)| {
                    !(c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '-' || *c == '+')))
                })
                .map_or(s.len(), |(i, _)| i);
            s[..end].parse::<f64>().ok()
        }
        _ => None,
    }?;
    n.is_finite().then_some(n)
}

/// A short printable string (versions, models); numbers count too (`"version": 3`).
fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty() && s.len() <= 64 && !s.chars().any(char::is_control)).then_some(s)
}

#[cfg(test)]
mod alarm_kind_tests {
    use super::*;

    fn kind(json: &str) -> AlarmKind {
        AlarmKind::of(&parse_object(json.as_bytes()).unwrap())
    }

    #[test]
    fn the_kind_is_read_loosely_from_the_usual_keys() {
        assert_eq!(kind(r#"{"type":"PIR"}"#), AlarmKind::Pir);
        assert_eq!(
            kind(r#"{"alarmType":"Motion Detection"}"#),
            AlarmKind::Motion
        );
        assert_eq!(
            kind(r#"{"values":{"event":"human detected"}}"#),
            AlarmKind::Person
        );
        assert_eq!(kind(r#"{"Kind":"vehicle"}"#), AlarmKind::Vehicle);
        assert_eq!(kind(r#"{"type":"tamper"}"#), AlarmKind::Tamper);
        assert_eq!(kind(r#"{"type":"md"}"#), AlarmKind::Motion);
        assert_eq!(kind(r#"{"type":"something new"}"#), AlarmKind::Alarm);
        assert_eq!(kind(r#"{"mac":"5CC5638AE24C"}"#), AlarmKind::Alarm);
        // A key that is not about the kind does not decide it.
        assert_eq!(kind(r#"{"devName":"pir camera"}"#), AlarmKind::Alarm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    const MAC: &str = "5CC5638AE24C";

    #[test]
    fn topics_are_classified_with_and_without_a_mac() {
        let mac: Mac = MAC.parse().unwrap();
        let p = "4GSolarCam";
        assert_eq!(
            CameraTopic::parse(p, "4GSolarCam/Snapshot"),
            Some(CameraTopic::Snapshot(None))
        );
        assert_eq!(
            CameraTopic::parse(p, "4GSolarCam/Alarm"),
            Some(CameraTopic::Alarm(None))
        );
        assert_eq!(
            CameraTopic::parse(p, "4GSolarCam/Status"),
            Some(CameraTopic::Status(None))
        );
        assert_eq!(
            CameraTopic::parse(p, "4GSolarCam/Snapshot/5CC5638AE24C"),
            Some(CameraTopic::Snapshot(Some(mac)))
        );
        assert_eq!(CameraTopic::parse(p, "4GSolarCam/Wake/5CC5638AE24C"), None);
        assert_eq!(CameraTopic::parse(p, "4GSolarCam/Snapshot/garage"), None);
        assert_eq!(CameraTopic::parse(p, "4GSolarCamX/Snapshot"), None);
        assert_eq!(CameraTopic::parse(p, "other/Snapshot"), None);
    }

    #[test]
    fn commands_go_to_the_camera_topics_the_vendor_lists() {
        let mac: Mac = MAC.parse().unwrap();
        let cases = [
            (CameraCommand::Wake, "4GSolarCam/Wake/5CC5638AE24C", "wake"),
            (
                CameraCommand::Status,
                "4GSolarCam/Status/5CC5638AE24C",
                "status",
            ),
            (
                CameraCommand::Reboot,
                "4GSolarCam/Config/5CC5638AE24C",
                "reboot",
            ),
            (
                CameraCommand::Shutdown,
                "4GSolarCam/Config/5CC5638AE24C",
                "shutdown",
            ),
            (
                CameraCommand::Upgrade,
                "4GSolarCam/Config/5CC5638AE24C",
                "upgrade",
            ),
        ];
        for (cmd, topic, payload) in cases {
            assert_eq!(cmd.topic("4GSolarCam", mac), topic);
            assert_eq!(cmd.payload(), payload);
            assert_eq!(payload.parse::<CameraCommand>().unwrap(), cmd);
            assert_eq!(
                payload.to_uppercase().parse::<CameraCommand>().unwrap(),
                cmd
            );
        }
        assert!("PRESS".parse::<CameraCommand>().is_err());
    }

    #[test]
    fn mac_is_found_under_any_likely_key() {
        for v in [
            json!({"mac": MAC}),
            json!({"MAC": "5C:C5:63:8A:E2:4C"}),
            json!({"devMac": "5c-c5-63-8a-e2-4c"}),
            json!({"device_mac": MAC}),
            json!({"devEUI": MAC}),
            json!({"sn": MAC}),
            json!({"device": {"mac": MAC}}),
            json!({"sn": "6785D1234567X", "info": {"macAddr": MAC}}),
        ] {
            assert_eq!(
                find_mac(&v).unwrap().map(|m| m.to_string()).as_deref(),
                Some(MAC),
                "{v}"
            );
        }
        assert_eq!(find_mac(&json!({"name": MAC})), Ok(None));
        assert_eq!(find_mac(&json!({"sn": "12345"})), Ok(None));
    }

    #[test]
    fn battery_signal_and_firmware_are_read_in_their_many_spellings() {
        let r = StatusReport::read(&obj(json!({
            "mac": MAC, "battery": 87, "battery_voltage": 3.95, "rssi": -71, "firmware": "V1.0.3"
        })));
        assert_eq!(r.mac.unwrap().unwrap().to_string(), MAC);
        assert_eq!(r.battery_percent, Some(87.0));
        assert_eq!(r.battery_voltage, Some(3.95));
        assert_eq!(r.signal_dbm, Some(-71));
        assert_eq!(r.firmware.as_deref(), Some("V1.0.3"));

        let r = StatusReport::read(&obj(
            json!({"Bat": "55%", "voltage": 3950, "csq": 20, "fwVersion": 3}),
        ));
        assert_eq!(r.battery_percent, Some(55.0));
        assert_eq!(r.battery_voltage, Some(3.95));
        assert_eq!(r.signal_dbm, Some(-73));
        assert_eq!(r.firmware.as_deref(), Some("3"));

        let r = StatusReport::read(&obj(
            json!({"battery": {"level": 12, "voltage": "3.6V"}, "model": "SC211-EU"}),
        ));
        assert_eq!(r.battery_percent, Some(12.0));
        assert_eq!(r.battery_voltage, Some(3.6));
        assert_eq!(r.model.as_deref(), Some("SC211-EU"));

        let r = StatusReport::read(&obj(json!({"batteryPercent": 101, "csq": 99})));
        assert_eq!((r.battery_percent, r.signal_dbm), (None, None));
    }

    #[test]
    fn payload_padding_is_tolerated_but_non_objects_are_not() {
        assert!(parse_object(b"{\"a\":1}\n\0\0").is_ok());
        assert_eq!(parse_object(b"[1]"), Err(MessageError::NotObject));
        assert!(matches!(
            parse_object(b"{\"a\":"),
            Err(MessageError::NotJson(_))
        ));
        assert!(matches!(parse_object(b""), Err(MessageError::NotJson(_))));
    }

    fn nested(depth: usize) -> Vec<u8> {
        let mut s = "{\"a\":".repeat(depth);
        s.push('1');
        s.push_str(&"}".repeat(depth));
        s.into_bytes()
    }

    #[test]
    fn deeply_nested_json_is_bounded() {
        // serde_json stops at depth 128; the readers stop walking at depth 6.
        assert!(parse_object(&nested(100_000)).is_err());
        let m = parse_object(&nested(100)).unwrap();
        assert_eq!(StatusReport::read(&m), StatusReport::default());
    }

    proptest! {
        /// Status-like objects: the keys the reader looks for (any case, at the top or under
        /// `values`) and others, holding numbers, numeric text with units, or anything.
        #[test]
        fn status_like_objects_give_values_in_range(
            fields in proptest::collection::vec(
                (
                    prop_oneof![
                        Just("battery"), Just("Bat"), Just("batteryPercent"), Just("battery_voltage"),
                        Just("voltage"), Just("rssi"), Just("csq"), Just("signal"), Just("firmware"),
                        Just("model"), Just("devMac"), Just("other"),
                    ],
                    any::<bool>(),
                    prop_oneof![
                        any::<f64>().prop_map(|f| serde_json::json!(f)),
                        any::<i64>().prop_map(|i| serde_json::json!(i)),
                        (any::<i32>(), prop_oneof![Just(""), Just("%"), Just("V"), Just("mV"), Just(" dBm")])
                            .prop_map(|(n, u)| serde_json::json!(format!("{n}{u}"))),
                        "\\PC{0,20}".prop_map(|s| serde_json::json!(s)),
                        Just(serde_json::json!(null)),
                        Just(serde_json::json!({"nested": 1})),
                    ],
                ),
                0..10,
            ),
        ) {
            let mut top = Map::new();
            let mut values = Map::new();
            for (key, nested, value) in fields {
                if nested { values.insert(key.to_string(), value); } else { top.insert(key.to_string(), value); }
            }
            top.insert("values".into(), Value::Object(values));
            let r = StatusReport::read(&top);
            if let Some(b) = r.battery_percent { prop_assert!((0.0..=100.0).contains(&b), "{b}"); }
            if let Some(v) = r.battery_voltage { prop_assert!(v > 0.0 && v <= 60.0, "{v}"); }
            if let Some(d) = r.signal_dbm { prop_assert!((-150..0).contains(&d), "{d}"); }
        }

        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(m) = parse_object(&data) {
                let _ = StatusReport::read(&m);
            }
        }

        #[test]
        fn arbitrary_json_objects_never_panic(keys in proptest::collection::vec("[a-zA-Z_]{1,12}", 0..8), vals in proptest::collection::vec(any::<f64>(), 0..8), s in "\\PC{0,40}") {
            let mut m = Map::new();
            for (k, v) in keys.iter().zip(vals.iter()) {
                m.insert(k.clone(), json!(v));
                m.insert(format!("{k}s"), json!(s.clone()));
            }
            let _ = StatusReport::read(&m);
        }

        #[test]
        fn arbitrary_topics_never_panic(t in "\\PC{0,80}") {
            let _ = CameraTopic::parse("4GSolarCam", &t);
        }
    }
}

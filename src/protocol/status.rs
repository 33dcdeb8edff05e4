//! Status reports: battery, signal, firmware and model, in whatever spelling the firmware uses.

use serde_json::{Map, Value};

use super::claim::{mac_among, BadMac};
use super::json::{flatten_map, json_number, text, Leaf};
use crate::mac::Mac;

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

/// Keys (normalised, or parent and key joined: `battery.level` → `batterylevel`) for each value.
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

/// A report's leaves, looked up by key.
struct Leaves<'a>(Vec<Leaf<'a>>);

impl<'a> Leaves<'a> {
    fn numbers(&self, keys: &'static [&'static str]) -> impl Iterator<Item = f64> + '_ {
        self.values(keys).filter_map(json_number)
    }

    fn values(&self, keys: &'static [&'static str]) -> impl Iterator<Item = &'a Value> + '_ {
        self.0
            .iter()
            .filter(move |l| keys.contains(&l.key.as_str()) || keys.contains(&l.path.as_str()))
            .map(|l| l.value)
    }
}

impl StatusReport {
    pub fn read(status: &Map<String, Value>) -> StatusReport {
        let mut leaves = Vec::new();
        flatten_map(status, "", 0, &mut leaves);
        let leaves = Leaves(leaves);
        let (battery_percent, millivolts) = battery(&leaves);
        let report = StatusReport {
            mac: mac_among(&leaves.0),
            battery_percent,
            battery_voltage: voltage(&leaves).or(millivolts),
            signal_dbm: signal(&leaves),
            firmware: leaves.values(FIRMWARE).find_map(text),
            model: leaves.values(MODEL).find_map(text),
        };
        report
    }
}

/// The battery's percentage, and its voltage when a "battery" key holds millivolts (some firmware
/// reports only that).
fn battery(leaves: &Leaves) -> (Option<f64>, Option<f64>) {
    let (mut percent, mut volts) = (None, None);
    for v in leaves.numbers(PERCENT) {
        if (0.0..=100.0).contains(&v) {
            percent.get_or_insert(v);
        } else if (1000.0..=30000.0).contains(&v) {
            volts.get_or_insert(v / 1000.0);
        }
    }
    (percent, volts)
}

/// The battery's voltage, in volts or millivolts.
fn voltage(leaves: &Leaves) -> Option<f64> {
    leaves.numbers(VOLTAGE).find_map(|v| {
        if v > 0.0 && v <= 60.0 {
            Some(v)
        } else if (100.0..=60000.0).contains(&v) {
            Some(v / 1000.0)
        } else {
            None
        }
    })
}

/// The signal in dBm: an RSSI-like key first, else a CSQ-like one (in dBm, or as a CSQ index).
fn signal(leaves: &Leaves) -> Option<i32> {
    // Rounded before the range check: -0.4 dBm is no signal reading (a property test found one
    // published as "0").
    let in_dbm = |v: f64| (-150.0..0.0).contains(&v.round()).then_some(v.round());
    let dbm = leaves.numbers(RSSI).find_map(in_dbm).or_else(|| {
        leaves.numbers(CSQ).find_map(|v| {
            // 3GPP TS 27.007: CSQ n is -113 + 2n dBm (99 means unknown).
            in_dbm(v).or_else(|| {
                ((0.0..=31.0).contains(&v) && v.fract() == 0.0).then(|| -113.0 + 2.0 * v)
            })
        })
    });
    dbm.map(|d| d as i32)
}

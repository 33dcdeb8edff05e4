//! `cameras`: the cameras listed, each MAC read whatever its spelling, each listed once.

use std::collections::HashMap;

use super::{duration, Check};
use crate::config::defaults::*;
use crate::config::locate::{locate, Seg};
use crate::config::raw::{RawCamera, Scalar};
use crate::config::{default_camera_name, CameraConfig};
use crate::mac::Mac;

/// The cameras listed: each MAC read (whatever its spelling) and listed once.
pub(super) fn cameras(c: &mut Check, raw: Vec<RawCamera>) -> Vec<CameraConfig> {
    let mut cameras = Vec::with_capacity(raw.len());
    // Each MAC's first camera, by index: its line is looked up only for a duplicate's message
    // (looking up every camera's would read the file once per camera).
    let mut seen: HashMap<Mac, usize> = HashMap::new();
    for (i, cam) in raw.into_iter().enumerate() {
        let mac_path = [Seg::Key("cameras"), Seg::Index(i), Seg::Key("mac")];
        let label = match &cam.name {
            Some(n) => format!("camera {n:?}"),
            None => format!("camera #{}", i + 1),
        };
        let mac_text = cam.mac.text();
        let mac = match (&cam.mac, mac_text.parse::<Mac>()) {
            (Scalar::Text(_), Ok(mac)) => Some(mac),
            (Scalar::Int(_), Ok(mac)) if mac_text.len() == 12 => Some(mac),
            (Scalar::Int(_) | Scalar::Float(_), _) => {
                c.error(
                    &mac_path,
                    format!("{label}: mac {mac_text:?} was read as a number; put it in quotes, e.g. mac: \"5CC5638AE24C\""),
                );
                None
            }
            (Scalar::Text(_), Err(_)) => {
                c.error(
                    &mac_path,
                    format!("{label}: mac {mac_text:?} is not a MAC address (12 hex digits, e.g. 5CC5638AE24C or 5C:C5:63:8A:E2:4C)"),
                );
                None
            }
        };
        let name = match cam.name {
            Some(n) if n.trim().is_empty() => {
                c.error(
                    &[Seg::Key("cameras"), Seg::Index(i), Seg::Key("name")],
                    format!("{label}: name is empty; give it a name or remove the key"),
                );
                continue;
            }
            Some(n) => n.trim().to_string(),
            None => match mac {
                Some(mac) => default_camera_name(mac),
                None => continue,
            },
        };
        let Some(mac) = mac else { continue };
        if let Some(&first) = seen.get(&mac) {
            let first_path = [Seg::Key("cameras"), Seg::Index(first), Seg::Key("mac")];
            let at = match locate(c.text, &first_path) {
                Some(l) => format!("line {l}"),
                None => format!("camera #{}", first + 1),
            };
            c.error(
                &mac_path,
                format!("{label}: mac {mac} is already used by the camera at {at}; each camera must be listed once"),
            );
            continue;
        }
        seen.insert(mac, i);
        let area = cam
            .area
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty());
        let awake_timeout = cam.awake_timeout.map(|t| {
            let path = [
                Seg::Key("cameras"),
                Seg::Index(i),
                Seg::Key("awake_timeout"),
            ];
            duration(c, &path, Some(t), DEFAULT_AWAKE_TIMEOUT)
        });
        cameras.push(CameraConfig {
            mac,
            name,
            area,
            awake_timeout,
        });
    }

    cameras
}

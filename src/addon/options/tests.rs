use super::*;
use crate::addon::MqttService;
use std::time::Duration;

fn service() -> MqttService {
    MqttService {
        host: "core-mosquitto".into(),
        port: 1883,
        ssl: false,
        username: Some("addons".into()),
        password: Some(Secret::new("s3cret-pw")),
    }
}

/// Indented as the Supervisor writes it (json.dumps(indent=2)).
const OPTIONS: &str = r#"{
  "cameras": [
    {
      "mac": "5c:c5:63:8a:e2:4c",
      "name": "Barn",
      "area": "Garden"
    },
    {
      "mac": "5CC5638AE24D",
      "name": "Gate"
    }
  ],
  "alarm_off_after": 45,
  "awake_timeout": 120,
  "log_level": "debug"
}"#;

#[test]
fn options_become_the_configuration_around_the_supervisors_broker() {
    let c = parse(
        OPTIONS,
        "/data/options.json",
        &service(),
        &Shares::default(),
    )
    .expect("valid options");
    let mqtt = c
        .mqtt
        .remote()
        .expect("the Supervisor's broker, not the embedded one");
    assert_eq!(mqtt.url.to_string(), "mqtt://core-mosquitto:1883");
    assert_eq!(mqtt.username.as_deref(), Some("addons"));
    assert_eq!(
        mqtt.password.as_ref().map(Secret::expose),
        Some("s3cret-pw")
    );
    assert!(c.camera_mqtt.is_none());
    assert_eq!(c.cameras.len(), 2);
    assert_eq!(c.cameras[0].mac.to_string(), "5CC5638AE24C");
    assert_eq!(c.cameras[0].name, "Barn");
    assert_eq!(c.cameras[0].area.as_deref(), Some("Garden"));
    assert_eq!(c.cameras[1].area, None);
    assert_eq!(c.alarm_off_after, Duration::from_secs(45));
    assert_eq!(c.awake_timeout, Duration::from_secs(120));
    assert_eq!(c.log_level, Some(crate::config::Level::Debug));
    // Same broker for cameras and Home Assistant: unlisted cameras appear by themselves.
    assert!(c.discover_unknown);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn a_separate_camera_broker_with_its_credentials() {
    let text = r#"{
  "cameras": [],
  "camera_mqtt_url": "mqtts://broker.example.net:8883",
  "camera_mqtt_username": "cams",
  "camera_mqtt_password": "pw"
}"#;
    let c = parse(text, "options.json", &service(), &Shares::default()).unwrap();
    let cam = c.camera_mqtt.expect("camera broker");
    assert_eq!(cam.url.to_string(), "mqtts://broker.example.net:8883");
    assert_eq!(cam.username.as_deref(), Some("cams"));
    assert_eq!(cam.password.as_ref().map(Secret::expose), Some("pw"));
    // On a separate (possibly public) broker, unlisted cameras stay out unless asked for.
    assert!(!c.discover_unknown);
}

#[test]
fn empty_form_fields_are_absent_options() {
    let text = r#"{"cameras": [], "camera_mqtt_url": "", "camera_mqtt_password": ""}"#;
    let c = parse(text, "options.json", &service(), &Shares::default()).unwrap();
    assert!(c.camera_mqtt.is_none());
}

#[test]
fn a_bad_option_is_reported_on_its_line_in_options_json() {
    let text = OPTIONS.replace("5CC5638AE24D", "5CC5");
    let e = parse(&text, "/data/options.json", &service(), &Shares::default()).unwrap_err();
    assert_eq!(
            e.to_string(),
            "/data/options.json:9: camera \"Gate\": mac \"5CC5\" is not a MAC address (12 hex digits, e.g. 5CC5638AE24C or 5C:C5:63:8A:E2:4C)"
        );
    let text = OPTIONS.replace("\"debug\"", "\"loud\"");
    let e = parse(&text, "/data/options.json", &service(), &Shares::default()).unwrap_err();
    assert_eq!(
            e.to_string(),
            "/data/options.json:15: log_level \"loud\" is not a level; use error, warn, info, debug or trace"
        );
}

#[test]
fn a_malformed_file_is_reported_with_serdes_line() {
    let e = parse(
        "{\n  \"cameras\": 3\n}",
        "options.json",
        &service(),
        &Shares::default(),
    )
    .unwrap_err();
    let shown = e.to_string();
    assert!(shown.starts_with("options.json:2: invalid type"), "{shown}");
    let e = parse(
        "{\n  \"camras\": []\n}",
        "options.json",
        &service(),
        &Shares::default(),
    )
    .unwrap_err();
    assert!(e
        .to_string()
        .starts_with("options.json:2: unknown field `camras`"));
}

#[test]
fn no_password_in_errors_or_debug_output() {
    let text = r#"{"cameras": [], "camera_mqtt_url": "ftp://x", "camera_mqtt_password": "hunter2-secret"}"#;
    let e = parse(text, "options.json", &service(), &Shares::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("scheme \"ftp\""), "{e}");
    assert!(
        !e.contains("hunter2-secret") && !e.contains("s3cret-pw"),
        "{e}"
    );
    let o: Options = serde_json::from_str(text).unwrap();
    assert!(!format!("{o:?}").contains("hunter2-secret"));
    assert!(!format!("{:?}", service()).contains("s3cret-pw"));
}

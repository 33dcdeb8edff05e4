//! Every other reader of outside input on arbitrary bytes: alarm JSON (its kind and its MAC),
//! status JSON, MACs, topics (default and with wildcards), and the configuration file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use solarcam_bridge::config::Config;
use solarcam_bridge::mac::Mac;
use solarcam_bridge::protocol::{
    find_mac, parse_object, AlarmKind, CameraTopics, StatusReport, TopicKind,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = parse_object(data) {
        let _ = StatusReport::read(&obj);
        let _ = AlarmKind::of(&obj);
        let _ = find_mac(&serde_json::Value::Object(obj));
    }
    let _ = Mac::find_in(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = text.parse::<Mac>();
        // Read against the default topics, and against filters with wildcards at every place a
        // MAC may be taken from.
        let _ = CameraTopics::under("4GSolarCam").parse(text);
        let custom = CameraTopics::under("4GSolarCam")
            .with(TopicKind::Snapshot, "home/+/snapshot".into())
            .with(TopicKind::Alarm, "alarms/#".into())
            .with(TopicKind::Status, "+/+/status".into());
        let _ = custom.parse(text);
        let _ = Config::parse(text, "fuzz.yaml", None);
    }
});

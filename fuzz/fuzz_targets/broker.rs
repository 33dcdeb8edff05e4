//! The embedded broker's packet reader and session logic, fed any bytes a logged-in client could
//! send: no input may panic it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    solarcam_bridge::broker::fuzz_client_bytes(data);
});

//! The configuration file an administrator writes (services, users, Domain Templates,
//! opening hours, workflows): parsing and checking it must refuse bad input with an
//! error, never panic.
#![no_main]

use interact_server::config::Config;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::parse(text) {
        let _ = config.validate();
    }
});

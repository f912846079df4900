//! Protocol frames as they come off the network: the server decodes client frames, and
//! every client (the widget in the browser too) decodes server frames. Neither may panic,
//! and whatever decodes must encode to a frame that decodes to the same value.
#![no_main]

use interact_sdk::limits::MAX_FRAME_BYTES;
use interact_sdk::protocol::{decode_client, decode_server, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = decode_client(text) {
        let again = encode(&frame);
        if again.len() <= MAX_FRAME_BYTES {
            assert_eq!(decode_client(&again).as_ref(), Ok(&frame), "{again}");
        }
    }
    if let Ok(frame) = decode_server(text) {
        let again = encode(&frame);
        if again.len() <= MAX_FRAME_BYTES {
            assert_eq!(decode_server(&again).as_ref(), Ok(&frame), "{again}");
        }
    }
});

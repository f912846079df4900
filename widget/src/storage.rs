//! Where a visitor's resume token is kept between page loads: the frame's
//! `sessionStorage` (one browser tab; gone when the tab closes). Written only once a
//! session exists, which needs the visitor's consent in the pre-chat form; nothing is
//! stored before. Storage that is unavailable (blocked, full, sandboxed) is treated as
//! empty: the chat works, it just cannot survive a reload. The visitor's device choice for
//! calls is kept under the same rule (only once a session exists).

use interact_sdk::ResumeState;
use web_sys::Storage;

/// The stored resume state of one embed code.
#[derive(Debug, Clone)]
pub(crate) struct ResumeStore {
    key: String,
}

fn storage() -> Option<Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

impl ResumeStore {
    pub(crate) fn new(code: &str) -> Self {
        Self {
            key: format!("interact:resume:{code}"),
        }
    }

    /// The stored state, if there is a well-formed one.
    pub(crate) fn load(&self) -> Option<ResumeState> {
        let text = storage()?.get_item(&self.key).ok().flatten()?;
        crate::json::from_json(&text)
    }

    pub(crate) fn save(&self, state: &ResumeState) {
        if let (Some(s), Ok(text)) = (storage(), serde_json::to_string(state)) {
            let _ = s.set_item(&self.key, &text);
        }
    }

    pub(crate) fn clear(&self) {
        if let Some(s) = storage() {
            let _ = s.remove_item(&self.key);
        }
    }
}

/// Where the visitor's device choice is kept (one for every code: it is a property of
/// the visitor's machine, not of a service).
const DEVICES_KEY: &str = "interact:devices";

/// The remembered device choice, if there is a well-formed one.
pub(crate) fn load_devices() -> Option<crate::devices::DeviceChoice> {
    let text = storage()?.get_item(DEVICES_KEY).ok().flatten()?;
    crate::devices::DeviceChoice::from_text(&text)
}

/// Remembers the device choice. Callers do so only once the visitor consented.
pub(crate) fn save_devices(choice: &crate::devices::DeviceChoice) {
    if let Some(s) = storage() {
        let _ = s.set_item(DEVICES_KEY, &choice.to_text());
    }
}

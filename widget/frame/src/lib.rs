//! The widget's frame module: what every visitor downloads before the first message. Its
//! one export, `mountWidget` ([`interact_widget::widget::mount_widget`]), builds the
//! widget in the frame page (`www/widget/frame.js`); the call code comes later, from the
//! call module (`widget/call`), on the first call click. The JavaScript SDK's
//! `InteractClient` lives in the full package (`interact_widget.js`) only.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// The export is defined in the library; naming it here links it into this module.
pub use interact_widget::widget::mount_widget;

//! Small helpers for building the widget's DOM. Text always goes in through
//! `textContent`, never markup.

use wasm_bindgen::JsCast;
use web_sys::{Document, Element};

/// The document of the page the widget runs in.
pub(crate) fn document() -> Document {
    web_sys::window()
        .and_then(|w| w.document())
        .expect("the widget runs in a page with a document")
}

/// A new `tag` element with `class` (if not empty), appended to `parent`.
pub(crate) fn child(parent: &Element, tag: &str, class: &str) -> Element {
    // (Not `expect`: formatting the `JsValue` error would bring wasm-bindgen's
    // `debugString` into the module for a case that does not happen.)
    let Ok(e) = document().create_element(tag) else {
        unreachable!("tag names used here are valid")
    };
    if !class.is_empty() {
        e.set_class_name(class);
    }
    let _ = parent.append_child(&e);
    e
}

/// Like [`child`], with a typed element.
pub(crate) fn typed<T: JsCast>(parent: &Element, tag: &str, class: &str) -> T {
    child(parent, tag, class).unchecked_into()
}

/// A new `tag` element holding `text`, appended to `parent`.
pub(crate) fn text_child(parent: &Element, tag: &str, class: &str, text: &str) -> Element {
    let e = child(parent, tag, class);
    e.set_text_content(Some(text));
    e
}

/// Sets an attribute; the names used here are valid, so errors cannot happen.
pub(crate) fn attr(e: &Element, name: &str, value: &str) {
    let _ = e.set_attribute(name, value);
}

/// Shows or hides an element (the `hidden` attribute).
pub(crate) fn show(e: &Element, visible: bool) {
    if visible {
        let _ = e.remove_attribute("hidden");
    } else {
        attr(e, "hidden", "");
    }
}

/// Starts playing `media` (a new stream). A play interrupted by a newer stream, or held
/// back by the autoplay policy, is not an error: `autoplay` starts it when it can.
pub(crate) fn play(media: &web_sys::HtmlMediaElement) {
    if let Ok(promise) = media.play() {
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
        });
    }
}

//! English, the default: every word of the widget and of its loader.

use interact_sdk::client::DeliveryState;
use interact_sdk::config::Availability;
use interact_sdk::form::FieldError;
use interact_sdk::protocol::{CallMedia, EndReason, HangupReason, Party};

use super::{CallFailure, CallLanguage, CallStrings, Language, LoaderWords, Strings};
use crate::devices::MediaError;

/// English.
pub(super) static LANGUAGE: Language = Language {
    tag: "en",
    loader: LoaderWords {
        open: "Open chat",
        close: "Close chat",
        title: "Chat",
        unread: " unread",
        refused: "Chat is not available on this website.",
        message: "New message",
        unavailable: "Chat unavailable",
    },
    strings: Strings {
        minimize: "Minimise chat",
        connecting: "Connecting…",
        online: "Connected",
        reconnecting: "Connection lost. Reconnecting…",
        offline: "Disconnected",
        intro: "Tell us who you are, and we will connect you.",
        name: "Your name",
        email: "Email address",
        policy_link: "Privacy policy",
        first_message: "Your question",
        optional: "(optional)",
        start: "Start chat",
        starting: "Starting…",
        message: "Message",
        send: "Send",
        end: "End chat",
        new_chat: "Start a new chat",
        messages: "Messages",
        you: "You",
        waiting: "Waiting for an agent…",
        chat: "Chat",
        audio: "Audio",
        video: "Video",
        screen_share: "Screen sharing",
        cannot_start: "A chat cannot be started right now.",
        server_error: "Something went wrong",
        history: "Earlier conversations",
        identity_refused: "We could not confirm your account, so you chat as a guest.",
        audio_call: "Audio call",
        start_with: "Or start with",
        call_first_audio: "Call",
        call_first_video: "Video call",
        video_call: "Video call",
        survey_question: "How was this chat?",
        survey_comment: "Anything you would like to add?",
        survey_send: "Send rating",
        survey_choose: "Please choose a rating.",
        survey_thanks: "Thank you for your feedback!",
        transcript_download: "Download transcript",
        transcript_email: "Email me the transcript",
        transcript_emailed: "The transcript is on its way to your inbox.",
        transcript_title: "Chat transcript",
        after_chat_failed: "That did not work. Please try again later.",
        closed_until: "We are closed. Back {}.",
        leave_intro: "Leave us a message and we will answer by email.",
        leave_label: "Your message",
        leave_send: "Send message",
        sending: "Sending…",
        left_thanks: "Thank you! We will answer by email at {}.",
        queue_open: "No one is available right now. Start a chat and we will answer as soon as someone is free.",
        wait_minute: "Usually replies within a minute",
        wait_minutes: "Usually replies in about {} minutes",
        more: "More options",
        attach: "Attach a file",
        uploading: "Uploading file",
        file_type: "Only images (PNG, JPEG, GIF, WebP) and PDF files can be sent.",
        file_too_large: "This file is too large. The limit is",
        file_failed: "The file could not be sent. Please try again.",
    },
    availability: |a| match a {
        Availability::Open => "Available",
        Availability::NoAgents => "No one is available right now",
        Availability::Closed => "Closed",
        _ => "Unavailable",
    },
    field_error: |e| match e {
        FieldError::Required => "Please fill this in.".into(),
        FieldError::TooLong { max } => format!("At most {max} characters."),
        FieldError::ControlCharacters => "Please remove control characters.".into(),
        FieldError::InvalidEmail => "Please enter a valid email address.".into(),
        FieldError::ConsentRequired => "Please accept the privacy policy to start a chat.".into(),
        FieldError::ConsentOutdated { current } => {
            format!("The privacy policy has changed. Please read and accept version {current}.")
        }
        _ => "Please check this field.".into(),
    },
    queue_position: |position| match position {
        1 => "You are next in the queue.".into(),
        n => format!("You are number {n} in the queue."),
    },
    joined: |name| format!("{name} joined the chat."),
    left: |name| format!("{name} left the chat."),
    transferred: |name| format!("You are being transferred to {name}."),
    typing: |name| format!("{name} is typing…"),
    ended: |reason| match reason {
        EndReason::VisitorEnded => "You ended the chat.",
        EndReason::AgentEnded => "The agent ended the chat.",
        EndReason::NoAgent => "No agent could take the chat. Please try later.",
        EndReason::Closed => "We are closed at the moment. Please try later.",
        EndReason::IdleTimeout => "The chat ended after a long silence.",
        _ => "The chat has ended.",
    },
    call_ended: |reason, by| match reason {
        HangupReason::Declined => "The call was declined. You can keep chatting.",
        HangupReason::NoAnswer => "Nobody answered the call. You can keep chatting.",
        HangupReason::Busy => "The agent is in another call. You can keep chatting.",
        HangupReason::NotAllowed => "Calls are not available here. You can keep chatting.",
        HangupReason::Failed => "The call failed. You can keep chatting.",
        _ if by == Party::Visitor => "You ended the call.",
        _ => "The call has ended.",
    },
    call_failed: |why| match why {
        CallFailure::Connection => {
            "The call failed: no connection could be made to the agent (a firewall or network may be blocking it). You can keep chatting."
        }
        CallFailure::Negotiation => {
            "The call failed: the browsers could not agree on the media. You can keep chatting."
        }
        CallFailure::Screen => "Screen sharing could not be started. The call goes on.",
        CallFailure::Device => {
            "That device could not be opened. The call goes on with the previous one."
        }
        CallFailure::Unsupported => {
            "The call failed: this browser cannot make calls here. You can keep chatting."
        }
    },
    delivery: |state| match state {
        DeliveryState::Pending => "Sending…",
        DeliveryState::Sent => "Sent",
        DeliveryState::Delivered => "Delivered",
        DeliveryState::Read => "Read",
        DeliveryState::Failed => "Not sent",
    },
    rating: |score| match score {
        1 => "Very poor",
        2 => "Poor",
        3 => "Okay",
        4 => "Good",
        _ => "Excellent",
    },
};

/// English: the call module's words.
pub(super) static CALL: CallLanguage = CallLanguage {
    tag: "en",
    strings: CallStrings {
        call_waiting: "Waiting for an agent to answer…",
        devices_intro: "Choose your microphone and camera. Nothing is sent until you start the call.",
        asking_permission: "Please allow access to your microphone and camera in your browser.",
        microphone: "Microphone",
        camera: "Camera",
        speaker: "Speaker",
        device: "Device",
        level: "Microphone level",
        preview: "Your camera",
        start_audio_call: "Start audio call",
        start_video_call: "Start video call",
        try_again: "Try again",
        cancel: "Cancel",
        done: "Done",
        calling: "Calling…",
        call_connecting: "Connecting the call…",
        in_call: "In call",
        call_reconnecting: "Reconnecting the call…",
        remote_video: "Agent's video",
        own_video: "Your video",
        mute: "Mute",
        camera_on: "Camera",
        share_screen: "Share screen",
        devices: "Devices",
        hang_up: "Hang up",
        call_controls: "Call controls",
        remote_muted: "microphone off",
        remote_screen: "sharing the screen",
    },
    media_error: |e, media| match e {
        MediaError::Denied if media == CallMedia::Video => {
            "Your browser blocked the microphone or camera. Allow access through the camera icon in the address bar or in the site settings, then try again. You can keep chatting meanwhile."
        }
        MediaError::Denied => {
            "Your browser blocked the microphone. Allow access through the icon in the address bar or in the site settings, then try again. You can keep chatting meanwhile."
        }
        MediaError::NotFound if media == CallMedia::Video => {
            "No microphone or camera was found. Connect one and try again, or start an audio call or keep chatting."
        }
        MediaError::NotFound => {
            "No microphone was found. Connect one and try again, or keep chatting."
        }
        MediaError::InUse => {
            "Your microphone or camera is in use by another application. Close it and try again."
        }
        MediaError::Unsupported => "This browser cannot make calls here. You can keep chatting.",
        MediaError::Other => {
            "The microphone or camera could not be started. Try again, or keep chatting."
        }
    },
};

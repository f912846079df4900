//! German: every word of the widget and of its loader.

use interact_sdk::client::DeliveryState;
use interact_sdk::config::Availability;
use interact_sdk::form::FieldError;
use interact_sdk::protocol::{CallMedia, EndReason, HangupReason, Party};

use super::{CallFailure, CallLanguage, CallStrings, Language, LoaderWords, Strings};
use crate::devices::MediaError;

/// German.
pub(super) static LANGUAGE: Language = Language {
    tag: "de",
    loader: LoaderWords {
        open: "Chat öffnen",
        close: "Chat schließen",
        title: "Chat",
        unread: " ungelesen",
        refused: "Der Chat ist auf dieser Website nicht verfügbar.",
        message: "Neue Nachricht",
        unavailable: "Chat nicht verfügbar",
    },
    strings: Strings {
        minimize: "Chat minimieren",
        connecting: "Verbindung wird aufgebaut…",
        online: "Verbunden",
        reconnecting: "Verbindung unterbrochen. Neuer Versuch…",
        offline: "Getrennt",
        intro: "Sagen Sie uns, wer Sie sind, dann verbinden wir Sie.",
        name: "Ihr Name",
        email: "E-Mail-Adresse",
        policy_link: "Datenschutzerklärung",
        first_message: "Ihre Frage",
        optional: "(optional)",
        start: "Chat starten",
        starting: "Wird gestartet…",
        message: "Nachricht",
        send: "Senden",
        end: "Chat beenden",
        new_chat: "Neuen Chat starten",
        messages: "Nachrichten",
        you: "Sie",
        waiting: "Warten auf einen Mitarbeiter…",
        chat: "Chat",
        audio: "Audio",
        video: "Video",
        screen_share: "Bildschirmfreigabe",
        cannot_start: "Ein Chat kann gerade nicht gestartet werden.",
        server_error: "Etwas ist schiefgegangen",
        history: "Frühere Gespräche",
        identity_refused: "Wir konnten Ihr Konto nicht bestätigen; Sie chatten als Gast.",
        audio_call: "Anruf",
        start_with: "Oder beginnen Sie mit",
        call_first_audio: "Anruf",
        call_first_video: "Videoanruf",
        video_call: "Videoanruf",
        survey_question: "Wie war dieser Chat?",
        survey_comment: "Möchten Sie noch etwas ergänzen?",
        survey_send: "Bewertung senden",
        survey_choose: "Bitte wählen Sie eine Bewertung.",
        survey_thanks: "Vielen Dank für Ihre Rückmeldung!",
        transcript_download: "Verlauf herunterladen",
        transcript_email: "Verlauf per E-Mail senden",
        transcript_emailed: "Der Verlauf ist auf dem Weg in Ihr Postfach.",
        transcript_title: "Chatverlauf",
        after_chat_failed: "Das hat nicht geklappt. Bitte versuchen Sie es später noch einmal.",
        closed_until: "Wir haben gerade geschlossen. Wieder da: {}.",
        leave_intro: "Hinterlassen Sie uns eine Nachricht, wir antworten per E-Mail.",
        leave_label: "Ihre Nachricht",
        leave_send: "Nachricht senden",
        sending: "Wird gesendet…",
        left_thanks: "Danke! Wir antworten per E-Mail an {}.",
        queue_open: "Gerade ist niemand erreichbar. Starten Sie den Chat, wir antworten, sobald jemand frei ist.",
        wait_minute: "Antwortet meist innerhalb einer Minute",
        wait_minutes: "Antwortet meist in etwa {} Minuten",
        more: "Weitere Optionen",
        attach: "Datei anhängen",
        uploading: "Datei wird hochgeladen",
        file_type: "Nur Bilder (PNG, JPEG, GIF, WebP) und PDF-Dateien können gesendet werden.",
        file_too_large: "Diese Datei ist zu groß. Die Grenze ist",
        file_failed: "Die Datei konnte nicht gesendet werden. Bitte versuchen Sie es erneut.",
    },
    availability: |a| match a {
        Availability::Open => "Erreichbar",
        Availability::NoAgents => "Gerade ist niemand erreichbar",
        Availability::Closed => "Geschlossen",
        _ => "Nicht erreichbar",
    },
    field_error: |e| match e {
        FieldError::Required => "Bitte ausfüllen.".into(),
        FieldError::TooLong { max } => format!("Höchstens {max} Zeichen."),
        FieldError::ControlCharacters => "Bitte entfernen Sie Steuerzeichen.".into(),
        FieldError::InvalidEmail => "Bitte geben Sie eine gültige E-Mail-Adresse ein.".into(),
        FieldError::ConsentRequired => {
            "Bitte stimmen Sie der Datenschutzerklärung zu, um einen Chat zu starten.".into()
        }
        FieldError::ConsentOutdated { current } => format!(
            "Die Datenschutzerklärung hat sich geändert. Bitte lesen und akzeptieren Sie Version {current}."
        ),
        _ => "Bitte prüfen Sie dieses Feld.".into(),
    },
    queue_position: |position| match position {
        1 => "Sie sind als Nächstes dran.".into(),
        n => format!("Sie sind Nummer {n} in der Warteschlange."),
    },
    joined: |name| format!("{name} ist dem Chat beigetreten."),
    left: |name| format!("{name} hat den Chat verlassen."),
    transferred: |name| format!("Sie werden an {name} weitergeleitet."),
    typing: |name| format!("{name} schreibt…"),
    ended: |reason| match reason {
        EndReason::VisitorEnded => "Sie haben den Chat beendet.",
        EndReason::AgentEnded => "Der Mitarbeiter hat den Chat beendet.",
        EndReason::NoAgent => "Niemand konnte den Chat annehmen. Bitte versuchen Sie es später.",
        EndReason::Closed => "Wir haben gerade geschlossen. Bitte versuchen Sie es später.",
        EndReason::IdleTimeout => "Der Chat endete nach langer Stille.",
        _ => "Der Chat ist beendet.",
    },
    call_ended: |reason, by| match reason {
        HangupReason::Declined => "Der Anruf wurde abgelehnt. Der Chat geht weiter.",
        HangupReason::NoAnswer => "Niemand hat den Anruf angenommen. Der Chat geht weiter.",
        HangupReason::Busy => {
            "Der Mitarbeiter ist in einem anderen Gespräch. Der Chat geht weiter."
        }
        HangupReason::NotAllowed => "Anrufe sind hier nicht möglich. Der Chat geht weiter.",
        HangupReason::Failed => "Der Anruf ist fehlgeschlagen. Der Chat geht weiter.",
        _ if by == Party::Visitor => "Sie haben den Anruf beendet.",
        _ => "Der Anruf ist beendet.",
    },
    call_failed: |why| match why {
        CallFailure::Connection => {
            "Der Anruf ist fehlgeschlagen: Es konnte keine Verbindung zum Mitarbeiter hergestellt werden (eine Firewall oder das Netzwerk blockiert sie vielleicht). Der Chat geht weiter."
        }
        CallFailure::Negotiation => {
            "Der Anruf ist fehlgeschlagen: Die Browser konnten sich nicht auf die Medien einigen. Der Chat geht weiter."
        }
        CallFailure::Screen => {
            "Die Bildschirmfreigabe konnte nicht gestartet werden. Der Anruf geht weiter."
        }
        CallFailure::Device => {
            "Das Gerät konnte nicht geöffnet werden. Der Anruf geht mit dem bisherigen weiter."
        }
        CallFailure::Unsupported => {
            "Der Anruf ist fehlgeschlagen: Mit diesem Browser sind hier keine Anrufe möglich. Der Chat geht weiter."
        }
    },
    delivery: |state| match state {
        DeliveryState::Pending => "Wird gesendet…",
        DeliveryState::Sent => "Gesendet",
        DeliveryState::Delivered => "Zugestellt",
        DeliveryState::Read => "Gelesen",
        DeliveryState::Failed => "Nicht gesendet",
    },
    rating: |score| match score {
        1 => "Sehr schlecht",
        2 => "Schlecht",
        3 => "Mittelmäßig",
        4 => "Gut",
        _ => "Sehr gut",
    },
};

/// German: the call module's words.
pub(super) static CALL: CallLanguage = CallLanguage {
    tag: "de",
    strings: CallStrings {
        call_waiting: "Warten, bis jemand annimmt …",
        devices_intro: "Wählen Sie Mikrofon und Kamera. Gesendet wird erst, wenn Sie den Anruf starten.",
        asking_permission: "Bitte erlauben Sie Ihrem Browser den Zugriff auf Mikrofon und Kamera.",
        microphone: "Mikrofon",
        camera: "Kamera",
        speaker: "Lautsprecher",
        device: "Gerät",
        level: "Mikrofonpegel",
        preview: "Ihre Kamera",
        start_audio_call: "Anruf starten",
        start_video_call: "Videoanruf starten",
        try_again: "Erneut versuchen",
        cancel: "Abbrechen",
        done: "Fertig",
        calling: "Anruf wird aufgebaut…",
        call_connecting: "Verbindung wird hergestellt…",
        in_call: "Im Gespräch",
        call_reconnecting: "Anruf wird wieder verbunden…",
        remote_video: "Video des Mitarbeiters",
        own_video: "Ihr Video",
        mute: "Stumm",
        camera_on: "Kamera",
        share_screen: "Bildschirm teilen",
        devices: "Geräte",
        hang_up: "Auflegen",
        call_controls: "Anrufsteuerung",
        remote_muted: "Mikrofon aus",
        remote_screen: "teilt den Bildschirm",
    },
    media_error: |e, media| match e {
        MediaError::Denied if media == CallMedia::Video => {
            "Ihr Browser hat Mikrofon oder Kamera blockiert. Erlauben Sie den Zugriff über das Kamera-Symbol in der Adressleiste oder in den Website-Einstellungen und versuchen Sie es erneut. Der Chat geht weiter."
        }
        MediaError::Denied => {
            "Ihr Browser hat das Mikrofon blockiert. Erlauben Sie den Zugriff über das Symbol in der Adressleiste oder in den Website-Einstellungen und versuchen Sie es erneut. Der Chat geht weiter."
        }
        MediaError::NotFound if media == CallMedia::Video => {
            "Es wurde kein Mikrofon und keine Kamera gefunden. Schließen Sie eines an und versuchen Sie es erneut, oder starten Sie einen Anruf ohne Video oder chatten Sie weiter."
        }
        MediaError::NotFound => {
            "Es wurde kein Mikrofon gefunden. Schließen Sie eines an und versuchen Sie es erneut, oder chatten Sie weiter."
        }
        MediaError::InUse => {
            "Mikrofon oder Kamera werden von einer anderen Anwendung verwendet. Schließen Sie sie und versuchen Sie es erneut."
        }
        MediaError::Unsupported => {
            "Mit diesem Browser sind hier keine Anrufe möglich. Der Chat geht weiter."
        }
        MediaError::Other => {
            "Mikrofon oder Kamera konnten nicht gestartet werden. Versuchen Sie es erneut oder chatten Sie weiter."
        }
    },
};

// The console's words in English and German, and its dates and times in the chosen
// language. The language is the agent's choice (the switch in the top bar and on the
// sign-in card, kept in localStorage), else the browser's: German for any `de*` in
// `navigator.languages`, else English. `<html lang>` follows it.
//
// `t(key, params)` is a text with `{name}` filled in from params (as text: the page
// puts it in textContent or an attribute, never markup). `tn(key, n, params)` picks
// `<key>.one` or `<key>.other` by the language's plural rules, with `{n}` set.
// Elements of the page get their words from attributes: `data-i18n` (the text), and
// `data-i18n-aria-label`, `data-i18n-title`, `data-i18n-placeholder` (the attribute).
//
// Both dictionaries have the same keys, one `"key": "text",` a line (the e2e tests read
// this file and fail on a key missing in either, or used but in neither).

const KEY = "interact.console.lang";

/** The languages offered, by their code. */
export const LANGS = ["en", "de"];

export const en = {
  "app.title": "Interact agent console",
  "app.title_count": "({n}) Interact agent console",
  "app.signin_title": "Sign in · Interact agent console",
  "app.load_failed": "The console could not load. Reload the page, or ask your administrator.",
  "lang.label": "Language",
  "signin.lead": "Sign in to the agent console.",
  "signin.username": "Username",
  "signin.password": "Password",
  "signin.submit": "Sign in",
  "signin.missing": "Enter your username and password.",
  "signin.wrong": "Wrong username or password.",
  "signin.rate_limited": "Too many attempts. Wait a moment and try again.",
  "signin.http": "Sign-in failed (HTTP {status}). Try again later.",
  "signin.unexpected": "The server sent an unexpected answer. Try again later.",
  "signin.unreachable": "Could not reach the server. Check the connection and try again.",
  "signin.expired": "Your sign-in has expired or was revoked. Please sign in again.",
  "signin.signed_out": "You have signed out.",
  "signin.cannot_start": "The console could not start. Please sign in again.",
  "top.brand_sub": "Agent console",
  "top.signout": "Sign out",
  "top.signout_confirm.one": "You have {n} open chat. Sign out anyway? The visitor will wait for another agent.",
  "top.signout_confirm.other": "You have {n} open chats. Sign out anyway? The visitors will wait for another agent.",
  "presence.label": "Status",
  "presence.available": "Available",
  "presence.busy": "Busy",
  "presence.away": "Away",
  "presence.offline": "Offline",
  "alerts.sound": "Sound",
  "alerts.sound_title": "A sound for new chats and messages while you are elsewhere",
  "alerts.notify": "Notifications",
  "alerts.notify_title": "Desktop notifications for new chats and messages while you are elsewhere",
  "alerts.notify_blocked": "Notifications are blocked for this site in the browser's settings.",
  "alerts.a_visitor": "A visitor",
  "alerts.video_call": "Incoming video call",
  "alerts.call": "Incoming call",
  "alerts.new_chat": "New chat",
  "alerts.title": "{what}: {who}",
  "alerts.via": "via {target}",
  "conn.online": "Online",
  "conn.connecting": "Connecting…",
  "conn.reconnecting": "Reconnecting…",
  "conn.retrying_in": "Connection lost · retrying in {secs} s",
  "conn.retrying": "Connection lost · retrying…",
  "conn.disconnected": "Disconnected · {why}",
  "conn.retry": "Retry now",
  "conn.reconnect": "Reconnect",
  "close.1000": "The server closed the connection.",
  "close.1008": "The server refused the connection.",
  "close.4000": "The server speaks another protocol version.",
  "close.4003": "The server reported a protocol violation.",
  "close.4011": "The console was opened somewhere else.",
  "close.other": "The connection was closed.",
  "side.incoming": "Incoming",
  "side.offers_empty": "No chats waiting for you.",
  "side.chats": "My chats",
  "side.chats_empty": "Accepted chats appear here.",
  "side.messages": "Messages",
  "side.offline_empty": "No messages to answer.",
  "side.unread.one": " unread message",
  "side.unread.other": " unread messages",
  "main.none_title": "No chat selected",
  "main.none_text": "Accept an incoming chat, or pick one of your chats on the left.",
  "offer.expiring": "expiring",
  "offer.secs_left": "{n} s left",
  "offer.mins_left": "{n} min left",
  "offer.via": "via {target}",
  "offer.video_call": "Incoming video call",
  "offer.audio_call": "Incoming audio call",
  "offer.no_first": "No first message",
  "offer.decline": "Decline",
  "offer.accept": "Accept",
  "chat.visitor": "Visitor",
  "chat.you_ended": "You ended the chat",
  "chat.transferred_to": "Transferred to {name}",
  "chat.you_left": "You left this chat",
  "chat.typing": "Typing…",
  "chat.you_said": "You: {text}",
  "chat.joining": "Joining…",
  "chat.no_messages": "No messages yet",
  "end.visitor_ended": "The visitor ended the chat",
  "end.agent_ended": "The chat was ended by an agent",
  "end.no_agent": "No agent could take the chat",
  "end.closed": "The chat was closed (outside opening hours)",
  "end.idle_timeout": "The chat ended after a period of inactivity",
  "end.workflow": "The chat was ended by the workflow",
  "end.failed": "The chat failed",
  "end.other": "The chat ended",
  "session.transfer": "Transfer",
  "session.end": "End chat",
  "session.close": "Close",
  "session.end_confirm": "End the chat with {name}?",
  "session.ended": "Ended",
  "session.left": "Left",
  "session.transferring": "Transferring…",
  "session.ending": "Ending…",
  "session.via": "via {target}",
  "call.accept": "Accept call",
  "call.decline": "Decline call",
  "call.remote": "The visitor",
  "call.screen": "The visitor's screen",
  "call.local": "Your camera",
  "call.mute": "Mute",
  "call.unmute": "Unmute",
  "call.camera_off": "Camera off",
  "call.camera_on": "Camera on",
  "call.hangup": "Hang up",
  "call.mic": "Microphone",
  "call.cam": "Camera",
  "call.speaker": "Speaker",
  "call.device_audioinput": "Microphone {n}",
  "call.device_videoinput": "Camera {n}",
  "call.device_audiooutput": "Speaker {n}",
  "call.asking_video": "The visitor is asking for a video call.",
  "call.asking_audio": "The visitor is asking for an audio call.",
  "call.no_mic": "Your microphone is not available ({why}). Allow it in the browser, or decline the call.",
  "call.no_mic_cam": "Your microphone or camera is not available ({why}). Allow it in the browser, or decline the call.",
  "call.reconnecting": "Reconnecting the call…",
  "call.connected": "Connected",
  "call.connecting": "Connecting…",
  "call.visitor_muted": "the visitor is muted",
  "call.visitor_screen": "the visitor shares their screen",
  "quality.good": "Good connection",
  "quality.fair": "Fair connection",
  "quality.poor": "Poor connection",
  "quality.rtt": "round trip {n} ms",
  "quality.loss": "packet loss {n} %",
  "quality.jitter": "jitter {n} ms",
  "quality.bitrate": "{n} kbit/s received",
  "quality.video": "video {w}×{h}",
  "composer.label": "Message",
  "composer.label_to": "Message to {name}",
  "composer.placeholder": "Write a reply…",
  "composer.ended": "This chat has ended.",
  "composer.transferred_to": "Transferred to {name}.",
  "composer.left": "You left this chat.",
  "composer.attach": "Attach a file",
  "composer.attach_title": "Attach a file (image or PDF)",
  "composer.send": "Send",
  "composer.uploading": "Uploading file",
  "composer.replies": "Saved replies",
  "composer.hint": "Enter to send · Shift+Enter for a new line",
  "composer.too_long": "Messages can be at most {max} characters long.",
  "composer.control_characters": "The message contains characters that cannot be sent.",
  "composer.not_writable": "You can no longer write in this chat.",
  "composer.cannot_send": "The message cannot be sent.",
  "composer.typing": "{name} is typing…",
  "status.pending": "Sending…",
  "status.sent": "Sent",
  "status.delivered": "Delivered",
  "status.read": "Read",
  "status.failed": "Not sent",
  "failed.ended": "Not sent: the chat ended",
  "failed.session_ended": "Not sent: the chat ended",
  "failed.invalid_field": "Not sent: refused by the server",
  "failed.not_allowed": "Not sent: not allowed now",
  "failed.unknown_session": "Not sent: chat not available",
  "failed.session_full": "Not sent: the chat holds all it can",
  "error.unsupported_protocol": "The server speaks another protocol version.",
  "error.malformed": "The server could not read a request from the console.",
  "error.frame_too_large": "A request was too large for the server.",
  "error.too_deep": "A request was too complex for the server.",
  "error.unknown_type": "The server does not support a request from the console.",
  "error.invalid_field": "The server refused a request.",
  "error.handshake_required": "The connection was refused (handshake).",
  "error.unauthorized": "Your sign-in is no longer valid.",
  "error.unknown_session": "That chat is not available.",
  "error.not_allowed": "That is not possible right now.",
  "error.rate_limited": "Too many requests. Slow down a little.",
  "error.session_ended": "That chat has already ended.",
  "error.internal": "The server had a problem. The console will retry.",
  "error.session_full": "That chat holds all it can; it can only be ended.",
  "error.other": "The server reported an error ({code}).",
  "notice.accept_refused": "That chat is no longer available: another agent took it or the visitor left.",
  "notice.transfer_refused": "The chat was not transferred: {message}.",
  "notice.message_refused": "A message could not be sent; it is marked in the chat.",
  "notice.dismiss": "Dismiss",
  "sys.started": "{name} started the chat via {target}",
  "sys.queued": "Waiting in the queue (position {position})",
  "sys.joined": "{who} joined the chat",
  "sys.you_joined": "You joined the chat",
  "sys.left": "{who} left the chat",
  "sys.you_left": "You left the chat",
  "sys.you_transferred": "You transferred the chat to {to}",
  "sys.transferred": "{by} transferred the chat to {to}",
  "sys.the_workflow": "The workflow",
  "sys.call_video": "The visitor asked for a video call",
  "sys.call_audio": "The visitor asked for an audio call",
  "sys.call_declined": "The call was declined",
  "sys.visitor_hung_up": "The visitor hung up",
  "sys.call_ended": "The call ended",
  "sys.undelivered_yours": "Your message did not reach the visitor: {reason}",
  "sys.undelivered": "A message did not reach the visitor: {reason}",
  "msg.you": "You",
  "msg.agent": "Agent",
  "msg.system": "System",
  "msg.answer": "Answer · {name}",
  "file.unsupported_type": "Only images (PNG, JPEG, GIF, WebP) and PDF files can be sent.",
  "file.too_large": "This file is too large.",
  "file.rate_limited": "Too many files in this chat; wait a minute.",
  "file.session_ended": "This chat has ended.",
  "file.not_allowed": "You cannot send files in this chat.",
  "file.failed": "The file could not be sent. Try again.",
  "file.label": "{name} ({size})",
  "details.visitor": "Visitor",
  "details.name": "Name",
  "details.email": "Email",
  "details.account": "Account",
  "details.verified": "Verified",
  "details.contacted": "Contacted",
  "details.consent": "Consent",
  "details.started": "Started",
  "details.agents": "Agents",
  "details.session": "Session",
  "details.page": "Page",
  "details.attributes": "Attributes",
  "details.direct": "{name} (direct)",
  "details.service": "{name} (service)",
  "details.policy": "Privacy policy version {version}",
  "details.given": "given {when}",
  "answers.heading": "Answers",
  "answers.note": "(to the workflow's questions)",
  "answers.list": "The visitor's answers",
  "answers.marked": "Answers to the workflow's questions are marked in the chat.",
  "notes.heading": "Notes",
  "notes.only": "(agents only)",
  "notes.empty": "No notes yet.",
  "notes.input": "A note for agents (the visitor does not see it)",
  "notes.placeholder": "A note for colleagues…",
  "notes.add": "Add note",
  "notes.not_saved": "Not saved: {why}",
  "notes.unreachable": "Not saved: the server cannot be reached. Try again.",
  "transfer.title": "Transfer the chat",
  "transfer.title_chat": "Transfer the chat with {name}",
  "transfer.title_call": "Transfer the call with {name}",
  "transfer.call_goes_on": "A call is in progress: it can go to a service only. It leaves you when you transfer, and goes on with the agent who takes it.",
  "transfer.call_ends": "A call is in progress: it can go to a service only, and it ends when you transfer.",
  "transfer.note": "The transcript goes with the chat; the visitor waits for the next agent.",
  "transfer.services": "Services",
  "transfer.people": "People",
  "transfer.loading": "Loading…",
  "transfer.load_failed": "The list could not be loaded. Close and try again.",
  "transfer.available": "{n} available",
  "transfer.nobody": "nobody available",
  "transfer.no_service": "No other service.",
  "transfer.user_available": "available",
  "transfer.user_unavailable": "not available",
  "transfer.cannot": "The chat cannot be transferred now (offline, or it has ended).",
  "transfer.cancel": "Cancel",
  "transfer.confirm": "Transfer",
  "replies.title": "Saved replies",
  "replies.empty": "No saved replies yet.",
  "replies.save": "Save the message as a reply",
  "replies.close": "Close",
  "replies.delete": "Delete",
  "replies.delete_label": "Delete the saved reply: {text}",
  "replies.default_1": "Thank you for waiting. I am looking into it now.",
  "replies.default_2": "Could you tell me your order number, please?",
  "replies.default_3": "Is there anything else I can help you with?",
  "replies.default_4": "Thank you for contacting us. Have a nice day!",
  "offline.from": "Message from",
  "offline.email": "Email",
  "offline.left": "Left",
  "offline.page": "Page",
  "offline.answer": "Answer by email",
  "offline.cancel": "Cancel",
  "offline.send": "Send answer",
  "offline.write_first": "Write an answer first.",
  "offline.not_sent_why": "Not sent: {why}",
  "offline.not_sent_status": "Not sent ({status}).",
  "offline.unreachable": "Not sent: the server cannot be reached. Try again.",
  "offline.sent": "Answer sent to {email}.",
};

export const de = {
  "app.title": "Interact Agentenkonsole",
  "app.title_count": "({n}) Interact Agentenkonsole",
  "app.signin_title": "Anmelden · Interact Agentenkonsole",
  "app.load_failed": "Die Konsole konnte nicht geladen werden. Laden Sie die Seite neu oder wenden Sie sich an Ihre Administration.",
  "lang.label": "Sprache",
  "signin.lead": "Melden Sie sich an der Agentenkonsole an.",
  "signin.username": "Benutzername",
  "signin.password": "Passwort",
  "signin.submit": "Anmelden",
  "signin.missing": "Geben Sie Ihren Benutzernamen und Ihr Passwort ein.",
  "signin.wrong": "Benutzername oder Passwort ist falsch.",
  "signin.rate_limited": "Zu viele Versuche. Warten Sie einen Moment und versuchen Sie es erneut.",
  "signin.http": "Die Anmeldung ist fehlgeschlagen (HTTP {status}). Versuchen Sie es später erneut.",
  "signin.unexpected": "Der Server hat unerwartet geantwortet. Versuchen Sie es später erneut.",
  "signin.unreachable": "Der Server ist nicht erreichbar. Prüfen Sie die Verbindung und versuchen Sie es erneut.",
  "signin.expired": "Ihre Anmeldung ist abgelaufen oder wurde widerrufen. Bitte melden Sie sich erneut an.",
  "signin.signed_out": "Sie haben sich abgemeldet.",
  "signin.cannot_start": "Die Konsole konnte nicht starten. Bitte melden Sie sich erneut an.",
  "top.brand_sub": "Agentenkonsole",
  "top.signout": "Abmelden",
  "top.signout_confirm.one": "Sie haben {n} offenen Chat. Trotzdem abmelden? Der Besucher wartet dann auf einen anderen Agenten.",
  "top.signout_confirm.other": "Sie haben {n} offene Chats. Trotzdem abmelden? Die Besucher warten dann auf einen anderen Agenten.",
  "presence.label": "Status",
  "presence.available": "Verfügbar",
  "presence.busy": "Beschäftigt",
  "presence.away": "Abwesend",
  "presence.offline": "Offline",
  "alerts.sound": "Ton",
  "alerts.sound_title": "Ein Ton bei neuen Chats und Nachrichten, während Sie anderswo sind",
  "alerts.notify": "Benachrichtigungen",
  "alerts.notify_title": "Desktop-Benachrichtigungen bei neuen Chats und Nachrichten, während Sie anderswo sind",
  "alerts.notify_blocked": "Benachrichtigungen sind für diese Website in den Browsereinstellungen blockiert.",
  "alerts.a_visitor": "Ein Besucher",
  "alerts.video_call": "Eingehender Videoanruf",
  "alerts.call": "Eingehender Anruf",
  "alerts.new_chat": "Neuer Chat",
  "alerts.title": "{what}: {who}",
  "alerts.via": "über {target}",
  "conn.online": "Online",
  "conn.connecting": "Verbindung wird aufgebaut…",
  "conn.reconnecting": "Verbindung wird wiederhergestellt…",
  "conn.retrying_in": "Verbindung verloren · neuer Versuch in {secs} s",
  "conn.retrying": "Verbindung verloren · neuer Versuch…",
  "conn.disconnected": "Getrennt · {why}",
  "conn.retry": "Jetzt erneut versuchen",
  "conn.reconnect": "Neu verbinden",
  "close.1000": "Der Server hat die Verbindung geschlossen.",
  "close.1008": "Der Server hat die Verbindung abgelehnt.",
  "close.4000": "Der Server spricht eine andere Protokollversion.",
  "close.4003": "Der Server hat eine Protokollverletzung gemeldet.",
  "close.4011": "Die Konsole wurde an anderer Stelle geöffnet.",
  "close.other": "Die Verbindung wurde geschlossen.",
  "side.incoming": "Eingehend",
  "side.offers_empty": "Keine Chats warten auf Sie.",
  "side.chats": "Meine Chats",
  "side.chats_empty": "Angenommene Chats erscheinen hier.",
  "side.messages": "Nachrichten",
  "side.offline_empty": "Keine Nachrichten zu beantworten.",
  "side.unread.one": " ungelesene Nachricht",
  "side.unread.other": " ungelesene Nachrichten",
  "main.none_title": "Kein Chat ausgewählt",
  "main.none_text": "Nehmen Sie einen eingehenden Chat an oder wählen Sie links einen Ihrer Chats.",
  "offer.expiring": "läuft ab",
  "offer.secs_left": "noch {n} s",
  "offer.mins_left": "noch {n} min",
  "offer.via": "über {target}",
  "offer.video_call": "Eingehender Videoanruf",
  "offer.audio_call": "Eingehender Audioanruf",
  "offer.no_first": "Keine erste Nachricht",
  "offer.decline": "Ablehnen",
  "offer.accept": "Annehmen",
  "chat.visitor": "Besucher",
  "chat.you_ended": "Sie haben den Chat beendet",
  "chat.transferred_to": "Weitergeleitet an {name}",
  "chat.you_left": "Sie haben diesen Chat verlassen",
  "chat.typing": "Schreibt…",
  "chat.you_said": "Sie: {text}",
  "chat.joining": "Wird beigetreten…",
  "chat.no_messages": "Noch keine Nachrichten",
  "end.visitor_ended": "Der Besucher hat den Chat beendet",
  "end.agent_ended": "Ein Agent hat den Chat beendet",
  "end.no_agent": "Kein Agent konnte den Chat übernehmen",
  "end.closed": "Der Chat wurde geschlossen (außerhalb der Öffnungszeiten)",
  "end.idle_timeout": "Der Chat wurde nach einer Zeit ohne Aktivität beendet",
  "end.workflow": "Der Workflow hat den Chat beendet",
  "end.failed": "Der Chat ist fehlgeschlagen",
  "end.other": "Der Chat wurde beendet",
  "session.transfer": "Weiterleiten",
  "session.end": "Chat beenden",
  "session.close": "Schließen",
  "session.end_confirm": "Den Chat mit {name} beenden?",
  "session.ended": "Beendet",
  "session.left": "Verlassen",
  "session.transferring": "Wird weitergeleitet…",
  "session.ending": "Wird beendet…",
  "session.via": "über {target}",
  "call.accept": "Anruf annehmen",
  "call.decline": "Anruf ablehnen",
  "call.remote": "Der Besucher",
  "call.screen": "Der Bildschirm des Besuchers",
  "call.local": "Ihre Kamera",
  "call.mute": "Stummschalten",
  "call.unmute": "Stummschaltung aufheben",
  "call.camera_off": "Kamera aus",
  "call.camera_on": "Kamera an",
  "call.hangup": "Auflegen",
  "call.mic": "Mikrofon",
  "call.cam": "Kamera",
  "call.speaker": "Lautsprecher",
  "call.device_audioinput": "Mikrofon {n}",
  "call.device_videoinput": "Kamera {n}",
  "call.device_audiooutput": "Lautsprecher {n}",
  "call.asking_video": "Der Besucher möchte einen Videoanruf.",
  "call.asking_audio": "Der Besucher möchte einen Audioanruf.",
  "call.no_mic": "Ihr Mikrofon ist nicht verfügbar ({why}). Erlauben Sie es im Browser oder lehnen Sie den Anruf ab.",
  "call.no_mic_cam": "Ihr Mikrofon oder Ihre Kamera ist nicht verfügbar ({why}). Erlauben Sie es im Browser oder lehnen Sie den Anruf ab.",
  "call.reconnecting": "Der Anruf wird wiederhergestellt…",
  "call.connected": "Verbunden",
  "call.connecting": "Verbindung wird aufgebaut…",
  "call.visitor_muted": "der Besucher ist stummgeschaltet",
  "call.visitor_screen": "der Besucher teilt seinen Bildschirm",
  "quality.good": "Gute Verbindung",
  "quality.fair": "Mittlere Verbindung",
  "quality.poor": "Schlechte Verbindung",
  "quality.rtt": "Umlaufzeit {n} ms",
  "quality.loss": "Paketverlust {n} %",
  "quality.jitter": "Jitter {n} ms",
  "quality.bitrate": "{n} kbit/s empfangen",
  "quality.video": "Video {w}×{h}",
  "composer.label": "Nachricht",
  "composer.label_to": "Nachricht an {name}",
  "composer.placeholder": "Antwort schreiben…",
  "composer.ended": "Dieser Chat ist beendet.",
  "composer.transferred_to": "Weitergeleitet an {name}.",
  "composer.left": "Sie haben diesen Chat verlassen.",
  "composer.attach": "Datei anhängen",
  "composer.attach_title": "Datei anhängen (Bild oder PDF)",
  "composer.send": "Senden",
  "composer.uploading": "Datei wird hochgeladen",
  "composer.replies": "Gespeicherte Antworten",
  "composer.hint": "Enter zum Senden · Umschalt+Enter für eine neue Zeile",
  "composer.too_long": "Nachrichten dürfen höchstens {max} Zeichen lang sein.",
  "composer.control_characters": "Die Nachricht enthält Zeichen, die nicht gesendet werden können.",
  "composer.not_writable": "Sie können in diesem Chat nicht mehr schreiben.",
  "composer.cannot_send": "Die Nachricht kann nicht gesendet werden.",
  "composer.typing": "{name} schreibt…",
  "status.pending": "Wird gesendet…",
  "status.sent": "Gesendet",
  "status.delivered": "Zugestellt",
  "status.read": "Gelesen",
  "status.failed": "Nicht gesendet",
  "failed.ended": "Nicht gesendet: Der Chat ist beendet",
  "failed.session_ended": "Nicht gesendet: Der Chat ist beendet",
  "failed.invalid_field": "Nicht gesendet: vom Server abgelehnt",
  "failed.not_allowed": "Nicht gesendet: jetzt nicht erlaubt",
  "failed.unknown_session": "Nicht gesendet: Chat nicht verfügbar",
  "failed.session_full": "Nicht gesendet: Der Chat ist voll",
  "error.unsupported_protocol": "Der Server spricht eine andere Protokollversion.",
  "error.malformed": "Der Server konnte eine Anfrage der Konsole nicht lesen.",
  "error.frame_too_large": "Eine Anfrage war für den Server zu groß.",
  "error.too_deep": "Eine Anfrage war für den Server zu komplex.",
  "error.unknown_type": "Der Server unterstützt eine Anfrage der Konsole nicht.",
  "error.invalid_field": "Der Server hat eine Anfrage abgelehnt.",
  "error.handshake_required": "Die Verbindung wurde abgelehnt (Handshake).",
  "error.unauthorized": "Ihre Anmeldung ist nicht mehr gültig.",
  "error.unknown_session": "Dieser Chat ist nicht verfügbar.",
  "error.not_allowed": "Das ist gerade nicht möglich.",
  "error.rate_limited": "Zu viele Anfragen. Bitte etwas langsamer.",
  "error.session_ended": "Dieser Chat ist bereits beendet.",
  "error.internal": "Der Server hatte ein Problem. Die Konsole versucht es erneut.",
  "error.session_full": "Dieser Chat ist voll; er kann nur noch beendet werden.",
  "error.other": "Der Server hat einen Fehler gemeldet ({code}).",
  "notice.accept_refused": "Dieser Chat ist nicht mehr verfügbar: Ein anderer Agent hat ihn übernommen oder der Besucher ist gegangen.",
  "notice.transfer_refused": "Der Chat wurde nicht weitergeleitet: {message}.",
  "notice.message_refused": "Eine Nachricht konnte nicht gesendet werden; sie ist im Chat markiert.",
  "notice.dismiss": "Schließen",
  "sys.started": "{name} hat den Chat über {target} begonnen",
  "sys.queued": "Wartet in der Warteschlange (Position {position})",
  "sys.joined": "{who} ist dem Chat beigetreten",
  "sys.you_joined": "Sie sind dem Chat beigetreten",
  "sys.left": "{who} hat den Chat verlassen",
  "sys.you_left": "Sie haben den Chat verlassen",
  "sys.you_transferred": "Sie haben den Chat an {to} weitergeleitet",
  "sys.transferred": "{by} hat den Chat an {to} weitergeleitet",
  "sys.the_workflow": "Der Workflow",
  "sys.call_video": "Der Besucher hat um einen Videoanruf gebeten",
  "sys.call_audio": "Der Besucher hat um einen Audioanruf gebeten",
  "sys.call_declined": "Der Anruf wurde abgelehnt",
  "sys.visitor_hung_up": "Der Besucher hat aufgelegt",
  "sys.call_ended": "Der Anruf wurde beendet",
  "sys.undelivered_yours": "Ihre Nachricht hat den Besucher nicht erreicht: {reason}",
  "sys.undelivered": "Eine Nachricht hat den Besucher nicht erreicht: {reason}",
  "msg.you": "Sie",
  "msg.agent": "Agent",
  "msg.system": "System",
  "msg.answer": "Angabe · {name}",
  "file.unsupported_type": "Nur Bilder (PNG, JPEG, GIF, WebP) und PDF-Dateien können gesendet werden.",
  "file.too_large": "Diese Datei ist zu groß.",
  "file.rate_limited": "Zu viele Dateien in diesem Chat; warten Sie eine Minute.",
  "file.session_ended": "Dieser Chat ist beendet.",
  "file.not_allowed": "Sie können in diesem Chat keine Dateien senden.",
  "file.failed": "Die Datei konnte nicht gesendet werden. Versuchen Sie es erneut.",
  "file.label": "{name} ({size})",
  "details.visitor": "Besucher",
  "details.name": "Name",
  "details.email": "E-Mail",
  "details.account": "Konto",
  "details.verified": "Verifiziert",
  "details.contacted": "Kontaktiert",
  "details.consent": "Einwilligung",
  "details.started": "Begonnen",
  "details.agents": "Agenten",
  "details.session": "Sitzung",
  "details.page": "Seite",
  "details.attributes": "Attribute",
  "details.direct": "{name} (direkt)",
  "details.service": "{name} (Service)",
  "details.policy": "Datenschutzerklärung Version {version}",
  "details.given": "erteilt {when}",
  "answers.heading": "Angaben",
  "answers.note": "(auf die Fragen des Workflows)",
  "answers.list": "Die Angaben des Besuchers",
  "answers.marked": "Antworten auf die Fragen des Workflows sind im Chat markiert.",
  "notes.heading": "Notizen",
  "notes.only": "(nur für Agenten)",
  "notes.empty": "Noch keine Notizen.",
  "notes.input": "Eine Notiz für Agenten (der Besucher sieht sie nicht)",
  "notes.placeholder": "Eine Notiz für Kollegen…",
  "notes.add": "Notiz hinzufügen",
  "notes.not_saved": "Nicht gespeichert: {why}",
  "notes.unreachable": "Nicht gespeichert: Der Server ist nicht erreichbar. Versuchen Sie es erneut.",
  "transfer.title": "Chat weiterleiten",
  "transfer.title_chat": "Den Chat mit {name} weiterleiten",
  "transfer.title_call": "Den Anruf mit {name} weiterleiten",
  "transfer.call_goes_on": "Ein Anruf läuft: Er kann nur an einen Service gehen. Er verlässt Sie beim Weiterleiten und geht mit dem Agenten weiter, der ihn übernimmt.",
  "transfer.call_ends": "Ein Anruf läuft: Er kann nur an einen Service gehen und endet beim Weiterleiten.",
  "transfer.note": "Der Verlauf geht mit dem Chat; der Besucher wartet auf den nächsten Agenten.",
  "transfer.services": "Services",
  "transfer.people": "Personen",
  "transfer.loading": "Wird geladen…",
  "transfer.load_failed": "Die Liste konnte nicht geladen werden. Schließen Sie den Dialog und versuchen Sie es erneut.",
  "transfer.available": "{n} verfügbar",
  "transfer.nobody": "niemand verfügbar",
  "transfer.no_service": "Kein anderer Service.",
  "transfer.user_available": "verfügbar",
  "transfer.user_unavailable": "nicht verfügbar",
  "transfer.cannot": "Der Chat kann jetzt nicht weitergeleitet werden (offline oder bereits beendet).",
  "transfer.cancel": "Abbrechen",
  "transfer.confirm": "Weiterleiten",
  "replies.title": "Gespeicherte Antworten",
  "replies.empty": "Noch keine gespeicherten Antworten.",
  "replies.save": "Nachricht als Antwort speichern",
  "replies.close": "Schließen",
  "replies.delete": "Löschen",
  "replies.delete_label": "Gespeicherte Antwort löschen: {text}",
  "replies.default_1": "Vielen Dank für Ihre Geduld. Ich kümmere mich jetzt darum.",
  "replies.default_2": "Könnten Sie mir bitte Ihre Bestellnummer nennen?",
  "replies.default_3": "Kann ich Ihnen sonst noch weiterhelfen?",
  "replies.default_4": "Vielen Dank für Ihre Nachricht. Einen schönen Tag noch!",
  "offline.from": "Nachricht von",
  "offline.email": "E-Mail",
  "offline.left": "Hinterlassen",
  "offline.page": "Seite",
  "offline.answer": "Per E-Mail antworten",
  "offline.cancel": "Abbrechen",
  "offline.send": "Antwort senden",
  "offline.write_first": "Schreiben Sie zuerst eine Antwort.",
  "offline.not_sent_why": "Nicht gesendet: {why}",
  "offline.not_sent_status": "Nicht gesendet ({status}).",
  "offline.unreachable": "Nicht gesendet: Der Server ist nicht erreichbar. Versuchen Sie es erneut.",
  "offline.sent": "Antwort an {email} gesendet.",
};

const DICTS = { en, de };

function stored() {
  try {
    const v = localStorage.getItem(KEY);
    return LANGS.includes(v) ? v : null;
  } catch {
    return null;
  }
}

/** The browser's language: German for any `de*` it lists, else English. */
export function browserLang() {
  const list = navigator.languages?.length ? navigator.languages : [navigator.language ?? "en"];
  return list.some((l) => /^de(-|$)/i.test(String(l))) ? "de" : "en";
}

let current = stored() ?? browserLang();
const listeners = [];

/** The language in use. */
export function lang() {
  return current;
}

/**
 * The locale for dates and numbers: the browser's own tag of the chosen language if it
 * lists one (`de-AT`, `en-GB`), else the language.
 */
export function locale() {
  const list = navigator.languages?.length ? navigator.languages : [navigator.language ?? ""];
  const own = list.find((l) => String(l).toLowerCase().split("-")[0] === current);
  return own ?? current;
}

/** Whether the dictionaries have `key`. */
export function has(key) {
  return Object.hasOwn(en, key);
}

/** The text of `key`, with `{name}` filled in from `params`. */
export function t(key, params) {
  const text = DICTS[current][key] ?? en[key];
  if (text === undefined) {
    console.warn(`interact: no text for ${key}`);
    return key;
  }
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
}

let rules = null;
/** `<key>.one` or `<key>.other` for `n`, with `{n}` (and `params`) filled in. */
export function tn(key, n, params) {
  if (!rules || rules.resolvedOptions().locale.split("-")[0] !== current) rules = new Intl.PluralRules(current);
  const form = rules.select(n) === "one" ? "one" : "other";
  return t(`${key}.${form}`, { n: fmtNumber(n), ...params });
}

const formats = new Map();
function format(kind, options) {
  const id = `${locale()}|${kind}`;
  let f = formats.get(id);
  if (!f) {
    f = new Intl.DateTimeFormat(locale(), options);
    formats.set(id, f);
  }
  return f;
}

/** A time of day: `14:05`, `2:05 PM`. */
export function fmtClock(date) {
  return format("clock", { hour: "2-digit", minute: "2-digit" }).format(date);
}

/** A date and a time, medium: `7 Dec 2026, 14:05`, `07.12.2026, 14:05`. */
export function fmtDateTime(date) {
  return format("datetime", { dateStyle: "medium", timeStyle: "short" }).format(date);
}

/** A date and a time, short: `07/12/2026, 14:05`, `07.12.26, 14:05`. */
export function fmtShort(date) {
  return format("short", { dateStyle: "short", timeStyle: "short" }).format(date);
}

/** The time of day if `at` is today, else the date and time. */
export function fmtWhen(at) {
  const d = new Date(at);
  return d.toDateString() === new Date().toDateString() ? fmtClock(d) : fmtDateTime(d);
}

/** A number in the language's way (`1.5`, `1,5`), with at most `digits` decimals. */
export function fmtNumber(n, digits = 0) {
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(n);
}

const ATTRIBUTES = ["aria-label", "title", "placeholder"];

/** Puts the words of the language into the elements under `root` that name theirs. */
export function translate(root = document) {
  for (const node of root.querySelectorAll("[data-i18n]")) {
    const text = t(node.dataset.i18n);
    if (node.textContent !== text) node.textContent = text;
  }
  for (const name of ATTRIBUTES) {
    for (const node of root.querySelectorAll(`[data-i18n-${name}]`)) {
      node.setAttribute(name, t(node.getAttribute(`data-i18n-${name}`)));
    }
  }
}

function apply() {
  document.documentElement.lang = current;
  translate(document);
  for (const tpl of document.querySelectorAll("template")) translate(tpl.content);
  for (const select of document.querySelectorAll("select.lang-select")) select.value = current;
}

/** Switches to `code` (kept for the next visit) and tells the listeners. */
export function setLang(code) {
  if (!LANGS.includes(code)) return;
  try {
    localStorage.setItem(KEY, code);
  } catch {
    // Storage refused: the choice lasts for this page.
  }
  if (code === current) return;
  current = code;
  apply();
  for (const fn of listeners) fn(current);
}

/** Calls `fn(lang)` after each switch. */
export function onLangChange(fn) {
  listeners.push(fn);
}

/** Words the page (and its switches) in the language in use. */
export function setupI18n() {
  apply();
  for (const select of document.querySelectorAll("select.lang-select")) {
    select.addEventListener("change", () => setLang(select.value));
  }
}

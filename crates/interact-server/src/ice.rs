//! ICE servers for calls: the `ice_servers` frame from the `[ice]` configuration, with
//! TURN credentials by the TURN REST API scheme (coturn `use-auth-secret`, RFC draft
//! "A REST API for Access to TURN Services"): the username is
//! `<expiry in Unix seconds>:<subject>` and the credential is
//! `base64(HMAC-SHA1(shared secret, username))`. The TURN server checks both with the same
//! secret and refuses the username after its expiry; nothing is stored here.
//!
//! The subject is the session id for a visitor and the agent id for an agent, so a TURN
//! server's logs tell whose relay it was.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use interact_sdk::protocol::{IceServer, ServerFrame};
use interact_sdk::time::UnixMillis;
use sha1::Sha1;

use crate::config::IceSection;

/// `base64(HMAC-SHA1(secret, username))`.
pub fn turn_credential(secret: &[u8], username: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha1>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(username.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The `ice_servers` frame for `subject` at `now`, or `None` if no ICE servers are
/// configured (clients then use host candidates only). A TURN server whose secret is not
/// available (its `secret_env` was not read) is left out.
pub fn frame(ice: &IceSection, subject: &str, now: UnixMillis) -> Option<ServerFrame> {
    if ice.servers.is_empty() {
        return None;
    }
    let expiry = now.0 / 1000 + ice.credential_ttl_secs;
    let username = format!("{expiry}:{subject}");
    let mut turn = false;
    let servers = ice
        .servers
        .iter()
        .filter_map(|s| {
            if !s.is_turn() {
                return Some(IceServer {
                    urls: s.urls.clone(),
                    username: None,
                    credential: None,
                });
            }
            let Some(secret) = s.secret() else {
                tracing::warn!(urls = ?s.urls, "TURN server without its secret; left out");
                return None;
            };
            turn = true;
            Some(IceServer {
                urls: s.urls.clone(),
                username: Some(username.clone()),
                credential: Some(turn_credential(secret.expose().as_bytes(), &username)),
            })
        })
        .collect();
    Some(ServerFrame::IceServers {
        servers,
        expires_at: turn.then_some(UnixMillis(expiry * 1000)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IceServerConfig;

    #[test]
    fn credentials_follow_the_turn_rest_api() {
        // Reference values from Python's hmac/hashlib/base64.
        assert_eq!(
            turn_credential(b"north-wind", "1700000000:alex"),
            "jTp0+zIYNjAppxNFdtdgl5KH/uU="
        );
        // The example of docs/protocol.md.
        assert_eq!(
            turn_credential(b"demo-turn-secret", "1717243200:s_7Hq2NcX9vR4mKp1ZtY8wLb"),
            "T6SnDCiUQk/bKFeMWthxUniNSgs="
        );
    }

    #[test]
    fn the_frame_has_stun_plain_and_turn_with_credentials_until_the_ttl() {
        assert_eq!(frame(&IceSection::default(), "alex", UnixMillis(0)), None);
        let ice = IceSection {
            credential_ttl_secs: 3_600,
            servers: vec![
                IceServerConfig::new(vec!["stun:stun.example.com".into()], None),
                IceServerConfig::new(
                    vec![
                        "turn:turn.example.com".into(),
                        "turns:turn.example.com".into(),
                    ],
                    Some("north-wind"),
                ),
            ],
        };
        let f = frame(&ice, "alex", UnixMillis(1_699_996_400_123));
        let Some(ServerFrame::IceServers {
            servers,
            expires_at,
        }) = f
        else {
            panic!("an ice_servers frame: {f:?}");
        };
        assert_eq!(expires_at, Some(UnixMillis(1_700_000_000_000)));
        assert_eq!(servers.len(), 2);
        assert_eq!(servers[0].username, None);
        assert_eq!(servers[0].credential, None);
        assert_eq!(servers[1].urls.len(), 2);
        assert_eq!(servers[1].username.as_deref(), Some("1700000000:alex"));
        assert_eq!(
            servers[1].credential.as_deref(),
            Some("jTp0+zIYNjAppxNFdtdgl5KH/uU=")
        );
        // STUN only: nothing expires.
        let stun = IceSection {
            servers: vec![IceServerConfig::new(vec!["stun:s.example".into()], None)],
            ..IceSection::default()
        };
        assert!(matches!(
            frame(&stun, "s1", UnixMillis(0)),
            Some(ServerFrame::IceServers {
                expires_at: None,
                ..
            })
        ));
    }
}

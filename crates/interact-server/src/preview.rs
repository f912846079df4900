//! Signed Preview links: the only way this server's own origin passes a Domain Template.
//!
//! The Preview page (`/preview/{code}`) shows a live widget framed by the server itself,
//! so its frame, its configuration request and its WebSocket all come from the server's
//! own origin, which no Domain Template lists. Such requests are admitted only with a
//! *preview ticket* for that embed code:
//!
//! 1. A signed-in admin asks for a link (`POST /admin/v1/embed-codes/{code}/preview-link`,
//!    Tenant Admins and the target service's Owners). The server draws a ticket (256
//!    random bits), stores its SHA-256 with the admin tokens under the name
//!    `preview:<code>` (user ids cannot hold `:`, so no user is ever that name) and an
//!    expiry ([`LIFETIME`], one hour), and answers `/preview/{code}?ticket=<ticket>`.
//! 2. Opening the link checks the ticket, sets it as the cookie `interact_preview_<code>`
//!    (`HttpOnly`, `SameSite=Lax`, `Path=/`, expiring with the ticket) and redirects to
//!    `/preview/{code}`, so the ticket leaves the address bar and the history.
//! 3. The page, its widget frame, `/v1/config` and `/v1/ws` from the server's own origin
//!    are admitted while that cookie holds a live ticket for that code; other sites'
//!    pages never send it (it is the server's cookie), and their own origin is checked
//!    against the Domain Template as always.
//!
//! Every node checks tickets in the database, so a link works on any node of a cluster.

use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use interact_sdk::time::UnixMillis;
use interact_store::{Store, StoreError};

use crate::auth;

/// How long a Preview link (and the cookie it sets) is valid.
pub const LIFETIME: Duration = Duration::from_secs(60 * 60);

/// The name a ticket is stored under for `code`.
fn holder(code: &str) -> String {
    format!("preview:{code}")
}

/// The cookie that carries the ticket for `code` (embed codes are `ie1_` and base32, so
/// the name is a valid cookie name).
pub fn cookie_name(code: &str) -> String {
    format!("interact_preview_{code}")
}

/// The ticket for `code` in the request's cookies, if any.
pub fn from_cookies<'h>(headers: &'h HeaderMap, code: &str) -> Option<&'h str> {
    let name = cookie_name(code);
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// Draws and stores a ticket for `code`; returns it and when it expires.
pub async fn issue(
    store: &dyn Store,
    code: &str,
    now: UnixMillis,
) -> Result<(String, UnixMillis), StoreError> {
    let ticket = auth::random_token();
    let lifetime = u64::try_from(LIFETIME.as_millis()).unwrap_or(u64::MAX);
    let expires = UnixMillis(now.0.saturating_add(lifetime));
    store
        .put_admin_token(&auth::token_hash(&ticket), &holder(code), now, expires)
        .await?;
    Ok((ticket, expires))
}

/// When `ticket` is a live ticket for `code`: its expiry; `None` otherwise (unknown,
/// expired, or for another code).
pub async fn check(
    store: &dyn Store,
    code: &str,
    ticket: &str,
    now: UnixMillis,
) -> Result<Option<UnixMillis>, StoreError> {
    if ticket.len() != 64 {
        return Ok(None);
    }
    Ok(store
        .admin_token(&auth::token_hash(ticket), now)
        .await?
        .filter(|(holder_name, _)| *holder_name == holder(code))
        .map(|(_, expires)| expires))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use interact_store::MemoryStore;

    #[test]
    fn the_ticket_is_found_among_cookies() {
        let mut h = HeaderMap::new();
        h.append(
            COOKIE,
            HeaderValue::from_static("a=1; interact_preview_ie1_x=abc ; b=2"),
        );
        h.append(
            COOKIE,
            HeaderValue::from_static("interact_preview_ie1_y=def"),
        );
        assert_eq!(from_cookies(&h, "ie1_x"), Some("abc"));
        assert_eq!(from_cookies(&h, "ie1_y"), Some("def"));
        assert_eq!(from_cookies(&h, "ie1_z"), None);
    }

    #[tokio::test]
    async fn tickets_are_for_one_code_and_expire() {
        let store = MemoryStore::default();
        let (ticket, expires) = issue(&store, "ie1_a", UnixMillis(1_000))
            .await
            .expect("issue");
        assert_eq!(expires, UnixMillis(1_000 + 3_600_000));
        assert_eq!(
            check(&store, "ie1_a", &ticket, UnixMillis(2_000))
                .await
                .expect("check"),
            Some(expires)
        );
        assert_eq!(
            check(&store, "ie1_b", &ticket, UnixMillis(2_000))
                .await
                .expect("other"),
            None
        );
        assert_eq!(
            check(&store, "ie1_a", &ticket, expires)
                .await
                .expect("expired"),
            None
        );
        assert_eq!(
            check(&store, "ie1_a", "short", UnixMillis(2_000))
                .await
                .expect("bad"),
            None
        );
    }
}

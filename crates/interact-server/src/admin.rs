//! Administration of embed codes and Domain Templates, shared by the HTTP admin API
//! (`/admin/v1/...`) and the CLI subcommands of the binary, so that both apply the same
//! rules: origins are validated, an embed code is only issued for a target whose licences
//! allow it, and a template in use by a live embed code cannot be deleted.
//!
//! These functions work on the [`Store`] and the [`Tenant`] alone; a running server
//! refreshes its cached templates afterwards ([`AppState::reload_templates`]). Every
//! change they make is written to the audit log ([`audit`]) with who made it (`by`: the
//! admin API's `admin`, the CLI's `cli`).
//!
//! [`AppState::reload_templates`]: crate::node::state::AppState::reload_templates

use std::str::FromStr;

use interact_model::{LicenceError, OriginError, OriginPattern, TargetError, TargetRef, Tenant};
use interact_sdk::embed::EmbedCode;
use interact_sdk::time::UnixMillis;
use interact_store::{AuditEntry, EmbedCodeRecord, Store, StoreError, TemplateRecord};
use serde::Serialize;

use crate::auth;
use crate::error::AppError;

/// The tenant's name in usage reports. A server serves one tenant, and nothing in its
/// configuration names it but the URL its visitors and agents reach it at: the host (and
/// port, if one is given) of `[server] public_url` (`https://chat.shop.example` gives
/// `chat.shop.example`).
pub fn tenant_name(public_url: &str) -> &str {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    rest.split(['/', '?', '#']).next().unwrap_or(rest)
}

/// Why an administrative change was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// An origin of a Domain Template is malformed.
    #[error("origin {origin:?}: {source}")]
    BadOrigin {
        /// The origin as given.
        origin: String,
        /// What is wrong with it.
        source: OriginError,
    },
    /// A Domain Template name is unusable.
    #[error("template name {0:?} must be 1 to 64 letters, digits, '-', '_' or '.'")]
    BadTemplateName(String),
    /// A target is not `service:<id>` or `user:<id>`.
    #[error(transparent)]
    BadTarget(#[from] TargetError),
    /// The target cannot be embedded (unknown, or a licence is missing: the message names
    /// it).
    #[error(transparent)]
    Licence(#[from] LicenceError),
    /// An embed code names a Domain Template that does not exist.
    #[error("no Domain Template {0:?} exists")]
    UnknownTemplate(String),
    /// The Domain Template is bound to a live embed code (revoke the code first).
    #[error("Domain Template {0:?} is used by a live embed code; revoke the code first")]
    TemplateInUse(String),
    /// The Domain Template is still referenced by revoked embed codes, which are kept.
    #[error("Domain Template {0:?} is still referenced by revoked embed codes")]
    TemplateReferenced(String),
    /// No such template or embed code (or the embed code is revoked).
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AdminError> for AppError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::BadOrigin { .. }
            | AdminError::BadTemplateName(_)
            | AdminError::BadTarget(_)
            | AdminError::Licence(_)
            | AdminError::UnknownTemplate(_) => Self::BadRequest(e.to_string()),
            AdminError::TemplateInUse(_) | AdminError::TemplateReferenced(_) => {
                Self::Conflict(e.to_string())
            }
            AdminError::NotFound(_) => Self::NotFound(e.to_string()),
            AdminError::Store(e) => Self::Store(e),
        }
    }
}

/// Parses an embed code given by an administrator; malformed is the same as unknown.
pub fn parse_code(s: &str) -> Result<EmbedCode, AdminError> {
    EmbedCode::from_str(s).map_err(|e| AdminError::NotFound(format!("embed code {s:?}: {e}")))
}

/// The HTML snippet an admin pastes into a website: one line that loads the widget.
pub fn snippet(public_url: &str, code: &EmbedCode) -> String {
    format!(
        r#"<script async src="{}/widget/loader.js" data-interact-code="{}"></script>"#,
        escape_html(public_url),
        escape_html(code.as_str())
    )
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn check_template_name(name: &str) -> Result<(), AdminError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(AdminError::BadTemplateName(name.to_owned()))
    }
}

/// Writes an admin change to the audit log: `action` on `target` by `by` at `at`, with
/// the target before and after (JSON; `None` where it does not exist). A failure is
/// logged, not returned: the change itself is made (the log says the entry is missing).
pub async fn audit<B: Serialize, A: Serialize>(
    store: &dyn Store,
    by: &str,
    at: UnixMillis,
    action: &str,
    target: &str,
    before: Option<&B>,
    after: Option<&A>,
) {
    let entry = AuditEntry {
        id: 0,
        at,
        actor: by.to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        before: before.map(to_json),
        after: after.map(to_json),
    };
    if let Err(e) = store.append_audit(&entry).await {
        tracing::error!(action, target, by, error = %e, "writing the audit log failed");
    }
}

/// A value as JSON (for [`audit`]).
fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("\"unencodable: {e}\""))
}

/// Creates or replaces a Domain Template after validating its name and every origin;
/// `at` is the time of the change.
pub async fn set_template(
    store: &dyn Store,
    name: &str,
    origins: &[String],
    at: UnixMillis,
    by: &str,
) -> Result<TemplateRecord, AdminError> {
    check_template_name(name)?;
    let mut normalised = Vec::with_capacity(origins.len());
    for origin in origins {
        let pattern = OriginPattern::parse(origin).map_err(|source| AdminError::BadOrigin {
            origin: origin.clone(),
            source,
        })?;
        let text = pattern.to_string();
        if !normalised.contains(&text) {
            normalised.push(text);
        }
    }
    let record = TemplateRecord {
        name: name.to_owned(),
        origins: normalised,
    };
    let before = template(store, name).await.ok();
    store.put_template(&record, at).await?;
    audit(
        store,
        by,
        at,
        "template.put",
        name,
        before.as_ref(),
        Some(&record),
    )
    .await;
    Ok(record)
}

/// One Domain Template.
pub async fn template(store: &dyn Store, name: &str) -> Result<TemplateRecord, AdminError> {
    store
        .templates()
        .await?
        .into_iter()
        .find(|t| t.name == name)
        .ok_or_else(|| AdminError::NotFound(format!("no Domain Template {name:?} exists")))
}

/// Deletes a Domain Template that no embed code uses.
pub async fn delete_template(
    store: &dyn Store,
    name: &str,
    at: UnixMillis,
    by: &str,
) -> Result<(), AdminError> {
    let before = template(store, name).await.ok();
    match store.delete_template(name).await {
        Ok(true) => {
            let after: Option<&TemplateRecord> = None;
            audit(
                store,
                by,
                at,
                "template.delete",
                name,
                before.as_ref(),
                after,
            )
            .await;
            Ok(())
        }
        Ok(false) => Err(AdminError::NotFound(format!(
            "no Domain Template {name:?} exists"
        ))),
        Err(StoreError::Conflict) => Err(AdminError::TemplateInUse(name.to_owned())),
        // Revoked embed codes (which are kept) still name it.
        Err(StoreError::Referenced(_)) => Err(AdminError::TemplateReferenced(name.to_owned())),
        Err(e) => Err(e.into()),
    }
}

/// Issues a new embed code for `target`, bound to the Domain Template `template`,
/// created `at`.
pub async fn create_embed_code(
    store: &dyn Store,
    tenant: &Tenant,
    target: TargetRef,
    template: &str,
    at: UnixMillis,
    by: &str,
) -> Result<EmbedCodeRecord, AdminError> {
    tenant.check_embeddable(&target)?;
    if !store.templates().await?.iter().any(|t| t.name == template) {
        return Err(AdminError::UnknownTemplate(template.to_owned()));
    }
    let record = EmbedCodeRecord {
        code: EmbedCode::from_random(auth::random_128()),
        target,
        template: template.to_owned(),
        created_at: at,
        revoked_at: None,
    };
    store.create_embed_code(&record).await?;
    let before: Option<&EmbedCodeRecord> = None;
    audit(
        store,
        by,
        at,
        "embed_code.create",
        record.code.as_str(),
        before,
        Some(&record),
    )
    .await;
    Ok(record)
}

/// Revokes an embed code `at`; unknown and already revoked codes are
/// [`AdminError::NotFound`].
pub async fn revoke_embed_code(
    store: &dyn Store,
    code: &str,
    at: UnixMillis,
    by: &str,
) -> Result<(), AdminError> {
    let code = parse_code(code)?;
    if store.revoke_embed_code(&code, at).await? {
        let after = store.embed_code(&code).await.ok().flatten();
        let before = after.clone().map(|r| EmbedCodeRecord {
            revoked_at: None,
            ..r
        });
        audit(
            store,
            by,
            at,
            "embed_code.revoke",
            code.as_str(),
            before.as_ref(),
            after.as_ref(),
        )
        .await;
        Ok(())
    } else {
        Err(AdminError::NotFound(format!(
            "no live embed code {} exists",
            code.as_str()
        )))
    }
}

/// Whether identified visitors are checked for an embed code: what the audit log keeps
/// of an identity secret's change (never the secret).
#[derive(Debug, Serialize)]
struct IdentityAudit {
    identity_verification: bool,
}

/// Makes a new identity secret for the live embed code `code` (replacing any earlier one,
/// whose hashes stop verifying) and returns it: the only time it is shown.
pub async fn rotate_identity_secret(
    store: &dyn Store,
    code: &str,
    at: UnixMillis,
    by: &str,
) -> Result<String, AdminError> {
    let code = live_code(store, code).await?;
    let before = store.identity_secret(&code).await?.is_some();
    let secret = crate::identity::new_secret();
    if !store.set_identity_secret(&code, Some(&secret)).await? {
        return Err(no_live_code(&code));
    }
    audit(
        store,
        by,
        at,
        "embed_code.identity_secret.rotate",
        code.as_str(),
        Some(&IdentityAudit {
            identity_verification: before,
        }),
        Some(&IdentityAudit {
            identity_verification: true,
        }),
    )
    .await;
    Ok(secret)
}

/// Removes the identity secret of the live embed code `code`: identified visitors are
/// refused from now on (they chat anonymously). `Ok(false)` if it had none.
pub async fn delete_identity_secret(
    store: &dyn Store,
    code: &str,
    at: UnixMillis,
    by: &str,
) -> Result<bool, AdminError> {
    let code = live_code(store, code).await?;
    if store.identity_secret(&code).await?.is_none() {
        return Ok(false);
    }
    store.set_identity_secret(&code, None).await?;
    audit(
        store,
        by,
        at,
        "embed_code.identity_secret.delete",
        code.as_str(),
        Some(&IdentityAudit {
            identity_verification: true,
        }),
        Some(&IdentityAudit {
            identity_verification: false,
        }),
    )
    .await;
    Ok(true)
}

fn no_live_code(code: &EmbedCode) -> AdminError {
    AdminError::NotFound(format!("no live embed code {} exists", code.as_str()))
}

/// The live (not revoked) embed code `code`.
async fn live_code(store: &dyn Store, code: &str) -> Result<EmbedCode, AdminError> {
    let code = parse_code(code)?;
    match store.embed_code(&code).await? {
        Some(r) if r.revoked_at.is_none() => Ok(code),
        _ => Err(no_live_code(&code)),
    }
}

/// The snippet of a live embed code.
pub async fn snippet_for(
    store: &dyn Store,
    public_url: &str,
    code: &str,
) -> Result<String, AdminError> {
    let code = parse_code(code)?;
    match store.embed_code(&code).await? {
        Some(r) if r.revoked_at.is_none() => Ok(snippet(public_url, &r.code)),
        _ => Err(AdminError::NotFound(format!(
            "no live embed code {} exists",
            code.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_is_named_by_the_public_urls_host() {
        for (url, name) in [
            ("https://chat.shop.example", "chat.shop.example"),
            ("http://127.0.0.1:8080", "127.0.0.1:8080"),
            ("https://shop.example/interact", "shop.example"),
            ("shop.example", "shop.example"),
        ] {
            assert_eq!(super::tenant_name(url), name, "{url}");
        }
    }

    #[test]
    fn snippets_are_one_escaped_line() {
        let code = EmbedCode::from_random([7; 16]);
        let s = snippet("https://chat.example.com", &code);
        assert_eq!(
            s,
            format!(
                r#"<script async src="https://chat.example.com/widget/loader.js" data-interact-code="{}"></script>"#,
                code.as_str()
            )
        );
        assert!(snippet("https://x\"><b>", &code).contains("https://x&quot;&gt;&lt;b&gt;"));
    }

    #[test]
    fn template_names_are_restricted() {
        assert!(check_template_name("demo-1.shop_eu").is_ok());
        for bad in ["", "a b", "x/y", "<t>", &"a".repeat(65)] {
            assert!(check_template_name(bad).is_err(), "{bad}");
        }
    }
}

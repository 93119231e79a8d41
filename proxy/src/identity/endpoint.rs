//! `POST /identity` on the admin listener: a login script binds a user to an address for
//! transparent mode. The lead's hyper service passes the `Authorization` header, the peer
//! address and the body to [`Identities::handle_identity_post`] and sends back the status and
//! JSON body; the returned [`BindAudit`] goes to the request log, and is also traced here.
//!
//! Request (`Authorization: Bearer <token>`, `Content-Type: application/json`):
//!
//! ```json
//! {"user": "oak-class", "ip": "10.0.3.7", "ttl_seconds": 3600}
//! ```
//!
//! - `ip` may be left out: the caller's own address (what a classroom machine wants). A bound
//!   address must lie inside a configured `[[network]]` and never be unspecified (`0.0.0.0`,
//!   `::`), multicast or broadcast, whatever the token's scope.
//! - `ttl_seconds` may be left out (default 1 h); longer than `max_binding_ttl` is cut to it.
//! - `ttl_seconds: 0` removes the binding of `ip` to `user` (log-off), under the same scope
//!   rules; it fails with 404 if that address is not bound to that user.
//!
//! Responses: `200 {"ok":true,"action":"bind","user":..,"ip":..,"ttl_seconds":..}`; refusals
//! `{"ok":false,"error":".."}` with 400 (bad JSON or user name), 401 (missing or wrong token;
//! send `WWW-Authenticate: Bearer`), 403 (scope, or an address outside the school's networks),
//! 404 (unknown user / not bound), 409 (a static device holds that address), 413 (body over
//! 4 KiB), 429 (too many bad tokens, with `Retry-After`), 500 (directory failure), 503 (map
//! full).

use super::Identities;
use super::map::{BindRefusal, BindRequest, BindUser, canonical_ip};
use super::tokens::{TokenRefusal, VerifiedToken};
use super::users_file::check_name;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::time::Duration;

/// Largest request body accepted.
pub const MAX_BODY: usize = 4096;

/// The JSON request body.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdentityRequestBody {
    /// Login to bind.
    user: String,
    /// Address to bind; the caller's when absent.
    #[serde(default)]
    ip: Option<IpAddr>,
    /// Lifetime; default when absent, unbind when 0.
    #[serde(default)]
    ttl_seconds: Option<u64>,
}

/// One identity-map request as the request log records it. Holds no secrets: the token
/// appears by its configured name only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BindAudit {
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The address the request came from.
    pub caller: IpAddr,
    /// Name of the token presented, when it was recognised.
    pub token: Option<String>,
    /// Its scope (`classroom` / `login-server`).
    pub scope: Option<&'static str>,
    /// `bind` or `unbind` (`unknown` when the body could not be read).
    pub action: &'static str,
    /// User asked for (only when it is a valid login name).
    pub user: Option<String>,
    /// Address asked for.
    pub ip: Option<IpAddr>,
    /// Lifetime granted (binds).
    pub ttl_seconds: Option<u64>,
    /// `bound`, `unbound` or `refused`.
    pub outcome: &'static str,
    /// Why it was refused.
    pub reason: Option<String>,
    /// User whose binding of that address this one replaced.
    pub replaced: Option<String>,
    /// HTTP status returned.
    pub status: u16,
}

/// What to send back, and what to log.
#[derive(Debug, Clone)]
pub struct IdentityResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON body.
    pub body: String,
    /// The audit record.
    pub audit: BindAudit,
    /// Seconds for a `Retry-After` header (429 only).
    pub retry_after_secs: Option<u64>,
}

impl BindAudit {
    /// The record as one readable `key=value` sentence for the request log's `rule` field,
    /// e.g. `identity-map bind user=oak-class ip=10.0.3.7 ttl_seconds=3600 token=pcs
    /// scope=classroom caller=10.0.3.7 outcome=bound status=200`. Absent values are left out;
    /// `reason` comes last, quoted. The time is the log record's own.
    pub fn summary(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!("identity-map {}", self.action);
        let mut field = |key: &str, value: Option<&dyn std::fmt::Display>| {
            if let Some(v) = value {
                let _ = write!(out, " {key}={v}");
            }
        };
        field("user", self.user.as_ref().map(|v| v as _));
        field("ip", self.ip.as_ref().map(|v| v as _));
        field("ttl_seconds", self.ttl_seconds.as_ref().map(|v| v as _));
        field("token", self.token.as_ref().map(|v| v as _));
        field("scope", self.scope.as_ref().map(|v| v as _));
        field("caller", Some(&self.caller));
        field("outcome", Some(&self.outcome));
        field("replaced", self.replaced.as_ref().map(|v| v as _));
        field("status", Some(&self.status));
        if let Some(reason) = &self.reason {
            let quoted = reason.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = write!(out, " reason=\"{quoted}\"");
        }
        out
    }
}

impl Identities {
    /// Handles `POST /identity`: `authorization` is the `Authorization` header's value,
    /// `caller` the peer address, `body` the request body.
    pub async fn handle_identity_post(
        &self,
        authorization: Option<&[u8]>,
        caller: IpAddr,
        body: &[u8],
    ) -> IdentityResponse {
        let caller = canonical_ip(caller);
        let mut audit = BindAudit {
            at: self.clock.wall().to_string(),
            caller,
            token: None,
            scope: None,
            action: "unknown",
            user: None,
            ip: None,
            ttl_seconds: None,
            outcome: "refused",
            reason: None,
            replaced: None,
            status: 0,
        };
        // Read the body first only to say in the audit what was attempted; nothing is acted
        // on before the token checks out.
        let parsed: Result<IdentityRequestBody, String> = if body.len() > MAX_BODY {
            Err(format!("body larger than {MAX_BODY} bytes"))
        } else {
            serde_json::from_slice(body).map_err(|e| format!("bad JSON body: {e}"))
        };
        if let Ok(req) = &parsed {
            audit.action = if req.ttl_seconds == Some(0) {
                "unbind"
            } else {
                "bind"
            };
            audit.user = check_name(&req.user).is_ok().then(|| req.user.clone());
            audit.ip = Some(canonical_ip(req.ip.unwrap_or(caller)));
        }
        let mut retry_after_secs = None;
        let response = self
            .identity_post(
                authorization,
                caller,
                parsed,
                &mut audit,
                &mut retry_after_secs,
            )
            .await;
        let (status, body) = match response {
            Ok(body) => (StatusCode::OK, body),
            Err((status, reason)) => {
                audit.reason = Some(reason.clone());
                (
                    status,
                    serde_json::json!({ "ok": false, "error": reason }).to_string(),
                )
            }
        };
        audit.status = status.as_u16();
        if status.is_success() {
            self.metrics.map_changes.inc();
        } else {
            self.metrics.map_refusals.inc();
        }
        self.metrics.map_bindings.set(self.map.len() as i64);
        tracing::info!(
            caller = %audit.caller,
            token = audit.token.as_deref().unwrap_or("-"),
            scope = audit.scope.unwrap_or("-"),
            action = audit.action,
            user = audit.user.as_deref().unwrap_or("-"),
            ip = %audit.ip.map_or_else(|| "-".to_string(), |i| i.to_string()),
            ttl_seconds = audit.ttl_seconds.unwrap_or(0),
            outcome = audit.outcome,
            reason = audit.reason.as_deref().unwrap_or("-"),
            replaced = audit.replaced.as_deref().unwrap_or("-"),
            status = audit.status,
            "identity map request"
        );
        IdentityResponse {
            status,
            body,
            audit,
            retry_after_secs,
        }
    }

    async fn identity_post(
        &self,
        authorization: Option<&[u8]>,
        caller: IpAddr,
        parsed: Result<IdentityRequestBody, String>,
        audit: &mut BindAudit,
        retry_after_secs: &mut Option<u64>,
    ) -> Result<String, (StatusCode, String)> {
        if let Err(reason) = &parsed {
            if reason.starts_with("body larger") {
                return Err((StatusCode::PAYLOAD_TOO_LARGE, reason.clone()));
            }
        }
        let token: VerifiedToken = match self.tokens.verify(caller, authorization).await {
            Ok(t) => t,
            Err(
                e @ TokenRefusal::RateLimited {
                    retry_after_secs: secs,
                },
            ) => {
                *retry_after_secs = Some(secs);
                return Err((StatusCode::TOO_MANY_REQUESTS, e.to_string()));
            }
            Err(e @ TokenRefusal::Internal(_)) => {
                return Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string()));
            }
            Err(e) => return Err((StatusCode::UNAUTHORIZED, e.to_string())),
        };
        audit.token = Some(token.name.to_string());
        audit.scope = Some(token.scope.name());
        let req = parsed.map_err(|reason| (StatusCode::BAD_REQUEST, reason))?;
        if let Err(why) = check_name(&req.user) {
            return Err((StatusCode::BAD_REQUEST, format!("bad user name: {why}")));
        }
        let ip = canonical_ip(req.ip.unwrap_or(caller));
        let user = self.resolve_bind_user(&req.user).await?;
        if req.ttl_seconds == Some(0) {
            return match self.map.unbind(token.scope, caller, &user, ip) {
                Ok(()) => {
                    audit.outcome = "unbound";
                    Ok(serde_json::json!({
                        "ok": true, "action": "unbind", "user": &*user.name, "ip": ip,
                    })
                    .to_string())
                }
                Err(e) => Err(refusal_status(e)),
            };
        }
        self.bindable(ip).map_err(refusal_status)?;
        if let Some(d) = self.device(ip) {
            return Err((
                StatusCode::CONFLICT,
                format!(
                    "{ip} is the static device `{}`; bindings there would be ignored",
                    d.name
                ),
            ));
        }
        let bound = self
            .map
            .bind(&BindRequest {
                scope: token.scope,
                token: token.name.clone(),
                caller,
                user: user.clone(),
                ip,
                ttl: req.ttl_seconds.map(Duration::from_secs),
            })
            .map_err(refusal_status)?;
        audit.outcome = "bound";
        audit.ttl_seconds = Some(bound.ttl.as_secs());
        audit.replaced = bound.replaced.as_deref().map(str::to_string);
        Ok(serde_json::json!({
            "ok": true,
            "action": "bind",
            "user": &*user.name,
            "ip": ip,
            "ttl_seconds": bound.ttl.as_secs(),
        })
        .to_string())
    }

    /// Looks a user up in the directory (on the blocking pool: a directory may do I/O).
    async fn resolve_bind_user(&self, name: &str) -> Result<BindUser, (StatusCode, String)> {
        let directory = self.auth.backend();
        let owned = name.to_string();
        let found = tokio::task::spawn_blocking(move || directory.lookup(&owned))
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let user = found.ok_or_else(|| (StatusCode::NOT_FOUND, format!("no user `{name}`")))?;
        self.bind_user(&user).ok_or_else(|| {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "user `{name}` is in group `{}`, which the config lacks",
                    user.group
                ),
            )
        })
    }
}

fn refusal_status(e: BindRefusal) -> (StatusCode, String) {
    let status = match e {
        BindRefusal::NotOwnAddress { .. }
        | BindRefusal::StaffUser(_)
        | BindRefusal::NotSchoolAddress(_) => StatusCode::FORBIDDEN,
        BindRefusal::NotBound { .. } => StatusCode::NOT_FOUND,
        BindRefusal::Full(_) => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::super::tests::{identities, token};
    use super::super::{IdentitySettings, IdentitySource, StaticDevice, TokenScope};
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn settings() -> IdentitySettings {
        IdentitySettings {
            tokens: vec![
                token("classroom-pcs", TokenScope::Classroom, "class-secret"),
                token("dc01", TokenScope::LoginServer, "server-secret"),
            ],
            devices: vec![StaticDevice {
                ip: ip("10.0.3.50"),
                name: "whiteboard-3".into(),
                group: None,
                user: None,
            }],
            ..IdentitySettings::default()
        }
    }

    const CLASS: Option<&[u8]> = Some(b"Bearer class-secret");
    const SERVER: Option<&[u8]> = Some(b"Bearer server-secret");

    #[tokio::test]
    async fn classroom_token_binds_its_own_address_for_a_pupil() {
        let (ids, _) = identities(&settings());
        let r = ids
            .handle_identity_post(CLASS, ip("10.0.3.7"), br#"{"user":"oak-class"}"#)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["ttl_seconds"], 3600);
        assert_eq!(r.audit.outcome, "bound");
        assert_eq!(r.audit.token.as_deref(), Some("classroom-pcs"));
        assert_eq!(r.audit.ip, Some(ip("10.0.3.7")));
        let who = ids.by_address(ip("10.0.3.7"));
        assert_eq!(who.source, IdentitySource::IdentityMap);
        assert_eq!(who.user.as_deref(), Some("oak-class"));
        // The audit record serialises without the token.
        let logged = serde_json::to_string(&r.audit).unwrap();
        assert!(!logged.contains("class-secret"), "{logged}");
    }

    #[tokio::test]
    async fn classroom_token_cannot_bind_another_address_or_staff() {
        let (ids, _) = identities(&settings());
        let r = ids
            .handle_identity_post(
                CLASS,
                ip("10.0.3.7"),
                br#"{"user":"oak-class","ip":"10.0.3.8"}"#,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.audit.outcome, "refused");
        let r = ids
            .handle_identity_post(CLASS, ip("10.0.3.7"), br#"{"user":"mrs.khan"}"#)
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert!(r.audit.reason.as_deref().unwrap().contains("staff"));
        assert_eq!(
            ids.by_address(ip("10.0.3.7")).source,
            IdentitySource::Network
        );
        assert_eq!(
            ids.by_address(ip("10.0.3.8")).source,
            IdentitySource::Network
        );
    }

    #[tokio::test]
    async fn login_server_binds_staff_anywhere_and_unbinds() {
        let (ids, _) = identities(&settings());
        let r = ids
            .handle_identity_post(
                SERVER,
                ip("10.0.0.2"),
                br#"{"user":"mrs.khan","ip":"10.0.3.9","ttl_seconds":999999}"#,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.audit.ttl_seconds, Some(12 * 3600));
        assert_eq!(
            ids.by_address(ip("10.0.3.9")).user.as_deref(),
            Some("mrs.khan")
        );
        let r = ids
            .handle_identity_post(
                SERVER,
                ip("10.0.0.2"),
                br#"{"user":"mrs.khan","ip":"10.0.3.9","ttl_seconds":0}"#,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!((r.audit.action, r.audit.outcome), ("unbind", "unbound"));
        assert_eq!(
            ids.by_address(ip("10.0.3.9")).source,
            IdentitySource::Network
        );
    }

    #[tokio::test]
    async fn only_client_addresses_in_a_school_network_can_be_bound() {
        let (ids, _) = identities(&settings());
        for target in [
            "0.0.0.0",
            "::",
            "255.255.255.255",
            "224.0.0.1",
            "ff02::1",
            "192.168.5.5",
        ] {
            let body = format!(r#"{{"user":"lion","ip":"{target}"}}"#);
            let r = ids
                .handle_identity_post(SERVER, ip("10.0.0.2"), body.as_bytes())
                .await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{target}: {}", r.body);
            assert!(r.body.contains("school's networks"), "{}", r.body);
        }
        assert!(ids.map.is_empty());
        let r = ids
            .handle_identity_post(
                SERVER,
                ip("10.0.0.2"),
                br#"{"user":"lion","ip":"10.0.1.4"}"#,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }

    #[tokio::test]
    async fn too_many_bad_tokens_get_429_with_retry_after() {
        let (ids, _) = identities(&settings());
        for _ in 0..5 {
            let r = ids
                .handle_identity_post(Some(b"Bearer guess"), ip("10.0.3.7"), br#"{"user":"lion"}"#)
                .await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED);
            assert_eq!(r.retry_after_secs, None);
        }
        let r = ids
            .handle_identity_post(CLASS, ip("10.0.3.7"), br#"{"user":"lion"}"#)
            .await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
        assert_eq!(r.retry_after_secs, Some(60));
    }

    #[test]
    fn the_audit_reads_as_one_sentence() {
        let audit = BindAudit {
            at: "2026-11-30T09:00:00Z".into(),
            caller: ip("10.0.3.7"),
            token: Some("pcs".into()),
            scope: Some("classroom"),
            action: "bind",
            user: Some("oak-class".into()),
            ip: Some(ip("10.0.3.7")),
            ttl_seconds: Some(3600),
            outcome: "bound",
            reason: None,
            replaced: Some("lion".into()),
            status: 200,
        };
        assert_eq!(
            audit.summary(),
            "identity-map bind user=oak-class ip=10.0.3.7 ttl_seconds=3600 token=pcs \
             scope=classroom caller=10.0.3.7 outcome=bound replaced=lion status=200"
        );
        let refused = BindAudit {
            token: None,
            scope: None,
            action: "unknown",
            user: None,
            ip: None,
            ttl_seconds: None,
            outcome: "refused",
            reason: Some(r#"bad JSON body: expected "user""#.into()),
            replaced: None,
            status: 400,
            ..audit
        };
        assert_eq!(
            refused.summary(),
            r#"identity-map unknown caller=10.0.3.7 outcome=refused status=400 reason="bad JSON body: expected \"user\"""#
        );
    }

    #[tokio::test]
    async fn refusals_have_the_right_status() {
        let (ids, _) = identities(&settings());
        let caller = ip("10.0.3.7");
        type Case<'a> = (Option<&'a [u8]>, &'a [u8], StatusCode);
        let cases: [Case<'_>; 7] = [
            (None, br#"{"user":"lion"}"#, StatusCode::UNAUTHORIZED),
            (
                Some(b"Bearer nope"),
                br#"{"user":"lion"}"#,
                StatusCode::UNAUTHORIZED,
            ),
            (CLASS, b"not json", StatusCode::BAD_REQUEST),
            (
                CLASS,
                br#"{"user":"lion","admin":true}"#,
                StatusCode::BAD_REQUEST,
            ),
            (CLASS, br#"{"user":"a b"}"#, StatusCode::BAD_REQUEST),
            (CLASS, br#"{"user":"tiger"}"#, StatusCode::NOT_FOUND),
            (
                SERVER,
                br#"{"user":"lion","ip":"10.0.3.50"}"#,
                StatusCode::CONFLICT,
            ),
        ];
        for (auth, body, want) in cases {
            let r = ids.handle_identity_post(auth, caller, body).await;
            assert_eq!(
                r.status,
                want,
                "{} -> {}",
                String::from_utf8_lossy(body),
                r.body
            );
            assert_eq!(r.audit.status, want.as_u16());
            assert_eq!(r.audit.outcome, "refused");
        }
        let big = vec![b' '; MAX_BODY + 1];
        let r = ids.handle_identity_post(SERVER, caller, &big).await;
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(ids.metrics.map_refusals.get(), 8);
        assert_eq!(ids.metrics.map_changes.get(), 0);
    }
}

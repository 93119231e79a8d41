//! Identity-map tokens: the bearer secrets that login scripts present to `POST /identity`.
//!
//! The config holds only each token's name, scope and argon2id hash (`[[identity.token]]`);
//! `lychgate user token` makes a random 32-byte token (base64url), prints it once and prints
//! the config lines. A token's scope decides what it may bind ([`TokenScope`]). Checks run on
//! the verifier threads shared with proxy sign-in; a verified token is remembered for a few minutes by a keyed fingerprint
//! (a classroom's thirty logins at nine o'clock should not cost thirty argon2 runs per
//! configured token), and failures are rate-limited per caller (address, or IPv6 /64), counted
//! from the moment a check is admitted.

use super::hashing::{BadHash, Fingerprinter, HashError, check_phc, hash_secret, verify_secret};
use super::rate_limit::{FailureLimiter, SharedLimiter};
use super::verifier::Verifiers;
use crate::clock::SharedClock;
use base64::Engine as _;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a token may bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenScope {
    /// A token on every classroom machine: may bind only the calling machine's own address,
    /// and only users outside staff groups — a pupil who finds it cannot give themselves a
    /// teacher's filtering, nor rebind another machine.
    Classroom,
    /// The login server's token: may bind any address to any user.
    LoginServer,
}

impl TokenScope {
    /// Name as written in config and logs.
    pub const fn name(self) -> &'static str {
        match self {
            TokenScope::Classroom => "classroom",
            TokenScope::LoginServer => "login-server",
        }
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown scope name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown token scope `{0}` (classroom or login-server)")]
pub struct BadScope(pub String);

impl FromStr for TokenScope {
    type Err = BadScope;
    fn from_str(s: &str) -> Result<Self, BadScope> {
        match s {
            "classroom" => Ok(TokenScope::Classroom),
            "login-server" => Ok(TokenScope::LoginServer),
            other => Err(BadScope(other.to_string())),
        }
    }
}

/// One configured token (`[[identity.token]]`).
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSpec {
    /// Name used in logs (`name`), e.g. `classroom-pcs` or `dc01`.
    pub name: String,
    /// What it may bind (`scope`).
    pub scope: TokenScope,
    /// argon2id PHC hash of the token (`hash`); never the token itself.
    pub hash: String,
}

impl fmt::Debug for TokenSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSpec")
            .field("name", &self.name)
            .field("scope", &self.scope)
            .field("hash", &"<redacted>")
            .finish()
    }
}

/// A configured token that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenConfigError {
    /// Its hash is not a usable argon2id hash.
    #[error("identity token `{name}`: bad hash: {why}")]
    BadHash {
        /// Token name.
        name: String,
        /// Why.
        why: BadHash,
    },
    /// Two tokens share a name, so logs could not tell them apart.
    #[error("identity token `{0}` is defined twice")]
    Duplicate(String),
    /// A token without a name.
    #[error("identity token with an empty name")]
    EmptyName,
    /// No random key could be drawn for the verified-token cache.
    #[error("cannot draw a random key for the token cache: {0}")]
    Random(String),
}

/// A token that checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// Its configured name.
    pub name: Arc<str>,
    /// Its scope.
    pub scope: TokenScope,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    /// No `Authorization: Bearer` header, or not readable.
    #[error("missing or unreadable `Authorization: Bearer` header")]
    Missing,
    /// No configured token matches.
    #[error("token not recognised")]
    Unknown,
    /// Too many recent failures from this caller.
    #[error("too many failed token checks from this address; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the caller's failure window closes (the `Retry-After` value).
        retry_after_secs: u64,
    },
    /// The check could not run.
    #[error("internal error while checking the token: {0}")]
    Internal(String),
}

/// The configured tokens and their checker.
pub struct Tokens {
    /// (name, scope, PHC hash) per configured token; shared with the blocking checks.
    specs: Arc<Vec<(Arc<str>, TokenScope, String)>>,
    /// Time for cache expiry and failure windows.
    clock: SharedClock,
    /// How long a verified token is remembered.
    cache_ttl: Duration,
    /// Keys the verified-token cache.
    fingerprinter: Fingerprinter,
    /// Fingerprint of a verified token → (index into `specs`, expiry). Only verified tokens go
    /// in, so it holds at most one entry per configured token.
    cache: Mutex<HashMap<[u8; 32], (usize, Instant)>>,
    /// Failures per caller (address, or IPv6 /64), settled by the verifier threads.
    failures: SharedLimiter,
    /// The threads that run argon2 (shared with proxy sign-in).
    verifiers: Arc<Verifiers>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.specs.iter().map(|(n, _, _)| &**n).collect();
        f.debug_struct("Tokens")
            .field("names", &names)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How long a verified token is remembered.
pub const TOKEN_CACHE_TTL: Duration = Duration::from_secs(300);

impl Tokens {
    /// Checks the configured tokens on `verifiers`; failures are limited to `failure_limit`
    /// per `failure_window` per caller.
    pub fn new(
        specs: &[TokenSpec],
        clock: SharedClock,
        failure_limit: u32,
        failure_window: Duration,
        verifiers: Arc<Verifiers>,
    ) -> Result<Self, TokenConfigErrors> {
        let mut errors = Vec::new();
        let mut out: Vec<(Arc<str>, TokenScope, String)> = Vec::new();
        for s in specs {
            if s.name.is_empty() {
                errors.push(TokenConfigError::EmptyName);
            } else if out.iter().any(|(n, _, _)| **n == *s.name) {
                errors.push(TokenConfigError::Duplicate(s.name.clone()));
            } else if let Err(why) = check_phc(&s.hash) {
                errors.push(TokenConfigError::BadHash {
                    name: s.name.clone(),
                    why,
                });
            } else {
                out.push((Arc::from(s.name.as_str()), s.scope, s.hash.clone()));
            }
        }
        if !errors.is_empty() {
            return Err(TokenConfigErrors(errors));
        }
        Ok(Self {
            specs: Arc::new(out),
            failures: SharedLimiter::new(
                FailureLimiter::new(failure_limit, failure_window, 4096),
                clock.clone(),
            ),
            clock,
            cache_ttl: TOKEN_CACHE_TTL,
            fingerprinter: Fingerprinter::new()
                .map_err(|e| TokenConfigErrors(vec![TokenConfigError::Random(e.to_string())]))?,
            cache: Mutex::new(HashMap::new()),
            verifiers,
        })
    }

    /// Whether any token is configured (no tokens: the endpoint refuses everything).
    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// Checks an `Authorization` header value (`Bearer <token>`) from `caller`.
    pub async fn verify(
        &self,
        caller: IpAddr,
        authorization: Option<&[u8]>,
    ) -> Result<VerifiedToken, TokenRefusal> {
        let token = authorization
            .map(<[u8]>::trim_ascii)
            .and_then(|h| {
                let (scheme, rest) = h.split_at(h.iter().position(|b| *b == b' ')?);
                scheme
                    .eq_ignore_ascii_case(b"bearer")
                    .then(|| rest.trim_ascii())
            })
            .filter(|t| !t.is_empty())
            .ok_or(TokenRefusal::Missing)?;
        if let Some(retry_after) = self.failures.retry_after(caller) {
            return Err(Self::limited(retry_after));
        }
        let fingerprint = self.fingerprinter.fingerprint(b"identity-token", token);
        let now = self.clock.now();
        if let Some(&(i, expires)) = lock(&self.cache).get(&fingerprint) {
            if expires > now {
                return Ok(self.verified(i));
            }
        }
        let mut pending = self.failures.admit(caller).await.map_err(Self::limited)?;
        let specs = self.specs.clone();
        let mut secret = token.to_vec();
        // Settled on the verifier thread, before its slot is given back.
        let found = self
            .verifiers
            .run(move || {
                let found = specs
                    .iter()
                    .position(|(_, _, hash)| verify_secret(&secret, hash));
                secret.fill(0);
                if found.is_none() {
                    pending.failed();
                }
                drop(pending);
                found
            })
            .await
            .map_err(|e| TokenRefusal::Internal(e.to_string()))?;
        match found {
            Some(i) => {
                lock(&self.cache).insert(fingerprint, (i, self.clock.now() + self.cache_ttl));
                Ok(self.verified(i))
            }
            None => Err(TokenRefusal::Unknown),
        }
    }

    fn verified(&self, i: usize) -> VerifiedToken {
        let (name, scope, _) = &self.specs[i];
        VerifiedToken {
            name: name.clone(),
            scope: *scope,
        }
    }

    fn limited(retry_after: Duration) -> TokenRefusal {
        TokenRefusal::RateLimited {
            retry_after_secs: retry_after.as_secs().max(1),
        }
    }
}

/// Every problem with the configured tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfigErrors(pub Vec<TokenConfigError>);

impl fmt::Display for TokenConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&shown.join("; "))
    }
}

impl std::error::Error for TokenConfigErrors {}

/// A new random token (32 bytes, base64url without padding) and its argon2id hash.
pub fn generate_token() -> Result<(String, String), HashError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| HashError::Random(e.to_string()))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    bytes.fill(0);
    let hash = hash_secret(&token)?;
    Ok((token, hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::identity::hashing::{HashParams, hash_secret_with};

    pub(crate) fn spec(name: &str, scope: TokenScope, token: &str) -> TokenSpec {
        TokenSpec {
            name: name.to_string(),
            scope,
            hash: hash_secret_with(token.as_bytes(), &HashParams::for_tests()).unwrap(),
        }
    }

    const CALLER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 3, 20));

    #[tokio::test]
    async fn verifies_bearer_tokens_and_limits_failures() {
        let clock = Arc::new(ManualClock::new("2026-11-30T09:00:00Z".parse().unwrap()));
        let tokens = Tokens::new(
            &[
                spec("pcs", TokenScope::Classroom, "class-secret"),
                spec("dc01", TokenScope::LoginServer, "server-secret"),
            ],
            clock.clone(),
            2,
            Duration::from_secs(60),
            Arc::new(Verifiers::new(1).unwrap()),
        )
        .unwrap();
        let ok = tokens
            .verify(CALLER, Some(b"Bearer server-secret"))
            .await
            .unwrap();
        assert_eq!((&*ok.name, ok.scope), ("dc01", TokenScope::LoginServer));
        let ok = tokens
            .verify(CALLER, Some(b"bearer  class-secret "))
            .await
            .unwrap();
        assert_eq!(ok.scope, TokenScope::Classroom);
        assert_eq!(
            tokens.verify(CALLER, None).await,
            Err(TokenRefusal::Missing)
        );
        assert_eq!(
            tokens.verify(CALLER, Some(b"Basic abc")).await,
            Err(TokenRefusal::Missing)
        );
        for _ in 0..2 {
            assert_eq!(
                tokens.verify(CALLER, Some(b"Bearer guess")).await,
                Err(TokenRefusal::Unknown)
            );
        }
        assert_eq!(
            tokens.verify(CALLER, Some(b"Bearer server-secret")).await,
            Err(TokenRefusal::RateLimited {
                retry_after_secs: 60
            })
        );
        clock.advance(Duration::from_secs(45));
        assert_eq!(
            tokens.verify(CALLER, Some(b"Bearer server-secret")).await,
            Err(TokenRefusal::RateLimited {
                retry_after_secs: 15
            })
        );
        clock.advance(Duration::from_secs(16));
        assert!(
            tokens
                .verify(CALLER, Some(b"Bearer server-secret"))
                .await
                .is_ok()
        );
    }

    #[test]
    fn config_errors_are_collected_and_debug_hides_hashes() {
        let clock = Arc::new(ManualClock::new("2026-11-30T09:00:00Z".parse().unwrap()));
        let good = spec("a", TokenScope::Classroom, "x");
        assert!(!format!("{good:?}").contains("argon2"));
        let bad = TokenSpec {
            name: "b".into(),
            scope: TokenScope::Classroom,
            hash: "plaintext".into(),
        };
        let err = Tokens::new(
            &[good.clone(), good, bad],
            clock,
            5,
            Duration::from_secs(60),
            Arc::new(Verifiers::new(1).unwrap()),
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 2, "{err}");
        assert!(err.to_string().contains("`a` is defined twice"), "{err}");
        assert!(err.to_string().contains("`b`: bad hash"), "{err}");
    }

    #[test]
    fn scopes_parse_and_generated_tokens_are_32_random_bytes() {
        assert_eq!("classroom".parse(), Ok(TokenScope::Classroom));
        assert_eq!("login-server".parse(), Ok(TokenScope::LoginServer));
        assert!("admin".parse::<TokenScope>().is_err());
        // Generating uses production cost once; that is the point of the function.
        let (token, hash) = generate_token().unwrap();
        assert_eq!(token.len(), 43);
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_secret(token.as_bytes(), &hash));
    }
}

//! Proxy authentication: `Proxy-Authorization: Basic base64(user:password)` checked against a
//! [`DirectoryBackend`] (the users file today).
//!
//! argon2 is slow on purpose, so three things keep it off the request path's back:
//! - verification runs on tokio's blocking pool, at most `max_concurrent_verifications` at a
//!   time (each argon2id run holds 19 MiB; an unbounded burst would exhaust memory);
//! - a successful login is cached for `cache_ttl`, keyed by user and holding only a keyed
//!   fingerprint of the password ([`Fingerprinter`]), compared in constant time — browsers
//!   resend the header on every request;
//! - a client with `failure_limit` failures inside `failure_window` is refused without any
//!   check until the window passes, which also stops password guessing (the cache is not
//!   consulted either, so it cannot become a fast guessing oracle).

use super::directory::{DirectoryBackend, DirectoryError, DirectoryUser};
use super::hashing::{Fingerprinter, HashError};
use super::metrics::IdentityMetrics;
use super::rate_limit::FailureLimiter;
use crate::clock::SharedClock;
use base64::Engine as _;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq as _;

/// Tuning for [`ProxyAuth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// How long a successful login is trusted without argon2 (`identity.auth_cache_ttl`,
    /// seconds, default 300).
    pub cache_ttl: Duration,
    /// Most logins cached at once (`identity.auth_cache_size`, default 10000).
    pub cache_max: usize,
    /// Failures allowed per client address per window (`identity.failure_limit`, default 5).
    pub failure_limit: u32,
    /// The failure window (`identity.failure_window`, seconds, default 60).
    pub failure_window: Duration,
    /// Most client addresses whose failures are tracked (`identity.failure_clients`, default
    /// 4096).
    pub failure_clients: usize,
    /// Most argon2 verifications running at once (`identity.max_concurrent_verifications`,
    /// default 4).
    pub max_concurrent_verifications: usize,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(300),
            cache_max: 10_000,
            failure_limit: 5,
            failure_window: Duration::from_secs(60),
            failure_clients: 4096,
            max_concurrent_verifications: 4,
        }
    }
}

/// Why a proxy login was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The header is not `Basic` with base64 of `user:password`.
    #[error("unusable Proxy-Authorization header: {0}")]
    BadHeader(&'static str),
    /// Wrong password or unknown user (deliberately not told apart).
    #[error("wrong user name or password")]
    BadCredentials,
    /// Too many recent failures from this address.
    #[error("too many failed logins from this address; try again later")]
    RateLimited,
    /// The directory could not answer.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// The user's group is not in the current config (a directory out of step with it).
    #[error("user's group `{0}` is not in the config")]
    UnknownGroup(String),
    /// The verification task failed.
    #[error("internal error while verifying: {0}")]
    Internal(String),
}

/// Decoded Basic credentials. The password is wiped when dropped and never shown by `Debug`.
pub struct BasicCredentials {
    /// User name.
    pub user: String,
    /// Password bytes (RFC 7617 leaves the charset open, so no UTF-8 requirement).
    password: Vec<u8>,
}

impl BasicCredentials {
    /// Parses a `Proxy-Authorization` value: `Basic <base64(user:password)>`, scheme name in
    /// any case.
    pub fn parse(header: &[u8]) -> Result<Self, AuthError> {
        let header = header.trim_ascii();
        let (scheme, rest) = header
            .iter()
            .position(|b| *b == b' ')
            .map(|i| header.split_at(i))
            .ok_or(AuthError::BadHeader("expected `Basic <credentials>`"))?;
        if !scheme.eq_ignore_ascii_case(b"basic") {
            return Err(AuthError::BadHeader("only the Basic scheme is supported"));
        }
        let mut decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim_ascii())
            .map_err(|_| AuthError::BadHeader("credentials are not base64"))?;
        let Some(colon) = decoded.iter().position(|b| *b == b':') else {
            decoded.fill(0);
            return Err(AuthError::BadHeader("credentials have no `:`"));
        };
        let password = decoded[colon + 1..].to_vec();
        let user = String::from_utf8(decoded[..colon].to_vec());
        decoded.fill(0);
        match user {
            Ok(user) if !user.is_empty() => Ok(Self { user, password }),
            _ => Err(AuthError::BadHeader("user name is empty or not UTF-8")),
        }
    }

    /// The password bytes.
    pub fn password(&self) -> &[u8] {
        &self.password
    }
}

impl Drop for BasicCredentials {
    fn drop(&mut self) {
        self.password.fill(0);
    }
}

impl fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// A cached successful login.
struct CachedLogin {
    /// Keyed fingerprint of user and password.
    fingerprint: [u8; 32],
    /// When the login must be verified again.
    expires: Instant,
    /// What the directory said.
    user: DirectoryUser,
}

/// Checks proxy logins.
pub struct ProxyAuth {
    /// The directory; swapped when the users file is reloaded.
    backend: RwLock<Arc<dyn DirectoryBackend>>,
    /// Time for cache expiry and failure windows.
    clock: SharedClock,
    /// Tuning.
    settings: AuthSettings,
    /// Keys the success cache.
    fingerprinter: Fingerprinter,
    /// User name → last successful login.
    cache: Mutex<HashMap<Arc<str>, CachedLogin>>,
    /// Failures per client address.
    failures: Mutex<FailureLimiter>,
    /// Shared with the blocking tasks, which hold a permit until argon2 finishes even when
    /// the request that started them has gone.
    verifying: Arc<tokio::sync::Semaphore>,
    /// Counters.
    metrics: Arc<IdentityMetrics>,
}

impl fmt::Debug for ProxyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyAuth")
            .field("settings", &self.settings)
            .field("cached_logins", &lock(&self.cache).len())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding these maps leaves them consistent (single inserts/removes).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ProxyAuth {
    /// A checker over `backend`.
    pub fn new(
        backend: Arc<dyn DirectoryBackend>,
        settings: AuthSettings,
        clock: SharedClock,
        metrics: Arc<IdentityMetrics>,
    ) -> Result<Self, HashError> {
        Ok(Self {
            backend: RwLock::new(backend),
            clock,
            fingerprinter: Fingerprinter::new()?,
            cache: Mutex::new(HashMap::new()),
            failures: Mutex::new(FailureLimiter::new(
                settings.failure_limit,
                settings.failure_window,
                settings.failure_clients,
            )),
            verifying: Arc::new(tokio::sync::Semaphore::new(
                settings.max_concurrent_verifications.max(1),
            )),
            settings,
            metrics,
        })
    }

    /// The directory in use.
    pub fn backend(&self) -> Arc<dyn DirectoryBackend> {
        self.backend
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Switches to a new directory (a reloaded users file) and forgets cached logins, so a
    /// removed user or changed password takes effect at once.
    pub fn replace_backend(&self, backend: Arc<dyn DirectoryBackend>) {
        *self.backend.write().unwrap_or_else(|e| e.into_inner()) = backend;
        lock(&self.cache).clear();
    }

    /// Checks a `Proxy-Authorization` header value from client `ip`.
    pub async fn authenticate(
        &self,
        ip: IpAddr,
        header: &[u8],
    ) -> Result<DirectoryUser, AuthError> {
        let creds = match BasicCredentials::parse(header) {
            Ok(c) => c,
            Err(e) => {
                self.metrics.auth_bad_headers.inc();
                return Err(e);
            }
        };
        if self.is_limited(ip) {
            self.metrics.auth_rate_limited.inc();
            return Err(AuthError::RateLimited);
        }
        let fingerprint = self
            .fingerprinter
            .fingerprint(creds.user.as_bytes(), creds.password());
        if let Some(user) = self.cached(&creds.user, &fingerprint) {
            self.metrics.auth_cache_hits.inc();
            self.metrics.auth_successes.inc();
            return Ok(user);
        }
        let permit = self
            .verifying
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        // Others from this address may have failed while this one queued.
        if self.is_limited(ip) {
            self.metrics.auth_rate_limited.inc();
            return Err(AuthError::RateLimited);
        }
        self.metrics.auth_verifications.inc();
        let backend = self.backend();
        let result = tokio::task::spawn_blocking(move || {
            let result = backend.verify(&creds.user, creds.password());
            drop(creds);
            drop(permit);
            result
        })
        .await
        .map_err(|e| AuthError::Internal(e.to_string()))?;
        match result? {
            Some(user) => {
                self.remember(user.clone(), fingerprint);
                self.metrics.auth_successes.inc();
                Ok(user)
            }
            None => {
                lock(&self.failures).record_failure(ip, self.clock.now());
                self.metrics.auth_failures.inc();
                Err(AuthError::BadCredentials)
            }
        }
    }

    fn is_limited(&self, ip: IpAddr) -> bool {
        lock(&self.failures).is_limited(ip, self.clock.now())
    }

    fn cached(&self, user: &str, fingerprint: &[u8; 32]) -> Option<DirectoryUser> {
        let now = self.clock.now();
        let cache = lock(&self.cache);
        let entry = cache.get(user)?;
        (entry.expires > now && bool::from(entry.fingerprint.ct_eq(fingerprint)))
            .then(|| entry.user.clone())
    }

    fn remember(&self, user: DirectoryUser, fingerprint: [u8; 32]) {
        if self.settings.cache_ttl.is_zero() || self.settings.cache_max == 0 {
            return;
        }
        let now = self.clock.now();
        let mut cache = lock(&self.cache);
        if cache.len() >= self.settings.cache_max && !cache.contains_key(&user.name) {
            cache.retain(|_, e| e.expires > now);
            if cache.len() >= self.settings.cache_max {
                if let Some(oldest) = cache
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
                {
                    cache.remove(&oldest);
                }
            }
        }
        cache.insert(
            user.name.clone(),
            CachedLogin {
                fingerprint,
                expires: now + self.settings.cache_ttl,
                user,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::config::AccountType;
    use crate::identity::directory::UsersFileDirectory;
    use crate::identity::hashing::{HashParams, hash_secret_with};
    use crate::identity::users_file::UsersFile;
    use std::path::Path;

    fn basic(user_pass: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
        .into_bytes()
    }

    fn setup(settings: AuthSettings) -> (ProxyAuth, Arc<ManualClock>, Arc<IdentityMetrics>) {
        let mut f = UsersFile::empty(Path::new("users"));
        let h = |p: &str| hash_secret_with(p.as_bytes(), &HashParams::for_tests()).unwrap();
        f.add(
            "lion",
            "year1",
            Some(AccountType::Weak),
            &h("roar"),
            &["year1", "staff"],
        )
        .unwrap();
        f.add(
            "mr.ng",
            "staff",
            None,
            &h("correct horse"),
            &["year1", "staff"],
        )
        .unwrap();
        let clock = Arc::new(ManualClock::new("2026-11-30T09:00:00Z".parse().unwrap()));
        let metrics = Arc::new(IdentityMetrics::new());
        let auth = ProxyAuth::new(
            Arc::new(UsersFileDirectory::new(f)),
            settings,
            clock.clone(),
            metrics.clone(),
        )
        .unwrap();
        (auth, clock, metrics)
    }

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 3, 7));

    #[test]
    fn parses_basic_headers() {
        let c = BasicCredentials::parse(&basic("lion:ro:ar")).unwrap();
        assert_eq!(c.user, "lion");
        assert_eq!(c.password(), b"ro:ar");
        let c = BasicCredentials::parse(b"  bAsIc   bGlvbjpyb2Fy ").unwrap();
        assert_eq!((c.user.as_str(), c.password()), ("lion", &b"roar"[..]));
        assert!(!format!("{c:?}").contains("roar"));
        for bad in [
            &b"Bearer abc"[..],
            b"Basic",
            b"Basic !!!notbase64",
            &basic("nocolon"),
            &basic(":emptyuser"),
        ] {
            assert!(
                matches!(BasicCredentials::parse(bad), Err(AuthError::BadHeader(_))),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[tokio::test]
    async fn verifies_good_and_refuses_bad_and_unknown() {
        let (auth, _clock, m) = setup(AuthSettings::default());
        let u = auth
            .authenticate(CLIENT, &basic("lion:roar"))
            .await
            .unwrap();
        assert_eq!((&*u.name, &*u.group), ("lion", "year1"));
        assert!(matches!(
            auth.authenticate(CLIENT, &basic("lion:meow")).await,
            Err(AuthError::BadCredentials)
        ));
        assert!(matches!(
            auth.authenticate(CLIENT, &basic("tiger:roar")).await,
            Err(AuthError::BadCredentials)
        ));
        assert!(matches!(
            auth.authenticate(CLIENT, b"Basic ###").await,
            Err(AuthError::BadHeader(_))
        ));
        assert_eq!(m.auth_successes.get(), 1);
        assert_eq!(m.auth_failures.get(), 2);
        assert_eq!(m.auth_bad_headers.get(), 1);
        // Unknown users cost an argon2 run too.
        assert_eq!(m.auth_verifications.get(), 3);
    }

    #[tokio::test]
    async fn cache_hit_skips_argon2_until_it_expires() {
        let (auth, clock, m) = setup(AuthSettings::default());
        auth.authenticate(CLIENT, &basic("mr.ng:correct horse"))
            .await
            .unwrap();
        for _ in 0..5 {
            auth.authenticate(CLIENT, &basic("mr.ng:correct horse"))
                .await
                .unwrap();
        }
        assert_eq!(m.auth_verifications.get(), 1);
        assert_eq!(m.auth_cache_hits.get(), 5);
        // A wrong password is never accepted from the cache.
        assert!(
            auth.authenticate(CLIENT, &basic("mr.ng:wrong"))
                .await
                .is_err()
        );
        assert_eq!(m.auth_verifications.get(), 2);
        clock.advance(Duration::from_secs(301));
        auth.authenticate(CLIENT, &basic("mr.ng:correct horse"))
            .await
            .unwrap();
        assert_eq!(m.auth_verifications.get(), 3);
    }

    #[tokio::test]
    async fn replacing_the_backend_forgets_cached_logins() {
        let (auth, _clock, m) = setup(AuthSettings::default());
        auth.authenticate(CLIENT, &basic("lion:roar"))
            .await
            .unwrap();
        auth.replace_backend(Arc::new(UsersFileDirectory::new(UsersFile::empty(
            Path::new("users"),
        ))));
        assert!(matches!(
            auth.authenticate(CLIENT, &basic("lion:roar")).await,
            Err(AuthError::BadCredentials)
        ));
        assert_eq!(m.auth_cache_hits.get(), 0);
    }

    #[tokio::test]
    async fn rate_limits_failures_per_client_without_running_argon2() {
        let (auth, clock, m) = setup(AuthSettings::default());
        for _ in 0..5 {
            assert!(matches!(
                auth.authenticate(CLIENT, &basic("lion:guess")).await,
                Err(AuthError::BadCredentials)
            ));
        }
        // Even the right password is refused while limited, and no argon2 runs.
        assert!(matches!(
            auth.authenticate(CLIENT, &basic("lion:roar")).await,
            Err(AuthError::RateLimited)
        ));
        assert_eq!(m.auth_verifications.get(), 5);
        assert_eq!(m.auth_rate_limited.get(), 1);
        // Another client is unaffected.
        let other: IpAddr = "10.0.3.8".parse().unwrap();
        auth.authenticate(other, &basic("lion:roar")).await.unwrap();
        clock.advance(Duration::from_secs(60));
        auth.authenticate(CLIENT, &basic("lion:roar"))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn cache_is_bounded() {
        let settings = AuthSettings {
            cache_max: 1,
            ..AuthSettings::default()
        };
        let (auth, _clock, m) = setup(settings);
        auth.authenticate(CLIENT, &basic("lion:roar"))
            .await
            .unwrap();
        auth.authenticate(CLIENT, &basic("mr.ng:correct horse"))
            .await
            .unwrap();
        assert_eq!(lock(&auth.cache).len(), 1);
        auth.authenticate(CLIENT, &basic("mr.ng:correct horse"))
            .await
            .unwrap();
        assert_eq!(m.auth_cache_hits.get(), 1);
    }
}

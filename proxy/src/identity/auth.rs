//! Proxy authentication: `Proxy-Authorization: Basic base64(user:password)` checked against a
//! [`DirectoryBackend`] (the users file today).
//!
//! argon2 is slow on purpose, so three things keep it off the request path's back:
//! - verification runs on the verifier threads ([`Verifiers`]), at most
//!   `max_concurrent_verifications` at a time, each reusing one 19 MiB block of working memory;
//! - a successful login is cached for `cache_ttl`, keyed by user and holding only a keyed
//!   fingerprint of the password ([`Fingerprinter`]), compared in constant time — browsers
//!   resend the header on every request;
//! - a client (an IPv4 address or an IPv6 /64) with `failure_limit` failures inside
//!   `failure_window` is refused without any check until the window passes, which also stops
//!   password guessing (the cache is not consulted either, so it cannot become a fast guessing
//!   oracle). Checks count from the moment they are admitted ([`SharedLimiter`]), so a burst
//!   sent at once gets exactly `failure_limit` guesses.

use super::directory::{DirectoryBackend, DirectoryError, DirectoryUser};
use super::hashing::{Fingerprinter, HashError};
use super::metrics::IdentityMetrics;
use super::rate_limit::{FailureLimiter, SharedLimiter};
use super::verifier::Verifiers;
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
    /// Most argon2 verifications running at once, the number of verifier threads
    /// (`identity.max_concurrent_verifications`, default 2: each holds 19 MiB, and a small
    /// gateway has about two cores to run them on).
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
            max_concurrent_verifications: 2,
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
    /// Failures per client (address, or IPv6 /64), settled by the verifier threads.
    failures: SharedLimiter,
    /// The threads that run argon2 (shared with the identity-map tokens).
    verifiers: Arc<Verifiers>,
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
    /// A checker over `backend`, running argon2 on `verifiers`.
    pub fn new(
        backend: Arc<dyn DirectoryBackend>,
        settings: AuthSettings,
        clock: SharedClock,
        metrics: Arc<IdentityMetrics>,
        verifiers: Arc<Verifiers>,
    ) -> Result<Self, HashError> {
        Ok(Self {
            backend: RwLock::new(backend),
            failures: SharedLimiter::new(
                FailureLimiter::new(
                    settings.failure_limit,
                    settings.failure_window,
                    settings.failure_clients,
                ),
                clock.clone(),
            ),
            clock,
            fingerprinter: Fingerprinter::new()?,
            cache: Mutex::new(HashMap::new()),
            verifiers,
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
        // Waits while this client's checks already running could use up its allowance; others
        // from this client may fail meanwhile.
        let Ok(mut pending) = self.failures.admit(ip).await else {
            self.metrics.auth_rate_limited.inc();
            return Err(AuthError::RateLimited);
        };
        self.metrics.auth_verifications.inc();
        let backend = self.backend();
        // The check settles on the verifier thread, before its slot is given back, even if
        // this request has gone by then.
        let result = self
            .verifiers
            .run(move || {
                let result = backend.verify(&creds.user, creds.password());
                drop(creds);
                if matches!(result, Ok(None)) {
                    pending.failed();
                }
                drop(pending);
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
                self.metrics.auth_failures.inc();
                Err(AuthError::BadCredentials)
            }
        }
    }

    fn is_limited(&self, ip: IpAddr) -> bool {
        self.failures.is_limited(ip)
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
    use crate::identity::AccountType;
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
        let verifiers = Arc::new(Verifiers::new(settings.max_concurrent_verifications).unwrap());
        let auth = ProxyAuth::new(
            Arc::new(UsersFileDirectory::new(f)),
            settings,
            clock.clone(),
            metrics.clone(),
            verifiers,
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_guesses_gets_only_the_failure_limit() {
        let (auth, _clock, m) = setup(AuthSettings {
            max_concurrent_verifications: 4,
            ..AuthSettings::default()
        });
        let auth = Arc::new(auth);
        let mut burst = tokio::task::JoinSet::new();
        for i in 0..9 {
            let auth = auth.clone();
            burst.spawn(async move {
                auth.authenticate(CLIENT, &basic(&format!("lion:guess{i}")))
                    .await
            });
        }
        let mut limited = 0;
        while let Some(r) = burst.join_next().await {
            match r.unwrap() {
                Err(AuthError::RateLimited) => limited += 1,
                Err(AuthError::BadCredentials) => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(m.auth_verifications.get(), 5);
        assert_eq!((m.auth_failures.get(), limited), (5, 4));
    }

    #[tokio::test]
    async fn an_ipv6_64_counts_as_one_client() {
        let (auth, _clock, m) = setup(AuthSettings::default());
        for i in 1..=5u16 {
            let ip = IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 7, i, i, i, i));
            assert!(matches!(
                auth.authenticate(ip, &basic("lion:guess")).await,
                Err(AuthError::BadCredentials)
            ));
        }
        let sibling: IpAddr = "2001:db8:0:7:abcd::1".parse().unwrap();
        assert!(matches!(
            auth.authenticate(sibling, &basic("lion:roar")).await,
            Err(AuthError::RateLimited)
        ));
        let next_door: IpAddr = "2001:db8:0:8::1".parse().unwrap();
        auth.authenticate(next_door, &basic("lion:roar"))
            .await
            .unwrap();
        assert_eq!(m.auth_verifications.get(), 6);
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

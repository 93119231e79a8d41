//! Argon2id for everything secret the gateway checks: user passwords in the users file and the
//! identity-map tokens in the config. Only PHC strings (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`)
//! are ever stored; the plaintext lives only for the length of one check.
//!
//! Production parameters are OWASP's recommendation for argon2id: m = 19456 KiB (19 MiB),
//! t = 2, p = 1 — about 20–50 ms per check on a small gateway, which is why successful checks
//! are cached ([`super::auth`]) and checks run on a few dedicated threads
//! ([`super::verifier`]) that each reuse one block of working memory. Verification always
//! uses the parameters written in the stored hash, so raising the defaults later does not lock
//! anyone out; [`check_phc`] refuses absurd stored parameters so a bad line cannot make each
//! check allocate gigabytes.

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use std::fmt;
use subtle::ConstantTimeEq as _;

/// Largest memory cost (KiB) accepted in a stored hash: 256 MiB.
pub const MAX_M_COST: u32 = 256 * 1024;
/// Largest time cost accepted in a stored hash.
pub const MAX_T_COST: u32 = 16;
/// Largest parallelism accepted in a stored hash.
pub const MAX_P_COST: u32 = 8;

/// Argon2id cost parameters used when hashing a new secret.
#[derive(Clone, PartialEq, Eq)]
pub struct HashParams(
    /// argon2's own parameter set.
    Params,
);

impl HashParams {
    /// Deliberately cheap parameters (8 KiB, one pass) so unit tests stay fast. Never used by
    /// the daemon or the CLI: the name says what it is for.
    pub fn for_tests() -> Self {
        Self(Params::new(Params::MIN_M_COST, 1, 1, None).unwrap_or(Params::DEFAULT))
    }

    /// Memory cost in KiB.
    pub fn m_cost(&self) -> u32 {
        self.0.m_cost()
    }

    /// Number of passes.
    pub fn t_cost(&self) -> u32 {
        self.0.t_cost()
    }

    /// Degree of parallelism.
    pub fn p_cost(&self) -> u32 {
        self.0.p_cost()
    }

    fn hasher(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.0.clone())
    }
}

impl Default for HashParams {
    /// OWASP's argon2id recommendation: m = 19456 KiB, t = 2, p = 1.
    fn default() -> Self {
        Self(Params::DEFAULT)
    }
}

impl fmt::Debug for HashParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HashParams(m={},t={},p={})",
            self.m_cost(),
            self.t_cost(),
            self.p_cost()
        )
    }
}

/// Hashing failed (the operating system's random source, or parameters argon2 refuses).
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// No random salt could be drawn.
    #[error("cannot draw random bytes from the operating system: {0}")]
    Random(String),
    /// argon2 refused the input or parameters.
    #[error("argon2: {0}")]
    Argon2(String),
}

/// A stored hash that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadHash {
    /// Not a PHC string at all.
    #[error("not a PHC hash string (expected `$argon2id$v=19$m=...,t=...,p=...$salt$hash`)")]
    NotPhc,
    /// Some other algorithm (argon2i, bcrypt ...).
    #[error("algorithm `{0}` is not accepted: only argon2id")]
    Algorithm(String),
    /// Argon2 version other than 0x13 (19).
    #[error("argon2 version must be v=19")]
    Version,
    /// Parameters unreadable or beyond the accepted limits.
    #[error("unusable argon2 parameters: {0}")]
    Params(String),
    /// Salt or hash output missing.
    #[error("salt or hash output is missing")]
    Incomplete,
}

/// Hashes a secret with the production parameters, returning its PHC string.
pub fn hash_secret(secret: &str) -> Result<String, HashError> {
    hash_secret_with(secret.as_bytes(), &HashParams::default())
}

/// Hashes a secret with the given parameters and a fresh random salt.
pub fn hash_secret_with(secret: &[u8], params: &HashParams) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| HashError::Random(e.to_string()))?;
    params
        .hasher()
        .hash_password_with_salt(secret, &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError::Argon2(e.to_string()))
}

/// Checks that a stored string is an argon2id v19 PHC hash with sane parameters; returns the
/// parameters it was made with.
pub fn check_phc(phc: &str) -> Result<HashParams, BadHash> {
    let hash = PasswordHash::new(phc).map_err(|_| BadHash::NotPhc)?;
    if hash.algorithm.as_str() != "argon2id" {
        return Err(BadHash::Algorithm(hash.algorithm.as_str().to_string()));
    }
    if hash.version != Some(0x13) {
        return Err(BadHash::Version);
    }
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(BadHash::Incomplete);
    }
    let params = Params::try_from(&hash).map_err(|e| BadHash::Params(e.to_string()))?;
    if params.m_cost() > MAX_M_COST || params.t_cost() > MAX_T_COST || params.p_cost() > MAX_P_COST
    {
        return Err(BadHash::Params(format!(
            "m={},t={},p={} exceeds m={MAX_M_COST},t={MAX_T_COST},p={MAX_P_COST}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost()
        )));
    }
    // The output length is carried by the hash itself; hashing new secrets uses the default.
    let params = Params::new(params.m_cost(), params.t_cost(), params.p_cost(), None)
        .map_err(|e| BadHash::Params(e.to_string()))?;
    Ok(HashParams(params))
}

/// Largest argon2 working memory (KiB) a thread keeps between checks: the production cost
/// with room to spare. A stored hash that needs more gets a buffer of its own for that check.
const KEPT_MEMORY_KIB: usize = 32 * 1024;

thread_local! {
    /// This thread's argon2 working memory, reused from one check to the next. glibc keeps
    /// freed memory in per-thread arenas, so allocating 19 MiB afresh for each check on
    /// whatever thread runs it let a burst of bad passwords pin hundreds of MiB; the daemon
    /// runs every check on a few dedicated threads ([`super::verifier`]), each holding one.
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether `secret` matches a stored PHC hash. Slow by design (the daemon runs it on its
/// verifier threads); the outputs are compared in constant time. An unusable hash never
/// matches. The working memory is this thread's, reused between checks.
pub fn verify_secret(secret: &[u8], phc: &str) -> bool {
    if check_phc(phc).is_err() {
        return false;
    }
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = vec![0u8; expected.len()];
    let blocks = params.block_count();
    let computed = if blocks <= KEPT_MEMORY_KIB {
        MEMORY.with(|memory| {
            let mut memory = memory.borrow_mut();
            if memory.len() < blocks {
                memory.resize(blocks, argon2::Block::new());
            }
            hasher.hash_password_into_with_memory(
                secret,
                salt.as_ref(),
                &mut out,
                &mut memory[..blocks],
            )
        })
    } else {
        hasher.hash_password_into(secret, salt.as_ref(), &mut out)
    };
    let matches = computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()));
    out.fill(0);
    matches
}

/// A PHC string with the given costs, a random salt and a random output: verifying any secret
/// against it costs what a real entry costs and never matches (2^-256). Used for unknown user
/// names, without spending an argon2 run (and its memory) to make it.
pub fn unmatchable_hash(params: &HashParams) -> String {
    let mut salt = [0u8; 16];
    let mut output = [0u8; 32];
    // If the OS random source fails, zeros serve as well: nothing hashes to them either.
    let _ = getrandom::fill(&mut salt);
    let _ = getrandom::fill(&mut output);
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
    format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        b64.encode(salt),
        b64.encode(output)
    )
}

/// A keyed, cheap fingerprint of a secret, used as a cache key so that neither the plaintext
/// nor an unkeyed hash of it is kept in memory: BLAKE2b in its keyed (MAC) mode with a random
/// per-process key. It runs on the request path for every request carrying credentials, so it
/// must cost microseconds and allocate nothing (argon2 at its minimum cost allocated 8 KiB).
pub struct Fingerprinter {
    /// Random per process: the MAC key.
    key: [u8; 32],
}

impl Fingerprinter {
    /// A fingerprinter with a fresh random key.
    pub fn new() -> Result<Self, HashError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| HashError::Random(e.to_string()))?;
        Ok(Self { key })
    }

    /// The 32-byte fingerprint of `context` (e.g. the user name) and `secret` together.
    pub fn fingerprint(&self, context: &[u8], secret: &[u8]) -> [u8; 32] {
        use blake2::digest::{KeyInit as _, Mac as _};
        let mut out = [0u8; 32];
        match blake2::Blake2bMac::<blake2::digest::consts::U32>::new_from_slice(&self.key) {
            Ok(mut mac) => {
                // Length-prefixing the context keeps ("ab", "c") and ("a", "bc") apart.
                mac.update(&(context.len() as u64).to_le_bytes());
                mac.update(context);
                mac.update(secret);
                out.copy_from_slice(&mac.finalize().into_bytes());
            }
            // Cannot happen with a 32-byte key (BLAKE2b takes up to 64); an all-zero
            // fingerprint would make every secret look alike, so fall back to a random one
            // that matches nothing.
            Err(_) => {
                let _ = getrandom::fill(&mut out);
            }
        }
        out
    }
}

impl fmt::Debug for Fingerprinter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprinter(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_reject_wrong_secrets() {
        let h = hash_secret_with(b"lion", &HashParams::for_tests()).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{h}");
        assert!(verify_secret(b"lion", &h));
        assert!(!verify_secret(b"tiger", &h));
        assert!(!verify_secret(b"lion", "not a hash"));
    }

    #[test]
    fn production_defaults_are_owasp() {
        let p = HashParams::default();
        assert_eq!((p.m_cost(), p.t_cost(), p.p_cost()), (19456, 2, 1));
    }

    #[test]
    fn check_phc_refuses_other_algorithms_and_huge_costs() {
        let h = hash_secret_with(b"x", &HashParams::for_tests()).unwrap();
        assert_eq!(check_phc(&h).unwrap(), HashParams::for_tests());
        let argon2i = h.replace("$argon2id$", "$argon2i$");
        assert_eq!(
            check_phc(&argon2i),
            Err(BadHash::Algorithm("argon2i".into()))
        );
        let huge = h.replace("m=8,", "m=4194304,");
        assert!(matches!(check_phc(&huge), Err(BadHash::Params(_))));
        assert!(!verify_secret(b"x", &huge));
        assert_eq!(check_phc("$2b$12$abc"), Err(BadHash::NotPhc));
    }

    #[test]
    fn verification_reuses_this_threads_memory_and_agrees_with_argon2() {
        use argon2::password_hash::PasswordVerifier as _;
        // Two lanes and two passes, so the reused buffer is exercised beyond the trivial case.
        let params = HashParams(Params::new(64, 2, 2, None).unwrap());
        let h = hash_secret_with(b"acorn", &params).unwrap();
        std::thread::spawn(move || {
            let reference = |secret: &[u8]| {
                Argon2::default()
                    .verify_password(secret, &PasswordHash::new(&h).unwrap())
                    .is_ok()
            };
            for (secret, want) in [(&b"acorn"[..], true), (b"oak", false), (b"", false)] {
                assert_eq!(verify_secret(secret, &h), want);
                assert_eq!(reference(secret), want);
            }
            // One buffer of the stored cost, kept for the next check on this thread.
            assert_eq!(MEMORY.with(|m| m.borrow().len()), 64);
            let small = hash_secret_with(b"x", &HashParams::for_tests()).unwrap();
            assert!(verify_secret(b"x", &small));
            assert_eq!(
                MEMORY.with(|m| m.borrow().len()),
                64,
                "not shrunk or regrown"
            );
        })
        .join()
        .unwrap();
    }

    #[test]
    fn unmatchable_hashes_are_valid_cost_alike_and_match_nothing() {
        let params = HashParams::for_tests();
        let h = unmatchable_hash(&params);
        assert_eq!(check_phc(&h).unwrap(), params);
        assert_ne!(h, unmatchable_hash(&params), "salted afresh");
        for secret in [&b""[..], b"roar", b"anything"] {
            assert!(!verify_secret(secret, &h));
        }
    }

    #[test]
    fn fingerprints_depend_on_key_context_and_secret() {
        let f = Fingerprinter::new().unwrap();
        let g = Fingerprinter::new().unwrap();
        assert_eq!(f.fingerprint(b"a", b"pw"), f.fingerprint(b"a", b"pw"));
        assert_ne!(f.fingerprint(b"a", b"pw"), f.fingerprint(b"a", b"pW"));
        assert_ne!(f.fingerprint(b"ab", b"c"), f.fingerprint(b"a", b"bc"));
        assert_ne!(f.fingerprint(b"a", b"pw"), g.fingerprint(b"a", b"pw"));
    }
}

//! How surely a login identifies one person: part of every identity and every log record, and
//! set per group in the config.

/// How surely a login identifies one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountType {
    /// One person's own login.
    Individual,
    /// A login shared by a class (KS1, Reception).
    Shared,
    /// An individual login with a guessable password (Year 1's four animals).
    Weak,
    /// No login: identified by network only.
    None,
}

impl AccountType {
    /// Name as written in config and logs.
    pub const fn name(self) -> &'static str {
        match self {
            AccountType::Individual => "individual",
            AccountType::Shared => "shared",
            AccountType::Weak => "weak",
            AccountType::None => "none",
        }
    }
}

//! Safeguarding concerns: what a designated safeguarding lead needs to hear about, whatever the
//! filtering decision was. A blocked "how to make a bomb" search is blocked *and* a concern.

use std::fmt;
use std::str::FromStr;

/// The safeguarding theme of a phrase (the themes UK monitoring providers report on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Theme {
    /// Child abuse, grooming, sexual exploitation.
    Abuse,
    /// Sexual or pornographic content.
    Adult,
    /// Bullying and harassment.
    Bullying,
    /// Crime, hacking, fraud.
    Criminal,
    /// Extremism and radicalisation.
    Radicalisation,
    /// Drugs, alcohol and other substances.
    Substance,
    /// Suicide, self-harm and eating disorders.
    SuicideSelfHarm,
    /// Violence and weapons.
    Violence,
}

impl Theme {
    /// All themes.
    pub const ALL: [Theme; 8] = [
        Theme::Abuse,
        Theme::Adult,
        Theme::Bullying,
        Theme::Criminal,
        Theme::Radicalisation,
        Theme::Substance,
        Theme::SuicideSelfHarm,
        Theme::Violence,
    ];

    /// Canonical name, as used in phrase lists, logs and `explain` output.
    pub const fn name(self) -> &'static str {
        match self {
            Theme::Abuse => "abuse",
            Theme::Adult => "adult",
            Theme::Bullying => "bullying",
            Theme::Criminal => "criminal",
            Theme::Radicalisation => "radicalisation",
            Theme::Substance => "substance",
            Theme::SuicideSelfHarm => "suicide-selfharm",
            Theme::Violence => "violence",
        }
    }
}

impl fmt::Display for Theme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Theme {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Theme::ALL.into_iter().find(|t| t.name() == s).ok_or(())
    }
}

/// How urgently an adult must look: `Danger` is an immediate alert, `Warning` goes in the daily
/// and weekly reports, `Advisory` only in the weekly report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Weekly report only.
    Advisory,
    /// Reported; may need a conversation.
    Warning,
    /// Immediate alert to the safeguarding lead.
    Danger,
}

impl Severity {
    /// Canonical name.
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Advisory => "advisory",
            Severity::Warning => "warning",
            Severity::Danger => "danger",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Severity {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "advisory" => Ok(Severity::Advisory),
            "warning" => Ok(Severity::Warning),
            "danger" => Ok(Severity::Danger),
            _ => Err(()),
        }
    }
}

//! Safeguarding concerns: what a designated safeguarding lead needs to hear about, whatever the
//! filtering decision was. A blocked "how to make a bomb" search is blocked *and* a concern.

use std::fmt;
use std::str::FromStr;

/// The safeguarding theme of a phrase: the themes a designated safeguarding lead routes
/// differently (grooming to a CEOP referral, eating disorders to the school nurse or CAMHS).
///
/// Until issue 14 there were eight themes; `suicide-selfharm` is still read (as [`Theme::Suicide`])
/// so older lists load, see [`Theme::from_name`] and `docs/phrases.md` for the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Theme {
    /// Child abuse: physical, sexual or emotional abuse, neglect, domestic abuse.
    Abuse,
    /// Sexual or pornographic content.
    Adult,
    /// Bullying and harassment.
    Bullying,
    /// Crime, hacking, fraud, criminal exploitation.
    Criminal,
    /// Extremism and radicalisation.
    Radicalisation,
    /// Drugs, alcohol and other substances.
    Substance,
    /// Suicidal thoughts and methods.
    Suicide,
    /// Violence and weapons.
    Violence,
    /// Self-harm.
    SelfHarm,
    /// Eating disorders.
    EatingDisorder,
    /// Grooming and sexual exploitation, online or not.
    Grooming,
    /// Hate and discrimination: racist, homophobic or other obscene or threatening language
    /// about a group.
    Hate,
}

impl Theme {
    /// All themes.
    pub const ALL: [Theme; 12] = [
        Theme::Abuse,
        Theme::Adult,
        Theme::Bullying,
        Theme::Criminal,
        Theme::Radicalisation,
        Theme::Substance,
        Theme::Suicide,
        Theme::Violence,
        Theme::SelfHarm,
        Theme::EatingDisorder,
        Theme::Grooming,
        Theme::Hate,
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
            Theme::Suicide => "suicide",
            Theme::Violence => "violence",
            Theme::SelfHarm => "self-harm",
            Theme::EatingDisorder => "eating-disorder",
            Theme::Grooming => "grooming",
            Theme::Hate => "hate",
        }
    }

    /// The theme a name reads as: a canonical [`Theme::name`], or a name from before the
    /// split. `suicide-selfharm` (suicide, self-harm and eating disorders) reads as `suicide`,
    /// the most urgent of the three, so a school's own list written for it keeps alerting.
    pub fn from_name(name: &str) -> Option<Theme> {
        match name {
            "suicide-selfharm" => Some(Theme::Suicide),
            _ => Theme::ALL.into_iter().find(|t| t.name() == name),
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
        Theme::from_name(s).ok_or(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_old_name_still_reads() {
        for t in Theme::ALL {
            assert_eq!(t.name().parse::<Theme>(), Ok(t));
        }
        assert_eq!("suicide-selfharm".parse::<Theme>(), Ok(Theme::Suicide));
        assert!("selfharm".parse::<Theme>().is_err());
    }
}

//! Categories: the fixed canonical ids Lychgate ships with (documented in
//! `blocklists/README.md`), room for a school's own, and a compact set type.
//!
//! Ids are stable: list files, config and logs name categories by their canonical name, and the
//! numeric id only lives in memory, so ids may be renumbered between versions but names may not.

use std::fmt;

/// Maximum number of categories (built-in plus a school's own): a [`CategorySet`] is one `u64`.
pub const MAX_CATEGORIES: usize = 64;

/// A category's index in the [`Categories`] table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CategoryId(pub u8);

impl CategoryId {
    /// Illegal content (IWF child-abuse list, police terrorism list): blocked for everyone, always.
    pub const ILLEGAL: CategoryId = CategoryId(0);
    /// Essential services (sign-in, updates, the school's own services, children's help lines):
    /// allowed for everyone unless illegal.
    pub const ESSENTIAL: CategoryId = CategoryId(1);
}

/// What kind of category this is, which decides defaults and block-page wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CategoryKind {
    /// `illegal` and `essential`: handled before any group policy.
    Special,
    /// Harmful content blocked for pupils (adult, gambling, self-harm ...).
    Harmful,
    /// Acceptable at certain times or for some users (games, social media, video ...).
    Timed,
    /// Defined by the school in config.
    Custom,
}

/// A category Lychgate ships with.
#[derive(Debug, Clone, Copy)]
pub struct BuiltinCategory {
    /// Canonical name, as used in config, list folders and logs.
    pub name: &'static str,
    /// One line for technicians.
    pub description: &'static str,
    /// What kind of category it is.
    pub kind: CategoryKind,
    /// Never named on a child's block page (self-harm, abuse ...): the page says only "blocked".
    pub sensitive: bool,
}

const fn cat(
    name: &'static str,
    kind: CategoryKind,
    sensitive: bool,
    description: &'static str,
) -> BuiltinCategory {
    BuiltinCategory {
        name,
        description,
        kind,
        sensitive,
    }
}

/// The built-in categories, in id order: `BUILTIN[i]` has id `CategoryId(i)`.
pub const BUILTIN: &[BuiltinCategory] = &[
    cat(
        "illegal",
        CategoryKind::Special,
        true,
        "IWF child sexual abuse URLs and police-listed terrorist content",
    ),
    cat(
        "essential",
        CategoryKind::Special,
        false,
        "sign-in, updates, the school's own services and children's help lines",
    ),
    cat(
        "adult",
        CategoryKind::Harmful,
        true,
        "pornography and sexually explicit material",
    ),
    cat(
        "discrimination",
        CategoryKind::Harmful,
        true,
        "hate and discrimination against protected characteristics",
    ),
    cat(
        "drugs",
        CategoryKind::Harmful,
        true,
        "illegal drugs and substance misuse",
    ),
    cat(
        "extremism",
        CategoryKind::Harmful,
        true,
        "extremist and radicalising material",
    ),
    cat(
        "gambling",
        CategoryKind::Harmful,
        false,
        "betting, casinos, lotteries and loot-box gambling",
    ),
    cat(
        "malware",
        CategoryKind::Harmful,
        false,
        "malware, phishing and hacking tools",
    ),
    cat(
        "piracy",
        CategoryKind::Harmful,
        false,
        "copyright infringement: pirated films, music, software",
    ),
    cat(
        "selfharm",
        CategoryKind::Harmful,
        true,
        "promotion of self-harm, suicide and eating disorders",
    ),
    cat(
        "violence",
        CategoryKind::Harmful,
        true,
        "gore and violent material",
    ),
    cat(
        "weapons",
        CategoryKind::Harmful,
        true,
        "weapons sales and manufacture",
    ),
    cat(
        "bypass",
        CategoryKind::Harmful,
        false,
        "proxies, VPNs, DNS-over-HTTPS and other filter bypass",
    ),
    cat(
        "dating",
        CategoryKind::Harmful,
        true,
        "dating and adult chat sites",
    ),
    cat("games", CategoryKind::Timed, false, "online games"),
    cat("social", CategoryKind::Timed, false, "social media"),
    cat(
        "messaging",
        CategoryKind::Timed,
        false,
        "chat and messaging",
    ),
    cat(
        "video",
        CategoryKind::Timed,
        false,
        "video streaming (YouTube and others)",
    ),
    cat(
        "shopping",
        CategoryKind::Timed,
        false,
        "online shops and auctions",
    ),
    cat(
        "filesharing",
        CategoryKind::Timed,
        false,
        "file sharing and cloud storage",
    ),
    cat("webmail", CategoryKind::Timed, false, "personal web mail"),
];

/// The categories of one policy: the built-in ones followed by the school's own.
#[derive(Debug, Clone)]
pub struct Categories {
    names: Vec<Box<str>>,
    kinds: Vec<CategoryKind>,
    sensitive: Vec<bool>,
}

/// Adding a category failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CategoryError {
    /// The name is already a category.
    #[error("category `{0}` is defined twice")]
    Duplicate(String),
    /// Names are lower-case ASCII letters, digits, `-` and `_`.
    #[error("category name `{0}` must be lower-case letters, digits, `-` or `_`")]
    BadName(String),
    /// A [`CategorySet`] has room for [`MAX_CATEGORIES`].
    #[error("too many categories: at most {MAX_CATEGORIES} in all")]
    TooMany,
}

impl Default for Categories {
    fn default() -> Self {
        Categories {
            names: BUILTIN.iter().map(|c| c.name.into()).collect(),
            kinds: BUILTIN.iter().map(|c| c.kind).collect(),
            sensitive: BUILTIN.iter().map(|c| c.sensitive).collect(),
        }
    }
}

impl Categories {
    /// Adds a school-defined category.
    pub fn add_custom(&mut self, name: &str, sensitive: bool) -> Result<CategoryId, CategoryError> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(CategoryError::BadName(name.to_string()));
        }
        if self.id(name).is_some() {
            return Err(CategoryError::Duplicate(name.to_string()));
        }
        if self.names.len() >= MAX_CATEGORIES {
            return Err(CategoryError::TooMany);
        }
        self.names.push(name.into());
        self.kinds.push(CategoryKind::Custom);
        self.sensitive.push(sensitive);
        Ok(CategoryId((self.names.len() - 1) as u8))
    }

    /// The id of a category by canonical name.
    pub fn id(&self, name: &str) -> Option<CategoryId> {
        self.names
            .iter()
            .position(|n| &**n == name)
            .map(|i| CategoryId(i as u8))
    }

    /// The canonical name of a category.
    pub fn name(&self, id: CategoryId) -> &str {
        self.names.get(id.0 as usize).map_or("unknown", |n| n)
    }

    /// The kind of a category.
    pub fn kind(&self, id: CategoryId) -> CategoryKind {
        self.kinds
            .get(id.0 as usize)
            .copied()
            .unwrap_or(CategoryKind::Custom)
    }

    /// Whether a child's block page must not name this category.
    pub fn is_sensitive(&self, id: CategoryId) -> bool {
        self.sensitive.get(id.0 as usize).copied().unwrap_or(true)
    }

    /// Number of categories.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always false: the built-in categories are always there.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// All ids in order.
    pub fn ids(&self) -> impl Iterator<Item = CategoryId> + '_ {
        (0..self.names.len()).map(|i| CategoryId(i as u8))
    }
}

/// A set of categories, one bit each.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CategorySet(pub u64);

impl CategorySet {
    /// The empty set.
    pub const EMPTY: CategorySet = CategorySet(0);

    /// A set of one.
    pub const fn one(id: CategoryId) -> Self {
        CategorySet(1u64 << id.0)
    }

    /// Adds a category.
    pub fn insert(&mut self, id: CategoryId) {
        self.0 |= 1u64 << id.0;
    }

    /// Whether the set holds a category.
    pub const fn contains(self, id: CategoryId) -> bool {
        self.0 & (1u64 << id.0) != 0
    }

    /// Union.
    pub const fn union(self, other: CategorySet) -> Self {
        CategorySet(self.0 | other.0)
    }

    /// Intersection.
    pub const fn intersection(self, other: CategorySet) -> Self {
        CategorySet(self.0 & other.0)
    }

    /// No categories.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of categories in the set.
    pub const fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// The lowest id in the set.
    pub fn first(self) -> Option<CategoryId> {
        (self.0 != 0).then(|| CategoryId(self.0.trailing_zeros() as u8))
    }

    /// Ids in ascending order.
    pub fn iter(self) -> impl Iterator<Item = CategoryId> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let id = bits.trailing_zeros() as u8;
            bits &= bits - 1;
            Some(CategoryId(id))
        })
    }
}

impl fmt::Debug for CategorySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(|c| c.0)).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_ids_are_their_positions() {
        let cats = Categories::default();
        assert_eq!(cats.id("illegal"), Some(CategoryId::ILLEGAL));
        assert_eq!(cats.id("essential"), Some(CategoryId::ESSENTIAL));
        for (i, c) in BUILTIN.iter().enumerate() {
            assert_eq!(cats.id(c.name), Some(CategoryId(i as u8)));
        }
    }

    #[test]
    fn custom_categories_are_checked() {
        let mut cats = Categories::default();
        let id = cats.add_custom("homework-cheats", false).unwrap();
        assert_eq!(cats.name(id), "homework-cheats");
        assert_eq!(
            cats.add_custom("games", false),
            Err(CategoryError::Duplicate("games".into()))
        );
        assert!(matches!(
            cats.add_custom("Bad Name", false),
            Err(CategoryError::BadName(_))
        ));
    }

    #[test]
    fn set_iterates_in_order() {
        let mut s = CategorySet::EMPTY;
        s.insert(CategoryId(5));
        s.insert(CategoryId(2));
        s.insert(CategoryId(63));
        assert_eq!(s.iter().map(|c| c.0).collect::<Vec<_>>(), vec![2, 5, 63]);
        assert_eq!(s.first(), Some(CategoryId(2)));
        assert_eq!(s.len(), 3);
    }
}

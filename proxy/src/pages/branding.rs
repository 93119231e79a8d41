//! The school's branding on Lychgate's pages (name, logo, colours, who to ask for help) and the
//! `[block_page]` settings it is built from.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use lychgate_classifier::files::{self, FileError};

use super::DEFAULT_PAGES_BASE_URL;

/// The largest logo Lychgate inlines. Every block page carries the logo, so a big one would
/// slow every block; 256 KiB is far more than a crisp school crest needs.
pub const MAX_LOGO_BYTES: u64 = 256 * 1024;

/// What pupils are told to do, in the schools' own words: their policies ask children who see a
/// block notification to "turn the screen off and report immediately to a member of staff" and
/// to "tell a teacher or suitable adult".
pub const DEFAULT_PUPIL_MESSAGE: &str = "Turn off the screen and tell your teacher.";

/// Longest school name, contact line or pupil message accepted: these are headings and single
/// lines on a phone-width page, not paragraphs.
const MAX_TEXT_CHARS: usize = 200;

/// A branding setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BrandingError {
    /// Colours are `#rgb` or `#rrggbb` only, so nothing else can reach the page's CSS.
    #[error("colour `{value}` is not a colour: write `#rgb` or `#rrggbb`, e.g. `#1d4f91`")]
    Colour {
        /// The value as written.
        value: String,
    },
    /// The logo file could not be read.
    #[error("cannot read the logo {}: {source}", path.display())]
    LogoRead {
        /// The logo file.
        path: PathBuf,
        /// Why.
        source: FileError,
    },
    /// The logo is larger than [`MAX_LOGO_BYTES`].
    #[error(
        "the logo {} is {size} bytes; at most {max} bytes are allowed because it is sent with \
         every block page (export a smaller PNG or an SVG)",
        path.display()
    )]
    LogoTooLarge {
        /// The logo file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The logo is not a PNG, JPEG or SVG image.
    #[error("the logo {} is not a PNG, JPEG or SVG image", path.display())]
    LogoFormat {
        /// The logo file.
        path: PathBuf,
    },
    /// A text setting is empty, too long or has control characters.
    #[error("block_page.{key} {problem}")]
    Text {
        /// The settings key.
        key: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// The pages base URL is not a plain `http://` or `https://` origin.
    #[error(
        "block_page.pages_url `{value}` must be `http://host[:port]` or `https://host[:port]` \
         with no path, e.g. `http://lychgate.internal`"
    )]
    PagesUrl {
        /// The value as written.
        value: String,
    },
}

/// An opaque sRGB colour, written `#rrggbb` in pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Colour {
    /// Red, green and blue.
    rgb: [u8; 3],
}

impl Colour {
    /// A colour from its components.
    pub const fn rgb(r: u8, g: u8, b: u8) -> Colour {
        Colour { rgb: [r, g, b] }
    }

    /// WCAG 2 relative luminance (0 black … 1 white).
    pub fn luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.rgb[0]) + 0.7152 * lin(self.rgb[1]) + 0.0722 * lin(self.rgb[2])
    }

    /// WCAG 2 contrast ratio between two colours (1 … 21).
    pub fn contrast(self, other: Colour) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        let (hi, lo) = if a > b { (a, b) } else { (b, a) };
        (hi + 0.05) / (lo + 0.05)
    }

    /// Black or white, whichever reads better on this colour. One of the two always
    /// reaches at least 4.58:1 (WCAG AA asks 4.5:1), so a school's colour choice can never make
    /// the page's text unreadable. (Pure black, not near-black: mid-greys such as `#777` fall
    /// short of 4.5:1 against both `#111` and white.)
    pub fn text_on(self) -> Colour {
        let dark = Colour::rgb(0, 0, 0);
        let light = Colour::rgb(0xff, 0xff, 0xff);
        if self.contrast(dark) >= self.contrast(light) {
            dark
        } else {
            light
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [r, g, b] = self.rgb;
        write!(f, "#{r:02x}{g:02x}{b:02x}")
    }
}

/// Reads `#rgb` or `#rrggbb` (any case). Nothing else is accepted — no names, no `rgb()` — so a
/// config value can never carry other CSS into the page.
pub fn parse_colour(s: &str) -> Result<Colour, BrandingError> {
    let bad = || BrandingError::Colour {
        value: s.to_string(),
    };
    let hex = s.strip_prefix('#').ok_or_else(bad)?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let digit = |i: usize| u8::from_str_radix(&hex[i..=i], 16).map_err(|_| bad());
    match hex.len() {
        3 => Ok(Colour::rgb(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
        6 => {
            let pair = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
            Ok(Colour::rgb(pair(0)?, pair(2)?, pair(4)?))
        }
        _ => Err(bad()),
    }
}

/// A logo ready to put in an `<img src>`: a `data:` URI, because the page may not load anything
/// from elsewhere (the block page is shown exactly when other sites are unreachable).
#[derive(Clone, PartialEq, Eq)]
pub struct InlineLogo {
    /// `image/png`, `image/jpeg` or `image/svg+xml`.
    mime: &'static str,
    /// `data:<mime>;base64,<data>`.
    data_uri: String,
}

impl fmt::Debug for InlineLogo {
    // The whole base64 image would swamp any log or test failure it appears in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InlineLogo")
            .field("mime", &self.mime)
            .field("data_uri_len", &self.data_uri.len())
            .finish()
    }
}

impl InlineLogo {
    /// A logo from the image bytes; `None` unless they are a PNG, JPEG or SVG image.
    pub fn from_bytes(bytes: &[u8]) -> Option<InlineLogo> {
        let mime = sniff_image(bytes)?;
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        Some(InlineLogo {
            mime,
            data_uri: format!("data:{mime};base64,{data}"),
        })
    }

    /// The image's MIME type.
    pub fn mime(&self) -> &'static str {
        self.mime
    }

    /// The `data:` URI (base64 only, so it needs no escaping in an attribute).
    pub fn data_uri(&self) -> &str {
        &self.data_uri
    }
}

/// The image type by content, not by file name: a misnamed file is caught at config load, not
/// discovered as a broken image on a pupil's screen.
fn sniff_image(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some("image/png");
    }
    if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        return Some("image/jpeg");
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let head = text.trim_start_matches('\u{feff}').trim_start();
    let looks_xml = head.starts_with("<svg") || head.starts_with("<?xml") || head.starts_with("<!");
    (looks_xml && text.contains("<svg")).then_some("image/svg+xml")
}

/// The school's look on every Lychgate page.
#[derive(Debug, Clone, PartialEq)]
pub struct Branding {
    /// Shown in the page header and title, e.g. "St Clement's C of E Primary School".
    pub school_name: String,
    /// The school's logo, inlined.
    pub logo: Option<InlineLogo>,
    /// Header bar, buttons and the reference box's border.
    pub primary_colour: Colour,
    /// The page background.
    pub background_colour: Colour,
    /// Who staff and guests ask for help, e.g. "Ask Mrs Patel in the school office".
    pub contact: Option<String>,
    /// What pupils are told to do when they see a block page.
    pub pupil_message: String,
}

impl Default for Branding {
    fn default() -> Self {
        Branding {
            school_name: "Lychgate".to_string(),
            logo: None,
            // A dark blue with white text (contrast 8.6:1) on a white page.
            primary_colour: Colour::rgb(0x1d, 0x4f, 0x91),
            background_colour: Colour::rgb(0xff, 0xff, 0xff),
            contact: None,
            pupil_message: DEFAULT_PUPIL_MESSAGE.to_string(),
        }
    }
}

impl Branding {
    /// Reads a PNG, JPEG or SVG logo of at most [`MAX_LOGO_BYTES`] and inlines it. Errors name
    /// the file. Called once at config load, never per request.
    pub fn load_logo(path: &Path) -> Result<InlineLogo, BrandingError> {
        let read_err = |source| BrandingError::LogoRead {
            path: path.to_path_buf(),
            source,
        };
        let too_large = |size| BrandingError::LogoTooLarge {
            path: path.to_path_buf(),
            size,
            max: MAX_LOGO_BYTES,
        };
        let bytes = files::read_regular(path, MAX_LOGO_BYTES).map_err(|e| match e {
            FileError::TooLarge { limit } => {
                too_large(std::fs::metadata(path).map_or(limit + 1, |m| m.len()))
            }
            other => read_err(other),
        })?;
        InlineLogo::from_bytes(&bytes).ok_or_else(|| BrandingError::LogoFormat {
            path: path.to_path_buf(),
        })
    }
}

/// The `[block_page]` settings, as the config file gives them (the config loader fills this in
/// and calls [`BlockPageSettings::branding`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockPageSettings {
    /// `school_name` (default `"Lychgate"`): the page header and title.
    pub school_name: String,
    /// `logo` (default none): path to a PNG, JPEG or SVG of at most 256 KiB, relative paths
    /// resolved by the config loader against the config file's folder.
    pub logo: Option<PathBuf>,
    /// `primary_colour` (default `"#1d4f91"`): header bar and buttons; `#rgb` or `#rrggbb`.
    pub primary_colour: String,
    /// `background_colour` (default `"#ffffff"`): the page; `#rgb` or `#rrggbb`.
    pub background_colour: String,
    /// `contact` (default none): who staff and guests ask, e.g. "Ask Mrs Patel in the office".
    pub contact: Option<String>,
    /// `pupil_message` (default "Turn off the screen and tell your teacher."): the
    /// instruction on a pupil's block page, in the school's own words.
    pub pupil_message: String,
    /// `review` (default `true`): whether staff block pages offer "Request a review".
    pub review: bool,
    /// `pages_url` (default `"http://lychgate.internal"`): where browsers reach Lychgate's own
    /// pages; review forms post to `<pages_url>/review`.
    pub pages_url: String,
}

impl Default for BlockPageSettings {
    fn default() -> Self {
        let branding = Branding::default();
        BlockPageSettings {
            school_name: branding.school_name,
            logo: None,
            primary_colour: branding.primary_colour.to_string(),
            background_colour: branding.background_colour.to_string(),
            contact: None,
            pupil_message: branding.pupil_message,
            review: true,
            pages_url: DEFAULT_PAGES_BASE_URL.to_string(),
        }
    }
}

impl BlockPageSettings {
    /// Checks the settings and builds the branding, reading the logo file if one is set.
    /// Returns every problem, so a technician can fix them all at once.
    pub fn branding(&self) -> Result<Branding, Vec<BrandingError>> {
        let mut errors = Vec::new();
        let mut keep = |r: Result<(), BrandingError>| {
            if let Err(e) = r {
                errors.push(e);
            }
        };
        keep(check_text("school_name", &self.school_name, true));
        keep(check_text("pupil_message", &self.pupil_message, true));
        if let Some(contact) = &self.contact {
            keep(check_text("contact", contact, false));
        }
        if let Err(e) = self.review_action() {
            errors.push(e);
        }
        let primary = parse_colour(&self.primary_colour);
        let background = parse_colour(&self.background_colour);
        let logo = self.logo.as_deref().map(Branding::load_logo).transpose();
        match (primary, background, logo) {
            (Ok(primary_colour), Ok(background_colour), Ok(logo)) if errors.is_empty() => {
                Ok(Branding {
                    school_name: self.school_name.trim().to_string(),
                    logo,
                    primary_colour,
                    background_colour,
                    contact: self
                        .contact
                        .as_deref()
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_string),
                    pupil_message: self.pupil_message.trim().to_string(),
                })
            }
            (primary, background, logo) => {
                errors.extend(primary.err());
                errors.extend(background.err());
                errors.extend(logo.err());
                Err(errors)
            }
        }
    }

    /// Where staff block pages' review forms post (`<pages_url>/review`), or `None` when
    /// reviews are switched off.
    pub fn review_action(&self) -> Result<Option<String>, BrandingError> {
        let base = self.pages_url.trim_end_matches('/');
        let bad = || BrandingError::PagesUrl {
            value: self.pages_url.clone(),
        };
        let authority = base
            .strip_prefix("http://")
            .or_else(|| base.strip_prefix("https://"))
            .ok_or_else(bad)?;
        let plain = !authority.is_empty()
            && authority.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']')
            });
        if !plain {
            return Err(bad());
        }
        Ok(self.review.then(|| format!("{base}{}", super::REVIEW_PATH)))
    }
}

fn check_text(key: &'static str, value: &str, required: bool) -> Result<(), BrandingError> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(BrandingError::Text {
            key,
            problem: "must not be empty",
        });
    }
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(BrandingError::Text {
            key,
            problem: "is too long (at most 200 characters)",
        });
    }
    if value.chars().any(char::is_control) {
        return Err(BrandingError::Text {
            key,
            problem: "must be one line without control characters",
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The smallest valid PNG: a 1×1 transparent pixel.
    pub(crate) const TINY_PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
        0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0b, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x60,
        0x00, 0x02, 0x00, 0x00, 0x05, 0x00, 0x01, 0xe9, 0xfa, 0xdc, 0xd8, 0x00, 0x00, 0x00, 0x00,
        0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];

    /// A small school crest as SVG, for the sample pages a person looks at.
    pub(crate) const SAMPLE_SVG: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" \
        viewBox=\"0 0 48 56\" width=\"48\" height=\"56\"><path d=\"M4 4h40v24c0 14-10 22-20 \
        26C14 50 4 42 4 28z\" fill=\"#7a1f5c\" stroke=\"#e8b100\" stroke-width=\"3\"/><path \
        d=\"M24 12v30M14 22h20\" stroke=\"#fff\" stroke-width=\"5\"/></svg>";

    #[test]
    fn colours_accept_only_hex() {
        assert_eq!(parse_colour("#1D4f91").unwrap().to_string(), "#1d4f91");
        assert_eq!(parse_colour("#fa0").unwrap().to_string(), "#ffaa00");
        for bad in [
            "red",
            "1d4f91",
            "#1d4f9",
            "#1d4f911",
            "#ggg",
            "#fff;}body{display:none",
            "#12345\u{e9}",
            "",
            "#",
            "rgb(0,0,0)",
        ] {
            let err = parse_colour(bad).unwrap_err();
            assert!(matches!(err, BrandingError::Colour { .. }), "{bad}");
        }
    }

    #[test]
    fn text_colour_always_meets_wcag_aa() {
        // Every grey, and a grid through the whole colour cube.
        let greys = (0..=255u8).map(|v| Colour::rgb(v, v, v));
        let steps = || (0..=255u8).step_by(15);
        let grid = steps().flat_map(|r| steps().flat_map(move |g| steps().map(move |b| (r, g, b))));
        for c in greys.chain(grid.map(|(r, g, b)| Colour::rgb(r, g, b))) {
            assert!(c.contrast(c.text_on()) >= 4.5, "{c}");
        }
        let white = Colour::rgb(255, 255, 255);
        let black = Colour::rgb(0, 0, 0);
        assert!((white.contrast(black) - 21.0).abs() < 1e-9);
        assert_eq!(Colour::rgb(0x1d, 0x4f, 0x91).text_on(), white);
    }

    #[test]
    fn logo_is_inlined_with_its_type() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("crest.png");
        std::fs::write(&png, TINY_PNG).unwrap();
        let logo = Branding::load_logo(&png).unwrap();
        assert_eq!(logo.mime(), "image/png");
        assert!(
            logo.data_uri()
                .starts_with("data:image/png;base64,iVBORw0KGgo")
        );
        let debug = format!("{logo:?}");
        assert!(!debug.contains("iVBOR"), "{debug}");

        let svg = dir.path().join("crest.svg");
        std::fs::write(
            &svg,
            "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
        )
        .unwrap();
        assert_eq!(Branding::load_logo(&svg).unwrap().mime(), "image/svg+xml");

        let jpeg = dir.path().join("crest.jpg");
        std::fs::write(&jpeg, [0xff, 0xd8, 0xff, 0xe0, 0, 16]).unwrap();
        assert_eq!(Branding::load_logo(&jpeg).unwrap().mime(), "image/jpeg");
    }

    #[test]
    fn a_logo_must_be_a_regular_file() {
        let err = Branding::load_logo(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read the logo /dev/zero: it is a character device, not a regular file"
        );
    }

    #[test]
    fn logo_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.png");
        let err = Branding::load_logo(&missing).unwrap_err();
        assert!(matches!(err, BrandingError::LogoRead { .. }));
        assert!(err.to_string().contains("missing.png"), "{err}");

        let text = dir.path().join("crest.png");
        std::fs::write(&text, "not an image").unwrap();
        let err = Branding::load_logo(&text).unwrap_err();
        assert!(matches!(err, BrandingError::LogoFormat { .. }));
        assert!(err.to_string().contains("crest.png"), "{err}");

        let big = dir.path().join("huge.png");
        let mut bytes = TINY_PNG.to_vec();
        bytes.resize(MAX_LOGO_BYTES as usize + 1, 0);
        std::fs::write(&big, bytes).unwrap();
        let err = Branding::load_logo(&big).unwrap_err();
        assert!(matches!(err, BrandingError::LogoTooLarge { .. }));
        assert!(err.to_string().contains("huge.png"), "{err}");
    }

    #[test]
    fn default_settings_give_default_branding() {
        let settings = BlockPageSettings::default();
        assert_eq!(settings.branding().unwrap(), Branding::default());
        assert_eq!(
            settings.review_action().unwrap().as_deref(),
            Some("http://lychgate.internal/review")
        );
    }

    #[test]
    fn settings_report_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let settings = BlockPageSettings {
            school_name: "  ".to_string(),
            logo: Some(dir.path().join("nope.svg")),
            primary_colour: "blue".to_string(),
            background_colour: "#fff".to_string(),
            contact: Some("line\nbreak".to_string()),
            pupil_message: "x".repeat(201),
            review: true,
            pages_url: "ftp://lychgate.internal/".to_string(),
        };
        let errors = settings.branding().unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 6, "{text:#?}");
        assert!(text.iter().any(|t| t.contains("school_name")));
        assert!(text.iter().any(|t| t.contains("pupil_message")));
        assert!(text.iter().any(|t| t.contains("contact")));
        assert!(text.iter().any(|t| t.contains("pages_url")));
        assert!(text.iter().any(|t| t.contains("`blue`")));
        assert!(text.iter().any(|t| t.contains("nope.svg")));
    }

    #[test]
    fn review_can_be_switched_off_and_base_urls_are_checked() {
        let mut settings = BlockPageSettings {
            review: false,
            ..BlockPageSettings::default()
        };
        assert_eq!(settings.review_action().unwrap(), None);
        settings.review = true;
        settings.pages_url = "https://gw.example.sch.uk:8443/".to_string();
        assert_eq!(
            settings.review_action().unwrap().as_deref(),
            Some("https://gw.example.sch.uk:8443/review")
        );
        for bad in ["http://", "http://a/b", "http://a\"b", "lychgate.internal"] {
            settings.pages_url = bad.to_string();
            assert!(settings.review_action().is_err(), "{bad}");
        }
    }
}

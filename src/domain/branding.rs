//! The host's branding of the Security tab: product name, accent colour and
//! logo, their rules, and the palette derived from the accent for light and
//! dark mode with readable text (WCAG AA, 4.5:1) wherever the accent is used.

use chrono::{DateTime, Utc};

/// Longest product name, in characters.
pub const MAX_PRODUCT_NAME: usize = 60;
/// Largest logo, in bytes.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;
/// The contrast WCAG AA asks of normal text.
pub const MIN_CONTRAST: f64 = 4.5;

/// What the host has set; `None` is Gatehouse's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Branding {
    pub product_name: Option<String>,
    pub accent_color: Option<Rgb>,
    pub logo: Option<LogoInfo>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Branding {
    /// The version of the generated stylesheet: changes with the accent.
    pub fn theme_version(&self) -> Option<String> {
        self.accent_color.map(|c| c.hex()[1..].to_string())
    }
}

/// A stored logo, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoInfo {
    pub content_type: LogoType,
    /// Lowercase hex SHA-256 of the bytes; its start versions the logo URL.
    pub sha256: String,
    pub size: i64,
}

impl LogoInfo {
    pub fn version(&self) -> &str {
        self.sha256.get(..16).unwrap_or(&self.sha256)
    }
}

/// Why a branding value was refused: a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandingError {
    pub code: &'static str,
    pub message: String,
}

fn refused(code: &'static str, message: impl Into<String>) -> BrandingError {
    BrandingError {
        code,
        message: message.into(),
    }
}

/// A product name: trimmed, 1 to 60 characters, no control characters.
pub fn parse_product_name(raw: &str) -> Result<String, BrandingError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(refused(
            "branding_product_name_invalid",
            "product_name must not be empty; send null to go back to the default wording",
        ));
    }
    if name.chars().count() > MAX_PRODUCT_NAME {
        return Err(refused(
            "branding_product_name_invalid",
            format!("product_name must be at most {MAX_PRODUCT_NAME} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(refused(
            "branding_product_name_invalid",
            "product_name must not contain control characters",
        ));
    }
    Ok(name.to_string())
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const WHITE: Rgb = Rgb(0xff, 0xff, 0xff);
    pub const BLACK: Rgb = Rgb(0, 0, 0);

    /// `#rrggbb`, either case; nothing else (no names, no shorthand).
    pub fn parse(raw: &str) -> Result<Rgb, BrandingError> {
        let bad = || {
            refused(
                "branding_accent_color_invalid",
                format!(
                    "accent_color must be a colour written #rrggbb, such as #3b5bdb, not `{}`",
                    raw.chars().take(40).collect::<String>()
                ),
            )
        };
        let hex = raw.strip_prefix('#').ok_or_else(bad)?;
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        let byte = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| bad());
        Ok(Rgb(byte(0)?, byte(2)?, byte(4)?))
    }

    /// `#rrggbb`, lower case.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// Relative luminance (WCAG 2).
    pub fn luminance(self) -> f64 {
        fn linear(c: u8) -> f64 {
            let s = f64::from(c) / 255.0;
            if s <= 0.04045 {
                s / 12.92
            } else {
                ((s + 0.055) / 1.055).powf(2.4)
            }
        }
        0.2126 * linear(self.0) + 0.7152 * linear(self.1) + 0.0722 * linear(self.2)
    }

    /// `self` moved towards `other` by `t` (0 = self, 1 = other).
    pub fn mix(self, other: Rgb, t: f64) -> Rgb {
        let t = t.clamp(0.0, 1.0);
        let channel = |a: u8, b: u8| {
            let v = f64::from(a) + (f64::from(b) - f64::from(a)) * t;
            // In 0..=255 by construction.
            v.round().clamp(0.0, 255.0) as u8
        };
        Rgb(
            channel(self.0, other.0),
            channel(self.1, other.1),
            channel(self.2, other.2),
        )
    }
}

/// The WCAG contrast ratio of two colours, from 1 to 21.
pub fn contrast(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.luminance(), b.luminance());
    let (hi, lo) = if la >= lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

/// White or black, whichever reads on `background`; white when both do.
/// One of them always reaches 4.5:1 (at worst about 4.58:1).
pub fn text_on(background: Rgb) -> Rgb {
    if contrast(background, Rgb::WHITE) >= MIN_CONTRAST {
        Rgb::WHITE
    } else {
        Rgb::BLACK
    }
}

/// `start` moved towards `towards` in small steps until `ok` holds (at the
/// end `towards` itself).
fn adjust(start: Rgb, towards: Rgb, ok: impl Fn(Rgb) -> bool) -> Rgb {
    (0..=20)
        .map(|i| start.mix(towards, f64::from(i) * 0.05))
        .find(|c| ok(*c))
        .unwrap_or(towards)
}

/// The accent colours of one colour scheme, as CSS custom properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Palette {
    /// Fills and borders: primary buttons, the current step.
    pub accent: Rgb,
    /// Primary buttons on hover.
    pub accent_strong: Rgb,
    /// Text on `accent` and on `accent_strong`.
    pub accent_contrast: Rgb,
    /// Links and other accent-coloured text on the page's backgrounds.
    pub accent_text: Rgb,
    /// Links on hover.
    pub accent_text_strong: Rgb,
    /// The background of notices.
    pub notice_bg: Rgb,
}

impl Palette {
    fn css(&self) -> String {
        [
            ("accent", self.accent),
            ("accent-strong", self.accent_strong),
            ("accent-contrast", self.accent_contrast),
            ("accent-text", self.accent_text),
            ("accent-text-strong", self.accent_text_strong),
            ("notice-bg", self.notice_bg),
        ]
        .iter()
        .map(|(name, c)| format!("    --{name}: {};\n", c.hex()))
        .collect()
    }
}

/// The page backgrounds of `static/app.css`, light and dark.
pub const LIGHT_BACKGROUNDS: [Rgb; 2] = [Rgb(0xf6, 0xf7, 0xf9), Rgb(0xff, 0xff, 0xff)];
pub const DARK_BACKGROUNDS: [Rgb; 2] = [Rgb(0x11, 0x14, 0x18), Rgb(0x1a, 0x1e, 0x24)];

/// A fill and the hover fill that keeps its text readable: moved away from
/// the text colour, so the contrast only grows.
fn fills(accent: Rgb) -> (Rgb, Rgb) {
    let text = text_on(accent);
    let strong = if text == Rgb::WHITE {
        accent.mix(Rgb::BLACK, 0.15)
    } else {
        accent.mix(Rgb::WHITE, 0.2)
    };
    (strong, text)
}

fn readable_on(c: Rgb, backgrounds: &[Rgb]) -> bool {
    backgrounds.iter().all(|b| contrast(c, *b) >= MIN_CONTRAST)
}

/// The light and dark palettes of an accent colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub light: Palette,
    pub dark: Palette,
}

impl Theme {
    pub fn from_accent(accent: Rgb) -> Theme {
        // Light: the host's colour as it is for fills; as text, darkened
        // until it reads on every light background, notices included.
        let [page, surface] = LIGHT_BACKGROUNDS;
        let notice_bg = surface.mix(accent, 0.08);
        let (accent_strong, accent_contrast) = fills(accent);
        let accent_text = adjust(accent, Rgb::BLACK, |c| {
            readable_on(c, &[page, surface, notice_bg])
        });
        let light = Palette {
            accent,
            accent_strong,
            accent_contrast,
            accent_text,
            accent_text_strong: accent_text.mix(Rgb::BLACK, 0.2),
            notice_bg,
        };

        // Dark: lightened until it reads on the dark backgrounds and on its
        // own tinted notices; used for fills and text alike, as the default
        // dark theme does.
        let [page, surface] = DARK_BACKGROUNDS;
        let dark_notice = |c: Rgb| surface.mix(c, 0.15);
        let dark_accent = adjust(accent, Rgb::WHITE, |c| {
            readable_on(c, &[page, surface, dark_notice(c)])
        });
        let (dark_strong, dark_contrast) = fills(dark_accent);
        let dark = Palette {
            accent: dark_accent,
            accent_strong: dark_strong,
            accent_contrast: dark_contrast,
            accent_text: dark_accent,
            accent_text_strong: dark_accent.mix(Rgb::WHITE, 0.2),
            notice_bg: dark_notice(dark_accent),
        };
        Theme { light, dark }
    }

    /// The stylesheet that overrides `static/app.css`'s accent properties.
    /// Only hex colours go in: nothing the host typed reaches the CSS.
    pub fn css(&self) -> String {
        format!(
            "/* Gatehouse: the host's accent colour, light and dark. */\n\
             :root {{\n{}}}\n\
             @media (prefers-color-scheme: dark) {{\n  :root {{\n{}  }}\n}}\n",
            self.light.css(),
            self.dark
                .css()
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        )
    }
}

/// The raster formats a logo may have. SVG is refused: it can carry script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoType {
    Png,
    Jpeg,
    Webp,
}

impl LogoType {
    pub fn mime(self) -> &'static str {
        match self {
            LogoType::Png => "image/png",
            LogoType::Jpeg => "image/jpeg",
            LogoType::Webp => "image/webp",
        }
    }

    pub fn from_mime(mime: &str) -> Option<LogoType> {
        match mime {
            "image/png" => Some(LogoType::Png),
            "image/jpeg" => Some(LogoType::Jpeg),
            "image/webp" => Some(LogoType::Webp),
            _ => None,
        }
    }

    /// The format the bytes themselves announce (their magic number).
    pub fn sniff(bytes: &[u8]) -> Option<LogoType> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(LogoType::Png)
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Some(LogoType::Jpeg)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(LogoType::Webp)
        } else {
            None
        }
    }
}

/// Checks a logo: an allowed declared type, base64 that decodes, at most
/// 256 KB, and bytes that are what the declared type says.
pub fn parse_logo(
    content_type: &str,
    data_base64: &str,
) -> Result<(LogoType, Vec<u8>), BrandingError> {
    use base64::Engine;
    let declared = content_type.trim().to_ascii_lowercase();
    let Some(kind) = LogoType::from_mime(&declared) else {
        let why = if declared.contains("svg") {
            " SVG is not accepted because it can carry script; export the logo as PNG or WebP."
        } else {
            ""
        };
        return Err(refused(
            "branding_logo_type_unsupported",
            format!(
                "logo.content_type must be image/png, image/jpeg or image/webp, not `{}`.{why}",
                declared.chars().take(60).collect::<String>()
            ),
        ));
    };
    let compact: String = data_base64
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    // Base64 grows data by a third: refuse what is clearly too large before
    // decoding it.
    if compact.len() / 4 * 3 > MAX_LOGO_BYTES + 3 {
        return Err(too_large(compact.len() / 4 * 3));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| {
            refused(
                "branding_logo_invalid",
                format!("logo.data_base64 is not valid base64 ({e})"),
            )
        })?;
    if bytes.is_empty() {
        return Err(refused(
            "branding_logo_invalid",
            "logo.data_base64 is empty",
        ));
    }
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(too_large(bytes.len()));
    }
    match LogoType::sniff(&bytes) {
        Some(found) if found == kind => Ok((kind, bytes)),
        found => {
            let seen = match found {
                Some(other) => format!("{} data", other.mime()),
                None if looks_like_markup(&bytes) => "text or markup (SVG, HTML?)".to_string(),
                None => "data of no accepted image format".to_string(),
            };
            Err(refused(
                "branding_logo_content_mismatch",
                format!(
                    "logo.content_type says {} but logo.data_base64 holds {seen}",
                    kind.mime()
                ),
            ))
        }
    }
}

fn too_large(size: usize) -> BrandingError {
    refused(
        "branding_logo_too_large",
        format!(
            "the logo is about {} KB; at most {} KB is accepted",
            size.div_ceil(1024),
            MAX_LOGO_BYTES / 1024
        ),
    )
}

fn looks_like_markup(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .skip_while(|b| b.is_ascii_whitespace() || **b == 0xef || **b == 0xbb || **b == 0xbf)
        .copied()
        .next();
    start == Some(b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_hash_and_six_hex_digits() {
        assert_eq!(Rgb::parse("#3B5bdb"), Ok(Rgb(0x3b, 0x5b, 0xdb)));
        assert_eq!(
            Rgb::parse("#3b5bdb").map(Rgb::hex).as_deref(),
            Ok("#3b5bdb")
        );
        for bad in [
            "3b5bdb",
            "#fff",
            "#3b5bdb00",
            "red",
            "#gggggg",
            "",
            "#3b5bd\u{e9}",
            " #3b5bdb",
        ] {
            let e = Rgb::parse(bad).expect_err(bad);
            assert_eq!(e.code, "branding_accent_color_invalid");
        }
    }

    #[test]
    fn contrast_matches_the_wcag_reference_values() {
        assert!((contrast(Rgb::WHITE, Rgb::BLACK) - 21.0).abs() < 1e-9);
        assert!((contrast(Rgb(0x77, 0x77, 0x77), Rgb::WHITE) - 4.48).abs() < 0.01);
    }

    #[test]
    fn every_derived_text_colour_reaches_aa_for_any_accent() {
        // A grid through the whole colour cube, greys and extremes included.
        let steps = [0u8, 0x22, 0x55, 0x77, 0x88, 0x99, 0xbb, 0xdd, 0xff];
        for r in steps {
            for g in steps {
                for b in steps {
                    let t = Theme::from_accent(Rgb(r, g, b));
                    for p in [t.light, t.dark] {
                        assert!(
                            contrast(p.accent, p.accent_contrast) >= MIN_CONTRAST,
                            "{t:?}"
                        );
                        assert!(
                            contrast(p.accent_strong, p.accent_contrast) >= MIN_CONTRAST,
                            "{t:?}"
                        );
                        assert!(
                            contrast(p.accent_text, p.notice_bg) >= MIN_CONTRAST,
                            "{t:?}"
                        );
                    }
                    assert!(
                        readable_on(t.light.accent_text, &LIGHT_BACKGROUNDS),
                        "{t:?}"
                    );
                    assert!(
                        readable_on(t.light.accent_text_strong, &LIGHT_BACKGROUNDS),
                        "{t:?}"
                    );
                    assert!(readable_on(t.dark.accent_text, &DARK_BACKGROUNDS), "{t:?}");
                    assert!(
                        readable_on(t.dark.accent_text_strong, &DARK_BACKGROUNDS),
                        "{t:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_light_accent_is_kept_and_dark_mode_gets_a_lighter_one() {
        let accent = Rgb::parse("#0f766e").expect("colour");
        let t = Theme::from_accent(accent);
        assert_eq!(
            t.light.accent, accent,
            "fills use the host's colour as given"
        );
        assert_eq!(t.light.accent_contrast, Rgb::WHITE);
        assert!(t.dark.accent.luminance() > accent.luminance());
        assert_eq!(t.dark.accent_contrast, Rgb::BLACK);
        // A pale accent gets dark text on its buttons.
        assert_eq!(
            Theme::from_accent(Rgb(0xff, 0xd4, 0x3b))
                .light
                .accent_contrast,
            Rgb::BLACK
        );
    }

    #[test]
    fn the_stylesheet_sets_both_schemes() {
        let css = Theme::from_accent(Rgb(0x0f, 0x76, 0x6e)).css();
        assert!(css.contains("--accent: #0f766e;"), "{css}");
        assert!(css.contains("--accent-contrast: #ffffff;"), "{css}");
        assert!(css.contains("@media (prefers-color-scheme: dark)"), "{css}");
        assert_eq!(css.matches("--accent:").count(), 2);
    }

    #[test]
    fn product_names_are_trimmed_and_bounded() {
        assert_eq!(parse_product_name("  Acme Cloud "), Ok("Acme Cloud".into()));
        let long = "x".repeat(61);
        for bad in ["", "   ", "a\nb", long.as_str()] {
            assert_eq!(
                parse_product_name(bad).map_err(|e| e.code),
                Err("branding_product_name_invalid")
            );
        }
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const WEBP: &[u8] = b"RIFF\x10\0\0\0WEBPVP8 ";

    #[test]
    fn logos_are_checked_by_their_bytes() {
        assert_eq!(
            parse_logo("image/png", &b64(PNG)).map(|l| l.0),
            Ok(LogoType::Png)
        );
        assert_eq!(
            parse_logo("IMAGE/WEBP", &b64(WEBP)).map(|l| l.0),
            Ok(LogoType::Webp)
        );
        assert_eq!(
            parse_logo("image/jpeg", &b64(&[0xff, 0xd8, 0xff, 0xe0, 0, 0x10])).map(|l| l.0),
            Ok(LogoType::Jpeg)
        );
        let code = |ct: &str, data: &str| parse_logo(ct, data).map(|_| ()).map_err(|e| e.code);
        assert_eq!(
            code("image/jpeg", &b64(PNG)),
            Err("branding_logo_content_mismatch")
        );
        assert_eq!(
            code(
                "image/png",
                &b64(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
            ),
            Err("branding_logo_content_mismatch")
        );
        assert_eq!(
            code("image/svg+xml", &b64(b"<svg/>")),
            Err("branding_logo_type_unsupported")
        );
        assert_eq!(
            code("image/gif", &b64(b"GIF89a")),
            Err("branding_logo_type_unsupported")
        );
        assert_eq!(
            code("image/png", "not base64!"),
            Err("branding_logo_invalid")
        );
        assert_eq!(code("image/png", ""), Err("branding_logo_invalid"));
        let mut big = PNG.to_vec();
        big.resize(MAX_LOGO_BYTES + 1, 0);
        assert_eq!(
            code("image/png", &b64(&big)),
            Err("branding_logo_too_large")
        );
        big.truncate(MAX_LOGO_BYTES);
        assert!(
            code("image/png", &b64(&big)).is_ok(),
            "exactly 256 KB is fine"
        );
    }
}

//! A system font for the scripts egui's own fonts lack (Hangul, CJK), added
//! behind them as a fallback, so Latin text keeps egui's look and Korean
//! text shows. Nothing is bundled: without such a font installed, those
//! characters show as boxes.

use eframe::egui::{Context, FontData, FontFamily};
use eframe::epaint::text::{FontInsert, FontPriority, InsertFontFamily};

/// Font files tried in order, with the face to use in a collection
/// (face 1 of Noto Sans CJK is its Korean one).
const FALLBACKS: &[(&str, u32)] = &[
    ("/usr/share/fonts/truetype/nanum/NanumGothic.ttf", 0),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 1),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 1),
    (
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        0,
    ),
    ("/usr/share/fonts/truetype/unfonts-core/UnDotum.ttf", 0),
    ("/System/Library/Fonts/AppleSDGothicNeo.ttc", 0),
    ("C:/Windows/Fonts/malgun.ttf", 0),
];

/// Adds the first fallback font found; returns its path.
pub fn add_fallback_font(ctx: &Context) -> Option<&'static str> {
    let (path, index) = FALLBACKS
        .iter()
        .find(|(path, _)| std::path::Path::new(path).exists())?;
    let bytes = std::fs::read(path).ok()?;
    let mut data = FontData::from_owned(bytes);
    data.index = *index;
    let families = [FontFamily::Proportional, FontFamily::Monospace]
        .into_iter()
        .map(|family| InsertFontFamily {
            family,
            priority: FontPriority::Lowest,
        })
        .collect();
    ctx.add_font(FontInsert {
        name: "system-fallback".into(),
        data,
        families,
    });
    Some(path)
}

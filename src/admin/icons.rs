//! App icons uploaded through the API: a PNG, JPEG or GIF as a `data:` URI, at most 1 MiB,
//! decoded to prove it is an image, shrunk to fit 64x64, stored as PNG next to `apps.toml`.

use std::io::Cursor;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use image::ImageFormat;

use super::ApiError;
use crate::registry::icon::FOLDER;

/// Largest icon accepted, in bytes (decoded).
pub const MAX_ICON_BYTES: usize = 1024 * 1024;
/// Icons are shown at most this wide and high.
pub const ICON_SIZE: u32 = 64;

pub use crate::registry::icon::sniff;

/// Decodes a `data:` URI into a PNG of at most 64x64.
pub fn to_png(data_uri: &str) -> Result<Vec<u8>, ApiError> {
    let bad = |m: &str| ApiError::invalid(format!("icon_data: {m}"));
    let (meta, b64) = data_uri
        .strip_prefix("data:")
        .and_then(|r| r.split_once(','))
        .ok_or_else(|| bad("must be a data: URI"))?;
    if !meta.ends_with(";base64") {
        return Err(bad("must be base64-encoded"));
    }
    if b64.len() > MAX_ICON_BYTES / 3 * 4 + 4 {
        return Err(bad("larger than 1 MiB"));
    }
    let bytes = STANDARD
        .decode(b64.trim())
        .map_err(|_| bad("not valid base64"))?;
    let format = sniff(&bytes).ok_or_else(|| bad("not a PNG, JPEG or GIF image"))?;
    let mut reader = image::ImageReader::with_format(Cursor::new(&bytes), format);
    reader.limits({
        let mut l = image::Limits::default();
        l.max_image_width = Some(8192);
        l.max_image_height = Some(8192);
        l.max_alloc = Some(64 * 1024 * 1024);
        l
    });
    let img = reader
        .decode()
        .map_err(|_| bad("the image cannot be decoded"))?;
    let img = if img.width() > ICON_SIZE || img.height() > ICON_SIZE {
        img.thumbnail(ICON_SIZE, ICON_SIZE)
    } else {
        img
    };
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .map_err(ApiError::unavailable)?;
    Ok(out.into_inner())
}

/// The name (relative to `apps.toml`) of an app's stored icon.
pub fn name(client_id: &str) -> String {
    format!("{FOLDER}/{client_id}.png")
}

/// Stores `png` as `icons/<client_id>.png` next to `apps_path`; returns the relative name.
pub fn store(apps_path: &Path, client_id: &str, png: &[u8]) -> Result<String, ApiError> {
    let dir = apps_path.parent().unwrap_or(Path::new(".")).join(FOLDER);
    std::fs::create_dir_all(&dir).map_err(ApiError::unavailable)?;
    let name = name(client_id);
    crate::fsutil::write_atomic(&dir.join(format!("{client_id}.png")), png, None)
        .map_err(ApiError::unavailable)?;
    Ok(name)
}

/// Removes an icon stored by [`store`] (missing files are fine).
pub fn remove(apps_path: &Path, client_id: &str) {
    let dir = apps_path.parent().unwrap_or(Path::new(".")).join(FOLDER);
    let _ = std::fs::remove_file(dir.join(format!("{client_id}.png")));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> String {
        let img = image::RgbaImage::from_pixel(w, h, image::Rgba([10, 20, 30, 255]));
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        format!(
            "data:image/png;base64,{}",
            STANDARD.encode(out.into_inner())
        )
    }

    #[test]
    fn large_icons_shrink_and_non_images_are_refused() {
        let small = to_png(&png(200, 100)).unwrap();
        let img = image::load_from_memory(&small).unwrap();
        assert_eq!((img.width(), img.height()), (64, 32));
        let tiny = image::load_from_memory(&to_png(&png(16, 16)).unwrap()).unwrap();
        assert_eq!(tiny.width(), 16);
        assert!(to_png("data:text/plain;base64,aGVsbG8=").is_err());
        assert!(to_png("not a uri").is_err());
        let huge = format!("data:image/png;base64,{}", "A".repeat(2 * 1024 * 1024));
        assert!(to_png(&huge).is_err());
    }
}

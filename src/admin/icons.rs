//! App icons uploaded through the API: a PNG, JPEG or GIF as a `data:` URI, at most 1 MiB,
//! decoded to prove it is an image, shrunk to fit 64x64, stored as PNG with the registry.

use std::io::Cursor;

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
    format!("{FOLDER}/{}", crate::registry::icon::own_name(client_id))
}

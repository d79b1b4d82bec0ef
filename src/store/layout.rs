//! The record layout both embedded stores share: a key is the space's one-byte tag and the key
//! of [`super::schema`]; a stored value is its expiry (8 bytes, big endian) and the value.

use super::{Space, StoreError};
use crate::clock::UnixTime;

/// A backend key: the space's tag, then the key of [`super::schema`].
pub fn full_key(space: Space, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(key.len() + 1);
    k.push(space.tag());
    k.extend_from_slice(key);
    k
}

/// The stored form of `value` expiring at `at`.
pub fn with_expiry(at: UnixTime, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(value.len() + 8);
    v.extend_from_slice(&at.to_be_bytes());
    v.extend_from_slice(value);
    v
}

/// The expiry and the value of a stored form.
pub fn split_expiry(stored: &[u8]) -> Result<(UnixTime, &[u8]), StoreError> {
    if stored.len() < 8 {
        return Err(StoreError::Corrupt("value shorter than its expiry".into()));
    }
    let (at, value) = stored.split_at(8);
    let mut b = [0u8; 8];
    b.copy_from_slice(at);
    Ok((UnixTime::from_be_bytes(b), value))
}

/// One stored record, as a migration copies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its space.
    pub space: Space,
    /// Its key within the space.
    pub key: Vec<u8>,
    /// Its value.
    pub value: Vec<u8>,
    /// When it expires.
    pub expires_at: UnixTime,
}

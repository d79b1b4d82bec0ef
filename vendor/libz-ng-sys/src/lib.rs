//! The zlib C API under `libz-ng-sys`'s name and types, backed by `libz-rs-sys` (zlib-rs, a
//! pure Rust zlib): patched in for `libz-ng-sys`, whose C build needs cmake, so that building
//! the gateway needs no C toolchain beyond the one Rust uses. Only what flate2's `zlib-ng`
//! backend calls is here; each function forwards to zlib-rs with the same stream, whose layout
//! is checked to be identical at compile time (the two differ only in how the allocator
//! function pointers are typed).
#![no_std]
#![allow(non_camel_case_types, non_snake_case, clippy::missing_safety_doc)]

use core::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

use libz_rs_sys as rs;

pub type Bytef = u8;
pub type uInt = c_uint;
pub type uLong = c_ulong;
pub type voidpf = *mut c_void;
pub type alloc_func = unsafe extern "C" fn(voidpf, uInt, uInt) -> voidpf;
pub type free_func = unsafe extern "C" fn(voidpf, voidpf);
pub enum internal_state {}

/// zlib's stream, as libz-ng-sys declares it (allocator pointers not optional).
#[repr(C)]
#[derive(Copy, Clone)]
pub struct z_stream {
    pub next_in: *mut Bytef,
    pub avail_in: uInt,
    pub total_in: usize,
    pub next_out: *mut Bytef,
    pub avail_out: uInt,
    pub total_out: usize,
    pub msg: *mut c_char,
    pub state: *mut internal_state,
    pub zalloc: alloc_func,
    pub zfree: free_func,
    pub opaque: voidpf,
    pub data_type: c_int,
    pub adler: uLong,
    pub reserved: uLong,
}
pub type z_streamp = *mut z_stream;

const _: () = assert!(core::mem::size_of::<z_stream>() == core::mem::size_of::<rs::z_stream>());
const _: () = assert!(core::mem::align_of::<z_stream>() == core::mem::align_of::<rs::z_stream>());

pub use rs::{
    Z_BLOCK, Z_BUF_ERROR, Z_DATA_ERROR, Z_DEFAULT_STRATEGY, Z_DEFLATED, Z_FINISH, Z_FULL_FLUSH,
    Z_MEM_ERROR, Z_NEED_DICT, Z_NO_FLUSH, Z_OK, Z_PARTIAL_FLUSH, Z_STREAM_END, Z_STREAM_ERROR,
    Z_SYNC_FLUSH,
};

fn cast(strm: z_streamp) -> *mut rs::z_stream {
    strm.cast()
}

pub unsafe extern "C" fn deflate(strm: z_streamp, flush: c_int) -> c_int {
    unsafe { rs::deflate(cast(strm), flush) }
}

pub unsafe extern "C" fn deflateEnd(strm: z_streamp) -> c_int {
    unsafe { rs::deflateEnd(cast(strm)) }
}

pub unsafe extern "C" fn deflateReset(strm: z_streamp) -> c_int {
    unsafe { rs::deflateReset(cast(strm)) }
}

pub unsafe extern "C" fn deflateParams(strm: z_streamp, level: c_int, strategy: c_int) -> c_int {
    unsafe { rs::deflateParams(cast(strm), level, strategy) }
}

pub unsafe extern "C" fn deflateSetDictionary(
    strm: z_streamp,
    dictionary: *const Bytef,
    dict_length: uInt,
) -> c_int {
    unsafe { rs::deflateSetDictionary(cast(strm), dictionary, dict_length) }
}

pub unsafe extern "C" fn deflateInit2_(
    strm: z_streamp,
    level: c_int,
    method: c_int,
    window_bits: c_int,
    mem_level: c_int,
    strategy: c_int,
    version: *const c_char,
    stream_size: c_int,
) -> c_int {
    unsafe {
        rs::deflateInit2_(
            cast(strm),
            level,
            method,
            window_bits,
            mem_level,
            strategy,
            version,
            stream_size,
        )
    }
}

pub unsafe extern "C" fn inflate(strm: z_streamp, flush: c_int) -> c_int {
    unsafe { rs::inflate(cast(strm), flush) }
}

pub unsafe extern "C" fn inflateEnd(strm: z_streamp) -> c_int {
    unsafe { rs::inflateEnd(cast(strm)) }
}

pub unsafe extern "C" fn inflateReset2(strm: z_streamp, window_bits: c_int) -> c_int {
    unsafe { rs::inflateReset2(cast(strm), window_bits) }
}

pub unsafe extern "C" fn inflateSetDictionary(
    strm: z_streamp,
    dictionary: *const Bytef,
    dict_length: uInt,
) -> c_int {
    unsafe { rs::inflateSetDictionary(cast(strm), dictionary, dict_length) }
}

pub unsafe extern "C" fn inflateInit2_(
    strm: z_streamp,
    window_bits: c_int,
    version: *const c_char,
    stream_size: c_int,
) -> c_int {
    unsafe { rs::inflateInit2_(cast(strm), window_bits, version, stream_size) }
}

pub unsafe extern "C" fn zlibVersion() -> *const c_char {
    rs::zlibVersion()
}

//! Little-endian element access on byte buffers of either signedness.
//!
//! The signal-library kernels read and write int16, UINT32 and UINT64
//! values as little-endian bytes. The interpreter hands them `&[u8]`
//! slices; generated Rust hands them its int8 arena as `&[i8]`. [`Byte`]
//! lets one kernel source take both without a cast or a copy.

/// An 8-bit storage unit: `u8` or `i8`, read and written as its bits.
pub trait Byte: Copy {
    /// The bits as a `u8`.
    fn bits(self) -> u8;
    /// The value whose bits are `b`.
    fn from_bits(b: u8) -> Self;
}

impl Byte for u8 {
    #[inline(always)]
    fn bits(self) -> u8 {
        self
    }
    #[inline(always)]
    fn from_bits(b: u8) -> Self {
        b
    }
}

impl Byte for i8 {
    #[inline(always)]
    fn bits(self) -> u8 {
        self as u8
    }
    #[inline(always)]
    fn from_bits(b: u8) -> Self {
        b as i8
    }
}

/// The `N` bytes at element `i` of `N`-byte elements.
#[inline(always)]
fn word<const N: usize>(b: &[impl Byte], i: usize) -> [u8; N] {
    let mut w = [0u8; N];
    for (d, s) in w.iter_mut().zip(&b[N * i..N * i + N]) {
        *d = s.bits();
    }
    w
}

/// Writes `w` at element `i` of `N`-byte elements.
#[inline(always)]
fn put<const N: usize, B: Byte>(b: &mut [B], i: usize, w: [u8; N]) {
    for (d, s) in b[N * i..N * i + N].iter_mut().zip(w) {
        *d = B::from_bits(s);
    }
}

/// The int16 at element `i`.
#[inline(always)]
pub fn i16_at(b: &[impl Byte], i: usize) -> i16 {
    i16::from_le_bytes(word(b, i))
}

/// The UINT32 at element `i`.
#[inline(always)]
pub fn u32_at(b: &[impl Byte], i: usize) -> u32 {
    u32::from_le_bytes(word(b, i))
}

/// The UINT64 at element `i`.
#[inline(always)]
pub fn u64_at(b: &[impl Byte], i: usize) -> u64 {
    u64::from_le_bytes(word(b, i))
}

/// Writes the int16 `v` at element `i`.
#[inline(always)]
pub fn put_i16(b: &mut [impl Byte], i: usize, v: i16) {
    put(b, i, v.to_le_bytes());
}

/// Writes the UINT32 `v` at element `i`.
#[inline(always)]
pub fn put_u32(b: &mut [impl Byte], i: usize, v: u32) {
    put(b, i, v.to_le_bytes());
}

/// Writes the UINT64 `v` at element `i`.
#[inline(always)]
pub fn put_u64(b: &mut [impl Byte], i: usize, v: u64) {
    put(b, i, v.to_le_bytes());
}

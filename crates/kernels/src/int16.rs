//! int16 storage for the 16x8 kernels. Model inputs and outputs are `[i16]`;
//! an arena is bytes, whose int16 values the kernels read and write
//! little-endian (as the interpreter's byte buffers hold every wider type)
//! through `[[u8; 2]]` / `[[i8; 2]]` views (`slice::as_chunks`), so no
//! buffer needs 2-byte alignment and nothing is cast.

/// Read access to int16 values.
pub trait Int16s {
    /// Number of values.
    fn count(&self) -> usize;
    /// Value `i` (`i < count()`).
    fn at(&self, i: usize) -> i16;
}

/// Write access to int16 values.
pub trait Int16sMut: Int16s {
    /// Stores `v` as value `i` (`i < count()`).
    fn put(&mut self, i: usize, v: i16);
}

impl Int16s for [i16] {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, i: usize) -> i16 {
        self[i]
    }
}

impl Int16sMut for [i16] {
    fn put(&mut self, i: usize, v: i16) {
        self[i] = v;
    }
}

impl Int16s for [[u8; 2]] {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, i: usize) -> i16 {
        i16::from_le_bytes(self[i])
    }
}

impl Int16sMut for [[u8; 2]] {
    fn put(&mut self, i: usize, v: i16) {
        self[i] = v.to_le_bytes();
    }
}

impl Int16s for [[i8; 2]] {
    fn count(&self) -> usize {
        self.len()
    }
    fn at(&self, i: usize) -> i16 {
        let [a, b] = self[i];
        i16::from_le_bytes([a as u8, b as u8])
    }
}

impl Int16sMut for [[i8; 2]] {
    fn put(&mut self, i: usize, v: i16) {
        let [a, b] = v.to_le_bytes();
        self[i] = [a as i8, b as i8];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_views_round_trip_little_endian() {
        let mut bytes = [[0u8; 2]; 3];
        let mut signed = [[0i8; 2]; 3];
        for (i, v) in [i16::MIN, -2, i16::MAX].into_iter().enumerate() {
            bytes[..].put(i, v);
            signed[..].put(i, v);
            assert_eq!(bytes[..].at(i), v);
            assert_eq!(signed[..].at(i), v);
            assert_eq!(bytes[i], v.to_le_bytes());
        }
        assert_eq!(bytes[..].count(), 3);
    }
}

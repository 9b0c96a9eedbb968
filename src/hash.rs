//! FNV-1a: a hash stable across platforms and Rust versions (unlike
//! `DefaultHasher`), for names and fingerprints that must not change between
//! runs.

const OFFSET_32: u32 = 0x811c_9dc5;
const PRIME_32: u32 = 0x0100_0193;
const OFFSET_64: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME_64: u64 = 0x0100_0000_01b3;

/// FNV-1a, 32 bits, of `text`'s UTF-8 bytes.
pub(crate) fn fnv1a_32(text: &str) -> u32 {
    text.bytes()
        .fold(OFFSET_32, |h, b| (h ^ u32::from(b)).wrapping_mul(PRIME_32))
}

/// FNV-1a, 64 bits, of `text`'s UTF-8 bytes.
pub(crate) fn fnv1a_64(text: &str) -> u64 {
    text.bytes()
        .fold(OFFSET_64, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME_64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_test_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv).
        let cases: [(&str, u32, u64); 3] = [
            ("", 0x811c_9dc5, 0xcbf2_9ce4_8422_2325),
            ("a", 0xe40c_292c, 0xaf63_dc4c_8601_ec8c),
            ("foobar", 0xbf9c_f968, 0x8594_4171_f739_67e8),
        ];
        for (text, want_32, want_64) in cases {
            assert_eq!(fnv1a_32(text), want_32, "32 bits of {text:?}");
            assert_eq!(fnv1a_64(text), want_64, "64 bits of {text:?}");
        }
    }
}

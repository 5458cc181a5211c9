//! Payload masking (RFC 6455 §5.3), a machine word at a time.

/// XOR `buf` with the 4-byte `mask`, where `buf` starts at payload offset `offset` (so a
/// payload can be masked in pieces as it streams). Processes 8 bytes per step; the compiler
/// vectorises the main loop.
#[inline]
pub fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let rot = offset & 3;
    // Mask as seen from the start of `buf`.
    let m = [
        mask[rot],
        mask[(rot + 1) & 3],
        mask[(rot + 2) & 3],
        mask[(rot + 3) & 3],
    ];
    let m32 = u32::from_ne_bytes(m);
    let m64 = (u64::from(m32) << 32) | u64::from(m32);

    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        let arr: &mut [u8; 8] = c.try_into().expect("chunk of 8");
        let v = u64::from_ne_bytes(*arr) ^ m64;
        *arr = v.to_ne_bytes();
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= m[i & 3];
    }
}

/// Append `src` to `dst` masked with `mask` (from payload offset 0). Copied and masked a few
/// KiB at a time, so the masking pass runs over octets still in the cache: one trip through
/// memory instead of two for a large payload.
#[inline]
pub fn extend_masked(dst: &mut Vec<u8>, src: &[u8], mask: [u8; 4]) {
    const BLOCK: usize = 4096;
    dst.reserve(src.len());
    for (i, block) in src.chunks(BLOCK).enumerate() {
        let start = dst.len();
        dst.extend_from_slice(block);
        // BLOCK is a multiple of 4: every block starts at a mask offset of 0.
        apply_mask(&mut dst[start..], mask, i * BLOCK);
    }
}

/// Byte-at-a-time reference implementation (tests and benches compare against it).
pub fn apply_mask_bytewise(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= mask[(offset + i) & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_example() {
        // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
        let mut b = *b"Hello";
        apply_mask(&mut b, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(b, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn extend_masked_across_blocks() {
        let data: Vec<u8> = (0..10_003u32).map(|i| (i * 7) as u8).collect();
        let mask = [1, 2, 3, 0xfe];
        let mut out = b"hdr".to_vec();
        extend_masked(&mut out, &data, mask);
        let mut want = data.clone();
        apply_mask_bytewise(&mut want, mask, 0);
        assert_eq!(&out[3..], &want[..]);
    }

    proptest! {
        #[test]
        fn word_matches_bytewise(data in proptest::collection::vec(any::<u8>(), 0..300), mask in any::<[u8; 4]>(), offset in 0usize..16, split in 0usize..300) {
            let mut a = data.clone();
            let mut b = data.clone();
            let split = split.min(data.len());
            apply_mask(&mut a[..split], mask, offset);
            apply_mask(&mut a[split..], mask, offset + split);
            apply_mask_bytewise(&mut b, mask, offset);
            prop_assert_eq!(&a, &b);
            let mut c = vec![7u8; offset];
            extend_masked(&mut c, &data, mask);
            let mut d = data.clone();
            apply_mask_bytewise(&mut d, mask, 0);
            prop_assert_eq!(&c[offset..], &d[..]);
            // Masking twice restores the data.
            apply_mask(&mut a, mask, offset);
            prop_assert_eq!(a, data);
        }
    }
}

//! The packed layout of a block's points (migration 0022), each point as its difference from
//! the one before. A training loop's steps and times climb by small amounts and its values
//! keep their sign and exponent (and, logged from 32-bit floats, their low 29 bits zero), so a
//! point takes 4 to 8 bytes where the fixed layout took 24, and a 100-point block shares a page
//! with others instead of filling one.
//!
//! A point is its value's bits XOR the previous value's, as one byte counting the XOR's leading
//! zero bytes (high nibble) and trailing zero bytes (low nibble), then the bytes between, most
//! significant first (0x80 alone: the same value); then its step's and its time's differences
//! from the previous point's, wrapping, zigzag-mapped and written as LEB128 varints. Before the
//! first point, the previous one is value bits 0, step 0, time 0.

use super::MetricRecord;

/// The value header of a point whose value is the previous point's.
const SAME_VALUE: u8 = 0x80;
/// The most bytes a 64-bit LEB128 varint takes.
const VARINT_MAX_BYTES: usize = 10;

/// `points` in the packed layout, in order.
pub(super) fn pack(points: &[&MetricRecord]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(points.len() * 8);
    let (mut value, mut step, mut timestamp) = (0_u64, 0_i64, 0_i64);
    for point in points {
        let bits = point.value.to_bits();
        push_value(&mut bytes, bits ^ value);
        push_varint(&mut bytes, zigzag(point.step.wrapping_sub(step)));
        push_varint(&mut bytes, zigzag(point.timestamp.wrapping_sub(timestamp)));
        (value, step, timestamp) = (bits, point.step, point.timestamp);
    }
    bytes
}

/// Appends the points of `name` packed in `bytes` to `into`, or says what is wrong with them;
/// nothing is appended then.
pub(super) fn unpack(
    name: &str,
    bytes: &[u8],
    into: &mut Vec<MetricRecord>,
) -> Result<(), &'static str> {
    let mut reader = Reader { bytes };
    let mut points = Vec::new();
    let (mut value, mut step, mut timestamp) = (0_u64, 0_i64, 0_i64);
    while !reader.bytes.is_empty() {
        value ^= reader.value()?;
        step = step.wrapping_add(unzigzag(reader.varint()?));
        timestamp = timestamp.wrapping_add(unzigzag(reader.varint()?));
        points.push(MetricRecord {
            name: name.to_owned(),
            value: f64::from_bits(value),
            step,
            timestamp,
        });
    }
    into.append(&mut points);
    Ok(())
}

fn push_value(bytes: &mut Vec<u8>, xor: u64) {
    if xor == 0 {
        bytes.push(SAME_VALUE);
        return;
    }
    // Both counts are below 8 for a non-zero XOR, so they fit their nibbles and the casts
    // below cannot truncate.
    let leading = xor.leading_zeros() / 8;
    let trailing = xor.trailing_zeros() / 8;
    bytes.push(((leading as u8) << 4) | trailing as u8);
    let be = xor.to_be_bytes();
    bytes.extend_from_slice(&be[leading as usize..8 - trailing as usize]);
}

fn push_varint(bytes: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        bytes.push((n as u8) | 0x80);
        n >>= 7;
    }
    bytes.push(n as u8);
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)).cast_unsigned()
}

fn unzigzag(n: u64) -> i64 {
    (n >> 1).cast_signed() ^ -((n & 1).cast_signed())
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, count: usize) -> Result<&[u8], &'static str> {
        let Some((taken, rest)) = self.bytes.split_at_checked(count) else {
            return Err("ends inside a point");
        };
        self.bytes = rest;
        Ok(taken)
    }

    fn value(&mut self) -> Result<u64, &'static str> {
        let [header] = self.take(1)? else {
            return Err("ends inside a point");
        };
        let header = *header;
        if header == SAME_VALUE {
            return Ok(0);
        }
        let leading = usize::from(header >> 4);
        let trailing = usize::from(header & 0x0f);
        if leading + trailing >= 8 {
            return Err("holds a value header that counts 8 or more zero bytes");
        }
        let mut be = [0_u8; 8];
        be[leading..8 - trailing].copy_from_slice(self.take(8 - leading - trailing)?);
        Ok(u64::from_be_bytes(be))
    }

    fn varint(&mut self) -> Result<u64, &'static str> {
        let mut n = 0_u64;
        for index in 0..VARINT_MAX_BYTES {
            let [byte] = self.take(1)? else {
                return Err("ends inside a point");
            };
            let bits = u64::from(byte & 0x7f);
            // The tenth byte carries the 64th bit alone.
            if index == VARINT_MAX_BYTES - 1 && bits > 1 {
                return Err("holds a step or time difference wider than 64 bits");
            }
            n |= bits << (7 * index);
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err("holds a step or time difference wider than 64 bits")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(value: f64, step: i64, timestamp: i64) -> MetricRecord {
        MetricRecord {
            name: "loss".into(),
            value,
            step,
            timestamp,
        }
    }

    fn roundtrip(points: &[MetricRecord]) -> Vec<MetricRecord> {
        let packed = pack(&points.iter().collect::<Vec<_>>());
        let mut unpacked = Vec::new();
        unpack("loss", &packed, &mut unpacked).unwrap();
        unpacked
    }

    fn same_bits(a: &[MetricRecord], b: &[MetricRecord]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(a, b)| {
                (a.value.to_bits(), a.step, a.timestamp) == (b.value.to_bits(), b.step, b.timestamp)
            })
    }

    proptest! {
        #[test]
        fn every_point_comes_back_bit_for_bit(
            raw in proptest::collection::vec((any::<u64>(), any::<i64>(), any::<i64>()), 0..40)
        ) {
            let points: Vec<_> =
                raw.iter().map(|&(v, s, t)| at(f64::from_bits(v), s, t)).collect();
            prop_assert!(same_bits(&roundtrip(&points), &points));
        }

        /// Whatever is stored in place of a packed block, reading it returns points or says what
        /// is wrong, and never panics.
        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut into = Vec::new();
            if unpack("loss", &bytes, &mut into).is_err() {
                prop_assert!(into.is_empty());
            }
        }
    }

    #[test]
    fn extremes_and_wrapping_differences_come_back() {
        let points = [
            at(-0.0, i64::MIN, i64::MAX),
            at(f64::NAN, i64::MAX, i64::MIN),
            at(f64::INFINITY, 0, -1),
            at(f64::NEG_INFINITY, -1, 0),
            at(f64::MIN_POSITIVE, i64::MIN, i64::MIN),
            at(f64::MIN_POSITIVE, i64::MIN, i64::MIN),
            at(f64::MAX, 3, 3),
        ];
        assert!(same_bits(&roundtrip(&points), &points));
    }

    #[test]
    fn a_training_loops_points_take_a_third_of_the_fixed_layout() {
        let points: Vec<_> = (1..=100_i64)
            .map(|step| {
                // A 32-bit loss, as frameworks report it, climbing steps and times.
                let loss = 1.0_f32 / (1.0 + step as f32 * 1e-3);
                at(f64::from(loss), step * 10, 1_700_000_000_000 + step * 37)
            })
            .collect();
        let packed = pack(&points.iter().collect::<Vec<_>>());
        assert!(
            packed.len() * 3 <= points.len() * 24,
            "{} bytes",
            packed.len()
        );
        assert!(same_bits(&roundtrip(&points), &points));
    }

    #[test]
    fn damaged_blocks_are_refused_naming_the_damage() {
        let mut into = Vec::new();
        let packed = pack(&[&at(0.5, 1, 1), &at(0.75, 2, 2)]);
        for cut in 1..packed.len() {
            if unpack("loss", &packed[..cut], &mut into).is_ok() {
                // A cut can fall between whole points; it then reads the points before it.
                assert!(!into.is_empty());
                into.clear();
                continue;
            }
            assert!(into.is_empty());
        }
        assert_eq!(
            unpack("loss", &[0x44], &mut into),
            Err("holds a value header that counts 8 or more zero bytes")
        );
        let too_wide = [[SAME_VALUE].as_slice(), &[0xff; 9], &[0x02, 0x00]].concat();
        assert_eq!(
            unpack("loss", &too_wide, &mut into),
            Err("holds a step or time difference wider than 64 bits")
        );
        let unending = [[SAME_VALUE].as_slice(), &[0x80; 11]].concat();
        assert_eq!(
            unpack("loss", &unending, &mut into),
            Err("holds a step or time difference wider than 64 bits")
        );
        assert_eq!(
            unpack("loss", &[SAME_VALUE, 0x80], &mut into),
            Err("ends inside a point")
        );
        assert!(into.is_empty());
    }
}

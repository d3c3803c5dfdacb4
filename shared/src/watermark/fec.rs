//! Error correction for the watermark payload: a rate-1/3, constraint-length-7 convolutional
//! code with a soft-decision Viterbi decoder (`docs/watermark.md#payload`).
//!
//! A convolutional code suits a watermark better than a block code of the same rate: the decoder
//! takes the raw correlation of every coded bit (soft values), so weak bits count for little and
//! strong bits for a lot, which is worth about 2 dB over hard decisions. The generators are the
//! classic (133, 171, 165) octal set used by LTE and DVB.

/// Constraint length (memory + 1).
const CONSTRAINT: usize = 7;
/// Number of trellis states.
const STATES: usize = 1 << (CONSTRAINT - 1);
/// Generator polynomials, octal 133, 171, 165.
const GENERATORS: [u32; 3] = [0o133, 0o171, 0o165];
/// Coded bits per input bit.
pub(crate) const RATE_INV: usize = GENERATORS.len();
/// Zero bits appended so that the trellis ends in state 0.
pub(crate) const TAIL: usize = CONSTRAINT - 1;

/// Number of coded bits for `info_bits` information bits.
pub(crate) const fn coded_len(info_bits: usize) -> usize {
    (info_bits + TAIL) * RATE_INV
}

/// Output bits (one per generator) when `input` enters a shift register holding `state`.
fn outputs(state: usize, input: u8) -> [u8; RATE_INV] {
    let reg = (u32::from(input) << (CONSTRAINT - 1)) | u32::try_from(state).expect("state < 64");
    let mut out = [0u8; RATE_INV];
    for (o, g) in out.iter_mut().zip(GENERATORS) {
        *o = ((reg & g).count_ones() & 1) as u8;
    }
    out
}

/// The state after `input` enters a register holding `state`.
fn next_state(state: usize, input: u8) -> usize {
    ((usize::from(input) << (CONSTRAINT - 1)) | state) >> 1
}

/// Encodes information bits (each 0 or 1), appending the zero tail.
pub(crate) fn encode(bits: &[u8]) -> Vec<u8> {
    let mut state = 0usize;
    let mut coded = Vec::with_capacity(coded_len(bits.len()));
    for &bit in bits.iter().chain(std::iter::repeat_n(&0u8, TAIL)) {
        coded.extend_from_slice(&outputs(state, bit));
        state = next_state(state, bit);
    }
    coded
}

/// Decodes soft values (positive means "1", magnitude means confidence) into `info_bits` bits.
///
/// Returns `None` when `soft` does not have the length the code gives for `info_bits`.
pub(crate) fn decode(soft: &[f32], info_bits: usize) -> Option<Vec<u8>> {
    if soft.len() != coded_len(info_bits) {
        return None;
    }
    let steps = info_bits + TAIL;
    let mut metric = [f32::NEG_INFINITY; STATES];
    metric[0] = 0.0;
    // survivors[step][state] = (previous state, input bit)
    let mut survivors = vec![[(0u8, 0u8); STATES]; steps];
    let table: Vec<[([u8; RATE_INV], usize); 2]> = (0..STATES)
        .map(|s| {
            [
                (outputs(s, 0), next_state(s, 0)),
                (outputs(s, 1), next_state(s, 1)),
            ]
        })
        .collect();
    for (step, surv) in survivors.iter_mut().enumerate() {
        let y = &soft[step * RATE_INV..(step + 1) * RATE_INV];
        let mut next = [f32::NEG_INFINITY; STATES];
        let max_input = if step < info_bits { 2 } else { 1 };
        for (state, &m) in metric.iter().enumerate() {
            if m == f32::NEG_INFINITY {
                continue;
            }
            for (input, &(out, ns)) in table[state].iter().enumerate().take(max_input) {
                let branch: f32 = out
                    .iter()
                    .zip(y)
                    .map(|(&o, &v)| if o == 1 { v } else { -v })
                    .sum();
                let candidate = m + branch;
                if candidate > next[ns] {
                    next[ns] = candidate;
                    // Both values are below 64 and 2, so the casts cannot truncate.
                    #[allow(clippy::cast_possible_truncation)]
                    {
                        surv[ns] = (state as u8, input as u8);
                    }
                }
            }
        }
        metric = next;
    }
    let mut state = 0usize;
    let mut bits = vec![0u8; steps];
    for step in (0..steps).rev() {
        let (prev, input) = survivors[step][state];
        bits[step] = input;
        state = usize::from(prev);
    }
    bits.truncate(info_bits);
    Some(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_soft(coded: &[u8]) -> Vec<f32> {
        coded
            .iter()
            .map(|&b| if b == 1 { 1.0 } else { -1.0 })
            .collect()
    }

    #[test]
    fn round_trip_clean() {
        let bits: Vec<u8> = (0..80).map(|i| ((i * 7 + 3) % 5 % 2) as u8).collect();
        let coded = encode(&bits);
        assert_eq!(coded.len(), coded_len(80));
        assert_eq!(decode(&to_soft(&coded), 80).unwrap(), bits);
    }

    #[test]
    fn corrects_scattered_errors() {
        let bits: Vec<u8> = (0..80).map(|i| ((i * 13 + 1) % 3 % 2) as u8).collect();
        let mut soft = to_soft(&encode(&bits));
        // Flip one coded bit in every 12: well within the code's free distance (15).
        for i in (0..soft.len()).step_by(12) {
            soft[i] = -soft[i];
        }
        assert_eq!(decode(&soft, 80).unwrap(), bits);
    }

    #[test]
    fn rejects_wrong_length() {
        assert!(decode(&[0.0; 10], 80).is_none());
    }
}

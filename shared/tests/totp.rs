//! The TOTP second factor through its public API: the RFC 4226 and RFC 6238 vectors, base32 as
//! RFC 4648 and people write it, the skew window, replay refusal, malformed codes, the
//! `otpauth://` URI and recovery codes; and the vector table in `docs/totp.md` against the code.
#![cfg(not(target_arch = "wasm32"))]

use veilmark_shared::totp::{
    self, Base32Error, RECOVERY_CODE_HASH_PREFIX, RecoveryCode, TotpSecret,
};

/// The RFC 4226 Appendix D / RFC 6238 Appendix B SHA-1 secret, ASCII "12345678901234567890".
fn rfc_secret() -> TotpSecret {
    TotpSecret::from_bytes(*b"12345678901234567890")
}

/// RFC 4226 Appendix D: counter, truncated value (decimal), 6-digit HOTP.
const HOTP_VECTORS: [(u64, u32, u32); 10] = [
    (0, 1_284_755_224, 755_224),
    (1, 1_094_287_082, 287_082),
    (2, 137_359_152, 359_152),
    (3, 1_726_969_429, 969_429),
    (4, 1_640_338_314, 338_314),
    (5, 868_254_676, 254_676),
    (6, 1_918_287_922, 287_922),
    (7, 82_162_583, 162_583),
    (8, 673_399_871, 399_871),
    (9, 645_520_489, 520_489),
];

/// RFC 6238 Appendix B, SHA-1 rows: Unix time, time step, 8-digit TOTP.
const TOTP_VECTORS: [(i64, u64, u32); 6] = [
    (59, 0x1, 94_287_082),
    (1_111_111_109, 0x235_23EC, 7_081_804),
    (1_111_111_111, 0x235_23ED, 14_050_471),
    (1_234_567_890, 0x273_EF07, 89_005_924),
    (2_000_000_000, 0x3F9_40AA, 69_279_037),
    (20_000_000_000, 0x27BC_86AA, 65_353_130),
];

mod vectors {
    use super::*;

    #[test]
    fn rfc4226_appendix_d_hotp() {
        let secret = rfc_secret();
        for (counter, truncated, code) in HOTP_VECTORS {
            assert_eq!(
                totp::hotp_truncated(&secret, counter),
                truncated,
                "counter {counter}"
            );
            assert_eq!(totp::hotp(&secret, counter), code, "counter {counter}");
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha1_last_six_digits() {
        let secret = rfc_secret();
        for (time, step, eight) in TOTP_VECTORS {
            assert_eq!(totp::time_step(time), Some(step), "time {time}");
            assert_eq!(
                totp::totp_at(&secret, time),
                eight % 1_000_000,
                "time {time}"
            );
        }
    }

    #[test]
    fn rfc6238_appendix_b_sha1_eight_digits() {
        let secret = rfc_secret();
        for (time, step, eight) in TOTP_VECTORS {
            assert_eq!(
                totp::hotp_truncated(&secret, step) % 100_000_000,
                eight,
                "time {time}"
            );
        }
    }

    #[test]
    fn every_code_verifies_at_its_own_time() {
        let secret = rfc_secret();
        for (time, step, eight) in TOTP_VECTORS {
            let code = format!("{:06}", eight % 1_000_000);
            assert_eq!(
                totp::verify(&secret, &code, time, None),
                Some(step),
                "{code}"
            );
        }
    }

    #[test]
    fn times_before_1970() {
        assert_eq!(totp::time_step(-1), None);
        assert_eq!(totp::time_step(0), Some(0));
        assert_eq!(totp::time_step(29), Some(0));
        assert_eq!(totp::time_step(30), Some(1));
        let secret = rfc_secret();
        assert_eq!(totp::totp_at(&secret, -1), totp::hotp(&secret, 0));
        let code = format!("{:06}", totp::hotp(&secret, 0));
        assert_eq!(totp::verify(&secret, &code, -1, None), None);
        assert_eq!(totp::verify(&secret, &code, 0, None), Some(0));
    }

    /// The table in `docs/totp.md#vectors` is the RFC's, and the code agrees with it.
    #[test]
    fn docs_table_matches_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/totp.md");
        let doc = std::fs::read_to_string(path).expect("docs/totp.md exists");
        let secret = rfc_secret();
        let mut totp_rows = 0;
        let mut hotp_rows = 0;
        for line in doc.lines() {
            let cells: Vec<&str> = line
                .split('|')
                .map(|c| c.trim().trim_matches('`'))
                .filter(|c| !c.is_empty())
                .collect();
            match cells.as_slice() {
                ["TOTP", time, step, eight, six] => {
                    let time: i64 = time.parse().unwrap();
                    let step = u64::from_str_radix(step.trim_start_matches("0x"), 16).unwrap();
                    assert_eq!(totp::time_step(time), Some(step), "{line}");
                    assert_eq!(
                        format!("{:08}", totp::hotp_truncated(&secret, step) % 100_000_000),
                        *eight,
                        "{line}"
                    );
                    assert_eq!(format!("{:06}", totp::totp_at(&secret, time)), *six);
                    totp_rows += 1;
                }
                ["HOTP", counter, truncated, six] => {
                    let counter: u64 = counter.parse().unwrap();
                    assert_eq!(
                        totp::hotp_truncated(&secret, counter).to_string(),
                        *truncated,
                        "{line}"
                    );
                    assert_eq!(format!("{:06}", totp::hotp(&secret, counter)), *six);
                    hotp_rows += 1;
                }
                _ => {}
            }
        }
        assert_eq!(
            (totp_rows, hotp_rows),
            (6, 10),
            "the doc lists every vector"
        );
    }
}

mod base32 {
    use super::*;

    /// RFC 4648 §10 (shown there with padding; this encoder omits it).
    const RFC4648: [(&str, &str); 7] = [
        ("", ""),
        ("f", "MY======"),
        ("fo", "MZXQ===="),
        ("foo", "MZXW6==="),
        ("foob", "MZXW6YQ="),
        ("fooba", "MZXW6YTB"),
        ("foobar", "MZXW6YTBOI======"),
    ];

    #[test]
    fn rfc4648_section_10_vectors() {
        for (plain, padded) in RFC4648 {
            assert_eq!(
                totp::base32_encode(plain.as_bytes()),
                padded.trim_end_matches('=')
            );
            assert_eq!(totp::base32_decode(padded).unwrap(), plain.as_bytes());
            assert_eq!(
                totp::base32_decode(padded.trim_end_matches('=')).unwrap(),
                plain.as_bytes()
            );
            assert_eq!(
                totp::base32_decode(&padded.to_ascii_lowercase()).unwrap(),
                plain.as_bytes()
            );
        }
    }

    #[test]
    fn round_trips_every_length() {
        let data: Vec<u8> = (0..=255u8).rev().collect();
        for len in 0..=64 {
            let encoded = totp::base32_encode(&data[..len]);
            assert!(!encoded.contains('='));
            assert_eq!(
                totp::base32_decode(&encoded).unwrap(),
                &data[..len],
                "{len}"
            );
        }
    }

    #[test]
    fn secret_round_trips() {
        let secret = TotpSecret::from_bytes(*b"12345678901234567890");
        assert_eq!(secret.to_base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        for bytes in [
            [0u8; 20],
            [0xff; 20],
            *b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12\x13",
        ] {
            let secret = TotpSecret::from_bytes(bytes);
            let back = TotpSecret::from_base32(&secret.to_base32()).unwrap();
            assert_eq!(back.as_bytes(), &bytes);
        }
    }

    #[test]
    fn secret_as_people_type_it() {
        for typed in [
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ",
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
            "gezd gnbv gy3t qojq gezd gnbv gy3t qojq",
            " GEZDGNBVGY3TQOJQ\tGEZDGNBVGY3TQOJQ\n",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====",
        ] {
            let secret = TotpSecret::from_base32(typed).unwrap_or_else(|e| panic!("{typed}: {e}"));
            assert_eq!(secret.as_bytes(), b"12345678901234567890", "{typed}");
        }
    }

    #[test]
    fn refusals_name_the_problem() {
        let error = |text: &str| TotpSecret::from_base32(text).unwrap_err();
        assert_eq!(
            error("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1"),
            Base32Error::InvalidCharacter {
                character: '1',
                position: 31
            }
        );
        assert_eq!(
            error("GEZDGNBVGY3TQOJQ=GEZDGNBVGY3TQOJQ"),
            Base32Error::InvalidCharacter {
                character: 'G',
                position: 17
            }
        );
        assert!(matches!(
            error("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJé"),
            Base32Error::InvalidCharacter {
                character: 'é', ..
            }
        ));
        // 30 letters: 150 bits, 18 bytes and 6 bits no byte string leaves over.
        assert_eq!(
            error("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQO"),
            Base32Error::BadLength { letters: 30 }
        );
        // 31 letters: 19 bytes, but the last letter ('J') sets 3 spare bits.
        assert_eq!(
            error("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ"),
            Base32Error::NonZeroTrailingBits
        );
        assert_eq!(
            error("GEZDGNBVGY3TQOJQ"),
            Base32Error::WrongSecretLength { bytes: 10 }
        );
        assert_eq!(error(""), Base32Error::WrongSecretLength { bytes: 0 });
        // "MZ" is "f" only with the last letter's spare bits clear ("MY").
        assert_eq!(
            totp::base32_decode("MZ").unwrap_err(),
            Base32Error::NonZeroTrailingBits
        );
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let secret = TotpSecret::from_bytes(*b"12345678901234567890");
        assert_eq!(format!("{secret:?}"), "TotpSecret(<redacted>)");
    }
}

mod verify {
    use super::*;

    const NOW: i64 = 1_800_000_015;

    fn code_at_step_offset(secret: &TotpSecret, offset: i64) -> String {
        format!("{:06}", totp::totp_at(secret, NOW + offset * 30))
    }

    fn step_now() -> u64 {
        totp::time_step(NOW).unwrap()
    }

    #[test]
    fn accepts_one_step_of_skew_either_way() {
        let secret = rfc_secret();
        for offset in -1..=1i64 {
            let code = code_at_step_offset(&secret, offset);
            let step = totp::verify(&secret, &code, NOW, None);
            assert_eq!(
                step,
                step_now().checked_add_signed(offset),
                "offset {offset}"
            );
        }
    }

    #[test]
    fn refuses_two_steps_of_skew() {
        let secret = rfc_secret();
        for offset in [-3i64, -2, 2, 3] {
            let code = code_at_step_offset(&secret, offset);
            // Codes of different steps could collide (one chance in a million); these do not.
            assert_ne!(code, code_at_step_offset(&secret, -1));
            assert_ne!(code, code_at_step_offset(&secret, 0));
            assert_ne!(code, code_at_step_offset(&secret, 1));
            assert_eq!(
                totp::verify(&secret, &code, NOW, None),
                None,
                "offset {offset}"
            );
        }
    }

    #[test]
    fn a_code_is_accepted_once() {
        let secret = rfc_secret();
        let code = code_at_step_offset(&secret, 0);
        let step = totp::verify(&secret, &code, NOW, None).unwrap();
        assert_eq!(totp::verify(&secret, &code, NOW, Some(step)), None);
        // Still refused later in its window.
        assert_eq!(totp::verify(&secret, &code, NOW + 30, Some(step)), None);
    }

    #[test]
    fn earlier_steps_than_the_last_used_are_refused() {
        let secret = rfc_secret();
        // A code from the previous step, after the current step was used: too late.
        let previous = code_at_step_offset(&secret, -1);
        assert_eq!(
            totp::verify(&secret, &previous, NOW, Some(step_now())),
            None
        );
        // The next step's code after the current one was used: fine.
        let next = code_at_step_offset(&secret, 1);
        assert_eq!(
            totp::verify(&secret, &next, NOW, Some(step_now())),
            Some(step_now() + 1)
        );
        // After a future step was used, nothing up to it is accepted again.
        let current = code_at_step_offset(&secret, 0);
        assert_eq!(
            totp::verify(&secret, &current, NOW, Some(step_now() + 1)),
            None
        );
    }

    #[test]
    fn spaces_are_ignored() {
        let secret = rfc_secret();
        let code = code_at_step_offset(&secret, 0);
        let spaced = format!(" {} {} ", &code[..3], &code[3..]);
        assert_eq!(totp::verify(&secret, &spaced, NOW, None), Some(step_now()));
    }

    #[test]
    fn malformed_codes_are_refused() {
        let secret = rfc_secret();
        let code = code_at_step_offset(&secret, 0);
        let fullwidth: String = code
            .chars()
            .map(|c| char::from_u32(u32::from(c) - u32::from('0') + 0xFF10).unwrap())
            .collect();
        for bad in [
            "".to_string(),
            "12345".to_string(),
            "1234567".to_string(),
            "12a456".to_string(),
            format!("{code}0"),
            format!("0{code}"),
            code[..5].to_string(),
            format!("{}-{}", &code[..3], &code[3..]),
            format!("+{}", &code[1..]),
            fullwidth,
            format!("{}\u{0663}", &code[..5]),
        ] {
            assert_eq!(totp::verify(&secret, &bad, NOW, None), None, "{bad:?}");
        }
    }

    #[test]
    fn another_secret_does_not_verify() {
        let code = code_at_step_offset(&rfc_secret(), 0);
        let other = TotpSecret::from_bytes([7; 20]);
        assert_ne!(code, code_at_step_offset(&other, 0));
        assert_eq!(totp::verify(&other, &code, NOW, None), None);
    }
}

mod uri {
    use super::*;

    #[test]
    fn otpauth_uri_has_every_parameter() {
        assert_eq!(
            totp::otpauth_uri("Veilmark", "alice@example.com", &rfc_secret()),
            "otpauth://totp/Veilmark:alice%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Veilmark&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn issuer_and_account_are_percent_encoded() {
        let uri = totp::otpauth_uri("Acme & Co: Vault", "Zoë Smith/ops?x=1", &rfc_secret());
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20%26%20Co%3A%20Vault:Zo%C3%AB%20Smith%2Fops%3Fx%3D1\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20%26%20Co%3A%20Vault\
             &algorithm=SHA1&digits=6&period=30"
        );
        let unreserved = "AZaz09-._~";
        assert!(
            totp::otpauth_uri(unreserved, unreserved, &rfc_secret())
                .starts_with("otpauth://totp/AZaz09-._~:AZaz09-._~?")
        );
    }
}

mod recovery {
    use super::*;

    #[test]
    fn shown_as_two_groups_of_eight() {
        // 10 bytes of "foobarbazq" in base32 are "mzxw6ytbojrgc6tr".
        let code = RecoveryCode::from_random(*b"foobarbazq");
        assert_eq!(code.normalised(), "mzxw6ytbojrgc6tr");
        assert_eq!(code.to_string(), "mzxw6ytb-ojrgc6tr");
        assert_eq!(format!("{code:?}"), "RecoveryCode(<redacted>)");
        let zeros = RecoveryCode::from_random([0; 10]);
        assert_eq!(zeros.to_string(), "aaaaaaaa-aaaaaaaa");
    }

    #[test]
    fn normalise_accepts_what_people_type() {
        for typed in [
            "mzxw6ytb-ojrgc6tr",
            "MZXW6YTB-OJRGC6TR",
            "mzxw6ytbojrgc6tr",
            " mzxw 6ytb - ojrg c6tr\n",
            "mzxw-6ytb-ojrg-c6tr",
        ] {
            assert_eq!(
                RecoveryCode::normalise(typed).as_deref(),
                Some("mzxw6ytbojrgc6tr"),
                "{typed:?}"
            );
        }
    }

    #[test]
    fn normalise_refuses_anything_else() {
        for typed in [
            "",
            "mzxw6ytb-ojrgc6t",
            "mzxw6ytb-ojrgc6tra",
            "mzxw6ytb-ojrgc6t1",
            "mzxw6ytb-ojrgc6t8",
            "mzxw6ytb_ojrgc6tr",
            "mzxw6ytb-ojrgc6t=",
            "mzxw6ytb-ojrgc6té",
            "mzxw6ytb-ojrgc6\u{0131}r",
        ] {
            assert_eq!(RecoveryCode::normalise(typed), None, "{typed:?}");
        }
    }

    #[test]
    fn every_displayed_code_normalises_to_its_own_hash() {
        for seed in 0..32u8 {
            let mut bytes = [0u8; 10];
            for (i, byte) in (0u8..).zip(bytes.iter_mut()) {
                *byte = seed.wrapping_mul(37) ^ i.wrapping_mul(11);
            }
            let code = RecoveryCode::from_random(bytes);
            let normal = RecoveryCode::normalise(&code.to_string().to_uppercase()).unwrap();
            assert_eq!(normal, code.normalised());
            assert_eq!(totp::recovery_code_hash(&normal), code.hash());
        }
    }

    #[test]
    fn hash_is_domain_separated_sha256() {
        use sha2::{Digest, Sha256};
        assert_eq!(RECOVERY_CODE_HASH_PREFIX, b"veilmark/recovery-code/v1\0");
        let expected: [u8; 32] =
            Sha256::digest(b"veilmark/recovery-code/v1\0mzxw6ytbojrgc6tr").into();
        assert_eq!(totp::recovery_code_hash("mzxw6ytbojrgc6tr"), expected);
        assert_ne!(
            totp::recovery_code_hash("mzxw6ytbojrgc6tr"),
            <[u8; 32]>::from(Sha256::digest(b"mzxw6ytbojrgc6tr"))
        );
        // The vector in docs/totp.md#recovery-codes.
        assert_eq!(
            hex::encode(totp::recovery_code_hash("mzxw6ytbojrgc6tr")),
            "14bc6666612ed5753188cd2aab3b65c1d0e6d8c3d3365e5de9e4fb1cd6ceb033"
        );
    }
}

//! Multi-factor sign-in (SPEC §9) as pure rules: the TOTP parameters and which time steps a
//! code may be of, the shape of codes and recovery codes, the limit on second-step codes, the
//! second step's lifetime, and who still has to enrol under an organization's `mfaRequired`.

use crate::error::{DomainError, DomainResult};

/// RFC 6238 as authenticator apps expect it: SHA-1, 6 digits, 30-second steps.
pub const TOTP_DIGITS: usize = 6;
pub const TOTP_STEP_SECS: i64 = 30;
/// Bytes of a new TOTP secret (160 bits, RFC 4226's recommendation).
pub const TOTP_SECRET_BYTES: usize = 20;
/// How many recovery codes activation hands out.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code (without its dash): 10 of 32 symbols, 50 bits.
pub const RECOVERY_CODE_CHARS: usize = 10;
/// Second-step codes checked per user before the second step is locked.
pub const MAX_MFA_ATTEMPTS: i64 = 5;
/// How long the second step stays locked after the last counted code.
pub const MFA_LOCK_SECS: i64 = 300;
/// How long an `mfaToken` is valid.
pub const MFA_TOKEN_SECS: i64 = 300;
/// Longest code or recovery code accepted as input (anything longer is malformed).
pub const MAX_CODE_CHARS: usize = 64;

/// The time step of `unix_seconds`.
pub fn totp_step(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(TOTP_STEP_SECS)
}

/// The steps a code sent at `unix_seconds` may be of: one step of drift either way, the
/// current one first.
pub fn acceptable_steps(unix_seconds: i64) -> [i64; 3] {
    let now = totp_step(unix_seconds);
    [now, now - 1, now + 1]
}

/// What a TOTP code may look like as typed (`totp_code`): six digits, spaces around them.
pub const TOTP_CODE_PATTERN: &str = "^ *([0-9] *){6}$";

/// A TOTP code as typed: six digits, spaces allowed between them; 422 otherwise.
pub fn totp_code(field: &str, raw: &str) -> DomainResult<String> {
    let code: String = raw.chars().filter(|c| *c != ' ').collect();
    if code.len() == TOTP_DIGITS && code.chars().all(|c| c.is_ascii_digit()) {
        Ok(code)
    } else {
        Err(DomainError::invalid(field, "must be the 6-digit code"))
    }
}

/// The alphabet of recovery codes: lower-case letters and digits without look-alikes.
pub const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghjkmnpqrstuvwxyz023456789";

/// What a recovery code may look like as typed (`recovery_code`): its ten characters of
/// `RECOVERY_ALPHABET`, either case, with spaces and dashes anywhere.
pub const RECOVERY_CODE_PATTERN: &str = "^[ -]*([a-hjkmnp-z02-9A-HJKMNP-Z][ -]*){10}$";

/// A recovery code as typed, in the form it is stored under: dashes and spaces dropped, lower
/// case; 422 unless it has the shape of one.
pub fn recovery_code(raw: &str) -> DomainResult<String> {
    let code: String = raw
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if code.chars().count() == RECOVERY_CODE_CHARS
        && code.bytes().all(|b| RECOVERY_ALPHABET.contains(&b))
    {
        Ok(code)
    } else {
        Err(DomainError::invalid(
            "recoveryCode",
            "must be one of your recovery codes (xxxxx-xxxxx)",
        ))
    }
}

/// A recovery code made from random bytes, as shown once: `xxxxx-xxxxx`.
pub fn format_recovery_code(random: &[u8; RECOVERY_CODE_CHARS]) -> String {
    let chars: String = random
        .iter()
        .map(|b| char::from(RECOVERY_ALPHABET[usize::from(*b) % 32]))
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// SPEC §9, `mfaRequired`: a member of an organization that requires MFA who has no second
/// factor may only enrol.
pub fn enrollment_pending(organization_requires: bool, has_second_factor: bool) -> bool {
    organization_requires && !has_second_factor
}

/// SPEC §9, `mfaRequired`: an owner turns the policy on only with a second factor of their
/// own, so that requiring it never locks out the one who required it (409 otherwise).
pub fn check_requiring_mfa(owner_has_second_factor: bool) -> DomainResult<()> {
    if owner_has_second_factor {
        Ok(())
    } else {
        Err(DomainError::conflict(
            "mfa_not_enabled",
            "set up two-factor sign-in for yourself before requiring it of everyone",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_of_drift_either_way() {
        assert_eq!(acceptable_steps(60), [2, 1, 3]);
        assert_eq!(acceptable_steps(89), [2, 1, 3]);
        assert_eq!(totp_step(-1), -1);
    }

    #[test]
    fn codes_have_one_shape() {
        assert_eq!(totp_code("code", " 123 456 ").unwrap(), "123456");
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６", "123\t456"] {
            assert!(totp_code("code", bad).is_err(), "{bad}");
        }
        let shown = format_recovery_code(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 255]);
        assert_eq!(shown.len(), 11);
        assert_eq!(
            recovery_code(&shown.to_uppercase()).unwrap(),
            shown.replace('-', "")
        );
        for bad in [
            "",
            "abcde-abcd",
            "abcde-abcdef",
            "abcde-abcd1",
            "abcde_abcdl",
        ] {
            assert!(recovery_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_members_without_a_factor_must_enrol() {
        assert!(enrollment_pending(true, false));
        assert!(!enrollment_pending(true, true));
        assert!(!enrollment_pending(false, false));
        assert!(check_requiring_mfa(true).is_ok());
        assert!(check_requiring_mfa(false).is_err());
    }
}

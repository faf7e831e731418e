//! Rule 16, password reset: who is sent a reset link, and whether a presented token still
//! resets a password. (Spending it is one guarded write in the store, so that two uses of one
//! token have one winner.)

use super::sign_in::{SignIn, sign_in};
use crate::model::{TokenCheck, UserStatus};
use crate::time::Timestamp;

/// The facts of a presented reset token, as the store found them.
#[derive(Clone, Copy, Debug)]
pub struct ResetToken {
    pub expires_at: Timestamp,
    pub used: bool,
    /// The status of the user it was issued to, now.
    pub user_status: UserStatus,
}

/// Rule 16: `forgot-password` sends a link only to a user who may sign in and has a password
/// (its answer is the same either way).
pub fn may_request_reset(status: UserStatus, has_password: bool) -> bool {
    has_password && sign_in(status) == SignIn::Allowed
}

/// Rule 16: a reset token resets a password once, before it expires, and only while its user
/// may still sign in. A used token reads as invalid (as an unknown one does), whether or not
/// it has expired since.
pub fn reset_token_check(token: ResetToken, now: Timestamp) -> TokenCheck<()> {
    if token.used {
        return TokenCheck::Invalid;
    }
    if token.expires_at <= now {
        return TokenCheck::Expired;
    }
    if sign_in(token.user_status) != SignIn::Allowed {
        return TokenCheck::Invalid;
    }
    TokenCheck::Valid(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use UserStatus::{Active, Disabled, Invited};

    #[test]
    fn only_an_active_user_with_a_password_is_sent_a_link() {
        assert!(may_request_reset(Active, true));
        assert!(!may_request_reset(Active, false));
        assert!(!may_request_reset(Disabled, true));
        assert!(!may_request_reset(Invited, true));
    }

    #[test]
    fn a_token_resets_once_before_it_expires_for_an_active_user() {
        let now = Timestamp::now();
        let token = |secs, used, user_status| ResetToken {
            expires_at: now.plus_seconds(secs),
            used,
            user_status,
        };
        assert_eq!(
            reset_token_check(token(60, false, Active), now),
            TokenCheck::Valid(())
        );
        assert_eq!(
            reset_token_check(token(0, false, Active), now),
            TokenCheck::Expired
        );
        assert_eq!(
            reset_token_check(token(-60, false, Active), now),
            TokenCheck::Expired
        );
        assert_eq!(
            reset_token_check(token(60, true, Active), now),
            TokenCheck::Invalid
        );
        assert_eq!(
            reset_token_check(token(-60, true, Active), now),
            TokenCheck::Invalid
        );
        assert_eq!(
            reset_token_check(token(60, false, Disabled), now),
            TokenCheck::Invalid
        );
        // Expiry is told before the user's status, as it always was.
        assert_eq!(
            reset_token_check(token(-60, false, Disabled), now),
            TokenCheck::Expired
        );
    }
}

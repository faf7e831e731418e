//! Rules 10 and 15: what a user's status allows of signing in and of keeping a session.

use crate::model::UserStatus;

/// What a user's status allows of signing in (a login) and of keeping a session (a refresh).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// An active user signs in and keeps their sessions.
    Allowed,
    /// An invited user has no account to sign in to until they sign up from their link: a
    /// login answers as for an email that matches nobody.
    NotSignedUp,
    /// A disabled user cannot sign in (refused once the password is proven, so that the
    /// answer tells nothing to who does not know it), and their sessions end.
    Disabled,
}

/// Rules 10 and 15: whether a user of `status` may sign in or refresh a session; anything but
/// `Allowed` refuses both.
pub fn sign_in(status: UserStatus) -> SignIn {
    match status {
        UserStatus::Active => SignIn::Allowed,
        UserStatus::Invited => SignIn::NotSignedUp,
        UserStatus::Disabled => SignIn::Disabled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_active_user_signs_in() {
        assert_eq!(sign_in(UserStatus::Active), SignIn::Allowed);
        assert_eq!(sign_in(UserStatus::Invited), SignIn::NotSignedUp);
        assert_eq!(sign_in(UserStatus::Disabled), SignIn::Disabled);
    }
}

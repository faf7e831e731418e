//! Access tokens: HS256 JWTs (`jsonwebtoken`) that carry identity and session only, never
//! permissions: those are read from the database on every request (rule 3).

use flowspace_core::ids::{SessionId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use quick_cache::sync::Cache;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: UserId,
    pub sid: SessionId,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// Whom a valid token names: its user and session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bearer {
    pub sub: UserId,
    pub sid: SessionId,
}

/// How many verified tokens are remembered (`AccessTokens::verified`): one per session in use
/// at once is what it needs; beyond, the least used are checked again.
const VERIFIED_TOKENS: usize = 4096;

pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// Tokens that passed `validation`, by their exact text, with whom they name and their
    /// expiry: a token presented again is not decoded, its signature not computed again (on a
    /// cached list that was a tenth of the server's CPU time, kernel included, and a third of
    /// its own instructions: docs/benchmarks.md). Only a token this key signed gets in, and one
    /// past its expiry is refused as `validation` would, and forgotten; the key does not change
    /// while the process runs. Whether the session still stands is read on every request all
    /// the same (rule 3). The text is kept as the request brought it: this process holds the
    /// key that signs such tokens anyway.
    verified: Cache<String, (Bearer, i64)>,
    issuer: String,
    audience: String,
    pub ttl_seconds: i64,
}

impl AccessTokens {
    pub fn new(secret: &[u8], issuer: &str, audience: &str, ttl_minutes: u32) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            verified: Cache::new(VERIFIED_TOKENS),
            issuer: issuer.to_string(),
            audience: audience.to_string(),
            ttl_seconds: i64::from(ttl_minutes) * 60,
        }
    }

    pub fn issue(&self, user: UserId, session: SessionId, now_unix: i64) -> Result<String, String> {
        let claims = Claims {
            sub: user,
            sid: session,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now_unix,
            exp: now_unix + self.ttl_seconds,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| e.to_string())
    }

    /// Whom a valid, unexpired token of this issuer and audience names.
    pub fn verify(&self, token: &str) -> Option<Bearer> {
        self.verify_at(token, jsonwebtoken::get_current_timestamp())
    }

    /// `verify`, with `now` (the clock `validation` reads) as the time a remembered token's
    /// expiry is judged at.
    fn verify_at(&self, token: &str, now: u64) -> Option<Bearer> {
        // As `validation` judges expiry: refused once `exp` is more than `leeway` seconds past.
        let fresh = |exp: i64| exp.saturating_add_unsigned(self.validation.leeway) >= now as i64;
        if let Some((bearer, exp)) = self.verified.get(token) {
            if fresh(exp) {
                return Some(bearer);
            }
            self.verified.remove(token);
            return None;
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        let bearer = Bearer {
            sub: claims.sub,
            sid: claims.sid,
        };
        if fresh(claims.exp) {
            self.verified.insert(token.to_owned(), (bearer, claims.exp));
        }
        Some(bearer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_verify_and_reject() {
        let t = AccessTokens::new(b"0123456789abcdef0123456789abcdef", "iss", "aud", 15);
        let now = flowspace_core::time::Timestamp::now().unix_seconds();
        let (u, s) = (UserId::new(), SessionId::new());
        let tok = t.issue(u, s, now).unwrap();
        let c = t.verify(&tok).unwrap();
        assert_eq!((c.sub, c.sid), (u, s));
        let other = AccessTokens::new(b"another-secret-another-secret-xx", "iss", "aud", 15);
        assert!(other.verify(&tok).is_none());
        let wrong_aud = AccessTokens::new(b"0123456789abcdef0123456789abcdef", "iss", "other", 15);
        assert!(wrong_aud.verify(&tok).is_none());
        let expired = t.issue(u, s, now - 3600).unwrap();
        assert!(t.verify(&expired).is_none());
        assert!(t.verify("garbage").is_none());
        // Refusals are not remembered.
        assert!(t.verified.get(expired.as_str()).is_none());
        // Verified once, then remembered: the same answer again. A token whose signature was
        // altered (one character in its middle) is refused, though its claims are the same.
        assert!(t.verified.get(tok.as_str()).is_some());
        assert_eq!(t.verify(&tok), Some(Bearer { sub: u, sid: s }));
        let mut altered = tok.clone().into_bytes();
        let i = altered.len() - 20;
        altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert!(t.verify(&altered).is_none());
        assert!(t.verified.get(altered.as_str()).is_none());
    }

    #[test]
    fn a_remembered_token_is_refused_once_past_the_leeway_and_forgotten() {
        let t = AccessTokens::new(b"0123456789abcdef0123456789abcdef", "iss", "aud", 15);
        let now = flowspace_core::time::Timestamp::now().unix_seconds();
        let (u, s) = (UserId::new(), SessionId::new());
        let tok = t.issue(u, s, now).unwrap();
        let exp = u64::try_from(now + 15 * 60).unwrap();
        let leeway = t.validation.leeway;
        assert!(t.verify(&tok).is_some());
        // Remembered: judged at the last second of the leeway, then one second later.
        assert!(t.verify_at(&tok, exp + leeway).is_some());
        assert!(t.verified.get(tok.as_str()).is_some());
        assert!(t.verify_at(&tok, exp + leeway + 1).is_none());
        assert!(t.verified.get(tok.as_str()).is_none(), "forgotten");
        // jsonwebtoken draws the same line for a token decoded afresh: expired less than
        // `leeway` seconds ago passes, more fails (a second of slack each way, for the clock
        // ticking between issuing and checking).
        let lifetime = 15 * 60;
        let leeway = i64::try_from(leeway).unwrap();
        let cold = AccessTokens::new(b"0123456789abcdef0123456789abcdef", "iss", "aud", 15);
        let edge = cold.issue(u, s, now - lifetime - leeway + 1).unwrap();
        let past = cold.issue(u, s, now - lifetime - leeway - 2).unwrap();
        assert!(cold.verify(&edge).is_some());
        assert!(cold.verify(&past).is_none());
    }
}

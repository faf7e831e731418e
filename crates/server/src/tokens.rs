//! Access tokens: HS256 JWTs (`jsonwebtoken`) that carry identity and session only, never
//! permissions: those are read from the database on every request (rule 3).

use flowspace_core::ids::{SessionId, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
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

pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
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

    /// The claims of a valid, unexpired token of this issuer and audience.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|d| d.claims)
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
    }
}

//! Flowspace's domain: identifiers, the permission catalogue and built-in roles, the rules of
//! SPEC.md as pure functions, the authorization scope every workspace-scoped store call needs,
//! and the domain error. No HTTP and no SQL live here.

pub mod authz;
pub mod cursor;
pub mod device;
pub mod error;
pub mod flowise;
pub mod ids;
pub mod integer;
pub mod invite;
pub mod lockout;
pub mod model;
pub mod password;
pub mod permissions;
pub mod resource;
pub mod rules;
pub mod schema;
pub mod text;
pub mod time;
pub mod transfer;

pub use error::{DomainError, DomainResult};

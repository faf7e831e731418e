//! Building blocks of the OpenAPI schemas of constrained fields, from the bounds the checks
//! themselves use (a `Text` rule's length and pattern, the catalogue's kinds), so that a
//! document and the check it describes cannot drift. `server::fields` builds the request
//! fields from them; `transfer` the bundle.

use crate::resource::ResourceKind;
use crate::text::Text;
use utoipa::openapi::KnownFormat;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, SchemaType, Type};

/// A string, or a string or null.
pub fn string(nullable: bool) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    })
}

/// A text field of `rule`: its length in characters and the pattern of what its check accepts.
pub fn text(rule: Text, nullable: bool) -> Schema {
    string(nullable)
        .min_length(Some(rule.min_chars()))
        .max_length(Some(rule.max_chars))
        .pattern(Some(rule.pattern()))
        .into()
}

/// One of `kinds`, by their path names.
pub fn kinds_enum(kinds: impl IntoIterator<Item = ResourceKind>) -> ObjectBuilder {
    string(false).enum_values(Some(
        kinds.into_iter().map(|k| k.path()).collect::<Vec<_>>(),
    ))
}

/// An id.
pub fn uuid() -> ObjectBuilder {
    string(false).format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
}

/// A JSON object, or an object or null.
pub fn object(nullable: bool) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(if nullable {
        SchemaType::from_iter([Type::Object, Type::Null])
    } else {
        SchemaType::Type(Type::Object)
    })
}

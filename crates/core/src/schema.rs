//! Building blocks of the OpenAPI schemas of constrained fields, from the bounds the checks
//! themselves use (a `Text` rule's length and pattern, the catalogue's kinds), so that a
//! document and the check it describes cannot drift. `server::fields` builds the request
//! fields from them; `transfer` the bundle.

use crate::resource::ResourceKind;
use crate::text::Text;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaFormat,
    SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, Ref, RefOr};

/// A text the server reads: anything but a NUL character, which no text the server reads may
/// hold (it never reaches SQL, where PostgreSQL refuses it).
pub const NO_NUL: &str = "^[^\\u0000]*$";

/// The name of `json_value`'s component in the document.
pub const JSON_VALUE: &str = "JsonValue";

fn json_value_ref() -> RefOr<Schema> {
    RefOr::Ref(Ref::from_schema_name(JSON_VALUE))
}

/// Any JSON value whose texts and keys hold no NUL character, at any depth (the document's
/// `JsonValue` component, which names itself): what free-form data may hold.
pub fn json_value() -> Schema {
    OneOfBuilder::new()
        .item(string(false).pattern(Some(NO_NUL)))
        .item(ObjectBuilder::new().schema_type(SchemaType::from_iter([
            Type::Number,
            Type::Boolean,
            Type::Null,
        ])))
        .item(ArrayBuilder::new().items(json_value_ref()))
        .item(json_object(false))
        .into()
}

/// A JSON object (or null) of `json_value`s.
pub fn json_object(nullable: bool) -> ObjectBuilder {
    object(nullable)
        .additional_properties(Some(AdditionalProperties::RefOr(json_value_ref())))
        .property_names(Some(string(false).pattern(Some(NO_NUL))))
}

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

//! The schemas of constrained request fields, built from the bounds the server's own checks
//! use (`flowspace_core::rules`, the password policy, the permission catalogue, the page and
//! bulk limits), so that the OpenAPI document says exactly what the server accepts and the two
//! cannot drift. Request types name them in `#[schema(schema_with = ...)]`; the `openapi`
//! module uses them for parameters.

use crate::api::transfer;
use flowspace_core::cursor::MAX_LIMIT;
use flowspace_core::model::UserStatus;
use flowspace_core::password;
use flowspace_core::permissions::PermissionSet;
use flowspace_core::rules;
use flowspace_core::schema::{NO_NUL, json_object, kinds_enum, string, text, uuid};
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::{KnownFormat, RefOr};

/// A WebAuthn credential as the browser's `PublicKeyCredential` reads in JSON (binary fields
/// in base64url).
pub fn webauthn_credential() -> Schema {
    json_object(false)
        .description(Some(
            "The browser's PublicKeyCredential: id, rawId, type, response (binary fields in base64url)",
        ))
        .into()
}

/// The same, or null (another proof is sent instead).
pub fn webauthn_credential_or_null() -> Schema {
    json_object(true)
        .description(Some(
            "The browser's PublicKeyCredential from navigator.credentials.get (binary fields in base64url)",
        ))
        .into()
}

/// The `publicKey` options of a WebAuthn ceremony, as the server writes them.
pub fn webauthn_options() -> Schema {
    json_object(false)
        .description(Some(
            "PublicKeyCredentialCreationOptions or PublicKeyCredentialRequestOptions (binary fields in base64url)",
        ))
        .into()
}

/// A required name of a role, group, user, organization or workspace.
pub fn name() -> Schema {
    text(rules::NAME, false)
}

/// A name that may be left out (or null) to keep the current one.
pub fn name_or_keep() -> Schema {
    text(rules::NAME, true)
}

/// A role given by its id or its name: either is a text a role name may be.
pub fn role() -> Schema {
    text(rules::NAME, false)
}

/// A resource's name.
pub fn item_name() -> Schema {
    text(rules::ITEM_NAME, false)
}

/// A description: blank or null means none.
pub fn description() -> Schema {
    text(rules::DESCRIPTION, true)
}

/// A status an Account Admin may give a user, or absent (or null) to keep it.
pub fn settable_status() -> Schema {
    let statuses = UserStatus::SETTABLE.map(UserStatus::as_str);
    string(true)
        .enum_values(Some(statuses.into_iter().map(Some).chain([None])))
        .into()
}

/// The version of an item read before changing it (rule 13), or absent (creations).
pub fn version() -> Schema {
    version_with(true)
}

/// The version of an item read before changing it, when an update needs it.
pub fn version_required() -> Schema {
    version_with(false)
}

fn version_with(nullable: bool) -> Schema {
    // Versions count up from 1; any other number is a stale version (409), never a malformed
    // one, so the bounds only keep generated numbers where JSON and i64 agree exactly.
    ObjectBuilder::new()
        .schema_type(if nullable {
            SchemaType::from_iter([Type::Integer, Type::Null])
        } else {
            SchemaType::Type(Type::Integer)
        })
        .minimum(Some(1))
        .maximum(Some(MAX_SAFE_INTEGER))
        .description(Some(
            "The version read; an update may send it as If-Match instead",
        ))
        .into()
}

/// The largest integer every JSON reader holds exactly (2^53 - 1).
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// A workspace icon: blank or null means none.
pub fn icon() -> Schema {
    text(rules::ICON, true)
}

/// A workspace color `#rrggbb`: blank or null means none.
pub fn color() -> Schema {
    string(true).pattern(Some(rules::color_pattern())).into()
}

/// An email address as `rules::email` accepts it.
pub fn email() -> Schema {
    string(false)
        .max_length(Some(rules::MAX_EMAIL_CHARS))
        .pattern(Some(rules::email_pattern()))
        .into()
}

/// An email address as `rules::email` accepts it, or null (left out).
pub fn email_or_null() -> Schema {
    string(true)
        .max_length(Some(rules::MAX_EMAIL_CHARS))
        .pattern(Some(rules::email_pattern()))
        .into()
}

/// An invitation token as `invite::lookup_token` reads it: URL-safe base64, at most
/// `MAX_TOKEN_CHARS`.
pub fn invitation_token() -> Schema {
    string(false)
        .min_length(Some(1))
        .max_length(Some(flowspace_core::invite::MAX_TOKEN_CHARS))
        .pattern(Some("^[A-Za-z0-9_-]+$"))
        .into()
}

/// A TOTP code as `rules::mfa::totp_code` reads it, or null (left out).
pub fn totp_code_or_null() -> Schema {
    string(true)
        .pattern(Some(rules::mfa::TOTP_CODE_PATTERN))
        .into()
}

/// A TOTP code as `rules::mfa::totp_code` reads it.
pub fn totp_code() -> Schema {
    string(false)
        .pattern(Some(rules::mfa::TOTP_CODE_PATTERN))
        .into()
}

/// A recovery code as `rules::mfa::recovery_code` reads it, or null (left out).
pub fn recovery_code_or_null() -> Schema {
    string(true)
        .pattern(Some(rules::mfa::RECOVERY_CODE_PATTERN))
        .into()
}

/// The `mfaToken` of a sign-in's second step: URL-safe base64.
pub fn mfa_token() -> Schema {
    string(false)
        .min_length(Some(1))
        .max_length(Some(flowspace_core::invite::MAX_TOKEN_CHARS))
        .pattern(Some("^[A-Za-z0-9_-]+$"))
        .into()
}

/// A minimum password length as `rules::min_password_length` accepts it, or null (kept).
pub fn min_password_length() -> Schema {
    bounded_integer(password::MIN_LENGTH as i64, 128)
}

/// A session lifetime in minutes as `rules::session_lifetime_minutes` accepts it, or null (the
/// installation's default).
pub fn session_lifetime() -> Schema {
    bounded_integer(5, 129_600)
}

fn bounded_integer(min: i64, max: i64) -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
        .minimum(Some(min as f64))
        .maximum(Some(max as f64))
        .into()
}

/// Allowed email domains as `rules::email_domains` accepts them (host names, at most 100), or
/// null (kept).
pub fn email_domains() -> Schema {
    let label = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    let item = string(false)
        .max_length(Some(253))
        .pattern(Some(format!("^({label}\\.)+{label}$")));
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(item)
        .max_items(Some(100))
        .into()
}

/// A new password: its length bounds (the policy also refuses common passwords and the
/// account's email, which a schema cannot say; the description does).
pub fn password() -> Schema {
    new_password(false)
}

/// A new password that may be left out.
pub fn password_or_keep() -> Schema {
    new_password(true)
}

fn new_password(nullable: bool) -> Schema {
    let common: Vec<&str> = password::common_within_bounds().collect();
    // utoipa has no builder for JSON Schema's `not`; an unprefixed extension is written as is.
    let not = Extensions::from_iter([("not", serde_json::json!({ "enum": common }))]);
    string(nullable)
        .min_length(Some(password::MIN_LENGTH))
        .max_length(Some(password::MAX_LENGTH))
        .pattern(Some(NO_NUL))
        .extensions(Some(not))
        .description(Some(
            "Not one of the most common passwords (in any case), nor the account's email",
        ))
        .into()
}

/// When an API key expires: in the future. A schema cannot say "after now", so it admits the
/// years from 2100 on, which are; an earlier future instant is accepted all the same.
pub fn expiry() -> Schema {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .pattern(Some("^(2[1-9][0-9]{2}|[3-9][0-9]{3})-"))
        .description(Some("In the future; absent or null: never"))
        .into()
}

/// Any text without a NUL character (see `NO_NUL`).
pub fn any_text() -> Schema {
    string(false).pattern(Some(NO_NUL)).into()
}

/// `any_text`, or null.
pub fn any_text_or_null() -> Schema {
    string(true).pattern(Some(NO_NUL)).into()
}

/// An email to send a reset link to: any text, since the answer is the same for every email.
pub fn any_email() -> Schema {
    any_text()
}

/// The kinds to export.
pub fn export_kinds() -> Schema {
    ArrayBuilder::new()
        .items(kinds_enum(flowspace_core::transfer::exportable()))
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .into()
}

/// The items to export (repeats are ignored).
pub fn export_ids() -> Schema {
    ids_with(None, true)
}

fn permission_enum(set: PermissionSet) -> ObjectBuilder {
    string(false).enum_values(Some(set.to_strings()))
}

/// A role's permissions: entries of the catalogue.
pub fn permissions() -> Schema {
    ArrayBuilder::new()
        .items(permission_enum(PermissionSet::all()))
        .into()
}

/// An API key's permissions: at least one entry of the catalogue a key may carry.
pub fn key_permissions() -> Schema {
    let set = PermissionSet::all()
        .iter()
        .filter(|p| flowspace_core::authz::grantable_to_api_key(*p))
        .collect();
    ArrayBuilder::new()
        .items(permission_enum(set))
        .min_items(Some(1))
        .description(Some(
            "A subset of your own permissions in the workspace; never `workspace:*`",
        ))
        .into()
}

/// An id (a UUID).
pub fn id() -> Schema {
    uuid().into()
}

/// Distinct ids, at least `min` and at most `max` of them.
pub fn ids(min: usize, max: Option<usize>) -> Schema {
    ArrayBuilder::new()
        .items(uuid())
        .min_items(Some(min))
        .max_items(max)
        .unique_items(true)
        .into()
}

/// The ids of a bulk move or copy.
pub fn bulk_ids() -> Schema {
    ids(1, Some(transfer::MAX_BULK))
}

/// `limit` of every list: the page size `PageRequest` accepts.
pub fn limit() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Integer))
        .minimum(Some(1))
        .maximum(Some(MAX_LIMIT))
        .into()
}

/// Group members: user ids (repeats are ignored).
pub fn members() -> Schema {
    ids_with(None, false)
}

/// Group members, or absent (or null) to keep them.
pub fn members_or_keep() -> Schema {
    ids_with(None, true)
}

/// The workspaces a credential is shared with (repeats are ignored; `[]` unshares).
pub fn workspace_ids() -> Schema {
    ids_with(None, false)
}

fn ids_with(max: Option<usize>, nullable: bool) -> Schema {
    let b = ArrayBuilder::new().items(uuid()).max_items(max);
    if nullable {
        b.schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
            .into()
    } else {
        b.into()
    }
}

/// A resource's data: a JSON object (at most 1 MiB serialized), absent or null for `{}`.
pub fn data() -> Schema {
    json_object(true)
        .description(Some("A JSON object of at most 1 MiB"))
        .into()
}

/// A variable's data, as `rules::variable_data` accepts it.
pub fn variable_data() -> Schema {
    ObjectBuilder::new()
        .property(
            "type",
            string(false).enum_values(Some(rules::VARIABLE_TYPES.to_vec())),
        )
        .required("type")
        .property("value", string(false).pattern(Some(NO_NUL)))
        .required("value")
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ))
        .into()
}

/// A credential's secret fields: an object with at least one field (at most 1 MiB).
pub fn secret_data() -> Schema {
    secret(false)
}

/// New secret fields, or absent (or null) to keep the stored ones.
pub fn secret_data_or_keep() -> Schema {
    secret(true)
}

fn secret(nullable: bool) -> Schema {
    json_object(nullable)
        .min_properties(Some(1))
        .description(Some(
            "Secret fields, encrypted at rest and never returned; at most 1 MiB",
        ))
        .into()
}

/// `cursor` of every list: a `nextCursor` this server returned, or empty for the first page.
/// `q` of a searched list: any text without a NUL (which every query refuses), at most
/// `MAX_SEARCH_CHARS` long.
pub fn search() -> RefOr<Schema> {
    string(false)
        .pattern(Some(NO_NUL))
        .max_length(Some(flowspace_core::cursor::MAX_SEARCH_CHARS))
        .into()
}

pub fn cursor() -> RefOr<Schema> {
    string(false)
        .pattern(Some(flowspace_core::cursor::PATTERN))
        .into()
}

/// A provider's issuer URL (`rules::sso_issuer`).
pub fn sso_issuer() -> Schema {
    sso_issuer_with(false)
}

/// An issuer URL, or absent (or null) to keep it.
pub fn sso_issuer_or_keep() -> Schema {
    sso_issuer_with(true)
}

fn sso_issuer_with(nullable: bool) -> Schema {
    string(nullable)
        .max_length(Some(rules::MAX_SSO_TEXT_CHARS))
        .pattern(Some(rules::ISSUER_PATTERN))
        .into()
}

/// A client id or secret (`rules::sso_client_id`).
pub fn sso_client_text() -> Schema {
    sso_text(false, rules::MAX_SSO_TEXT_CHARS)
}

/// A client id or secret, or absent (or null) to keep it.
pub fn sso_client_text_or_keep() -> Schema {
    sso_text(true, rules::MAX_SSO_TEXT_CHARS)
}

/// A claim name, or absent (or null) for the default (`groups`) or to keep it.
pub fn sso_claim_or_keep() -> Schema {
    sso_text(true, rules::MAX_GROUP_CHARS)
}

/// A group of a mapping.
pub fn sso_group() -> Schema {
    sso_text(false, rules::MAX_GROUP_CHARS)
}

fn sso_text(nullable: bool, max: usize) -> Schema {
    string(nullable)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(rules::SSO_TEXT_PATTERN))
        .into()
}

/// The scopes a provider is asked for (`rules::sso_scopes`), or absent (or null).
pub fn sso_scopes() -> Schema {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(string(false).pattern(Some(rules::SCOPE_PATTERN)))
        .max_items(Some(rules::MAX_SCOPES))
        .into()
}

/// The `format` of a Flowise export's import.
pub fn flowise_format() -> Schema {
    string(false)
        .enum_values(Some([crate::flowise::export_file::FORMAT]))
        .into()
}

/// Flowise's `ExportData.json`: an object holding at least one of the keys the import reads
/// (or counts), each an array of rows as Flowise's tables hold them.
pub fn flowise_export() -> Schema {
    use crate::flowise::export_file::{KEYS, NOT_CARRIED};
    use utoipa::openapi::schema::AnyOfBuilder;
    let mut data = json_object(false).description(Some(
        "The content of Flowise's `ExportData.json`, unchanged. A flow's `flowData` is JSON text \
         of an object, as Flowise writes it",
    ));
    let mut any = AnyOfBuilder::new();
    for (key, _, _, required) in KEYS {
        let mut row = json_object(false);
        for col in *required {
            let schema: Schema = match *col {
                "id" => uuid().into(),
                "name" => text(rules::ITEM_NAME, false),
                "flowData" => string(false)
                    .content_media_type("application/json")
                    .min_length(Some(2))
                    .into(),
                _ => string(false)
                    .min_length(Some(1))
                    .pattern(Some(NO_NUL))
                    .into(),
            };
            row = row.property(*col, schema).required(*col);
        }
        data = data.property(*key, ArrayBuilder::new().items(row));
        any = any.item(ObjectBuilder::new().required(*key));
    }
    for (key, _) in NOT_CARRIED {
        data = data.property(*key, ArrayBuilder::new().items(json_object(false)));
        any = any.item(ObjectBuilder::new().required(*key));
    }
    // `allOf` of the shape and "at least one of the keys".
    utoipa::openapi::schema::AllOfBuilder::new()
        .item(data)
        .item(any)
        .into()
}

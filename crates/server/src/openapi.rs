//! The OpenAPI 3.1 document, built with `utoipa` from the route table, so that it describes
//! exactly the routes the server has.

use crate::auth::Guard;
use crate::routes::RouteDef;
use std::collections::BTreeMap;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref, RefOr,
    Required, ResponseBuilder, ResponsesBuilder,
};
use utoipa::{PartialSchema, ToSchema};

type Components = BTreeMap<String, RefOr<Schema>>;

/// A request or response body: registers its schemas and answers a reference to it.
#[derive(Clone, Copy)]
pub struct Body(fn(&mut Components) -> RefOr<Schema>);

fn register<T: ToSchema>(c: &mut Components) -> RefOr<Schema> {
    let name = T::name().to_string();
    c.insert(name.clone(), T::schema());
    let mut deps = Vec::new();
    T::schemas(&mut deps);
    c.extend(deps);
    Ref::from_schema_name(name).into()
}

fn register_list<T: ToSchema>(c: &mut Components) -> RefOr<Schema> {
    let item = register::<T>(c);
    ObjectBuilder::new()
        .property("items", ArrayBuilder::new().items(item))
        .required("items")
        .property(
            "nextCursor",
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::String,
                    Type::Null,
                ]))
                .description(Some(
                    "Pass as `cursor` for the next page; null on the last page",
                )),
        )
        .into()
}

pub fn body<T: ToSchema>() -> Body {
    Body(register::<T>)
}

/// An update's body: `T` with its `version` required, as `resources::required_version` needs
/// it (unless the request sends `If-Match`, which a schema cannot weigh against the body).
pub fn update<T: ToSchema>() -> Body {
    Body(register_update::<T>)
}

fn register_update<T: ToSchema>(c: &mut Components) -> RefOr<Schema> {
    register::<T>(c);
    let name = format!("{}Update", T::name());
    let mut schema = T::schema();
    if let RefOr::T(Schema::Object(o)) = &mut schema {
        o.required.push("version".to_string());
        o.properties.insert(
            "version".to_string(),
            crate::fields::version_required().into(),
        );
    }
    c.insert(name.clone(), schema);
    Ref::from_schema_name(name).into()
}

pub fn list<T: ToSchema>() -> Body {
    Body(register_list::<T>)
}

/// The error body of every failure.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct Error {
    error: ErrorDetail,
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `forbidden`, `validation_failed`.
    code: String,
    message: String,
    /// With 403 for a missing permission.
    missing_permission: Option<String>,
    /// With 403: the caller's role in the workspace.
    role: Option<String>,
    /// With 422: the invalid field and why.
    field: Option<String>,
    reason: Option<String>,
}

fn method(m: &axum::http::Method) -> HttpMethod {
    match *m {
        axum::http::Method::POST => HttpMethod::Post,
        axum::http::Method::PUT => HttpMethod::Put,
        axum::http::Method::PATCH => HttpMethod::Patch,
        axum::http::Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

fn json(schema: RefOr<Schema>) -> utoipa::openapi::Content {
    ContentBuilder::new().schema(Some(schema)).build()
}

fn operation_id(def: &RouteDef) -> String {
    let mut id = def.method.as_str().to_lowercase();
    for part in def.path.split('/').filter(|p| !p.is_empty()) {
        let part = part.trim_start_matches('{').trim_end_matches('}');
        id.push('_');
        id.extend(
            part.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id
}

/// Every failure status an operation can answer, with why: derived from what the route takes
/// (a body, a query, an id, a workspace) and its guard, plus what its table entry adds
/// (`RouteDef::may`). Each is answered with the `Error` body.
pub fn error_statuses(def: &RouteDef) -> BTreeMap<u16, &'static str> {
    let mut errors = BTreeMap::new();
    let takes_body = def.request.is_some();
    if takes_body {
        errors.insert(400, "Malformed JSON");
        errors.insert(413, "The body is too large");
        errors.insert(415, "The body is not sent as application/json");
    }
    if takes_body || def.paginated || def.searched.is_some() || !def.query.is_empty() {
        errors.insert(422, "Invalid field (names it and why)");
    }
    if def.guard != Guard::Open {
        errors.insert(428, "Setup has not been done yet");
    }
    if !def.guard.is_public() {
        errors.insert(
            401,
            "Not signed in, or the session or API key is no longer valid",
        );
        errors.insert(
            403,
            "Signed in, but not allowed (names the missing permission)",
        );
    }
    // Paths and bodies name items, users, workspaces, groups, roles and tokens, which may not
    // exist; and every guarded route reads `X-Workspace-Id`, which may name a workspace the
    // caller cannot act in.
    if def.path.contains("{id}") || !def.guard.is_public() {
        errors.insert(404, "Not found, or outside the caller's workspace");
    }
    if def.method != axum::http::Method::GET && !def.guard.is_public() {
        errors.insert(
            409,
            "Conflicts with the current state (stale version, name taken, ...)",
        );
    }
    errors.extend(def.may.iter().copied());
    errors
}

/// The document for the given route table.
pub fn document(table: &[RouteDef]) -> OpenApi {
    let mut comps = Components::new();
    let error = register::<Error>(&mut comps);
    // What free-form data may hold (`fields::data` and the like refer to it by name).
    comps.insert(
        flowspace_core::schema::JSON_VALUE.to_string(),
        flowspace_core::schema::json_value().into(),
    );
    let mut paths = Paths::new();
    for def in table {
        let mut responses = ResponsesBuilder::new();
        let (status, out) = def.response;
        let mut ok = ResponseBuilder::new().description("Success");
        if let Some(b) = out {
            ok = ok.content("application/json", json((b.0)(&mut comps)));
        }
        responses = responses.response(status.to_string(), ok.build());
        let errors = error_statuses(def);
        for (code, desc) in errors {
            responses = responses.response(
                code.to_string(),
                ResponseBuilder::new()
                    .description(desc)
                    .content("application/json", json(error.clone()))
                    .build(),
            );
        }
        let mut op = OperationBuilder::new()
            .operation_id(Some(operation_id(def)))
            .summary(Some(def.summary.clone()))
            .tag(def.tag)
            .responses(responses.build());
        if let Some(b) = def.request {
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", json((b.0)(&mut comps)))
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        if def.path.contains("{id}") {
            op = op.parameter(
                ParameterBuilder::new()
                    .name("id")
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(
                        <flowspace_core::ids::ItemId as PartialSchema>::schema(),
                    )),
            );
        }
        if def.paginated {
            op = op
                .parameter(
                    ParameterBuilder::new()
                        .name("limit")
                        .parameter_in(ParameterIn::Query)
                        .description(Some("Page size (default 50)"))
                        .schema(Some(crate::fields::limit())),
                )
                .parameter(
                    ParameterBuilder::new()
                        .name("cursor")
                        .parameter_in(ParameterIn::Query)
                        .description(Some("The nextCursor of the previous page"))
                        .schema(Some(crate::fields::cursor())),
                );
        }
        if let Some(what) = def.searched {
            op = op.parameter(
                ParameterBuilder::new()
                    .name("q")
                    .parameter_in(ParameterIn::Query)
                    .description(Some(what))
                    .schema(Some(crate::fields::search())),
            );
        }
        for (name, description, schema) in &def.query {
            op = op.parameter(
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::True)
                    .description(Some(*description))
                    .schema(Some(schema())),
            );
        }
        if def.deprecated {
            op = op.deprecated(Some(utoipa::openapi::Deprecated::True));
        }
        if matches!(
            def.guard,
            Guard::Workspace(_) | Guard::WorkspaceAndViews(_) | Guard::AuditLog
        ) {
            op = op.parameter(
                ParameterBuilder::new()
                    .name("X-Workspace-Id")
                    .parameter_in(ParameterIn::Header)
                    .description(Some(
                        "The workspace to act in (default: the session's active workspace)",
                    ))
                    .schema(Some(
                        <flowspace_core::ids::ItemId as PartialSchema>::schema(),
                    )),
            );
        }
        if !def.guard.is_public() {
            op = op.security(SecurityRequirement::new("bearer", Vec::<String>::new()));
            let who = match def.guard {
                Guard::SignedIn => "Signed in.".to_string(),
                Guard::Enrolling => "Signed in (also while the organization still requires you to set up two-factor sign-in).".to_string(),
                Guard::OrgMember => "A member of the active organization.".to_string(),
                Guard::AccountAdmin => {
                    "An owner or admin of the active organization (Account Admin).".to_string()
                }
                Guard::Owner => "An owner of the active organization.".to_string(),
                Guard::InstanceAdmin => "The instance admin only.".to_string(),
                Guard::OrgCreator => "The instance admin (or anyone signed in when `ALLOW_ORGANIZATION_CREATION=any`).".to_string(),
                Guard::Workspace(p) => format!("Needs `{p}` in the active workspace."),
                Guard::WorkspaceAndViews(p) => format!(
                    "Needs `{p}` in the active workspace; shows of other workspaces only what the caller may view there."
                ),
                Guard::PathWorkspace(p) => format!("Needs `{p}` in the workspace `{{id}}`."),
                Guard::BodyWorkspace(p) => {
                    format!("Needs `{p}` in the workspace the body's `workspaceId` names.")
                }
                Guard::InvitationWorkspace(p) => {
                    format!("Needs `{p}` in the invitation's workspace.")
                }
                Guard::EachWorkspace(p) => {
                    format!("Signed in; covers the workspaces where the caller holds `{p}`.")
                }
                Guard::AuditLog => "Account Admin (the whole organization), or `auditLogs:view` (the active workspace).".to_string(),
                Guard::MetricsToken => "The metrics token (METRICS_TOKEN).".to_string(),
                Guard::Open | Guard::Public => String::new(),
            };
            op = op.description(Some(who));
        }
        paths.add_path_operation(
            format!("{}{}", crate::API_PREFIX, def.path),
            vec![method(&def.method)],
            op.build(),
        );
    }
    let mut components = ComponentsBuilder::new().security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "An access token from /auth/login, or a workspace API key (fsk_...)",
                ))
                .build(),
        ),
    );
    for (name, schema) in comps {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Flowspace API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("Multi-tenant control plane for AI-flow platforms: workspaces, roles, isolated resources."))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

//! Users (rule 10): login lookup, and the Account Admin's user management.

use crate::audit::{AuditContext, AuditEvent, changes, insert_audit};
use crate::invitations::Invitation;
use crate::types::{Ts, ts};
use crate::{Store, db_err, unique_or, with_db};
use flowspace_core::authz::{AdminScope, OrgScope};
use flowspace_core::cursor::{Cursor, Page, PageRequest, Search};
use flowspace_core::ids::{OrganizationId, RoleId, UserId, WorkspaceId};
use flowspace_core::model::{OrgRole, User, UserDetail, UserStatus, WorkspaceRole};
use flowspace_core::permissions::BuiltinRole;
use flowspace_core::rules::{self, MemberChange, normalize_email};
use flowspace_core::time::Timestamp;
use flowspace_core::{DomainError, DomainResult};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// The columns of `USER_SELECT` (`u` the user's row, `m` the membership), for a query that
/// joins the two its own way.
macro_rules! user_columns {
    () => {
        "SELECT u.id, m.organization_id, u.email,
        CASE WHEN m.status = 'invited' THEN u.email ELSE u.name END AS name,
        m.status, u.password_hash,
        CASE WHEN m.status = 'invited' THEN NULL ELSE u.last_login_at END AS last_login_at,
        CASE WHEN m.status = 'invited' THEN m.created_at ELSE u.created_at END AS created_at,
        CASE WHEN m.status = 'invited' THEN m.updated_at ELSE u.updated_at END AS updated_at,
        COALESCE(m.last_workspace_id, u.last_workspace_id) AS last_workspace_id, m.role AS org_role,
        m.created_at AS joined_at"
    };
}

/// Users as an organization sees them: its members, with their status and role there. Filter
/// with `m.organization_id`. An invited member is shown as the invitation made them (named by
/// their email, never signed in, created when invited), whether or not the email has an
/// account elsewhere: the invitation reveals nothing of that account (rule 17). `joined_at` is
/// when they joined (or were invited to) the organization: the order of its Users list.
pub(crate) const USER_SELECT: &str = concat!(
    user_columns!(),
    "\n    FROM users u JOIN org_members m ON m.user_id = u.id"
);

/// An account as itself, seen from no organization (sign-in, profile): its status is the
/// account's (`users.status`) until `account_status` reads its memberships.
const ACCOUNT_SELECT: &str =
    "SELECT u.id, CAST(NULL AS uuid) AS organization_id, u.email, u.name, u.status, u.password_hash,
        u.last_login_at, u.created_at, u.updated_at, u.last_workspace_id,
        CAST(NULL AS text) AS org_role
    FROM users u";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: Uuid,
    organization_id: Option<Uuid>,
    email: String,
    name: String,
    status: String,
    password_hash: Option<String>,
    last_login_at: Option<Ts>,
    created_at: Ts,
    updated_at: Ts,
    last_workspace_id: Option<Uuid>,
    org_role: Option<String>,
}

impl UserRow {
    pub(crate) fn into_user(self) -> User {
        let org_role = self.org_role.as_deref().and_then(OrgRole::parse);
        User {
            id: UserId(self.id),
            organization_id: self.organization_id.map(OrganizationId),
            email: self.email,
            name: self.name,
            status: UserStatus::parse(&self.status).unwrap_or(UserStatus::Disabled),
            is_account_admin: org_role.is_some_and(OrgRole::is_admin),
            org_role,
            last_login_at: ts(self.last_login_at),
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
        }
    }
}

/// What a login needs: the user and their password hash.
pub struct LoginRecord {
    pub user: User,
    pub password_hash: Option<String>,
    pub last_workspace_id: Option<WorkspaceId>,
}

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub password_hash: String,
}

/// The invitation `create_user` sends when the email's account belongs to other
/// organizations: its token's hash and expiry, made before the store is asked, so that both
/// ways do the same work.
pub struct UserInvite {
    pub token_hash: Vec<u8>,
    pub expires_at: Timestamp,
}

/// What `create_user` did.
pub enum CreatedUser {
    /// A new active account with the given password.
    Created(UserDetail),
    /// The email's account (of other organizations) is invited: the member, and the
    /// invitation to deliver.
    Invited(UserDetail, Box<Invitation>),
}

impl CreatedUser {
    /// The member as the organization sees them now.
    pub fn into_detail(self) -> UserDetail {
        match self {
            CreatedUser::Created(d) | CreatedUser::Invited(d, _) => d,
        }
    }
}

#[derive(Default)]
pub struct UserPatch {
    pub name: Option<String>,
    pub status: Option<UserStatus>,
}

/// SQLite: the most users whose name or email contains a search (in any organization, as the
/// trigram index `users_search` finds them) for which `page_users` reads the page from those
/// users; with more, it walks the organization's members in join order instead, which finds a
/// page of matches soon when that many users match (docs/benchmarks.md, "Searching users").
const SQLITE_MAX_CANDIDATES: i64 = 2000;

/// A membership as the Users page shows it (user, workspace id and name, role id and name),
/// with what the fallback order needs (is the workspace Default, since when).
type MembershipRow = (Uuid, Uuid, String, Uuid, String, bool, Ts);

/// Every workspace a user belongs to: directly, or only through a group (then with the group's
/// role there). Filter with `mm.user_id` or `mm.org_id`.
const MEMBERSHIP_SELECT: &str = "SELECT mm.user_id, mm.ws_id, mm.ws_name, mm.role_id, mm.role_name, mm.is_default, mm.since
    FROM (
        SELECT m.user_id AS user_id, w.id AS ws_id, w.name AS ws_name, r.id AS role_id, r.name AS role_name,
               w.is_default AS is_default, m.created_at AS since, w.organization_id AS org_id
        FROM memberships m JOIN workspaces w ON w.id = m.workspace_id JOIN roles r ON r.id = m.role_id
        UNION ALL
        SELECT gm.user_id, w.id, w.name, r.id, r.name, w.is_default, wg.created_at, w.organization_id
        FROM group_members gm JOIN workspace_groups wg ON wg.group_id = gm.group_id
        JOIN workspaces w ON w.id = wg.workspace_id JOIN roles r ON r.id = wg.role_id
        WHERE NOT EXISTS (SELECT 1 FROM memberships d WHERE d.workspace_id = w.id AND d.user_id = gm.user_id)
    ) mm";

/// One row per (user, workspace): a user in several groups of one workspace is listed once.
fn distinct(rows: Vec<MembershipRow>) -> Vec<MembershipRow> {
    let mut seen = std::collections::HashSet::new();
    rows.into_iter()
        .filter(|m| seen.insert((m.0, m.1)))
        .collect()
}

/// `rows` (of any users, in order) by user, each user's in the same order, made `distinct`.
fn by_user(rows: Vec<MembershipRow>) -> HashMap<Uuid, Vec<MembershipRow>> {
    let mut by_user: HashMap<Uuid, Vec<MembershipRow>> = HashMap::new();
    for m in distinct(rows) {
        by_user.entry(m.0).or_default().push(m);
    }
    by_user
}

fn workspace_role(m: MembershipRow) -> WorkspaceRole {
    WorkspaceRole {
        workspace_id: WorkspaceId(m.1),
        workspace_name: m.2,
        role_id: RoleId(m.3),
        role_name: m.4,
    }
}

/// The workspace a user acts in when a request names none (rule 10's "active workspace"): the
/// one they used last while they still belong to it, else the one a session falls back to
/// (Default first, then the oldest membership: `Store::fallback_workspace`). Never a workspace
/// they were unlinked from.
fn active_workspace(last: Option<Uuid>, memberships: &[MembershipRow]) -> Option<WorkspaceId> {
    if let Some(last) = last
        && memberships.iter().any(|m| m.1 == last)
    {
        return Some(WorkspaceId(last));
    }
    memberships
        .iter()
        .min_by_key(|m| (!m.5, m.6.0, m.1))
        .map(|m| WorkspaceId(m.1))
}

fn detail(row: UserRow, memberships: Vec<MembershipRow>) -> UserDetail {
    let active = active_workspace(row.last_workspace_id, &memberships);
    UserDetail {
        user: row.into_user(),
        workspaces: memberships.into_iter().map(workspace_role).collect(),
        active_workspace_id: active,
    }
}

/// The member `id` of the scope's organization as the transaction `tx` (of either backend)
/// sees them, 404 when there is none, with the number of the organization's active owners.
/// The user's row, then the organization's, are written (unchanged) first: on SQLite that
/// takes the write lock at once (a read-then-write transaction fails when another writer
/// commits in between); on PostgreSQL it locks them in the order every write of a user takes
/// them (the user's row, then the organization's, which the audit trail takes: "Lock order on
/// PostgreSQL" in docs/architecture.md), and holding the organization's row serializes every change of its
/// members, so that two owners demoting each other at once cannot leave it without one (rule
/// 18): the second counts the owners after the first has committed.
pub(crate) async fn lock_member<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    org: OrganizationId,
    id: UserId,
) -> DomainResult<(User, i64)>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'r> UserRow: sqlx::FromRow<'r, DB::Row>,
    for<'r> (i64,): sqlx::FromRow<'r, DB::Row>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    // Neither `name` nor `updated_at` is a column the authorization triggers watch: these
    // bump no version.
    sqlx::query("UPDATE users SET name = name WHERE id = $1")
        .bind(id.0)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    sqlx::query("UPDATE organizations SET updated_at = updated_at WHERE id = $1")
        .bind(org.0)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    let sql = format!("{USER_SELECT} WHERE u.id = $1 AND m.organization_id = $2");
    let row: Option<UserRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id.0)
        .bind(org.0)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_err)?;
    let user = row
        .map(UserRow::into_user)
        .ok_or(DomainError::NotFound("user"))?;
    let (owners,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM org_members WHERE organization_id = $1 AND role = 'owner' AND status = 'active'",
    )
    .bind(org.0)
    .fetch_one(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok((user, owners))
}

/// The role a member holds (`Member` for one read without one: never the case in an
/// organization's view).
fn role_of(user: &User) -> OrgRole {
    user.org_role.unwrap_or(OrgRole::Member)
}

/// The audit event of a patch: what changed of name and status, and whose account it is.
fn update_event(current: &User, patch: &UserPatch) -> AuditEvent {
    let mut summary = changes(&[
        (
            "name",
            json!(current.name),
            json!(patch.name.as_ref().unwrap_or(&current.name)),
        ),
        (
            "status",
            json!(current.status.as_str()),
            json!(patch.status.unwrap_or(current.status).as_str()),
        ),
    ]);
    summary.insert("email".into(), json!(current.email));
    AuditEvent {
        workspace: None,
        action: "user.update",
        target_kind: "user",
        target_id: Some(current.id.0),
        summary: summary.into(),
    }
}

fn email_taken() -> DomainError {
    DomainError::conflict("email_taken", "a user with this email already exists")
}

impl Store {
    /// The account with this email (compared case-insensitively), for sign-in: its status is
    /// what `rules::account_status` makes of its memberships (disabled in every organization
    /// it belongs to: disabled).
    pub async fn find_login(&self, email: &str) -> DomainResult<Option<LoginRecord>> {
        let key = normalize_email(email);
        let sql = format!("{ACCOUNT_SELECT} WHERE u.email_key = $1");
        let row: Option<UserRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(&key).fetch_optional(pool).await.map_err(db_err)?
        });
        let Some(row) = row else {
            return Ok(None);
        };
        let password_hash = row.password_hash.clone();
        let last_workspace_id = row.last_workspace_id.map(WorkspaceId);
        let user = self.as_account(row.into_user()).await?;
        Ok(Some(LoginRecord {
            user,
            password_hash,
            last_workspace_id,
        }))
    }

    /// The account `id` as itself (no organization), with the status of `find_login`.
    pub async fn user(&self, id: UserId) -> DomainResult<User> {
        let sql = format!("{ACCOUNT_SELECT} WHERE u.id = $1");
        let row: Option<UserRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id.0).fetch_optional(pool).await.map_err(db_err)?
        });
        let user = row
            .map(UserRow::into_user)
            .ok_or(DomainError::NotFound("user"))?;
        self.as_account(user).await
    }

    /// `user` (read from `ACCOUNT_SELECT`) with the status its memberships give the account.
    async fn as_account(&self, mut user: User) -> DomainResult<User> {
        let statuses: Vec<(String,)> = with_db!(self, pool => {
            sqlx::query_as("SELECT status FROM org_members WHERE user_id = $1")
                .bind(user.id.0).fetch_all(pool).await.map_err(db_err)?
        });
        let statuses: Vec<UserStatus> = statuses
            .iter()
            .filter_map(|(s,)| UserStatus::parse(s))
            .collect();
        user.status = rules::account_status(user.status != UserStatus::Invited, &statuses);
        Ok(user)
    }

    /// The member `id` of the scope's organization.
    pub async fn member(&self, scope: &OrgScope, id: UserId) -> DomainResult<User> {
        self.user_in_org(scope.organization(), id).await
    }

    /// The member `id` of `org`, as the organization sees them (for a caller the authorization
    /// layer already placed there).
    pub(crate) async fn user_in_org(&self, org: OrganizationId, id: UserId) -> DomainResult<User> {
        let sql = format!("{USER_SELECT} WHERE u.id = $1 AND m.organization_id = $2");
        let row: Option<UserRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id.0).bind(org.0)
                .fetch_optional(pool).await.map_err(db_err)?
        });
        row.map(UserRow::into_user)
            .ok_or(DomainError::NotFound("user"))
    }

    pub async fn record_login(&self, id: UserId) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            sqlx::query("UPDATE users SET last_login_at = $1 WHERE id = $2")
                .bind(now).bind(id.0).execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }

    /// Replaces the stored hash (a legacy bcrypt hash upgraded to Argon2id at login).
    pub async fn set_password_hash(&self, id: UserId, hash: &str) -> DomainResult<()> {
        let now = Ts(Timestamp::now());
        with_db!(self, pool => {
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(hash).bind(now).bind(id.0).execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }

    /// Every workspace of `org` the user belongs to, with the role there, by workspace name.
    pub async fn workspace_roles(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> DomainResult<Vec<WorkspaceRole>> {
        Ok(self
            .memberships_in(org, user)
            .await?
            .into_iter()
            .map(workspace_role)
            .collect())
    }

    async fn memberships_in(
        &self,
        org: OrganizationId,
        user: UserId,
    ) -> DomainResult<Vec<MembershipRow>> {
        let sql = format!(
            "{MEMBERSHIP_SELECT} WHERE mm.user_id = $1 AND mm.org_id = $2 ORDER BY mm.is_default DESC, mm.ws_name, mm.since"
        );
        Ok(distinct(with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(user.0).bind(org.0).fetch_all(pool).await.map_err(db_err)?
        })))
    }

    pub async fn list_users(&self, scope: &AdminScope) -> DomainResult<Vec<UserDetail>> {
        let sql = format!("{USER_SELECT} WHERE m.organization_id = $1 ORDER BY u.created_at, u.id");
        let ms_sql = format!(
            "{MEMBERSHIP_SELECT} WHERE mm.org_id = $1 ORDER BY mm.is_default DESC, mm.ws_name, mm.since"
        );
        let (rows, memberships): (Vec<UserRow>, Vec<MembershipRow>) = with_db!(self, pool => {
            let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(scope.organization().0).fetch_all(pool).await.map_err(db_err)?;
            let ms = sqlx::query_as(sqlx::AssertSqlSafe(ms_sql.as_str()))
                .bind(scope.organization().0).fetch_all(pool).await.map_err(db_err)?;
            (rows, ms)
        });
        let mut grouped = by_user(memberships);
        Ok(rows
            .into_iter()
            .map(|r| {
                let ms = grouped.remove(&r.id).unwrap_or_default();
                detail(r, ms)
            })
            .collect())
    }

    /// One page of the organization's users (`GET /users`) in the order they joined it (or
    /// were invited to it), those whose name or email contains the search: a keyset page in
    /// SQL, the search a `LIKE` with its wildcards escaped, on both backends, over the keys
    /// lower-cased by Rust. The order is `org_members`' own (`org_members_joined`), so the
    /// first page reads 51 entries of that index rather than sorting every member of the
    /// organization. The user pickers of the dashboard page through this too.
    ///
    /// A search of 3 characters or more is served by a trigram index (migration
    /// `20261207000028_users_search`), so that one few users match does not read every member:
    /// on PostgreSQL the GIN `pg_trgm` indexes on the keys, which the planner picks when it
    /// expects few matches (the statement is planned with its text each time, never as a
    /// generic plan blind to it); on SQLite the FTS5 table `users_search`, asked first how many
    /// users (of any organization) contain the text: up to `SQLITE_MAX_CANDIDATES`, the page is
    /// read from those users, else by the walk in join order, which meets a page of matches
    /// soon when that many match. Either way the `LIKE` is the filter and the index only
    /// narrows: the same rows, order and cursors as the walk. A search of 1 or 2 characters
    /// holds no trigram, so it walks the members in join order (reading them all when few
    /// match).
    #[tracing::instrument(skip_all)]
    pub async fn page_users(
        &self,
        scope: &AdminScope,
        search: &Search,
        page: PageRequest,
    ) -> DomainResult<Page<UserDetail>> {
        /// A user and when they joined the organization (the page's key).
        #[derive(sqlx::FromRow)]
        struct Joined {
            #[sqlx(flatten)]
            user: UserRow,
            joined_at: Ts,
        }
        /// Which of the organization's members a page holds, in which order.
        const PAGE: &str = "m.organization_id = $1
               AND ($2 IS NULL OR u.email_key LIKE $2 ESCAPE '\\'
                    OR (m.status <> 'invited' AND u.name_key LIKE $2 ESCAPE '\\'))
               AND ($3 IS NULL OR m.created_at > $3 OR (m.created_at = $3 AND m.user_id > $4))
             ORDER BY m.created_at, m.user_id LIMIT $5";
        let walk = format!("{USER_SELECT} WHERE {PAGE}");
        let (after_t, after_id) = match page.after {
            Some(c) => (Some(Ts(c.created_at)), Some(c.id)),
            None => (None, None),
        };
        let org = scope.organization();
        let like = search.like_pattern();
        let limit = i64::from(page.limit) + 1;
        let rows: Vec<Joined> = match &self.db {
            crate::Db::Postgres(pool) => sqlx::query_as(sqlx::AssertSqlSafe(walk.as_str()))
                .persistent(like.is_none())
                .bind(org.0)
                .bind(&like)
                .bind(after_t)
                .bind(after_id)
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(db_err)?,
            crate::Db::Sqlite(pool) => {
                let phrase = match search.trigram_phrase() {
                    Some(phrase) => {
                        let found: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM (SELECT 1 FROM users_search WHERE users_search MATCH $1 LIMIT $2)",
                        )
                        .bind(&phrase)
                        .bind(SQLITE_MAX_CANDIDATES + 1)
                        .fetch_one(pool)
                        .await
                        .map_err(db_err)?;
                        (found <= SQLITE_MAX_CANDIDATES).then_some(phrase)
                    }
                    None => None,
                };
                // The candidates first, then their memberships here (CROSS JOIN keeps that
                // order: SQLite would otherwise walk `org_members_joined` for the ORDER BY).
                let from_candidates = format!(
                    "WITH found (user_id) AS MATERIALIZED (
                         SELECT k.user_id FROM users_search s CROSS JOIN users_search_keys k
                         WHERE users_search MATCH $6 AND k.id = s.rowid)
                     {} FROM found f CROSS JOIN org_members m CROSS JOIN users u
                     WHERE m.user_id = f.user_id AND u.id = m.user_id AND {PAGE}",
                    user_columns!()
                );
                let sql = if phrase.is_some() {
                    &from_candidates
                } else {
                    &walk
                };
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(org.0)
                    .bind(&like)
                    .bind(after_t)
                    .bind(after_id)
                    .bind(limit);
                if let Some(phrase) = &phrase {
                    query = query.bind(phrase);
                }
                query.fetch_all(pool).await.map_err(db_err)?
            }
        };
        let page = Page::from_rows(rows, page.limit, |r| Cursor {
            created_at: r.joined_at.0,
            id: r.user.id,
        })
        .map(|r| r.user);
        let ids: Vec<Uuid> = page.items.iter().map(|r| r.id).collect();
        let mut memberships = self.memberships_of(org, &ids).await?;
        Ok(page.map(|row| {
            let ms = memberships.remove(&row.id).unwrap_or_default();
            detail(row, ms)
        }))
    }

    /// The memberships in `org` of each of `users` (one query), each user's in the order of
    /// `memberships_in`.
    async fn memberships_of(
        &self,
        org: OrganizationId,
        users: &[Uuid],
    ) -> DomainResult<HashMap<Uuid, Vec<MembershipRow>>> {
        if users.is_empty() {
            return Ok(HashMap::new());
        }
        // `$2, $3, ...`: one placeholder per user (a page holds at most MAX_LIMIT + 1).
        let list: Vec<String> = (2..users.len() + 2).map(|i| format!("${i}")).collect();
        let sql = format!(
            "{MEMBERSHIP_SELECT} WHERE mm.org_id = $1 AND mm.user_id IN ({})
             ORDER BY mm.is_default DESC, mm.ws_name, mm.since",
            list.join(", ")
        );
        let rows: Vec<MembershipRow> = with_db!(self, pool => {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(org.0);
            for id in users {
                query = query.bind(*id);
            }
            query.fetch_all(pool).await.map_err(db_err)?
        });
        Ok(by_user(rows))
    }

    pub async fn user_detail(&self, scope: &AdminScope, id: UserId) -> DomainResult<UserDetail> {
        let sql = format!("{USER_SELECT} WHERE u.id = $1 AND m.organization_id = $2");
        let row: Option<UserRow> = with_db!(self, pool => {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(id.0).bind(scope.organization().0)
                .fetch_optional(pool).await.map_err(db_err)?
        });
        let row = row.ok_or(DomainError::NotFound("user"))?;
        Ok(detail(
            row,
            self.memberships_in(scope.organization(), id).await?,
        ))
    }

    /// The workspaces of the organization where the user is a member of their own (a
    /// membership that can be changed or unlinked), as opposed to only through a group.
    #[tracing::instrument(skip_all)]
    pub async fn direct_workspaces(
        &self,
        scope: &AdminScope,
        id: UserId,
    ) -> DomainResult<Vec<WorkspaceId>> {
        let rows: Vec<(Uuid,)> = with_db!(self, pool => {
            sqlx::query_as(
                "SELECT m.workspace_id FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
                 WHERE m.user_id = $1 AND w.organization_id = $2")
                .bind(id.0).bind(scope.organization().0).fetch_all(pool).await.map_err(db_err)?
        });
        Ok(rows.into_iter().map(|(w,)| WorkspaceId(w)).collect())
    }

    /// Creates an active user with a password and no workspace membership (rule 10), a
    /// member of the scope's organization. An email of a member here is refused (409
    /// `email_taken`). An email whose account belongs to other organizations only is invited,
    /// the way `invite` invites it (rule 17: nothing tells the two apart but the member's
    /// status): an invited member here, with an invitation into the Default workspace as
    /// Viewer whose token hashes to `invite.token_hash`; the account, its password and its
    /// other organizations are untouched. Both ways insert one member row and one audit event.
    pub async fn create_user(
        &self,
        scope: &AdminScope,
        new: NewUser,
        invite: UserInvite,
    ) -> DomainResult<CreatedUser> {
        let new_id = UserId::new();
        let invitation_id = Uuid::now_v7();
        let now = Ts(Timestamp::now());
        let ctx = AuditContext::from_admin(scope);
        let org = scope.organization();
        let key = normalize_email(&new.email);
        let invited: Option<UserId> = with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            // Write first, so that SQLite takes its write lock at once (a read-then-write
            // transaction fails when another writer commits in between).
            sqlx::query("UPDATE organizations SET name = name WHERE id = $1")
                .bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
            let existing: Option<(Uuid, Option<String>)> = sqlx::query_as(
                "SELECT u.id, m.status FROM users u
                 LEFT JOIN org_members m ON m.user_id = u.id AND m.organization_id = $2
                 WHERE u.email_key = $1")
                .bind(&key).bind(org.0).fetch_optional(&mut *tx).await.map_err(db_err)?;
            let invited = match existing {
                Some((_, Some(_))) => return Err(email_taken()),
                Some((id, None)) => Some(UserId(id)),
                None => None,
            };
            let (user, status, ev) = match invited {
                None => {
                    sqlx::query("INSERT INTO users (id, email, email_key, name, name_key, password_hash, status, created_at, updated_at)
                                 VALUES ($1, $2, $3, $4, $7, $5, 'active', $6, $6)")
                        .bind(new_id.0).bind(&new.email).bind(&key)
                        .bind(&new.name).bind(&new.password_hash).bind(now).bind(new.name.to_lowercase())
                        .execute(&mut *tx).await.map_err(|e| unique_or(e, email_taken()))?;
                    let ev = AuditEvent {
                        workspace: None,
                        action: "user.create",
                        target_kind: "user",
                        target_id: Some(new_id.0),
                        summary: json!({"email": new.email, "name": new.name}),
                    };
                    (new_id, "active", ev)
                }
                Some(user) => {
                    let (ws, role): (Uuid, Uuid) = sqlx::query_as(
                        "SELECT w.id, r.id FROM workspaces w JOIN roles r ON r.organization_id = w.organization_id
                         WHERE w.organization_id = $1 AND w.is_default AND r.builtin AND r.name = $2")
                        .bind(org.0).bind(BuiltinRole::Viewer.name())
                        .fetch_one(&mut *tx).await.map_err(db_err)?;
                    sqlx::query("INSERT INTO invitations (id, organization_id, workspace_id, user_id, email, role_id, token_hash,
                                     invited_by, created_at, expires_at)
                                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                        .bind(invitation_id).bind(org.0).bind(ws).bind(user.0).bind(&new.email).bind(role)
                        .bind(invite.token_hash.as_slice()).bind(scope.user_id().0).bind(now).bind(Ts(invite.expires_at))
                        .execute(&mut *tx).await.map_err(db_err)?;
                    let ev = AuditEvent {
                        workspace: Some(WorkspaceId(ws)),
                        action: "invitation.create",
                        target_kind: "invitation",
                        target_id: Some(invitation_id),
                        summary: json!({"email": new.email, "roleId": role.to_string()}),
                    };
                    (user, "invited", ev)
                }
            };
            sqlx::query("INSERT INTO org_members (organization_id, user_id, role, status, created_at, updated_at)
                         VALUES ($1, $2, 'member', $3, $4, $4)")
                .bind(org.0).bind(user.0).bind(status).bind(now)
                .execute(&mut *tx).await.map_err(db_err)?;
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
            invited
        });
        Ok(match invited {
            None => CreatedUser::Created(self.user_detail(scope, new_id).await?),
            Some(user) => CreatedUser::Invited(
                self.user_detail(scope, user).await?,
                Box::new(self.invitation_in(org, invitation_id).await?),
            ),
        })
    }

    /// Changes name and status, as `rules::check_member_change` allows from the member read
    /// in this transaction (the last active owner is never disabled, only owners touch owners,
    /// nobody is set back to `invited`). The status is the member's in this organization only.
    /// Disabling someone who is then active in no organization ends their sessions.
    pub async fn patch_user(
        &self,
        scope: &AdminScope,
        id: UserId,
        patch: UserPatch,
    ) -> DomainResult<UserDetail> {
        let now = Ts(Timestamp::now());
        let ctx = AuditContext::from_admin(scope);
        let org = scope.organization();
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let (current, owners) = lock_member(&mut tx, org, id).await?;
            if let Some(status) = patch.status {
                rules::check_member_change(scope.role(), role_of(&current), current.status, MemberChange::Status(status), owners)?;
            }
            if let Some(name) = &patch.name {
                let elsewhere: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM org_members WHERE user_id = $1 AND organization_id <> $2")
                    .bind(id.0).bind(org.0).fetch_one(&mut *tx).await.map_err(db_err)?;
                if name != &current.name {
                    rules::check_name_change(current.status, elsewhere)?;
                }
                sqlx::query("UPDATE users SET name = $1, name_key = $4, updated_at = $2 WHERE id = $3")
                    .bind(name).bind(now).bind(id.0).bind(name.to_lowercase()).execute(&mut *tx).await.map_err(db_err)?;
            }
            if let Some(status) = patch.status {
                sqlx::query("UPDATE org_members SET status = $1, updated_at = $2 WHERE user_id = $3 AND organization_id = $4")
                    .bind(status.as_str()).bind(now).bind(id.0).bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
                if status == UserStatus::Disabled {
                    end_sessions_if_nowhere_active(&mut tx, id, now).await?;
                }
            }
            insert_audit(&mut tx, &ctx, &update_event(&current, &patch)).await?;
            tx.commit().await.map_err(db_err)?;
        });
        self.user_detail(scope, id).await
    }

    /// Signs a member out everywhere without disabling them (`POST /users/{id}/sign-out`), as
    /// `rules::check_member_change` allows (only owners sign owners out): every session of the
    /// account ends, whichever organization it is in, since any of them could come back into
    /// this one. Audited with how many ended; answers that count.
    pub async fn sign_out_member(&self, scope: &AdminScope, id: UserId) -> DomainResult<u64> {
        let now = Ts(Timestamp::now());
        let ctx = AuditContext::from_admin(scope);
        let org = scope.organization();
        Ok(with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let (current, owners) = lock_member(&mut tx, org, id).await?;
            rules::check_member_change(scope.role(), role_of(&current), current.status, MemberChange::SignOut, owners)?;
            let n = sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                .bind(now).bind(id.0).execute(&mut *tx).await.map_err(db_err)?.rows_affected();
            let ev = AuditEvent {
                workspace: None,
                action: "user.sign-out",
                target_kind: "user",
                target_id: Some(id.0),
                summary: json!({"email": current.email, "sessions": n}),
            };
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
            n
        }))
    }

    /// Sets a member's organization role (`PATCH /organization/members/{id}`), as
    /// `rules::check_member_change` allows: only owners make or unmake owners, and the last
    /// active owner keeps the role. Ownership is handed over by making another member owner.
    pub async fn set_member_role(
        &self,
        scope: &AdminScope,
        id: UserId,
        role: OrgRole,
    ) -> DomainResult<User> {
        let now = Ts(Timestamp::now());
        let ctx = AuditContext::from_admin(scope);
        let org = scope.organization();
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let (current, owners) = lock_member(&mut tx, org, id).await?;
            let before = role_of(&current);
            rules::check_member_change(scope.role(), before, current.status, MemberChange::Role(role), owners)?;
            if before != role {
                sqlx::query("UPDATE org_members SET role = $1, updated_at = $2 WHERE user_id = $3 AND organization_id = $4")
                    .bind(role.as_str()).bind(now).bind(id.0).bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
                let mut summary = changes(&[("role", json!(before.as_str()), json!(role.as_str()))]);
                summary.insert("email".into(), json!(current.email));
                let ev = AuditEvent {
                    workspace: None,
                    action: "member.role",
                    target_kind: "user",
                    target_id: Some(id.0),
                    summary: summary.into(),
                };
                insert_audit(&mut tx, &ctx, &ev).await?;
            }
            tx.commit().await.map_err(db_err)?;
        });
        self.member(scope.org(), id).await
    }

    /// Removes a member from the organization (`DELETE /users/{id}`, `DELETE
    /// /organization/members/{id}`), as `rules::check_member_change` allows: their workspace
    /// and group memberships, open invitations and API keys there go; the account itself is
    /// deleted when it belongs to no other organization. The items they made stay.
    pub async fn delete_user(&self, scope: &AdminScope, id: UserId) -> DomainResult<()> {
        let ctx = AuditContext::from_admin(scope);
        let org = scope.organization();
        with_db!(self, pool => {
            let _turn = self.write_turn().await;
            let mut tx = pool.begin().await.map_err(db_err)?;
            let (current, owners) = lock_member(&mut tx, org, id).await?;
            rules::check_member_change(scope.role(), role_of(&current), current.status, MemberChange::Remove, owners)?;
            sqlx::query("DELETE FROM memberships WHERE user_id = $1 AND workspace_id IN (SELECT id FROM workspaces WHERE organization_id = $2)")
                .bind(id.0).bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
            sqlx::query("DELETE FROM group_members WHERE user_id = $1 AND group_id IN (SELECT id FROM groups WHERE organization_id = $2)")
                .bind(id.0).bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
            sqlx::query("DELETE FROM invitations WHERE user_id = $1 AND organization_id = $2")
                .bind(id.0).bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
            sqlx::query("DELETE FROM api_keys WHERE created_by = $1 AND organization_id = $2")
                .bind(id.0).bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
            sqlx::query("DELETE FROM org_members WHERE user_id = $1 AND organization_id = $2")
                .bind(id.0).bind(org.0).execute(&mut *tx).await.map_err(db_err)?;
            sqlx::query("DELETE FROM users WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM org_members WHERE user_id = $1)")
                .bind(id.0).execute(&mut *tx).await.map_err(db_err)?;
            let ev = AuditEvent {
                workspace: None,
                action: "user.delete",
                target_kind: "user",
                target_id: Some(id.0),
                summary: json!({"email": current.email, "name": current.name}),
            };
            insert_audit(&mut tx, &ctx, &ev).await?;
            tx.commit().await.map_err(db_err)?;
        });
        Ok(())
    }

    /// Remembers the workspace the user used last (the fallback of the active workspace).
    pub async fn set_last_workspace(&self, user: UserId, ws: WorkspaceId) -> DomainResult<()> {
        with_db!(self, pool => {
            sqlx::query("UPDATE users SET last_workspace_id = $1 WHERE id = $2")
                .bind(ws.0).bind(user.0).execute(pool).await.map_err(db_err)?;
        });
        Ok(())
    }
}

/// Ends the sessions of `user` if they are now an active member of no organization (disabled
/// everywhere they belong: rule 10's "their sessions stop working").
async fn end_sessions_if_nowhere_active<DB>(
    tx: &mut sqlx::Transaction<'_, DB>,
    user: UserId,
    now: Ts,
) -> DomainResult<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Ts: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM org_members WHERE user_id = $2 AND status = 'active')",
    )
    .bind(now)
    .bind(user.0)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// The tables whose `name` has a `name_key` (the name lower-cased by Rust, which `q`
/// searches): `users` (migration `..._user_name_key.sql`), and organizations, workspace items,
/// credentials and API keys (`..._name_keys.sql`).
const NAME_KEYED: [&str; 5] = ["users", "organizations", "items", "credentials", "api_keys"];

/// The key `q` searches a name by: the name lower-cased by Rust, alike on both backends.
pub(crate) fn name_key(name: &str) -> String {
    name.to_lowercase()
}

impl Store {
    /// Fills `name_key` where it is NULL in each table of `NAME_KEYED`: the rows written
    /// before the column existed. Run when the store connects; a row whose name changed
    /// meanwhile is left to the write that changed it. In batches of `FILL_BATCH` rows, each
    /// its own transaction, so that a large installation's first start holds the write lock
    /// (and, on PostgreSQL, the organization rows the item triggers lock) a batch at a time
    /// and keeps what it filled if it is stopped halfway.
    pub(crate) async fn fill_name_keys(&self) -> DomainResult<()> {
        const FILL_BATCH: i64 = 1_000;
        for table in NAME_KEYED {
            let select = format!(
                "SELECT id, name FROM {table} WHERE name_key IS NULL AND ($1 IS NULL OR id > $1)
                 ORDER BY id LIMIT $2"
            );
            let update = format!(
                "UPDATE {table} SET name_key = $1 WHERE id = $2 AND name = $3 AND name_key IS NULL"
            );
            let mut after: Option<Uuid> = None;
            loop {
                let filled = with_db!(self, pool => {
                    let rows: Vec<(Uuid, String)> =
                        sqlx::query_as(sqlx::AssertSqlSafe(select.as_str()))
                            .bind(after).bind(FILL_BATCH)
                            .fetch_all(pool).await.map_err(db_err)?;
                    if let Some((last, _)) = rows.last() {
                        after = Some(*last);
                        let _turn = self.write_turn().await;
                        let mut tx = pool.begin().await.map_err(db_err)?;
                        for (id, name) in &rows {
                            sqlx::query(sqlx::AssertSqlSafe(update.as_str()))
                                .bind(name_key(name)).bind(id).bind(name)
                                .execute(&mut *tx).await.map_err(db_err)?;
                        }
                        tx.commit().await.map_err(db_err)?;
                    }
                    rows.len()
                });
                if (filled as i64) < FILL_BATCH {
                    break;
                }
            }
            if after.is_some() {
                tracing::info!(table, "filled the search keys of older rows");
            }
        }
        Ok(())
    }
}

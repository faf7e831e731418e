//! Where a credential is used (`GET /credentials/{id}/usage`): the workspaces it reaches and
//! the items there whose data name it. The credential is read in the scope's workspace (not
//! found elsewhere); what lies beyond it is named only as the `ViewsScope` allows, the rest
//! counted.

use crate::{Store, db_err, with_db};
use flowspace_core::authz::{ViewsScope, WorkspaceScope};
use flowspace_core::ids::{ItemId, WorkspaceId};
use flowspace_core::model::{CredentialUsage, ItemRef, UsageWorkspace};
use flowspace_core::resource::ResourceKind;
use flowspace_core::{DomainResult, rules, transfer};
use uuid::Uuid;

/// An item that may name the credential: id, workspace, kind, name, data.
type UsageRow = (Uuid, Uuid, String, String, String);

/// The items of the kinds that can name a credential, in the credential's workspace ($2) and
/// those it is shared with, whose data hold the quoted id ($4: a coarse filter; the match is
/// `transfer::references`).
fn items_sql() -> String {
    let kinds = ResourceKind::USES_CREDENTIALS
        .iter()
        .map(|k| format!("'{}'", k.db_name()))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "SELECT i.id, i.workspace_id, i.kind, i.name, i.data FROM items i
         WHERE i.organization_id = $1
           AND (i.workspace_id = $2 OR i.workspace_id IN (SELECT s.workspace_id FROM credential_shares s WHERE s.credential_id = $3))
           AND i.kind IN ({kinds}) AND i.data LIKE $4
         ORDER BY i.name, i.id"
    )
}

impl Store {
    /// Where the credential `id`, visible in the scope's workspace, is used.
    #[tracing::instrument(skip_all)]
    pub async fn credential_usage(
        &self,
        scope: &WorkspaceScope,
        views: &ViewsScope,
        id: ItemId,
    ) -> DomainResult<CredentialUsage> {
        let credential = self.get_credential(scope, id).await?;
        let owner = credential.owner_workspace.clone();
        let org = scope.organization();
        let sql = items_sql();
        let (shares, rows): (Vec<(Uuid, String)>, Vec<UsageRow>) = with_db!(self, pool => {
            let shares = sqlx::query_as("SELECT w.id, w.name FROM credential_shares s JOIN workspaces w ON w.id = s.workspace_id
                                         WHERE s.credential_id = $1 AND w.organization_id = $2 ORDER BY w.name, w.id")
                .bind(id.0).bind(org.0).fetch_all(pool).await.map_err(db_err)?;
            let rows = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
                .bind(org.0).bind(owner.id.0).bind(id.0).bind(format!("%\"{id}\"%"))
                .fetch_all(pool).await.map_err(db_err)?;
            (shares, rows)
        });
        let mut workspaces = vec![UsageWorkspace {
            id: owner.id,
            name: owner.name,
            owner: true,
            items: Vec::new(),
            hidden_items: 0,
        }];
        workspaces.extend(shares.into_iter().map(|(w, name)| UsageWorkspace {
            id: WorkspaceId(w),
            name,
            owner: false,
            items: Vec::new(),
            hidden_items: 0,
        }));
        let (mut hidden_items, id_text) = (0u32, id.to_string());
        for (item, ws, kind, name, data) in rows {
            let (ws, Some(kind)) = (WorkspaceId(ws), ResourceKind::from_db_name(&kind)) else {
                continue;
            };
            let named = rules::usage_names(&credential, views, ws) && views.may_view(ws, kind);
            // Data that is not JSON names nothing (every write stores checked JSON).
            let data = serde_json::from_str(&data).unwrap_or(serde_json::Value::Null);
            if !transfer::references(&data, &id_text) {
                continue;
            }
            let Some(at) = workspaces.iter_mut().find(|w| w.id == ws) else {
                continue;
            };
            if named {
                at.items.push(ItemRef {
                    kind: kind.path().to_string(),
                    id: ItemId(item),
                    name,
                });
            } else {
                at.hidden_items += 1;
                hidden_items += 1;
            }
        }
        let before = workspaces.len();
        workspaces.retain(|w| rules::usage_names(&credential, views, w.id));
        Ok(CredentialUsage {
            credential_id: id,
            unnamed_workspaces: u32::try_from(before - workspaces.len()).unwrap_or(u32::MAX),
            workspaces,
            hidden_items,
        })
    }
}

//! The store's two per-process caches, and the one version query that keeps both honest.
//!
//! - **Authorization facts** (`authz.rs` loads them): each entry remembers the organization's
//!   authorization version it was read at, and is only given while that is still the current
//!   version. Triggers bump it in the same transaction as any write to what authorization
//!   reads (migration `..._auth_versions.sql`), so a revocation committed on any replica makes
//!   every replica's entry stale on its very next request (rule 3).
//! - **First pages of item lists**, and **single items**, as rendered: answered only while the
//!   workspace's items version (bumped in the same transaction as any write to its items,
//!   migration `..._item_versions.sql`) is the one they were read at.
//!
//! Both versions are read by one statement, `VERSIONS_SQL`, one primary-key read each (on
//! SQLite on the request's own thread, `inline.rs`). Checking a cached caller reads the items
//! version of their workspace alongside, and hands it on in the scope
//! (`WorkspaceScope::items_version`), so a list or an item answered from the cache costs that
//! one read.
//! See docs/architecture.md, "Caching authorization without weakening rule 3" and "Caching
//! lists".

use crate::authz::{KeyEntry, SessionFacts};
use crate::{Store, db_err, with_db};
use bytes::Bytes;
use flowspace_core::DomainResult;
use flowspace_core::authz::WorkspaceScope;
use flowspace_core::cursor::{Page, PageRequest, Search};
use flowspace_core::ids::{ItemId, OrganizationId, WorkspaceId};
use flowspace_core::model::Item;
use flowspace_core::resource::ResourceKind;
use quick_cache::sync::Cache;
use uuid::Uuid;

/// The authorization version of organization `$1` and the items version of workspace `$2`
/// (NULL when it has none or `$2` is NULL); no row when the organization has no version row.
/// Shared by the sqlx pools and the inline SQLite reader (which binds by these names).
pub(crate) const VERSIONS_SQL: &str =
    "SELECT a.version, (SELECT i.version FROM item_versions i WHERE i.workspace_id = $2)
     FROM auth_versions a WHERE a.organization_id = $1";

/// Facts read at an organization's authorization version.
#[derive(Clone)]
pub(crate) struct Versioned<T> {
    pub(crate) organization: OrganizationId,
    /// `None` when the organization has no version row: such facts are never cached.
    pub(crate) version: Option<i64>,
    pub(crate) facts: T,
}

/// (session, user, requested workspace).
pub(crate) type SessionKey = (Uuid, Uuid, Option<Uuid>);

/// A list's first page, unsearched: (workspace, kind, page size).
type ListKey = (WorkspaceId, ResourceKind, u32);

/// One item: (workspace, kind, id).
type ItemKey = (WorkspaceId, ResourceKind, ItemId);

/// A page or an item as rendered, and the workspace's items version it was read at.
#[derive(Clone)]
struct CachedPage {
    version: i64,
    body: Bytes,
}

/// Weighs a cached page or item by its size in bytes.
#[derive(Clone)]
struct PageWeight;

impl<K> quick_cache::Weighter<K, CachedPage> for PageWeight {
    fn weight(&self, _: &K, page: &CachedPage) -> u64 {
        page.body.len() as u64 + 64
    }
}

/// How a first page of items is rendered for the cache. A plain function, so that it cannot
/// depend on the request: every caller must render a page the same way.
pub type RenderPage = fn(Page<Item>) -> DomainResult<Bytes>;

/// How a single item is rendered for the cache (a plain function, as `RenderPage`).
pub type RenderItem = fn(Item) -> DomainResult<Bytes>;

/// What one cache answered: counted for the server's metrics, never read by the store.
#[derive(Clone, Debug)]
pub struct HitMiss {
    /// An entry was found and still current.
    pub hit: metrics::Counter,
    /// None was, or it was stale: the database was read.
    pub miss: metrics::Counter,
}

impl Default for HitMiss {
    fn default() -> Self {
        Self {
            hit: metrics::Counter::noop(),
            miss: metrics::Counter::noop(),
        }
    }
}

impl HitMiss {
    pub(crate) fn count(&self, hit: bool) {
        if hit { &self.hit } else { &self.miss }.increment(1);
    }
}

/// The counters of the store's caches (no-ops by default): handles registered once by whoever
/// owns the metrics recorder, so counting is one atomic add and the store holds no global.
#[derive(Clone, Debug, Default)]
pub struct CacheCounters {
    pub sessions: HitMiss,
    pub api_keys: HitMiss,
    pub lists: HitMiss,
    pub items: HitMiss,
}

/// The caches of one store (`None`: that cache is off).
pub(crate) struct Caches {
    /// Callers' facts by (session, user, requested workspace).
    pub(crate) sessions: Option<Cache<SessionKey, Versioned<SessionFacts>>>,
    /// API keys' facts by the key's hash.
    pub(crate) keys: Option<Cache<Vec<u8>, Versioned<KeyEntry>>>,
    lists: Option<Cache<ListKey, CachedPage, PageWeight>>,
    /// Single items by (workspace, kind, id), as many bytes again as the lists.
    items: Option<Cache<ItemKey, CachedPage, PageWeight>>,
    pub(crate) counters: CacheCounters,
}

impl Caches {
    pub(crate) fn new(authz_entries: usize, list_bytes: u64, counters: CacheCounters) -> Self {
        let on = authz_entries > 0;
        // About 50 KB per page (50 items with their flows).
        let pages = (list_bytes / 50_000).max(1) as usize;
        Self {
            sessions: on.then(|| Cache::new(authz_entries)),
            keys: on.then(|| Cache::new(authz_entries)),
            lists: (list_bytes > 0).then(|| Cache::with_weighter(pages, list_bytes, PageWeight)),
            // About 1 KB per item (one flow).
            items: (list_bytes > 0).then(|| {
                Cache::with_weighter((list_bytes / 1_000).max(1) as usize, list_bytes, PageWeight)
            }),
            counters,
        }
    }
}

/// Keeps freshly loaded facts, or forgets `key` when there are none or they carry no version.
pub(crate) fn remember<K, T>(cache: &Cache<K, Versioned<T>>, key: K, loaded: &Option<Versioned<T>>)
where
    K: Eq + std::hash::Hash + Clone,
    T: Clone,
{
    match loaded {
        Some(v) if v.version.is_some() => cache.insert(key, v.clone()),
        _ => {
            cache.remove(&key);
        }
    }
}

impl Store {
    /// The facts of a cache entry, with the items version of `ws` read alongside, if the
    /// organization's authorization version is still the one they were read at.
    pub(crate) async fn if_current<T>(
        &self,
        hit: Versioned<T>,
        ws: Option<WorkspaceId>,
    ) -> DomainResult<Option<(T, Option<i64>)>> {
        let (version, items) = self.versions(hit.organization, ws).await?;
        Ok((version.is_some() && version == hit.version).then_some((hit.facts, items)))
    }

    /// `VERSIONS_SQL`: the authorization version of `org` (`None` when it has no version row:
    /// nothing is cached then) and the items version of `ws`, in one round trip.
    async fn versions(
        &self,
        org: OrganizationId,
        ws: Option<WorkspaceId>,
    ) -> DomainResult<(Option<i64>, Option<i64>)> {
        let inline = self
            .inline
            .as_ref()
            .and_then(|r| r.versions(org.0, ws.map(|w| w.0)));
        let row: Option<(i64, Option<i64>)> = match inline {
            Some(row) => row,
            None => with_db!(self, pool => {
                sqlx::query_as(VERSIONS_SQL)
                    .bind(org.0).bind(ws.map(|w| w.0)).fetch_optional(pool).await.map_err(db_err)?
            }),
        };
        Ok(match row {
            Some((version, items)) => (Some(version), items),
            None => (None, None),
        })
    }

    /// One page of the scope's items of `kind` whose name contains `search`, newest first, as
    /// `render` renders it. A first page of the whole list (no search) is answered from the
    /// cache while the workspace's items version is the one it was read at. That version is
    /// read before the page (while authorizing, when the scope carries it), so a cached page is
    /// never older than its version says. A searched page is never cached nor answered from
    /// the cache (its key holds no search): it is read from the database each time.
    ///
    /// Its span is at `debug`: this is the read path of every list request, and an `info`
    /// span (made, its field formatted, entered on each poll and closed by the log's
    /// subscriber) cost about 4% of a cached list's instructions (docs/benchmarks.md).
    #[tracing::instrument(level = "debug", skip_all, fields(kind = kind.db_name()))]
    pub async fn list_items_rendered(
        &self,
        scope: &WorkspaceScope,
        kind: ResourceKind,
        search: &Search,
        page: PageRequest,
        render: RenderPage,
    ) -> DomainResult<Bytes> {
        let whole_first_page = page.after.is_none() && search.text().is_none();
        let Some(cache) = self.caches.lists.as_ref().filter(|_| whole_first_page) else {
            return render(self.search_items(scope, kind, search, page).await?);
        };
        let key: ListKey = (scope.workspace(), kind, page.limit);
        let version = self.items_version(scope).await?;
        let hit = cache.get(&key).filter(|hit| Some(hit.version) == version);
        self.caches.counters.lists.count(hit.is_some());
        if let Some(hit) = hit {
            return Ok(hit.body);
        }
        let body = render(self.list_items(scope, kind, page).await?)?;
        if let Some(version) = version {
            cache.insert(
                key,
                CachedPage {
                    version,
                    body: body.clone(),
                },
            );
        }
        Ok(body)
    }

    /// The workspace's items version: the one the authorization read with the scope, else
    /// read now (before the items it stands for are read).
    async fn items_version(&self, scope: &WorkspaceScope) -> DomainResult<Option<i64>> {
        Ok(match scope.items_version() {
            Some(v) => Some(v),
            None => {
                self.versions(scope.organization(), Some(scope.workspace()))
                    .await?
                    .1
            }
        })
    }

    /// The item `id` of `kind` in the scope's workspace, as `render` renders it: answered from
    /// the cache while the workspace's items version is the one it was read at, as a first
    /// page is (`list_items_rendered`): that version is read before the item, so a cached item
    /// is never older than its version says. Any write to the workspace's items (an update,
    /// a delete, a move out) bumps the version; who may read is decided before this, on every
    /// request, by the authorization that made `scope`. An item not found is not cached.
    #[tracing::instrument(level = "debug", skip_all, fields(kind = kind.db_name()))]
    pub async fn get_item_rendered(
        &self,
        scope: &WorkspaceScope,
        kind: ResourceKind,
        id: ItemId,
        render: RenderItem,
    ) -> DomainResult<Bytes> {
        let Some(cache) = self.caches.items.as_ref() else {
            return render(self.get_item(scope, kind, id).await?);
        };
        let key: ItemKey = (scope.workspace(), kind, id);
        let version = self.items_version(scope).await?;
        let hit = cache.get(&key).filter(|hit| Some(hit.version) == version);
        self.caches.counters.items.count(hit.is_some());
        if let Some(hit) = hit {
            return Ok(hit.body);
        }
        let body = render(self.get_item(scope, kind, id).await?)?;
        if let Some(version) = version {
            cache.insert(
                key,
                CachedPage {
                    version,
                    body: body.clone(),
                },
            );
        }
        Ok(body)
    }
}

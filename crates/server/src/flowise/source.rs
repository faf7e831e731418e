//! Reading a Flowise 3.x database, SQLite file or PostgreSQL, with its own schema: the tables
//! and columns the importer needs are checked first (a difference is named), then every row of
//! them is read as text (each column cast to text by the database, so both backends and every
//! column type read alike).

use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, Row as _, SqlitePool};
use std::collections::HashMap;
use std::time::Duration;

/// A row: column name to its text (NULL as `None`).
pub type Row = HashMap<String, Option<String>>;

/// The tables the importer reads and the columns it needs in each.
pub const TABLES: &[(&str, &[&str])] = &[
    ("user", &["id", "name", "email", "credential", "status"]),
    ("organization", &["id", "name", "createdBy"]),
    (
        "organization_user",
        &["organizationId", "userId", "roleId", "status"],
    ),
    (
        "workspace",
        &["id", "name", "description", "organizationId", "createdDate"],
    ),
    (
        "workspace_user",
        &["workspaceId", "userId", "roleId", "status"],
    ),
    (
        "role",
        &["id", "organizationId", "name", "description", "permissions"],
    ),
    (
        "chat_flow",
        &[
            "id",
            "name",
            "flowData",
            "type",
            "workspaceId",
            "createdDate",
        ],
    ),
    (
        "assistant",
        &["id", "details", "credential", "type", "workspaceId"],
    ),
    (
        "tool",
        &[
            "id",
            "name",
            "description",
            "color",
            "schema",
            "func",
            "workspaceId",
        ],
    ),
    (
        "credential",
        &[
            "id",
            "name",
            "credentialName",
            "encryptedData",
            "workspaceId",
        ],
    ),
    ("variable", &["id", "name", "value", "type", "workspaceId"]),
    (
        "apikey",
        &["id", "apiKey", "keyName", "permissions", "workspaceId"],
    ),
    (
        "document_store",
        &[
            "id",
            "name",
            "description",
            "status",
            "loaders",
            "workspaceId",
        ],
    ),
    (
        "document_store_file_chunk",
        &[
            "id",
            "docId",
            "storeId",
            "chunkNo",
            "pageContent",
            "metadata",
        ],
    ),
    ("dataset", &["id", "name", "description", "workspaceId"]),
    ("dataset_row", &["id", "datasetId", "input", "output"]),
    (
        "workspace_shared",
        &["id", "workspaceId", "sharedItemId", "itemType"],
    ),
];

/// A Flowise database, open for reading.
pub enum Source {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}@{}", &url[..s + 3], user, &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl Source {
    /// Opens `from`: a `postgres://` URL, else a SQLite file (read only; never created).
    pub async fn open(from: &str) -> Result<Self, String> {
        if from.starts_with("postgres://") || from.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(10))
                .connect(from)
                .await
                .map_err(|e| {
                    format!("cannot connect to the PostgreSQL at {}: {e}", redact(from))
                })?;
            return Ok(Source::Postgres(pool));
        }
        let path = std::path::Path::new(from);
        if !path.is_file() {
            return Err(format!("{from}: no such file"));
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .map_err(|e| format!("{from} is not a Flowise database: {e}"))?;
        let source = Source::Sqlite(pool);
        // The first read tells whether the file is a SQLite database at all.
        source
            .columns("chat_flow")
            .await
            .map_err(|e| format!("{from} is not a Flowise database (not a SQLite file: {e})"))?;
        Ok(source)
    }

    pub async fn close(&self) {
        match self {
            Source::Sqlite(p) => p.close().await,
            Source::Postgres(p) => p.close().await,
        }
    }

    /// The columns of `table` (none when the table does not exist).
    async fn columns(&self, table: &str) -> Result<Vec<String>, String> {
        match self {
            Source::Sqlite(pool) => {
                sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(table)
                    .fetch_all(pool)
                    .await
            }
            Source::Postgres(pool) => sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns
                  WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(pool)
            .await,
        }
        .map_err(|e| e.to_string())
    }

    /// Checks that every table and column the importer reads is there. Answers the columns
    /// of each table.
    pub async fn check_schema(&self) -> Result<HashMap<&'static str, Vec<String>>, String> {
        let mut out = HashMap::new();
        if self.columns("chat_flow").await?.is_empty() {
            return Err("not a Flowise database: it has no `chat_flow` table".into());
        }
        for (table, needed) in TABLES {
            let cols = self.columns(table).await?;
            if cols.is_empty() {
                return Err(format!(
                    "the Flowise schema differs from 3.x: table `{table}` is missing"
                ));
            }
            if let Some(missing) = needed.iter().find(|c| !cols.iter().any(|have| have == *c)) {
                return Err(format!(
                    "the Flowise schema differs from 3.x: table `{table}` has no column `{missing}`"
                ));
            }
            out.insert(*table, cols);
        }
        Ok(out)
    }

    /// Every row of `table`, oldest first where the table has a `createdDate`.
    pub async fn rows(&self, table: &str, columns: &[String]) -> Result<Vec<Row>, String> {
        let select = columns
            .iter()
            .map(|c| format!("CAST({} AS TEXT)", quoted(c)))
            .collect::<Vec<_>>()
            .join(", ");
        let order = if columns.iter().any(|c| c == "createdDate") {
            " ORDER BY \"createdDate\""
        } else {
            ""
        };
        let sql = format!("SELECT {select} FROM {}{order}", quoted(table));
        let read = |get: &dyn Fn(usize) -> Result<Option<String>, sqlx::Error>| {
            columns
                .iter()
                .enumerate()
                .map(|(i, c)| Ok((c.clone(), get(i)?)))
                .collect::<Result<Row, sqlx::Error>>()
        };
        let rows = match self {
            Source::Sqlite(pool) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .and_then(|rows| {
                    rows.iter()
                        .map(|r| read(&|i| r.try_get::<Option<String>, _>(i)))
                        .collect()
                }),
            Source::Postgres(pool) => sqlx::query(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .and_then(|rows| {
                    rows.iter()
                        .map(|r| read(&|i| r.try_get::<Option<String>, _>(i)))
                        .collect()
                }),
        };
        rows.map_err(|e| format!("reading Flowise table `{table}`: {e}"))
    }
}

/// Every table the importer reads, with all its rows.
pub struct FlowiseData {
    pub tables: HashMap<&'static str, Vec<Row>>,
}

impl FlowiseData {
    pub async fn read(source: &Source) -> Result<Self, String> {
        let schema = source.check_schema().await?;
        let mut tables = HashMap::new();
        for (table, _) in TABLES {
            let cols = schema.get(table).cloned().unwrap_or_default();
            tables.insert(*table, source.rows(table, &cols).await?);
        }
        Ok(Self { tables })
    }

    pub fn table(&self, name: &str) -> &[Row] {
        self.tables.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A column's text, empty when NULL or absent.
pub fn text<'a>(row: &'a Row, column: &str) -> &'a str {
    row.get(column).and_then(|v| v.as_deref()).unwrap_or("")
}

/// A column's text, `None` when NULL, absent or empty.
pub fn opt(row: &Row, column: &str) -> Option<String> {
    row.get(column)
        .and_then(|v| v.clone())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_lose_their_password_in_messages() {
        assert_eq!(
            super::redact("postgres://u:secret@h:5432/db"),
            "postgres://u@h:5432/db"
        );
        assert_eq!(super::redact("postgres://h/db"), "postgres://h/db");
    }
}

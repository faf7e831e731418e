//! Flowise's own export file (`ExportData.json`, what its "Export" of a workspace downloads)
//! through `POST /import` with `"format": "flowise"` (SPEC §10): its rows are read as the
//! Flowise tables they are and mapped by `content::plan_content`, the mapping `import-flowise`
//! uses, into the caller's active workspace.
//!
//! A Flowise export holds no credentials (and no API keys): the credential ids its flows name
//! are kept as they are, so the flow data is Flowise's, and each is reported, to be created
//! here and chosen again.

use super::content::plan_content;
use super::plan::Report;
use super::source::{FlowiseData, Row};
use crate::crypto::SecretBox;
use flowspace_core::DomainError;
use flowspace_core::flowise::credential_references;
use flowspace_core::ids::WorkspaceId;
use flowspace_core::transfer::MAX_IMPORT_ENTRIES;
use flowspace_store::ImportedItem;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// The `format` of an import body that carries a Flowise export.
pub const FORMAT: &str = "flowise";

/// The keys of a Flowise export this import reads: the Flowise table their rows are, the
/// `type` a flow of that key has when its row names none, and the columns a row must hold.
pub const KEYS: &[(&str, &str, Option<&str>, &[&str])] = &[
    ("ChatFlow", "chat_flow", Some("CHATFLOW"), FLOW),
    ("AgentFlow", "chat_flow", Some("MULTIAGENT"), FLOW),
    ("AgentFlowV2", "chat_flow", Some("AGENTFLOW"), FLOW),
    ("AssistantFlow", "chat_flow", Some("ASSISTANT"), FLOW),
    ("AssistantCustom", "assistant", None, &["id", "details"]),
    ("AssistantOpenAI", "assistant", None, &["id", "details"]),
    ("AssistantAzure", "assistant", None, &["id", "details"]),
    ("Tool", "tool", None, &["id", "name"]),
    ("Variable", "variable", None, &["id", "name"]),
    ("DocumentStore", "document_store", None, &["id", "name"]),
    (
        "DocumentStoreFileChunk",
        "document_store_file_chunk",
        None,
        &["storeId"],
    ),
];
const FLOW: &[&str] = &["id", "name", "flowData"];

/// Keys a Flowise export has that hold nothing Flowspace keeps: counted in the report.
pub const NOT_CARRIED: &[(&str, &str)] = &[
    ("ChatMessage", "chat messages"),
    ("ChatMessageFeedback", "chat message feedback"),
    ("CustomTemplate", "custom templates"),
    ("Execution", "agentflow executions"),
];

/// The export's file name, which Flowise writes into it.
const FILE_NAME_KEY: &str = "FileDefaultName";

/// What importing a Flowise export creates, in order, and what it leaves out and why.
pub struct ExportPlan {
    pub items: Vec<ImportedItem>,
    pub left_out: Vec<String>,
}

fn invalid(field: String, reason: impl Into<String>) -> DomainError {
    DomainError::invalid(field, reason.into())
}

/// One cell of an exported row as the text a Flowise table holds: `null` is NULL, a boolean
/// `true`/`false`, a number its digits, an object or array its JSON text.
fn cell(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// How many document-store chunks one export may carry (they are not entries of their own).
const MAX_CHUNKS: usize = 100_000;
/// How many lines of what is left out a report lists before "and N more".
const MAX_LEFT_OUT: usize = 100;

/// Reads `data` (the content of `ExportData.json`) as Flowise's tables, refusing what is not a
/// Flowise export with the field that says why; returns the tables and what is left out.
pub fn read(data: &Value) -> Result<(FlowiseData, Vec<String>), DomainError> {
    let Value::Object(map) = data else {
        return Err(invalid(
            "data".into(),
            "must be the JSON object of a Flowise export",
        ));
    };
    let known = |k: &str| {
        KEYS.iter().any(|(key, ..)| *key == k) || NOT_CARRIED.iter().any(|(key, _)| *key == k)
    };
    if !map.keys().any(|k| known(k)) {
        let names: Vec<&str> = KEYS.iter().map(|(k, ..)| *k).collect();
        return Err(invalid(
            "data".into(),
            format!(
                "is not a Flowise export (ExportData.json): it holds none of {}",
                names.join(", ")
            ),
        ));
    }
    let mut left_out = Vec::new();
    let mut tables: HashMap<&'static str, Vec<Row>> = HashMap::new();
    let mut ids = HashSet::new();
    let mut entries = 0usize;
    let mut chunks = 0usize;
    for (key, table, flow_type, required) in KEYS {
        let Some(rows) = map.get(*key) else { continue };
        let field = format!("data.{key}");
        let Value::Array(rows) = rows else {
            return Err(invalid(field, "must be an array of rows"));
        };
        for (i, row) in rows.iter().enumerate() {
            let at = format!("{field}[{i}]");
            let Value::Object(row) = row else {
                return Err(invalid(at, "must be an object"));
            };
            let mut out: Row = row
                .iter()
                .filter(|(k, _)| k.as_str() != "workspaceId")
                .map(|(k, v)| (k.clone(), cell(v)))
                .collect();
            for col in *required {
                if out
                    .get(*col)
                    .and_then(|v| v.as_deref())
                    .is_none_or(str::is_empty)
                {
                    return Err(invalid(format!("{at}.{col}"), "is required"));
                }
            }
            if *table == "document_store_file_chunk" {
                chunks += 1;
            } else {
                // Ids are what references between rows are rewritten by: each an id, once.
                let id = out.get("id").cloned().flatten().unwrap_or_default();
                if id.parse::<uuid::Uuid>().is_err() {
                    return Err(invalid(format!("{at}.id"), "is not an id"));
                }
                if !ids.insert(id) {
                    return Err(invalid(format!("{at}.id"), "appears twice in the export"));
                }
                entries += 1;
            }
            if let Some(t) = flow_type
                && out
                    .get("type")
                    .cloned()
                    .flatten()
                    .is_none_or(|s| s.is_empty())
            {
                out.insert("type".into(), Some((*t).to_string()));
            }
            tables.entry(*table).or_default().push(out);
        }
    }
    if chunks > MAX_CHUNKS {
        return Err(invalid(
            "data.DocumentStoreFileChunk".into(),
            format!("an import takes at most {MAX_CHUNKS} chunks"),
        ));
    }
    if entries > MAX_IMPORT_ENTRIES {
        return Err(invalid(
            "data".into(),
            format!("an import takes at most {MAX_IMPORT_ENTRIES} entries"),
        ));
    }
    for (key, what) in NOT_CARRIED {
        if let Some(n) = map.get(*key).and_then(Value::as_array).map(Vec::len)
            && n > 0
        {
            left_out.push(format!(
                "{key}: {n} row(s) of {what} (Flowspace keeps none)"
            ));
        }
    }
    for key in map.keys() {
        if !known(key) && key != FILE_NAME_KEY {
            left_out.push(format!(
                "{key}: not a part of a Flowise export this import knows"
            ));
        }
    }
    Ok((FlowiseData { tables }, left_out))
}

/// Plans the import of a Flowise export into `workspace`: every item with a new id, references
/// between them rewritten, each checked as if created by hand; nothing is written.
pub fn plan(
    data: &Value,
    workspace: WorkspaceId,
    secret_box: &SecretBox,
) -> Result<ExportPlan, DomainError> {
    let (tables, mut left_out) = read(data)?;
    let mut report = Report::default();
    // An export carries no credential table, so no key is needed.
    let content = plan_content(
        &tables,
        workspace,
        &[],
        secret_box,
        &HashMap::new(),
        &mut report,
    )
    .map_err(|e| invalid("data".into(), e))?;
    left_out.extend(report.skipped);
    left_out.extend(report.warnings);
    for it in &content.items {
        let data: Value = serde_json::from_str(&it.data).map_err(DomainError::internal)?;
        for id in credential_references(&data) {
            left_out.push(format!(
                "{} `{}` names credential {id}, which a Flowise export does not carry: create it here and choose it again",
                it.kind.path(),
                it.name
            ));
        }
    }
    if left_out.len() > MAX_LEFT_OUT {
        let more = left_out.len() - MAX_LEFT_OUT;
        left_out.truncate(MAX_LEFT_OUT);
        left_out.push(format!("and {more} more"));
    }
    Ok(ExportPlan {
        items: content.items,
        left_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn uuid() -> String {
        uuid::Uuid::new_v4().to_string()
    }

    #[test]
    fn chunks_are_capped_and_grouped_by_store_in_one_pass() {
        let store = uuid();
        let chunk = |n: usize| json!({"id": uuid(), "storeId": store, "docId": "d", "chunkNo": n, "pageContent": "x"});
        let too_many: Vec<Value> = (0..=MAX_CHUNKS).map(chunk).collect();
        let data = json!({"DocumentStore": [{"id": store, "name": "s"}], "DocumentStoreFileChunk": too_many});
        let err = read(&data).err().expect("over the cap");
        assert!(err.to_string().contains("chunks"), "{err}");

        // Chunks land in their own store only (grouped once by storeId, not scanned per store).
        let ids: Vec<String> = (0..2_000).map(|_| uuid()).collect();
        let stores: Vec<Value> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| json!({"id": id, "name": format!("s{i}")}))
            .collect();
        let chunks: Vec<Value> = (0..50_000)
            .map(|n| json!({"id": uuid(), "storeId": ids[n % 2_000], "chunkNo": n}))
            .collect();
        let plan = plan(
            &json!({"DocumentStore": stores, "DocumentStoreFileChunk": chunks}),
            WorkspaceId::new(),
            &SecretBox::new(&[7; 32]),
        )
        .expect("a valid export");
        assert_eq!(plan.items.len(), 2_000);
        let chunks_of = |name: &str| {
            let it = plan.items.iter().find(|it| it.name == name).unwrap();
            let data: Value = serde_json::from_str(&it.data).unwrap();
            data["chunks"].as_array().map_or(0, Vec::len)
        };
        assert_eq!(
            (chunks_of("s0"), chunks_of("s1"), chunks_of("s1999")),
            (25, 25, 25)
        );
    }

    #[test]
    fn what_is_left_out_is_listed_up_to_a_bound() {
        let unknown: serde_json::Map<String, Value> = (0..500)
            .map(|i| (format!("Unknown{i}"), json!([])))
            .chain([("Tool".to_string(), json!([]))])
            .collect();
        let plan = plan(
            &Value::Object(unknown),
            WorkspaceId::new(),
            &SecretBox::new(&[7; 32]),
        )
        .expect("an export with only unknown keys beside Tool");
        assert_eq!(plan.left_out.len(), MAX_LEFT_OUT + 1);
        assert_eq!(plan.left_out.last().unwrap(), "and 400 more");
    }
}

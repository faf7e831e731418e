//! The soak's HTTP side: one keep-alive connection pool per client, the chatflow calls the mix
//! makes (each answering its status, 0 when no answer came back, and the JSON body), and the
//! tally of answers by operation and status.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// The body every create and update sends besides its description.
fn flow() -> Value {
    json!({"nodes": [{"id": "chatOpenAI_0", "data": {"name": "chatOpenAI", "inputs": {"modelName": "gpt-4o-mini"}}}], "edges": []})
}

pub struct Client {
    http: reqwest::Client,
    base: String,
    pub token: String,
}

impl Client {
    pub fn new(addr: &str, token: &str) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            http,
            base: format!("http://{addr}/api/v1"),
            token: token.to_string(),
        })
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        match req.bearer_auth(&self.token).send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.json().await.unwrap_or(Value::Null);
                (status, body)
            }
            Err(_) => (0, Value::Null),
        }
    }

    pub async fn create(&self, description: &str) -> (u16, Value) {
        let body = json!({"name": "soak flow", "description": description, "data": flow()});
        let req = self.http.post(format!("{}/chatflows", self.base));
        self.call(req.json(&body)).await
    }

    pub async fn get(&self, id: &str) -> (u16, Value) {
        self.call(self.http.get(format!("{}/chatflows/{id}", self.base)))
            .await
    }

    /// An update conditional on `version`, the version read.
    pub async fn update(&self, id: &str, version: i64, description: &str) -> (u16, Value) {
        let body = json!({"name": "soak flow", "description": description, "data": flow(), "version": version});
        let req = self.http.put(format!("{}/chatflows/{id}", self.base));
        self.call(req.json(&body)).await
    }

    /// A delete conditional on `version` (`If-Match`).
    pub async fn delete(&self, id: &str, version: i64) -> u16 {
        let req = self
            .http
            .delete(format!("{}/chatflows/{id}", self.base))
            .header("if-match", version.to_string());
        self.call(req).await.0
    }

    pub async fn list(&self, limit: u32) -> u16 {
        let req = self
            .http
            .get(format!("{}/chatflows?limit={limit}", self.base));
        self.call(req).await.0
    }

    pub async fn login(&self, email: &str, password: &str) -> (u16, Value) {
        let req = self
            .http
            .post(format!("{}/auth/login", self.base))
            .json(&json!({"email": email, "password": password}));
        match req.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                (status, r.json().await.unwrap_or(Value::Null))
            }
            Err(_) => (0, Value::Null),
        }
    }

    /// Every chatflow id of the workspace, page by page.
    pub async fn all_ids(&self) -> Result<Vec<String>, String> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}/chatflows?limit=200", self.base);
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = self.call(self.http.get(url)).await;
            if status != 200 {
                return Err(format!("the list answered {status}: {page}"));
            }
            for item in page["items"].as_array().into_iter().flatten() {
                ids.extend(item["id"].as_str().map(str::to_string));
            }
            match page["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(ids),
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Op {
    Create,
    Read,
    Update,
    Delete,
    List,
    Login,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Read => "read",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::List => "list",
            Op::Login => "login",
        }
    }
}

/// Answers by operation and status; `failed` counts requests that got no answer.
#[derive(Default)]
pub struct Tally {
    counts: BTreeMap<(Op, u16), u64>,
    pub failed: u64,
}

impl Tally {
    pub fn note(&mut self, op: Op, status: u16) {
        if status == 0 {
            self.failed += 1;
        }
        *self.counts.entry((op, status)).or_default() += 1;
    }

    pub fn merge(&mut self, other: Tally) {
        for (k, v) in other.counts {
            *self.counts.entry(k).or_default() += v;
        }
        self.failed += other.failed;
    }

    pub fn count(&self, op: Op, status: u16) -> u64 {
        self.counts.get(&(op, status)).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    pub fn five_xx(&self) -> u64 {
        self.counts
            .iter()
            .filter(|((_, s), _)| *s >= 500)
            .map(|(_, v)| v)
            .sum()
    }

    /// `{"create": {"201": n, ...}, ...}`
    pub fn json(&self) -> Value {
        let mut out = serde_json::Map::new();
        for ((op, status), n) in &self.counts {
            let entry = out
                .entry(op.name())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            entry[status.to_string()] = json!(n);
        }
        Value::Object(out)
    }
}

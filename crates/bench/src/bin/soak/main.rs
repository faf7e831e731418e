//! `flowspace-bench-soak`: the soak of `bench/run --soak` (issue 17). Clients (64 by default)
//! run a mix of chatflow creates, updates, deletes, lists and sign-ins against a running
//! server for a while, then check what the server kept against what it acknowledged:
//!
//! - no 5xx answer and no failed request;
//! - no lost update: every update sends the version it read (a 409 is a correct answer); an
//!   acknowledged update must answer the version read + 1 and be the only one acknowledged for
//!   that version, and the newest acknowledged update of each item must be what the item holds
//!   at the end;
//! - the final count: the seeded chatflows plus what the clients created minus what they
//!   deleted is what the server lists, id for id;
//! - the server's RSS (`/proc/<pid>/status`), sampled every 5 s through the run and once after.
//!
//! Usage: `flowspace-bench-soak <host:port> <token> <email> <password> <server-pid> <seconds>`.
//! Progress goes to stderr; one JSON object with the figures goes to stdout. Exits non-zero
//! when a check fails.

use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::process::ExitCode;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod client;
use client::{Client, Op, Tally};

/// What every client acknowledged, shared.
#[derive(Default)]
struct Ledger {
    /// Created and not (acknowledged) deleted: the items updates and deletes pick from.
    live: Vec<String>,
    /// Per item: every version an update or create acknowledged, and the description written
    /// by the newest one.
    acked: HashMap<String, (HashSet<i64>, i64, String)>,
    deleted: HashSet<String>,
    /// Acknowledged updates that were not written over the version they read, or that
    /// answered a version another acknowledged write of the item answered too.
    lost: u64,
}

fn lock(m: &Mutex<Ledger>) -> MutexGuard<'_, Ledger> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Ledger {
    fn ack(&mut self, id: &str, version: i64, description: &str) {
        let entry = self
            .acked
            .entry(id.to_string())
            .or_insert_with(|| (HashSet::new(), 0, String::new()));
        if !entry.0.insert(version) {
            self.lost += 1;
        }
        if version > entry.1 {
            entry.1 = version;
            entry.2 = description.to_string();
        }
    }
}

struct Shared {
    ledger: Mutex<Ledger>,
    /// The seeded chatflows: everyone updates them (so updates collide), nobody deletes them.
    hot: Vec<String>,
    email: String,
    password: String,
    until: Instant,
}

fn pick(rng: &mut impl Rng, from: &[String]) -> Option<String> {
    (!from.is_empty()).then(|| from[rng.gen_range(0..from.len())].clone())
}

/// One client: a weighted mix until the deadline (create 20, update 35, delete 17, list 27,
/// sign-in 1), each answer tallied by operation and status.
async fn client(n: usize, mut c: Client, shared: Arc<Shared>) -> Tally {
    let mut tally = Tally::default();
    let mut rng = rand::rngs::StdRng::from_entropy();
    let mut seq = 0u64;
    while Instant::now() < shared.until {
        seq += 1;
        let marker = format!("client {n} write {seq}");
        let roll = rng.gen_range(0..100);
        if roll < 20 {
            let (status, body) = c.create(&marker).await;
            tally.note(Op::Create, status);
            if status == 201
                && let (Some(id), Some(v)) = (body["id"].as_str(), body["version"].as_i64())
            {
                let mut l = lock(&shared.ledger);
                l.ack(id, v, &marker);
                l.live.push(id.to_string());
            }
        } else if roll < 55 {
            let id = if rng.gen_bool(0.5) {
                pick(&mut rng, &shared.hot)
            } else {
                pick(&mut rng, &lock(&shared.ledger).live)
            };
            let Some(id) = id else { continue };
            let (status, body) = c.get(&id).await;
            tally.note(Op::Read, status);
            let Some(version) = body["version"].as_i64() else {
                continue;
            };
            let (status, body) = c.update(&id, version, &marker).await;
            tally.note(Op::Update, status);
            if status == 200
                && let Some(v) = body["version"].as_i64()
            {
                let mut l = lock(&shared.ledger);
                // Written over the version read, or over someone else's write.
                if v != version + 1 {
                    l.lost += 1;
                }
                l.ack(&id, v, &marker);
            }
        } else if roll < 72 {
            let target = {
                let l = lock(&shared.ledger);
                pick(&mut rng, &l.live).map(|id| {
                    let v = l.acked.get(&id).map_or(1, |a| a.1);
                    (id, v)
                })
            };
            let Some((id, version)) = target else {
                continue;
            };
            let status = c.delete(&id, version).await;
            tally.note(Op::Delete, status);
            if status == 204 {
                let mut l = lock(&shared.ledger);
                l.live.retain(|x| *x != id);
                l.deleted.insert(id);
            }
        } else if roll < 99 {
            let status = c.list(rng.gen_range(1..=200)).await;
            tally.note(Op::List, status);
        } else {
            let (status, body) = c.login(&shared.email, &shared.password).await;
            tally.note(Op::Login, status);
            if let Some(token) = body["accessToken"].as_str() {
                c.token = token.to_string();
            }
        }
    }
    tally
}

fn rss_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Mean and max of the RSS samples taken in `[from, to)` seconds.
fn window(samples: &[(f64, u64)], from: f64, to: f64) -> Value {
    let v: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|s| s.1)
        .collect();
    let mean = v.iter().sum::<u64>() / (v.len().max(1) as u64);
    json!({"from_s": from, "to_s": to, "mean_kb": mean, "max_kb": v.iter().max()})
}

async fn run(args: &[String]) -> Result<(Value, bool), String> {
    let [addr, token, email, password, pid, seconds] = args else {
        return Err("usage: flowspace-bench-soak <host:port> <token> <email> <password> <server-pid> <seconds>".into());
    };
    let pid: u32 = pid.parse().map_err(|_| "server-pid")?;
    let seconds: u64 = seconds.parse().map_err(|_| "seconds")?;
    let clients: usize = std::env::var("BENCH_SOAK_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let first = Client::new(addr, token)?;
    let hot = first.all_ids().await?;
    let seeded = hot.len();
    let before_kb = rss_kb(pid, "VmRSS");
    let start = Instant::now();
    let shared = Arc::new(Shared {
        ledger: Mutex::new(Ledger::default()),
        hot,
        email: email.clone(),
        password: password.clone(),
        until: start + Duration::from_secs(seconds),
    });
    let tasks: Vec<_> = (0..clients)
        .map(|n| {
            let c = Client::new(addr, token);
            let shared = shared.clone();
            tokio::spawn(async move { Ok::<_, String>(client(n, c?, shared).await) })
        })
        .collect();
    // Every 5 s under load, and once when the load ends.
    let mut samples = Vec::new();
    loop {
        tokio::time::sleep_until(
            (Instant::now() + Duration::from_secs(5))
                .min(shared.until)
                .into(),
        )
        .await;
        let t = start.elapsed().as_secs_f64();
        samples.push((t, rss_kb(pid, "VmRSS")));
        eprintln!(
            ">> soak: {t:>5.0} s, RSS {} kB, {} live items",
            samples.last().map_or(0, |s| s.1),
            lock(&shared.ledger).live.len()
        );
        if Instant::now() >= shared.until {
            break;
        }
    }
    let mut tally = Tally::default();
    for t in tasks {
        tally.merge(t.await.map_err(|e| e.to_string())??);
    }
    let load_s = start.elapsed().as_secs_f64();
    let peak_kb = rss_kb(pid, "VmHWM");

    // What the server holds now, against what it acknowledged.
    let ledger = std::mem::take(&mut *lock(&shared.ledger));
    let listed: HashSet<String> = first.all_ids().await?.into_iter().collect();
    let expected: HashSet<String> = shared.hot.iter().chain(&ledger.live).cloned().collect();
    let missing = expected.difference(&listed).count();
    let unexpected = listed.difference(&expected).count();
    let mut stale = 0u64;
    for (id, (_, version, description)) in &ledger.acked {
        if ledger.deleted.contains(id) {
            continue;
        }
        let (status, body) = first.get(id).await;
        if status != 200
            || body["version"].as_i64() != Some(*version)
            || body["description"].as_str() != Some(description)
        {
            stale += 1;
        }
    }
    let resurrected = ledger
        .deleted
        .iter()
        .filter(|id| listed.contains(*id))
        .count();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let after_kb = rss_kb(pid, "VmRSS");

    // The first and the last minute of a 10-minute run; a tenth of a shorter one.
    let w = (seconds as f64 / 10.0).clamp(5.0, 60.0);
    let (created, deleted) = (tally.count(Op::Create, 201), tally.count(Op::Delete, 204));
    let ok = tally.five_xx() == 0
        && tally.failed == 0
        && ledger.lost == 0
        && stale == 0
        && missing == 0
        && unexpected == 0
        && resurrected == 0
        && listed.len() as u64 == seeded as u64 + created - deleted;
    let out = json!({
        "clients": clients,
        "seconds": load_s,
        "requests": tally.total(),
        "requests_per_s": tally.total() as f64 / load_s,
        "by_op": tally.json(),
        "five_xx": tally.five_xx(),
        "failed_requests": tally.failed,
        "updates_acknowledged": tally.count(Op::Update, 200),
        "update_conflicts_409": tally.count(Op::Update, 409),
        "lost_updates": ledger.lost + stale,
        "seeded": seeded,
        "created": created,
        "deleted": deleted,
        "expected_items": seeded as u64 + created - deleted,
        "listed_items": listed.len(),
        "missing": missing,
        "unexpected": unexpected,
        "deleted_but_listed": resurrected,
        "rss_kb": {
            "before_load": before_kb,
            "first": window(&samples, 0.0, w + 0.5),
            "last": window(&samples, load_s - w - 0.5, load_s + 1.0),
            "peak_hwm": peak_kb,
            "after_10s_idle": after_kb,
            "samples": samples.iter().map(|s| json!([s.0.round(), s.1])).collect::<Vec<_>>(),
        },
        "ok": ok,
    });
    Ok((out, ok))
}

/// The figures that matter, readable, on stderr.
fn summary(o: &Value) {
    let rss = &o["rss_kb"];
    eprintln!(
        "soak: {} clients, {:.0} s, {} requests ({:.0}/s); 5xx: {}, failed: {}",
        o["clients"],
        o["seconds"].as_f64().unwrap_or(0.0),
        o["requests"],
        o["requests_per_s"].as_f64().unwrap_or(0.0),
        o["five_xx"],
        o["failed_requests"]
    );
    eprintln!(
        "soak: updates acknowledged {}, 409 {}, lost {}",
        o["updates_acknowledged"], o["update_conflicts_409"], o["lost_updates"]
    );
    eprintln!(
        "soak: {} seeded + {} created - {} deleted = {}; listed {} (missing {}, unexpected {})",
        o["seeded"],
        o["created"],
        o["deleted"],
        o["expected_items"],
        o["listed_items"],
        o["missing"],
        o["unexpected"]
    );
    eprintln!(
        "soak: RSS before {} kB; first window mean {} kB (max {}), last window mean {} kB (max {}); peak {} kB, after {} kB",
        rss["before_load"],
        rss["first"]["mean_kb"],
        rss["first"]["max_kb"],
        rss["last"]["mean_kb"],
        rss["last"]["max_kb"],
        rss["peak_hwm"],
        rss["after_10s_idle"]
    );
    eprintln!("soak: by operation and status: {}", o["by_op"]);
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args).await {
        Ok((out, ok)) => {
            summary(&out);
            println!("{out}");
            if ok {
                ExitCode::SUCCESS
            } else {
                eprintln!("soak: a check failed (see the figures)");
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("soak failed: {e}");
            ExitCode::FAILURE
        }
    }
}

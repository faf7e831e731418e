//! `flowspace-bench-report`: turns the raw results of `bench/run` into one table on stdout,
//! a JSON file and an SVG chart.
//!
//! Usage: `flowspace-bench-report <raw-dir> <results.json> <chart.svg>`, where `<raw-dir>`
//! holds `meta.json` (written by the script: machine, RSS, cold start) and `runs/*.json`
//! (one per wrk run, written by the `done` hook of its Lua script), read in name order, and,
//! after `bench/run --scale`, `scale/<backend>.json` (the seeded counts, seeding time and the
//! delete scenario's figures, one per backend).
//!
//! `bench/run --postgres` runs each scenario but the baseline as two wrk at once, one per
//! replica, each writing its own run with `replica` and `connections` set (`concurrency` is the
//! total): they become one row whose requests/s is the sum of the two, whose p50 and p99 are the
//! worse replica's, and whose errors are the sum; each replica's own figures stay in the row's
//! `replicas`. `bench/run --peer` measures another server: the table and chart name it, and the
//! targets (Flowspace's) are left out.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

/// One wrk run, as its Lua `done` hook writes it (times in microseconds).
#[derive(Deserialize)]
struct RawRun {
    scenario: String,
    concurrency: u32,
    requests: u64,
    duration_us: f64,
    p50_us: f64,
    p99_us: f64,
    connect: u64,
    read: u64,
    write: u64,
    timeout: u64,
    /// Responses with a status of 400 or more (wrk's own count).
    status: u64,
    /// The status the scenario is meant to answer (200, 201 or 401).
    expect: u16,
    /// With two replicas (`bench/run --postgres`): which one this run loaded (1 or 2).
    #[serde(default)]
    replica: Option<u32>,
    /// With two replicas: this run's connections (`concurrency` is both runs' total).
    #[serde(default)]
    connections: Option<u32>,
}

/// One replica's share of a scenario run on two replicas at once.
#[derive(Serialize)]
struct ReplicaRow {
    replica: u32,
    connections: u32,
    requests: u64,
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

#[derive(Serialize)]
struct Row {
    scenario: String,
    concurrency: u32,
    requests: u64,
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Socket errors (connect, read, write, timeout).
    socket_errors: u64,
    /// Responses of status >= 400 (for the 401 scenario, those are the expected answers).
    status_errors: u64,
    /// What counts as an error for this scenario: socket errors plus non-2xx, or, for a
    /// scenario that expects 401, socket errors plus responses other than >= 400.
    errors: u64,
    ratio_to_baseline: Option<f64>,
    /// Two replicas: each one's figures (the row holds their sum, and the worse p50 and p99).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    replicas: Vec<ReplicaRow>,
}

/// The `scale/*.json` files of a scale run (none otherwise), in name order.
fn load_scale(dir: &Path) -> Result<Vec<Value>, String> {
    let Ok(entries) = std::fs::read_dir(dir.join("scale")) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect()
}

fn load(dir: &Path) -> Result<(Value, Vec<RawRun>), String> {
    let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let meta: Value = serde_json::from_str(&read(&dir.join("meta.json"))?)
        .map_err(|e| format!("meta.json: {e}"))?;
    let mut paths: Vec<_> = std::fs::read_dir(dir.join("runs"))
        .map_err(|e| format!("runs/: {e}"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut runs = Vec::new();
    for p in paths {
        runs.push(
            serde_json::from_str::<RawRun>(&read(&p)?)
                .map_err(|e| format!("{}: {e}", p.display()))?,
        );
    }
    Ok((meta, runs))
}

fn rows(runs: &[RawRun]) -> Vec<Row> {
    let rps = |r: &RawRun| {
        if r.duration_us > 0.0 {
            r.requests as f64 / (r.duration_us / 1e6)
        } else {
            0.0
        }
    };
    let baseline = |c: u32| {
        runs.iter()
            .find(|r| r.scenario == "baseline" && r.concurrency == c)
            .map(rps)
    };
    let mut out: Vec<Row> = Vec::new();
    for r in runs {
        let socket = r.connect + r.read + r.write + r.timeout;
        let wrong_status = if r.expect >= 400 {
            r.requests.saturating_sub(r.status)
        } else {
            r.status
        };
        let row = Row {
            scenario: r.scenario.clone(),
            concurrency: r.concurrency,
            requests: r.requests,
            requests_per_sec: rps(r),
            p50_ms: r.p50_us / 1000.0,
            p99_ms: r.p99_us / 1000.0,
            socket_errors: socket,
            status_errors: r.status,
            errors: socket + wrong_status,
            ratio_to_baseline: None,
            replicas: Vec::new(),
        };
        let Some(replica) = r.replica else {
            out.push(row);
            continue;
        };
        let share = ReplicaRow {
            replica,
            connections: r.connections.unwrap_or(0),
            requests: row.requests,
            requests_per_sec: row.requests_per_sec,
            p50_ms: row.p50_ms,
            p99_ms: row.p99_ms,
            errors: row.errors,
        };
        // The other replica's run of the same scenario is the row just before (same file
        // prefix, read in name order).
        match out.last_mut() {
            Some(prev)
                if !prev.replicas.is_empty()
                    && prev.scenario == row.scenario
                    && prev.concurrency == row.concurrency
                    && prev.replicas.iter().all(|x| x.replica != replica) =>
            {
                prev.requests += row.requests;
                prev.requests_per_sec += row.requests_per_sec;
                prev.p50_ms = prev.p50_ms.max(row.p50_ms);
                prev.p99_ms = prev.p99_ms.max(row.p99_ms);
                prev.socket_errors += row.socket_errors;
                prev.status_errors += row.status_errors;
                prev.errors += row.errors;
                prev.replicas.push(share);
            }
            _ => out.push(Row {
                replicas: vec![share],
                ..row
            }),
        }
    }
    for row in &mut out {
        row.ratio_to_baseline = baseline(row.concurrency)
            .filter(|b| *b > 0.0)
            .map(|b| row.requests_per_sec / b);
    }
    out
}

fn find<'a>(rows: &'a [Row], scenario: &str, c: u32) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.scenario == scenario && r.concurrency == c)
}

/// One target of the issue: what it asks, what was measured, and whether it is met.
#[derive(Serialize)]
struct Target {
    target: String,
    measured: String,
    met: Option<bool>,
}

/// The targets of the scale scenarios, per backend: the probe workspace's list on the big
/// database within 1.5x the latency of the same list on a 50-item database (p50, c=16), and the
/// deletion of the big workspace within 3 s while every probe keeps answering 200 within 1 s.
fn scale_targets(rows: &[Row], scale: &[Value]) -> Vec<Target> {
    let mut out = Vec::new();
    for s in scale {
        let backend = s.get("backend").and_then(Value::as_str).unwrap_or("?");
        let n = |k: &str| s.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let small = find(rows, &format!("list-jwt@{backend}-50"), 16);
        let big = find(rows, &format!("list-jwt@{backend}-scale"), 16);
        if let (Some(small), Some(big)) = (small, big) {
            let p50 = big.p50_ms / small.p50_ms.max(f64::MIN_POSITIVE);
            let p99 = big.p99_ms / small.p99_ms.max(f64::MIN_POSITIVE);
            out.push(Target {
                target: format!(
                    "{backend}: list at {:.0} items within 1.5x the latency of the same list on 50 items (c=16, p50)",
                    n("items")
                ),
                measured: format!(
                    "p50 {:.2} vs {:.2} ms = {p50:.2}x (p99 {:.2} vs {:.2} ms = {p99:.2}x; {:.0} vs {:.0} req/s)",
                    big.p50_ms,
                    small.p50_ms,
                    big.p99_ms,
                    small.p99_ms,
                    big.requests_per_sec,
                    small.requests_per_sec
                ),
                met: Some(p50 <= 1.5 && big.errors == 0),
            });
        }
        let Some(d) = s.get("delete") else { continue };
        let dn = |k: &str| d.get(k).and_then(Value::as_f64).unwrap_or(0.0);
        let ms = dn("delete_ms");
        out.push(Target {
            target: format!(
                "{backend}: delete a workspace of {:.0} items <= 3 s (one transaction)",
                n("big_items")
            ),
            measured: format!(
                "{ms:.0} ms, answer {}, workspace then {}",
                dn("delete_status"),
                dn("get_after_delete_status")
            ),
            met: Some(ms <= 3000.0 && dn("delete_status") == 204.0),
        });
        let probe = |k: &str| {
            let p = d.get(k);
            let f = |f: &str| p.and_then(|p| p.get(f)).and_then(Value::as_f64);
            (
                f("count").unwrap_or(0.0),
                f("non_200").unwrap_or(0.0),
                f("p50_ms"),
                f("max_ms"),
            )
        };
        let (pc, pn, pp, pm) = probe("probe_ping");
        let (rc, rn, rp, rm) = probe("probe_read");
        let fmt = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
        out.push(Target {
            target: format!(
                "{backend}: server answers other requests during the delete (every probe 200, max <= 1 s)"
            ),
            measured: format!(
                "ping: {pc:.0} probes, {pn:.0} not 200, p50 {} ms, max {} ms; authorized read: {rc:.0} probes, {rn:.0} not 200, p50 {} ms, max {} ms",
                fmt(pp),
                fmt(pm),
                fmt(rp),
                fmt(rm)
            ),
            met: Some(
                pc >= 1.0
                    && rc >= 1.0
                    && pn == 0.0
                    && rn == 0.0
                    && pm.unwrap_or(f64::MAX) <= 1000.0
                    && rm.unwrap_or(f64::MAX) <= 1000.0,
            ),
        });
    }
    out
}

fn targets(rows: &[Row], meta: &Value) -> Vec<Target> {
    let mut out = Vec::new();
    let mode = meta.get("mode").and_then(Value::as_str);
    // The targets are Flowspace's: none for a scale run (its own, below) or another server.
    if matches!(mode, Some("scale" | "peer")) {
        return out;
    }
    // Issue 18 asks less of writes on PostgreSQL, where replicas share one database.
    let (create_share, create_p99) = if mode == Some("postgres") {
        (0.08, 30.0)
    } else {
        (0.15, 20.0)
    };
    let mut push = |target: &str, measured: String, met: Option<bool>| {
        out.push(Target {
            target: target.into(),
            measured,
            met,
        })
    };
    match find(rows, "list-jwt", 64) {
        Some(r) => push(
            "authorized list >= 50% of baseline req/s at c=64, p99 <= 5 ms",
            format!(
                "{:.0} req/s = {:.1}% of baseline, p99 {:.2} ms",
                r.requests_per_sec,
                r.ratio_to_baseline.unwrap_or(0.0) * 100.0,
                r.p99_ms
            ),
            Some(r.ratio_to_baseline.unwrap_or(0.0) >= 0.5 && r.p99_ms <= 5.0),
        ),
        None => push(
            "authorized list >= 50% of baseline req/s at c=64, p99 <= 5 ms",
            "not run (c=64 only in the full run)".into(),
            None,
        ),
    }
    if let Some(r) = find(rows, "read", 64) {
        push(
            "read one item >= 50% of baseline req/s at c=64",
            format!(
                "{:.0} req/s = {:.1}% of baseline, p99 {:.2} ms",
                r.requests_per_sec,
                r.ratio_to_baseline.unwrap_or(0.0) * 100.0,
                r.p99_ms
            ),
            Some(r.ratio_to_baseline.unwrap_or(0.0) >= 0.5),
        );
    }
    if let Some(r) = find(rows, "create", 64) {
        push(
            &format!(
                "create >= {:.0}% of baseline req/s at c=64, p99 <= {create_p99:.0} ms, 0 errors",
                create_share * 100.0
            ),
            format!(
                "{:.0} req/s = {:.1}% of baseline, p99 {:.2} ms, {} errors",
                r.requests_per_sec,
                r.ratio_to_baseline.unwrap_or(0.0) * 100.0,
                r.p99_ms,
                r.errors
            ),
            Some(
                r.ratio_to_baseline.unwrap_or(0.0) >= create_share
                    && r.p99_ms <= create_p99
                    && r.errors == 0,
            ),
        );
    }
    if let (Some(valid), Some(checked), Some(created)) = (
        meta.get("audit_chain_valid").and_then(Value::as_bool),
        meta.get("audit_events_checked").and_then(Value::as_u64),
        meta.get("creates_acknowledged").and_then(Value::as_u64),
    ) {
        push(
            "every create audited, the audit chain valid afterwards",
            format!("valid: {valid}, {checked} events checked, {created} creates answered 201"),
            Some(valid && checked >= created),
        );
    }
    for c in [64, 16] {
        if let (Some(k), Some(j)) = (find(rows, "list-apikey", c), find(rows, "list-jwt", c)) {
            let ratio = k.requests_per_sec / j.requests_per_sec.max(f64::MIN_POSITIVE);
            push(
                &format!("API-key list within 10% of the JWT list (c={c})"),
                format!(
                    "{:.0} vs {:.0} req/s = {:.1}% of JWT",
                    k.requests_per_sec,
                    j.requests_per_sec,
                    ratio * 100.0
                ),
                Some(ratio >= 0.9),
            );
            break;
        }
    }
    match find(rows, "login", 4) {
        Some(r) => push(
            "logins (OWASP Argon2id) >= 30/s at c=4",
            format!(
                "{:.1}/s, p99 {:.0} ms, {} errors",
                r.requests_per_sec, r.p99_ms, r.errors
            ),
            Some(r.requests_per_sec >= 30.0),
        ),
        None => push("logins >= 30/s at c=4", "not run".into(), None),
    }
    if let Some(r) = find(rows, "login", 64) {
        push(
            "sign-in p99 <= 1 s at c=64 (one account)",
            format!("p99 {:.0} ms, p50 {:.0} ms", r.p99_ms, r.p50_ms),
            Some(r.p99_ms <= 1000.0),
        );
        // wrk's clients do not wait for Retry-After: a refused one asks again at once, so the
        // answers per second count the 503s too; the sign-ins done are the 2xx answers.
        let signed_in = r.requests.saturating_sub(r.status_errors) as f64 * r.requests_per_sec
            / (r.requests.max(1) as f64);
        push(
            "64 concurrent logins: no 5xx other than 503 + Retry-After, nothing lost",
            format!(
                "{signed_in:.1} sign-ins/s done; {:.1} answers/s, of which {} >= 400 (503 + Retry-After when the expected wait is too long), {} socket errors (status codes not split by wrk)",
                r.requests_per_sec, r.status_errors, r.socket_errors
            ),
            None,
        );
    }
    let kb = |k: &str| meta.get(k).and_then(Value::as_f64);
    if let Some(idle) = kb("rss_idle_kb") {
        let mb = idle / 1024.0;
        // The code laid out together (crates/server/build.rs): how much of its profile the
        // binary still has, since a stale one is the first suspect of a larger figure here.
        let order = match (
            kb("symbol_order_found"),
            kb("symbol_order_listed"),
            kb("symbol_order_span_kb"),
        ) {
            (Some(found), Some(listed), Some(span)) if listed > 0.0 => format!(
                "; {found:.0} of the {listed:.0} functions of symbol-order.txt in the binary, within {:.1} MB of its code",
                span / 1024.0
            ),
            _ => String::new(),
        };
        push(
            "RSS <= 20 MB idle after setup and one sign-in",
            format!("{mb:.1} MB{order}"),
            Some(mb <= 20.0),
        );
    }
    if let (Some(signin), Some(peak)) = (
        kb("rss_signin_peak_kb"),
        kb("rss_signin_then_create_peak_kb"),
    ) {
        let c = rows
            .iter()
            .find(|r| r.scenario == "create-after-login")
            .map_or(0, |r| r.concurrency);
        push(
            "RSS <= 64 MB at every moment: sign-ins, then creates at the same c",
            format!(
                "peak {:.1} MB during the sign-ins, {:.1} MB with the creates at c={c} (sampled every 100 ms)",
                signin / 1024.0,
                peak / 1024.0
            ),
            Some(peak <= 64.0 * 1024.0),
        );
    }
    if let (Some(end), Some(secs), Some(ms)) = (
        kb("rss_idle_after_load_kb"),
        kb("rss_idle_secs"),
        kb("rss_back_under_32mb_ms"),
    ) {
        let when = if ms < 0.0 {
            "never".to_string()
        } else {
            format!("{:.1} s", ms / 1000.0)
        };
        push(
            "RSS back to <= 32 MB within 10 s of idle",
            format!(
                "{:.1} MB after {secs:.0} s idle; <= 32 MB from {when} on",
                end / 1024.0
            ),
            Some((0.0..=10_000.0).contains(&ms)),
        );
    }
    if let Some(load) = kb("rss_after_list_kb") {
        let mb = load / 1024.0;
        let peak = kb("hwm_after_list_kb").map(|h| h / 1024.0).unwrap_or(mb);
        push(
            "RSS <= 64 MB under the list load",
            format!("{mb:.1} MB after the list runs (peak {peak:.1} MB)"),
            Some(peak <= 64.0),
        );
    }
    if let Some(ms) = meta.get("cold_start_ms").and_then(Value::as_f64) {
        let each = meta
            .get("cold_start_each_ms")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_f64)
                    .map(|v| format!("{v:.0}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default();
        push(
            "cold start <= 200 ms to ready on an existing database",
            format!("{ms:.1} ms on average ({each} ms)"),
            Some(ms <= 200.0),
        );
    }
    out
}

/// What was measured, when it is not Flowspace on SQLite: the backend and its replicas, or the
/// peer. `None` for the full, quick and scale runs, whose output stays as it was.
fn backend_note(meta: &Value) -> Option<String> {
    let text = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or("");
    match text("mode") {
        "postgres" => Some(format!(
            "Backend: PostgreSQL ({}), two Flowspace replicas on one database. Every scenario \
             but the baseline ran as two wrk at once, one per replica with half the connections \
             (c is their total): req/s is the sum of the two, p50 and p99 the worse replica's, \
             errors the sum.",
            match text("postgres") {
                "" => "version unknown",
                v => v,
            }
        )),
        "peer" => Some(format!(
            "Peer: {} ({}); credential: {}. Its list: {} chatflows, {} bytes (the baseline \
             answers the same bytes). No targets: they are Flowspace's.",
            text("peer"),
            match text("peer_server") {
                "" => "no Server header",
                v => v,
            },
            text("peer_auth"),
            meta.get("list_chatflows")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            meta.get("list_bytes").and_then(Value::as_u64).unwrap_or(0),
        )),
        _ => None,
    }
}

fn table(rows: &[Row], meta: &Value, targets: &[Target], scale: &[Value]) -> String {
    let mut s = String::new();
    if let Some(note) = backend_note(meta) {
        let _ = writeln!(s, "{note}");
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "| scenario | c | req/s | p50 ms | p99 ms | errors | vs baseline |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let ratio = r
            .ratio_to_baseline
            .map(|x| format!("{:.1}%", x * 100.0))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.2} | {:.2} | {} | {} |",
            r.scenario, r.concurrency, r.requests_per_sec, r.p50_ms, r.p99_ms, r.errors, ratio
        );
    }
    let mb = |k: &str| {
        meta.get(k)
            .and_then(Value::as_f64)
            .map(|v| format!("{:.1} MB", v / 1024.0))
            .unwrap_or_else(|| "-".into())
    };
    let _ = writeln!(s);
    let mode = meta.get("mode").and_then(Value::as_str);
    if mode == Some("peer") {
        let rss = if meta.get("peer_rss_idle_kb").is_some() {
            format!(
                "the peer's RSS after the setup and one sign-in {}, at the end {} (peak {})",
                mb("peer_rss_idle_kb"),
                mb("peer_rss_at_end_kb"),
                mb("peer_hwm_at_end_kb"),
            )
        } else {
            "the peer's RSS not read (BENCH_PEER_PID unset)".to_string()
        };
        let _ = writeln!(
            s,
            "{rss}; list body {} bytes",
            meta.get("list_bytes").and_then(Value::as_u64).unwrap_or(0),
        );
    } else if mode == Some("scale") {
        let _ = writeln!(
            s,
            "scale {}; list body of the 50-item database {} bytes",
            meta.get("scale").and_then(Value::as_f64).unwrap_or(1.0),
            meta.get("list_bytes").and_then(Value::as_u64).unwrap_or(0),
        );
    } else {
        let _ = writeln!(
            s,
            "RSS idle after one sign-in {}, after the list load {} (peak {}); cold start {} ms; list body {} bytes",
            mb("rss_idle_kb"),
            mb("rss_after_list_kb"),
            mb("hwm_after_list_kb"),
            meta.get("cold_start_ms")
                .and_then(Value::as_f64)
                .map(|v| format!("{v:.1}"))
                .unwrap_or_else(|| "-".into()),
            meta.get("list_bytes").and_then(Value::as_u64).unwrap_or(0),
        );
    }
    if let Some(replicas) = meta.get("rss_replicas").and_then(Value::as_array) {
        let _ = writeln!(
            s,
            "RSS above and in the targets: the larger replica's figure (cold start: replica 1). Each replica:"
        );
        for r in replicas {
            let mb = |k: &str| {
                r.get(k)
                    .and_then(Value::as_f64)
                    .map(|v| format!("{:.1} MB", v / 1024.0))
                    .unwrap_or_else(|| "-".into())
            };
            let _ = writeln!(
                s,
                "- replica {}: idle after one sign-in {}, after the list load {} (peak {}); peak {} during the sign-ins, {} with the creates after them; {} after the idle wait (<= 32 MB from {} ms)",
                r.get("replica").and_then(Value::as_u64).unwrap_or(0),
                mb("rss_idle_kb"),
                mb("rss_after_list_kb"),
                mb("hwm_after_list_kb"),
                mb("rss_signin_peak_kb"),
                mb("rss_signin_then_create_peak_kb"),
                mb("rss_idle_after_load_kb"),
                r.get("rss_back_under_32mb_ms")
                    .and_then(Value::as_i64)
                    .unwrap_or(-1),
            );
        }
    }
    if !scale.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "| backend | workspaces | users | items | big workspace | seeding s | database MB | delete ms | ping probes (max ms) | read probes (max ms) |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for x in scale {
            let v = |k: &str| x.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            let d = |p: &str, k: &str| {
                x.get("delete")
                    .and_then(|d| if p.is_empty() { Some(d) } else { d.get(p) })
                    .and_then(|d| d.get(k))
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
            };
            let _ = writeln!(
                s,
                "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.1} | {:.0} | {:.0} | {:.0} ({:.1}) | {:.0} ({:.1}) |",
                x.get("backend").and_then(Value::as_str).unwrap_or("?"),
                v("workspaces"),
                v("users"),
                v("items"),
                v("big_items"),
                v("seed_seconds"),
                v("database_bytes") / 1_048_576.0,
                d("", "delete_ms"),
                d("probe_ping", "count"),
                d("probe_ping", "max_ms"),
                d("probe_read", "count"),
                d("probe_read", "max_ms"),
            );
        }
    }
    if targets.is_empty() {
        return s;
    }
    let _ = writeln!(s);
    let _ = writeln!(s, "| target | measured | met |");
    let _ = writeln!(s, "|---|---|---|");
    for t in targets {
        let met = match t.met {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "-",
        };
        let _ = writeln!(s, "| {} | {} | {} |", t.target, t.measured, met);
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A horizontal bar chart of req/s per scenario, one panel per concurrency, on a log scale
/// (logins and the baseline are four orders of magnitude apart); the baseline bar is first
/// in each panel and its value is drawn as a dashed line across the panel.
fn svg(rows: &[Row], meta: &Value) -> String {
    let mut concs: Vec<u32> = rows.iter().map(|r| r.concurrency).collect();
    concs.sort_unstable();
    concs.dedup();
    let (left, right, bar_h, gap) = (150.0, 120.0, 16.0, 6.0);
    let plot_w = 560.0;
    let width = left + plot_w + right;
    let max = rows
        .iter()
        .map(|r| r.requests_per_sec)
        .fold(10.0_f64, f64::max);
    let top_decade = max.log10().ceil().max(2.0);
    let x = |v: f64| left + plot_w * (v.max(1.0).log10() / top_decade);
    let mut body = String::new();
    let mut y = 56.0;
    for c in &concs {
        let panel: Vec<&Row> = rows.iter().filter(|r| r.concurrency == *c).collect();
        let _ = writeln!(
            body,
            r#"<text x="10" y="{:.0}" font-weight="bold">c = {c}</text>"#,
            y + 4.0
        );
        y += 14.0;
        let panel_top = y;
        let panel_h = panel.len() as f64 * (bar_h + gap);
        for d in 0..=(top_decade as i32) {
            let gx = x(10f64.powi(d));
            let _ = writeln!(
                body,
                r##"<line x1="{gx:.1}" y1="{panel_top:.1}" x2="{gx:.1}" y2="{:.1}" stroke="#ddd"/>"##,
                panel_top + panel_h
            );
        }
        let baseline = panel.iter().find(|r| r.scenario == "baseline");
        for r in &panel {
            let is_base = r.scenario == "baseline";
            let colour = if is_base { "#999" } else { "#3366cc" };
            let w = (x(r.requests_per_sec) - left).max(1.0);
            let label = match r.ratio_to_baseline {
                Some(q) if !is_base => format!("{:.0}/s ({:.1}%)", r.requests_per_sec, q * 100.0),
                _ => format!("{:.0}/s", r.requests_per_sec),
            };
            let _ = writeln!(
                body,
                r#"<text x="{:.0}" y="{:.1}" text-anchor="end">{}</text><rect x="{left}" y="{y:.1}" width="{w:.1}" height="{bar_h}" fill="{colour}"/><text x="{:.1}" y="{:.1}">{}</text>"#,
                left - 6.0,
                y + bar_h - 4.0,
                esc(&r.scenario),
                left + w + 4.0,
                y + bar_h - 4.0,
                esc(&label)
            );
            y += bar_h + gap;
        }
        if let Some(b) = baseline {
            let bx = x(b.requests_per_sec);
            let _ = writeln!(
                body,
                r##"<line x1="{bx:.1}" y1="{panel_top:.1}" x2="{bx:.1}" y2="{y:.1}" stroke="#c33" stroke-dasharray="4 3"/>"##
            );
        }
        y += 18.0;
    }
    let mut axis = String::new();
    for d in 0..=(top_decade as i32) {
        let v = 10f64.powi(d);
        let label = if v >= 1000.0 {
            format!("{}k", v / 1000.0)
        } else {
            format!("{v}")
        };
        let _ = write!(
            axis,
            r##"<text x="{:.1}" y="{:.0}" text-anchor="middle" fill="#555">{label}</text>"##,
            x(v),
            y + 2.0
        );
    }
    let machine = meta
        .get("machine")
        .and_then(Value::as_str)
        .unwrap_or("unknown machine");
    let text = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or("?");
    let (title, what) = match meta.get("mode").and_then(Value::as_str) {
        Some("postgres") => (
            "Flowspace bench/run on PostgreSQL, two replicas: requests/s per scenario (log scale)"
                .to_string(),
            "load split across both replicas, req/s summed; ",
        ),
        Some("peer") => (
            format!(
                "bench/run --peer {} ({}): requests/s per scenario (log scale)",
                text("peer"),
                text("peer_server")
            ),
            "blue: the peer; ",
        ),
        _ => (
            "Flowspace bench/run: requests/s per scenario (log scale)".to_string(),
            "",
        ),
    };
    let height = y + 30.0;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0}" viewBox="0 0 {width} {height:.0}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="14" font-weight="bold">{}</text>
<text x="10" y="38" fill="#555">{}grey: baseline (bare axum, same bytes); dashed red line: baseline; % = share of baseline at the same concurrency. {}</text>
{body}{axis}
<text x="{:.0}" y="{:.0}" text-anchor="middle" fill="#555">requests per second</text>
</svg>
"##,
        esc(&title),
        esc(what),
        esc(machine),
        left + plot_w / 2.0,
        y + 18.0
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, json_out, svg_out] = args.as_slice() else {
        eprintln!("usage: flowspace-bench-report <raw-dir> <results.json> <chart.svg>");
        return ExitCode::FAILURE;
    };
    let (meta, runs) = match load(Path::new(dir)) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("cannot read results: {e}");
            return ExitCode::FAILURE;
        }
    };
    let scale = match load_scale(Path::new(dir)) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("cannot read the scale results: {e}");
            return ExitCode::FAILURE;
        }
    };
    let rows = rows(&runs);
    let mut targets = targets(&rows, &meta);
    targets.extend(scale_targets(&rows, &scale));
    print!("{}", table(&rows, &meta, &targets, &scale));
    let mut doc = json!({"meta": meta, "runs": rows, "targets": targets});
    if !scale.is_empty()
        && let Some(obj) = doc.as_object_mut()
    {
        obj.insert("scale".into(), Value::Array(scale));
    }
    let written = serde_json::to_string_pretty(&doc)
        .map_err(|e| e.to_string())
        .and_then(|s| std::fs::write(json_out, s + "\n").map_err(|e| e.to_string()))
        .and_then(|()| std::fs::write(svg_out, svg(&rows, &meta)).map_err(|e| e.to_string()));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cannot write results: {e}");
            ExitCode::FAILURE
        }
    }
}

//! `flowspace-bench-delete`: the scale benchmark's deletion scenario. Sends
//! `DELETE /api/v1/workspace/{id}` to a running server and times it, while two probe loops
//! show whether the server keeps answering meanwhile: `GET /api/v1/ping` (no database) and
//! `GET /api/v1/chatflows/{chatflow}` (an authorized read: session, membership and item
//! queries). Each probe opens its own connection (`Connection: close`) and waits 10 ms before
//! the next one. Afterwards it checks that the workspace is gone (`GET` answers 404).
//!
//! Usage: `flowspace-bench-delete <host:port> <token> <workspace-id> <chatflow-id>`. Prints one
//! JSON object on stdout: the delete's status and milliseconds, and per probe loop the count,
//! the non-200 answers, and p50 and max latency of the probes that ran during the delete.

use serde_json::{Value, json};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One HTTP/1.1 request on a fresh connection; answers the status code (0 when the answer
/// could not be read).
async fn request(addr: &str, method: &str, path: &str, token: &str) -> std::io::Result<u16> {
    let mut stream = TcpStream::connect(addr).await?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(req.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let line = answer.split(|b| *b == b'\n').next().unwrap_or_default();
    Ok(std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

/// Probes `path` until `stop`, 10 ms apart; answers (latency in ms, status) of each probe.
async fn probe(
    addr: String,
    path: String,
    token: String,
    stop: Arc<AtomicBool>,
) -> Vec<(f64, u16)> {
    let mut out = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let status = request(&addr, "GET", &path, &token).await.unwrap_or(0);
        out.push((t.elapsed().as_secs_f64() * 1000.0, status));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    out
}

fn summary(probes: &[(f64, u16)]) -> Value {
    let mut ms: Vec<f64> = probes.iter().map(|p| p.0).collect();
    ms.sort_by(f64::total_cmp);
    let round = |v: f64| (v * 100.0).round() / 100.0;
    json!({
        "count": probes.len(),
        "non_200": probes.iter().filter(|p| p.1 != 200).count(),
        "p50_ms": ms.get(ms.len() / 2).copied().map(round),
        "max_ms": ms.last().copied().map(round),
    })
}

async fn run(addr: &str, token: &str, ws: &str, chatflow: &str) -> Result<Value, String> {
    let io = |e: std::io::Error| e.to_string();
    // Warm both paths up so that the first probes do not pay for cold caches.
    for _ in 0..3 {
        request(addr, "GET", "/api/v1/ping", token)
            .await
            .map_err(io)?;
        request(addr, "GET", &format!("/api/v1/chatflows/{chatflow}"), token)
            .await
            .map_err(io)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let spawn = |path: String| {
        tokio::spawn(probe(
            addr.to_string(),
            path,
            token.to_string(),
            stop.clone(),
        ))
    };
    let ping = spawn("/api/v1/ping".into());
    let read = spawn(format!("/api/v1/chatflows/{chatflow}"));
    // Let the probes start before the delete does.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let t = Instant::now();
    let status = request(addr, "DELETE", &format!("/api/v1/workspace/{ws}"), token)
        .await
        .map_err(io)?;
    let delete_ms = t.elapsed().as_secs_f64() * 1000.0;
    stop.store(true, Ordering::Relaxed);
    let ping = ping.await.map_err(|e| e.to_string())?;
    let read = read.await.map_err(|e| e.to_string())?;
    let after = request(addr, "GET", &format!("/api/v1/workspace/{ws}"), token)
        .await
        .map_err(io)?;
    Ok(json!({
        "delete_status": status,
        "delete_ms": (delete_ms * 10.0).round() / 10.0,
        "get_after_delete_status": after,
        "probe_ping": summary(&ping),
        "probe_read": summary(&read),
    }))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, token, ws, chatflow] = args.as_slice() else {
        eprintln!("usage: flowspace-bench-delete <host:port> <token> <workspace-id> <chatflow-id>");
        return ExitCode::FAILURE;
    };
    match run(addr, token, ws, chatflow).await {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("delete scenario failed: {e}");
            ExitCode::FAILURE
        }
    }
}

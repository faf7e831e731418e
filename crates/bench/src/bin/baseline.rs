//! `flowspace-baseline`: the ceiling the benchmark compares against. A bare axum server that
//! answers every GET with the same bytes as the real list endpoint (read once from a file at
//! start), with no authentication, no database and no middleware.
//!
//! Usage: `flowspace-baseline <body.json> [addr]` (addr defaults to 127.0.0.1:3999).

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use bytes::Bytes;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: flowspace-baseline <body.json> [addr]");
        return ExitCode::FAILURE;
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3999".to_string());
    let body = match std::fs::read(&path) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = Router::new().fallback(move || {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
    });
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("flowspace-baseline listening on {addr}");
    match axum::serve(listener, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("baseline failed: {e}");
            ExitCode::FAILURE
        }
    }
}

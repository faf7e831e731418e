//! Prometheus metrics, served as text at `GET /metrics` (`routes::operator_routes`): requests
//! by route template, method and status, their latency, sign-in outcomes, the store's cache
//! hits and misses, and the database pool's use (read at each scrape). Off unless
//! METRICS_TOKEN or METRICS_ADDR is set (`Placement`).
//!
//! Each server has a recorder of its own (the exporter's `PrometheusRecorder`, never installed
//! as the `metrics` crate's process-global recorder) and records through handles registered on
//! it, never through the crate's macros: several servers in one process (the tests, or a
//! replica started beside another) keep figures of their own, and nothing global is set that a
//! second server could not set again. A request is counted through handles found by its route
//! template without allocating (`RouteSeries`); only a new series registers, once.

use crate::config::Config;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use flowspace_store::{CacheCounters, HitMiss, PoolStats};
use metrics::{Counter, Gauge, Histogram, Key, Label, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use secrecy::ExposeSecret;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

const REQUESTS: &str = "flowspace_http_requests_total";
const LATENCY: &str = "flowspace_http_request_duration_seconds";
const SIGN_INS: &str = "flowspace_sign_ins_total";
const CACHE: &str = "flowspace_cache_requests_total";
const POOL: &str = "flowspace_db_pool_connections";
const POOL_MAX: &str = "flowspace_db_pool_max_connections";

/// The `route` of a request no route matched (a 404 of the fallback): one label for all of
/// them, so that scanning for paths cannot grow the series.
pub const UNMATCHED: &str = "unmatched";

/// Latency buckets, in seconds: a cached list answers in well under a millisecond, a sign-in
/// takes tens of milliseconds (Argon2id).
const LATENCY_BUCKETS: [f64; 15] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];

/// How often recorded latencies are folded into their buckets between scrapes (the exporter
/// keeps raw samples until then).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Where `/metrics` is served, from METRICS_TOKEN and METRICS_ADDR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Neither is set: nothing is recorded and `/metrics` is not found.
    Off,
    /// METRICS_TOKEN alone: on the main listener, behind that bearer token.
    Main,
    /// METRICS_ADDR: on a listener of its own at that address and not on the main one;
    /// behind METRICS_TOKEN when it is set too, otherwise open to whoever reaches the address.
    Own(SocketAddr),
}

impl Placement {
    pub fn of(config: &Config) -> Self {
        match (config.metrics_addr, metrics_token(config).is_some()) {
            (Some(addr), _) => Self::Own(addr),
            (None, true) => Self::Main,
            (None, false) => Self::Off,
        }
    }
}

/// METRICS_TOKEN, unless unset or empty.
fn metrics_token(config: &Config) -> Option<&str> {
    config
        .metrics_token
        .as_ref()
        .map(|t| t.expose_secret())
        .filter(|t| !t.is_empty())
}

/// The server's metrics; every method is a no-op when they are off.
pub struct Metrics {
    on: Option<On>,
    /// SHA-256 of METRICS_TOKEN: what `auth::guard` compares the bearer's digest with, so
    /// that the comparison takes the same time whatever the token's length.
    token_digest: Option<[u8; 32]>,
}

struct On {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// The series of each route template seen so far.
    routes: RwLock<HashMap<Box<str>, RouteSeries>>,
    cache: CacheCounters,
    pool_in_use: Gauge,
    pool_idle: Gauge,
    pool_max: Gauge,
}

/// The handles of one route template's series: few (a route has one or two methods and a
/// handful of statuses), so found by a scan.
#[derive(Default)]
struct RouteSeries {
    requests: Vec<(&'static str, u16, Counter)>,
    latency: Vec<(&'static str, Histogram)>,
}

impl RouteSeries {
    fn find(&self, method: &'static str, status: u16) -> Option<(&Counter, &Histogram)> {
        let counter = self
            .requests
            .iter()
            .find(|(m, s, _)| *m == method && *s == status)?;
        let histogram = self.latency.iter().find(|(m, _)| *m == method)?;
        Some((&counter.2, &histogram.1))
    }
}

/// How a sign-in (`POST /auth/login`) ended, as the login activity records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignIn {
    Success,
    /// Refused, for the login activity's reason (`flowspace_store::login_reason`).
    Failure(&'static str),
    /// The password could not be checked (the server was busy or failed): no failure.
    Unchecked,
}

impl SignIn {
    fn labels(self) -> Vec<Label> {
        match self {
            Self::Success => vec![Label::from_static_parts("outcome", "success")],
            Self::Failure(reason) => vec![
                Label::from_static_parts("outcome", "failure"),
                Label::from_static_parts("reason", reason),
            ],
            Self::Unchecked => vec![Label::from_static_parts("outcome", "unchecked")],
        }
    }
}

/// The outcomes shown from the start (at 0), so that a rate is defined before the first one.
const KNOWN_SIGN_INS: [SignIn; 6] = {
    use flowspace_store::login_reason as reason;
    [
        SignIn::Success,
        SignIn::Failure(reason::UNKNOWN_EMAIL),
        SignIn::Failure(reason::WRONG_PASSWORD),
        SignIn::Failure(reason::DISABLED),
        SignIn::Failure(reason::LOCKED_OUT),
        SignIn::Unchecked,
    ]
};

/// The metric's name and labels, for the recorder.
fn key(name: &'static str, labels: Vec<Label>) -> Key {
    Key::from_parts(name, labels)
}

impl Metrics {
    /// Metrics as `config` asks; refuses a METRICS_TOKEN that is short or a known weak value,
    /// like every other secret.
    pub fn new(config: &Config) -> Result<Self, String> {
        let token = metrics_token(config);
        if let Some(t) = token {
            crate::secrets::check_strong("METRICS_TOKEN", t)?;
        }
        let token_digest = token.map(|t| Sha256::digest(t.as_bytes()).into());
        if Placement::of(config) == Placement::Off {
            return Ok(Self::off());
        }
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(LATENCY.into()), &LATENCY_BUCKETS)
            .map_err(|e| format!("metrics: {e}"))?
            .build_recorder();
        describe(&recorder);
        let hit_miss = |cache: &'static str| HitMiss {
            hit: counter(&recorder, CACHE, &[("cache", cache), ("result", "hit")]),
            miss: counter(&recorder, CACHE, &[("cache", cache), ("result", "miss")]),
        };
        let cache = CacheCounters {
            sessions: hit_miss("sessions"),
            api_keys: hit_miss("api_keys"),
            lists: hit_miss("lists"),
            items: hit_miss("items"),
        };
        for outcome in KNOWN_SIGN_INS {
            let _ = register_counter(&recorder, &key(SIGN_INS, outcome.labels()));
        }
        let gauge = |name: &'static str, labels: &[(&'static str, &'static str)]| {
            recorder.register_gauge(&static_key(name, labels), &metadata())
        };
        let on = On {
            handle: recorder.handle(),
            routes: RwLock::new(HashMap::new()),
            cache,
            pool_in_use: gauge(POOL, &[("state", "in_use")]),
            pool_idle: gauge(POOL, &[("state", "idle")]),
            pool_max: gauge(POOL_MAX, &[]),
            recorder,
        };
        Ok(Self {
            on: Some(on),
            token_digest,
        })
    }

    /// No metrics at all.
    pub fn off() -> Self {
        Self {
            on: None,
            token_digest: None,
        }
    }

    pub fn is_on(&self) -> bool {
        self.on.is_some()
    }

    /// SHA-256 of METRICS_TOKEN, when one is set.
    pub fn token_digest(&self) -> Option<&[u8; 32]> {
        self.token_digest.as_ref()
    }

    /// Where the store counts its caches' hits and misses (no-ops when metrics are off).
    pub fn cache_counters(&self) -> CacheCounters {
        self.on
            .as_ref()
            .map(|on| on.cache.clone())
            .unwrap_or_default()
    }

    /// Counts a sign-in by its outcome.
    pub fn sign_in(&self, outcome: SignIn) {
        if let Some(on) = &self.on {
            register_counter(&on.recorder, &key(SIGN_INS, outcome.labels())).increment(1);
        }
    }

    /// Counts a request of `route` (a template, or `UNMATCHED`) and records its latency.
    pub fn request(&self, route: &str, method: &Method, status: StatusCode, took: Duration) {
        let Some(on) = &self.on else {
            return;
        };
        let method = method_label(method);
        let status = status.as_u16();
        let secs = took.as_secs_f64();
        {
            let routes = on.routes.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((counter, histogram)) =
                routes.get(route).and_then(|s| s.find(method, status))
            {
                counter.increment(1);
                histogram.record(secs);
                return;
            }
        }
        // A series not seen yet: registered once, under the write lock.
        let mut routes = on.routes.write().unwrap_or_else(PoisonError::into_inner);
        let series = routes.entry(route.into()).or_default();
        let labels = |with_status: bool| {
            let mut l = vec![
                Label::new("route", SharedString::from(route.to_owned())),
                Label::from_static_parts("method", method),
            ];
            if with_status {
                l.push(Label::new("status", status.to_string()));
            }
            l
        };
        if !series.latency.iter().any(|(m, _)| *m == method) {
            let h = on
                .recorder
                .register_histogram(&key(LATENCY, labels(false)), &metadata());
            series.latency.push((method, h));
        }
        if !series
            .requests
            .iter()
            .any(|(m, s, _)| *m == method && *s == status)
        {
            let c = register_counter(&on.recorder, &key(REQUESTS, labels(true)));
            series.requests.push((method, status, c));
        }
        if let Some((counter, histogram)) = series.find(method, status) {
            counter.increment(1);
            histogram.record(secs);
        }
    }

    /// The metrics in the Prometheus text format, with the pool's use as of now.
    pub fn render(&self, pool: PoolStats) -> Option<String> {
        let on = self.on.as_ref()?;
        on.pool_in_use
            .set(f64::from(pool.open.saturating_sub(pool.idle)));
        on.pool_idle.set(f64::from(pool.idle));
        on.pool_max.set(f64::from(pool.max));
        Some(on.handle.render())
    }

    /// Folds recorded latencies into their buckets every few seconds, so that memory stays
    /// flat however long nobody scrapes; never ends (`crate::serve` drops it with the server).
    pub async fn upkeep(&self) {
        let Some(on) = &self.on else {
            return std::future::pending().await;
        };
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            on.handle.run_upkeep();
        }
    }
}

fn metadata() -> metrics::Metadata<'static> {
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, None)
}

fn static_key(name: &'static str, labels: &[(&'static str, &'static str)]) -> Key {
    key(
        name,
        labels
            .iter()
            .map(|(k, v)| Label::from_static_parts(k, v))
            .collect(),
    )
}

fn register_counter(recorder: &PrometheusRecorder, key: &Key) -> Counter {
    recorder.register_counter(key, &metadata())
}

fn counter(
    recorder: &PrometheusRecorder,
    name: &'static str,
    labels: &[(&'static str, &'static str)],
) -> Counter {
    register_counter(recorder, &static_key(name, labels))
}

/// The `# HELP` of each metric.
fn describe(r: &PrometheusRecorder) {
    let c = |name: &'static str, help: &'static str| {
        r.describe_counter(name.into(), None, SharedString::const_str(help));
    };
    c(
        REQUESTS,
        "HTTP requests by route template, method and status",
    );
    c(
        SIGN_INS,
        "Sign-ins (POST /auth/login) by outcome, and for a failure its reason",
    );
    c(
        CACHE,
        "Answers of the store's caches (sessions, api_keys, lists, items): hit, or miss (absent or stale)",
    );
    r.describe_histogram(
        LATENCY.into(),
        Some(Unit::Seconds),
        SharedString::const_str("HTTP request latency by route template and method"),
    );
    r.describe_gauge(
        POOL.into(),
        None,
        SharedString::const_str("Database connections open, by state (in_use, idle)"),
    );
    r.describe_gauge(
        POOL_MAX.into(),
        None,
        SharedString::const_str("The most database connections the pool will open"),
    );
}

/// A method as a label: one of the standard ones, else `other` (a client may send any token
/// as a method; the series must stay bounded).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The middleware that counts each request under its route template (axum's `MatchedPath`,
/// never the path itself: no ids in labels), or `UNMATCHED` where no route matched.
pub async fn count(
    State(state): State<crate::state::AppState>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let res = next.run(req).await;
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    state
        .metrics
        .request(route, &method, res.status(), start.elapsed());
    res
}

/// `GET /metrics` (its guard, `Guard::MetricsToken`, has checked the caller).
pub async fn scrape(State(state): State<crate::state::AppState>) -> Response {
    match state.metrics.render(state.store.pool_stats()) {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    const TOKEN: &str = "mt-7f3a9c1e5b2d8046af19e3c7b5d20a8c";

    /// The defaults, as `flowspace serve` with no flag parses them.
    fn config() -> Config {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            config: Config,
        }
        let mut c = Wrap::try_parse_from(["flowspace"]).unwrap().config;
        c.metrics_token = None;
        c.metrics_addr = None;
        c
    }

    #[test]
    fn a_request_is_counted_once_per_series_and_methods_stay_bounded() {
        let mut config = config();
        config.metrics_token = Some(TOKEN.into());
        let m = Metrics::new(&config).unwrap();
        let ms = Duration::from_millis(3);
        m.request("/api/v1/chatflows/{id}", &Method::GET, StatusCode::OK, ms);
        m.request("/api/v1/chatflows/{id}", &Method::GET, StatusCode::OK, ms);
        m.request(
            "/api/v1/chatflows/{id}",
            &Method::GET,
            StatusCode::NOT_FOUND,
            ms,
        );
        let odd = Method::from_bytes(b"BREW").unwrap();
        m.request(UNMATCHED, &odd, StatusCode::NOT_FOUND, ms);
        let text = m
            .render(PoolStats {
                open: 3,
                idle: 1,
                max: 8,
            })
            .unwrap();
        let line = |l: &str| text.lines().any(|x| x == l);
        assert!(
            line(
                r#"flowspace_http_requests_total{route="/api/v1/chatflows/{id}",method="GET",status="200"} 2"#
            ),
            "{text}"
        );
        assert!(
            line(
                r#"flowspace_http_requests_total{route="/api/v1/chatflows/{id}",method="GET",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(
            line(
                r#"flowspace_http_requests_total{route="unmatched",method="other",status="404"} 1"#
            ),
            "{text}"
        );
        assert!(
            line(
                r#"flowspace_http_request_duration_seconds_count{route="/api/v1/chatflows/{id}",method="GET"} 3"#
            ),
            "{text}"
        );
        assert!(
            line(r#"flowspace_db_pool_connections{state="in_use"} 2"#),
            "{text}"
        );
        assert!(line(r#"flowspace_db_pool_max_connections 8"#), "{text}");
        assert!(!text.contains("BREW"), "{text}");
    }

    #[test]
    fn off_unless_a_token_or_an_address_is_set() {
        let mut config = config();
        assert_eq!(Placement::of(&config), Placement::Off);
        assert!(!Metrics::new(&config).unwrap().is_on());
        config.metrics_token = Some(String::new().into());
        assert_eq!(
            Placement::of(&config),
            Placement::Off,
            "an empty token is none"
        );
        config.metrics_token = Some("short".to_string().into());
        assert!(Metrics::new(&config).is_err(), "a short token is refused");
        config.metrics_token = Some("t".repeat(40).into());
        assert!(
            Metrics::new(&config).is_err(),
            "a known weak token is refused"
        );
        config.metrics_token = Some(TOKEN.into());
        assert_eq!(Placement::of(&config), Placement::Main);
        let addr: SocketAddr = "127.0.0.1:9464".parse().unwrap();
        config.metrics_addr = Some(addr);
        assert_eq!(Placement::of(&config), Placement::Own(addr));
        config.metrics_token = None;
        assert_eq!(Placement::of(&config), Placement::Own(addr));
        assert!(Metrics::new(&config).unwrap().is_on());
    }
}

//! The figures operators scrape (`GET /metrics`, served by `api::health`).
//!
//! [`Metrics`] holds the request figures the frame records for every request
//! (by operation and status, latency by operation) and the file bytes the
//! transfer bodies count; the domain's own figures (cache hits and misses,
//! group commits, and the store's gauges: unfinished tasks, event backlog,
//! bytes held, metadata size) are read at each scrape. [`Operations`] names
//! a request's operation from its method and path, with the operation ids of
//! the OpenAPI document (`AddSpace`, `GetDentry`, …) and fixed names for the
//! routes outside it, and hands the frame that operation's figures.
//!
//! A request costs a route lookup and three atomic additions on its
//! operation's [`OperationFigures`], resolved when the router was built: no
//! lock and no label lookup (prometheus-client's families took two read
//! locks and a histogram write lock per request, 5 % of GetSpace's
//! throughput). The figures are turned into counters and histograms only
//! when scraped.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

/// The operation of a request no route serves.
pub const UNKNOWN_OPERATION: &str = "unknown";
/// The operation of the preview pages, whose paths are credentials.
pub const PREVIEW_OPERATION: &str = "Preview";

/// Upper bounds of the latency buckets, in seconds: 0.25 ms to 4 s.
const LATENCY_BOUNDS: [f64; 15] = [
    0.000_25, 0.000_5, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024,
    2.048, 4.096,
];
/// HTTP statuses are 100 to 999.
const FIRST_STATUS: usize = 100;
const STATUSES: usize = 900;

/// One operation's request figures: plain counters, added to without a lock.
pub struct OperationFigures {
    name: &'static str,
    /// Answers by status (index: status − 100).
    by_status: Box<[AtomicU64]>,
    /// Answers by latency bucket (not cumulative; the last past every bound).
    by_latency: [AtomicU64; LATENCY_BOUNDS.len() + 1],
    latency_sum_nanos: AtomicU64,
}

impl OperationFigures {
    fn new(name: &'static str) -> OperationFigures {
        OperationFigures {
            name,
            by_status: (0..STATUSES).map(|_| AtomicU64::new(0)).collect(),
            by_latency: Default::default(),
            latency_sum_nanos: AtomicU64::new(0),
        }
    }

    /// The operation's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Records an answered request.
    pub fn answered(&self, status: StatusCode, took: Duration) {
        let status = usize::from(status.as_u16()).saturating_sub(FIRST_STATUS).min(STATUSES - 1);
        self.by_status[status].fetch_add(1, Relaxed);
        let seconds = took.as_secs_f64();
        let bucket = LATENCY_BOUNDS.iter().position(|&bound| seconds <= bound);
        self.by_latency[bucket.unwrap_or(LATENCY_BOUNDS.len())].fetch_add(1, Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_nanos.fetch_add(nanos, Relaxed);
    }
}

impl fmt::Debug for OperationFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperationFigures").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Every operation's figures, by name.
type OperationTable = Arc<Mutex<HashMap<&'static str, Arc<OperationFigures>>>>;

/// Request figures, recorded by the frame; file bytes, counted by the
/// transfer bodies.
pub struct Metrics {
    registry: Registry,
    operations: OperationTable,
    /// File bytes received (uploads), counted as they arrive.
    pub(crate) file_bytes_in: Counter,
    /// File bytes sent (downloads, previews), counted as they leave.
    pub(crate) file_bytes_out: Counter,
    /// The store's gauges as last read (for the scrape under way).
    gauges: Arc<Mutex<Option<orgdrive_core::StoreGauges>>>,
    /// Held by a scrape from setting the gauges to encoding them.
    rendering: Mutex<()>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabel {
    cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabel {
    direction: &'static str,
}

impl Metrics {
    /// The figures of a server over `drive`.
    pub fn new(drive: orgdrive_core::Drive) -> Metrics {
        Metrics::build(Some(drive))
    }

    /// Request figures only (unit tests).
    #[cfg(test)]
    fn without_drive() -> Metrics {
        Metrics::build(None)
    }

    fn build(drive: Option<orgdrive_core::Drive>) -> Metrics {
        let mut registry = Registry::with_prefix("orgdrive");
        let operations = OperationTable::default();
        registry.register_collector(Box::new(RequestFigures(Arc::clone(&operations))));
        let transfer = Family::<DirectionLabel, Counter>::default();
        registry.register(
            "file_bytes",
            "File bytes received (in: uploads) and sent (out: downloads, previews)",
            transfer.clone(),
        );
        let file_bytes_in = transfer.get_or_create(&DirectionLabel { direction: "in" }).clone();
        let file_bytes_out = transfer.get_or_create(&DirectionLabel { direction: "out" }).clone();
        let gauges = Arc::default();
        if let Some(drive) = drive {
            let figures = DriveFigures { drive, gauges: Arc::clone(&gauges) };
            registry.register_collector(Box::new(figures));
        }
        let rendering = Mutex::new(());
        Metrics { registry, operations, file_bytes_in, file_bytes_out, gauges, rendering }
    }

    /// The figures of operation `name` (made on first use).
    pub(crate) fn operation(&self, name: &str) -> Arc<OperationFigures> {
        let mut table = self.operations.lock().unwrap_or_else(|e| e.into_inner());
        let name = intern(name);
        Arc::clone(table.entry(name).or_insert_with(|| Arc::new(OperationFigures::new(name))))
    }

    /// Every figure in the OpenMetrics text format, with the store's
    /// `gauges` just read (left out when the store did not answer).
    pub fn render(&self, gauges: Option<orgdrive_core::StoreGauges>) -> String {
        // Concurrent scrapes each encode the gauges they read.
        let _rendering = self.rendering.lock().unwrap_or_else(|e| e.into_inner());
        *self.gauges.lock().unwrap_or_else(|e| e.into_inner()) = gauges;
        let mut text = String::with_capacity(16 << 10);
        // Writing to a String cannot fail, and the collectors write numbers.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// The request figures of every operation, as counters and histograms.
#[derive(Debug)]
struct RequestFigures(OperationTable);

impl Collector for RequestFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let mut operations: Vec<Arc<OperationFigures>> =
            self.0.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        operations.sort_by_key(|o| o.name);
        let mut requests = encoder.encode_descriptor(
            "http_requests",
            "Requests answered, by operation and HTTP status",
            None,
            MetricType::Counter,
        )?;
        for operation in &operations {
            for (index, answered) in operation.by_status.iter().enumerate() {
                let answered = answered.load(Relaxed);
                if answered > 0 {
                    let status = (index + FIRST_STATUS) as u16;
                    let labels = RequestLabels { operation: operation.name, status };
                    ConstCounter::new(answered).encode(requests.encode_family(&labels)?)?;
                }
            }
        }
        let mut latency = encoder.encode_descriptor(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response's head, by operation",
            None,
            MetricType::Histogram,
        )?;
        for operation in &operations {
            let counts: Vec<u64> = operation.by_latency.iter().map(|c| c.load(Relaxed)).collect();
            let count: u64 = counts.iter().sum();
            if count == 0 {
                continue;
            }
            let bounds = LATENCY_BOUNDS.iter().copied().chain([f64::MAX]);
            let buckets: Vec<(f64, u64)> = bounds.zip(counts).collect();
            let sum = operation.latency_sum_nanos.load(Relaxed) as f64 / 1e9;
            let labels = OperationLabel { operation: operation.name };
            latency
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
        }
        Ok(())
    }
}

/// A per-cache figure: its name, its help, how to read it.
type CacheFigure = (&'static str, &'static str, fn(&orgdrive_core::CacheFigures) -> u64);

/// The domain's figures, read at each scrape.
struct DriveFigures {
    drive: orgdrive_core::Drive,
    gauges: Arc<Mutex<Option<orgdrive_core::StoreGauges>>>,
}

impl fmt::Debug for DriveFigures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DriveFigures")
    }
}

impl Collector for DriveFigures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let caches = self.drive.cache_figures();
        let figures: [CacheFigure; 4] = [
            ("cache_hits", "Read-cache lookups that found their entry", |c| c.hits),
            ("cache_misses", "Read-cache lookups that read the store", |c| c.misses),
            ("cache_entries", "Entries a read cache holds", |c| c.entries),
            ("cache_weighted_bytes", "What a read cache's entries weigh", |c| c.weighted_bytes),
        ];
        for (index, (name, help, value)) in figures.into_iter().enumerate() {
            // The first two only grow.
            let kind = if index < 2 { MetricType::Counter } else { MetricType::Gauge };
            let mut family = encoder.encode_descriptor(name, help, None, kind)?;
            for cache in &caches {
                let labels = CacheLabel { cache: cache.name };
                let at = family.encode_family(&labels)?;
                match kind {
                    MetricType::Counter => ConstCounter::new(value(cache)).encode(at)?,
                    _ => ConstGauge::new(i64::try_from(value(cache)).unwrap_or(i64::MAX))
                        .encode(at)?,
                }
            }
        }
        let writes = self.drive.write_figures();
        let commits: [(&str, &str, u64); 3] = [
            ("group_commits", "Transactions that committed combined writes", writes.commits),
            ("group_commit_writes", "Writes those transactions' commits decided", writes.writes),
            (
                "content_store_retries",
                "Object-store requests sent again (answered busy, or never sent)",
                self.drive.blob().retries(),
            ),
        ];
        for (name, help, value) in commits {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                name,
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        let gauges = *self.gauges.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(g) = gauges {
            let values: [(&str, &str, u64); 5] = [
                ("tasks_unfinished", "Asynchronous tasks not finished", g.unfinished_tasks),
                (
                    "event_backlog",
                    "Events after each subscribed app's cursor (upper bound of what is undelivered)",
                    g.event_backlog,
                ),
                ("stored_bytes", "File bytes held: files, versions, recycle bin", g.used_bytes),
                ("reserved_bytes", "Bytes reserved by uploads in flight", g.reserved_bytes),
                ("metadata_bytes", "The metadata store's size", g.store_bytes),
            ];
            for (name, help, value) in values {
                let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
                gauge.encode(encoder.encode_descriptor(
                    name,
                    help,
                    None,
                    gauge.metric_type(),
                )?)?;
            }
        }
        Ok(())
    }
}

/// A request's operation, from its method and path: one lookup in a route
/// table like the router's own, answering the operation's figures.
#[derive(Debug)]
pub struct Operations {
    metrics: Arc<Metrics>,
    /// Route pattern → its index in `methods`.
    routes: matchit::Router<usize>,
    patterns: HashMap<String, usize>,
    /// Per pattern: the operation of each method (`None`: any method).
    methods: Vec<Vec<(Option<Method>, Arc<OperationFigures>)>>,
    /// Requests no route serves.
    unknown: Arc<OperationFigures>,
}

impl Operations {
    /// An empty table whose operations count in `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Operations {
        let unknown = metrics.operation(UNKNOWN_OPERATION);
        Operations {
            metrics,
            routes: matchit::Router::new(),
            patterns: HashMap::new(),
            methods: Vec::new(),
            unknown,
        }
    }

    /// Names requests to `path` (a route pattern, `{param}` and `{*rest}`)
    /// with `method` (`None`: any) `operation`.
    pub fn add(&mut self, path: &str, method: Option<Method>, operation: &str) {
        let figures = self.metrics.operation(operation);
        if let Some(&index) = self.patterns.get(path) {
            self.methods[index].push((method, figures));
            return;
        }
        // A pattern the table cannot take (one the router refuses too) only
        // leaves its requests counted as unknown.
        if self.routes.insert(path, self.methods.len()).is_ok() {
            self.patterns.insert(path.to_owned(), self.methods.len());
            self.methods.push(vec![(method, figures)]);
        }
    }

    /// The figures of the operation a request to `path` with `method` runs.
    pub fn figures(&self, method: &Method, path: &str) -> &Arc<OperationFigures> {
        let Ok(found) = self.routes.at(path) else { return &self.unknown };
        self.methods[*found.value]
            .iter()
            .find(|(m, _)| m.as_ref().is_none_or(|m| m == method))
            .map_or(&self.unknown, |(_, figures)| figures)
    }
}

/// One `'static` copy of each operation name, however many routers are built.
fn intern(name: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut names = NAMES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(name) = names.get(name) {
        return name;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(name.to_owned(), leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_by_method_and_route() {
        let metrics = Arc::new(Metrics::without_drive());
        let mut operations = Operations::new(Arc::clone(&metrics));
        operations.add("/v1.0/storage/spaces/{spaceId}", Some(Method::GET), "GetSpace");
        operations.add("/v1.0/storage/spaces", Some(Method::POST), "AddSpace");
        operations.add("/blob/{*key}", Some(Method::PUT), "PutBlob");
        operations.add("/blob/{*key}", Some(Method::GET), "GetBlob");
        operations.add("/admin/v1/{*rest}", None, "Admin");
        let name = |m: Method, p: &str| operations.figures(&m, p).name();
        assert_eq!(name(Method::GET, "/v1.0/storage/spaces/s1"), "GetSpace");
        assert_eq!(name(Method::POST, "/v1.0/storage/spaces"), "AddSpace");
        assert_eq!(name(Method::DELETE, "/v1.0/storage/spaces/s1"), UNKNOWN_OPERATION);
        assert_eq!(name(Method::PUT, "/blob/a/b/c"), "PutBlob");
        assert_eq!(name(Method::GET, "/blob/a"), "GetBlob");
        assert_eq!(name(Method::PATCH, "/admin/v1/orgs/x"), "Admin");
        assert_eq!(name(Method::GET, "/nowhere"), UNKNOWN_OPERATION);
        // One operation, one set of figures, however many routes name it.
        let mut again = Operations::new(Arc::clone(&metrics));
        again.add("/x", None, "GetSpace");
        let first = operations.figures(&Method::GET, "/v1.0/storage/spaces/s1");
        assert!(Arc::ptr_eq(again.figures(&Method::GET, "/x"), first));
    }

    #[test]
    fn figures_render_as_counters_by_status_and_histograms_by_operation() {
        let metrics = Arc::new(Metrics::without_drive());
        let mut operations = Operations::new(Arc::clone(&metrics));
        operations.add("/s/{id}", Some(Method::GET), "GetSpace");
        let get_space = operations.figures(&Method::GET, "/s/1");
        get_space.answered(StatusCode::OK, Duration::from_micros(100));
        get_space.answered(StatusCode::OK, Duration::from_millis(3));
        get_space.answered(StatusCode::NOT_FOUND, Duration::from_secs(10));
        operations
            .figures(&Method::GET, "/elsewhere")
            .answered(StatusCode::NOT_FOUND, Duration::ZERO);
        let text = metrics.render(None);
        let lines: Vec<&str> = text.lines().collect();
        for expected in [
            "orgdrive_http_requests_total{operation=\"GetSpace\",status=\"200\"} 2",
            "orgdrive_http_requests_total{operation=\"GetSpace\",status=\"404\"} 1",
            "orgdrive_http_requests_total{operation=\"unknown\",status=\"404\"} 1",
            "orgdrive_http_request_duration_seconds_count{operation=\"GetSpace\"} 3",
            // Cumulative buckets: 100 µs in the first, 3 ms by 4 ms, 10 s past every bound.
            "orgdrive_http_request_duration_seconds_bucket{le=\"0.00025\",operation=\"GetSpace\"} 1",
            "orgdrive_http_request_duration_seconds_bucket{le=\"0.002\",operation=\"GetSpace\"} 1",
            "orgdrive_http_request_duration_seconds_bucket{le=\"0.004\",operation=\"GetSpace\"} 2",
            "orgdrive_http_request_duration_seconds_bucket{le=\"4.096\",operation=\"GetSpace\"} 2",
            "orgdrive_http_request_duration_seconds_bucket{le=\"+Inf\",operation=\"GetSpace\"} 3",
            "orgdrive_http_request_duration_seconds_sum{operation=\"GetSpace\"} 10.0031",
        ] {
            assert!(lines.contains(&expected), "missing {expected}:\n{text}");
        }
        // Statuses never answered are not shown.
        assert!(!text.contains("status=\"500\""), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}

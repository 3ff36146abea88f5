//! The figures operators scrape (`GET /metrics`, served by `api::health`).
//!
//! [`Metrics`] holds the request figures the frame records for every request
//! (by operation and status, latency by operation) and the file bytes the
//! transfer bodies count; the domain's own figures (cache hits and misses,
//! group commits, and the store's gauges: unfinished tasks, event backlog,
//! bytes held, metadata size) are read at each scrape. [`Operations`] names a request's operation from
//! its method and path, with the operation ids of the OpenAPI document
//! (`AddSpace`, `GetDentry`, …) and fixed names for the routes outside it.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The operation of a request no route serves.
pub const UNKNOWN_OPERATION: &str = "unknown";

/// Request figures, recorded by the frame; file bytes, counted by the
/// transfer bodies.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<OperationLabel, Histogram>,
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
        let mut registry = Registry::with_prefix("orgdrive");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "Requests answered, by operation and HTTP status",
            requests.clone(),
        );
        let latency = Family::<OperationLabel, Histogram>::new_with_constructor(|| {
            // 0.25 ms to 4 s.
            Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time from a request's arrival to its response's head, by operation",
            latency.clone(),
        );
        let transfer = Family::<DirectionLabel, Counter>::default();
        registry.register(
            "file_bytes",
            "File bytes received (in: uploads) and sent (out: downloads, previews)",
            transfer.clone(),
        );
        let file_bytes_in = transfer.get_or_create(&DirectionLabel { direction: "in" }).clone();
        let file_bytes_out = transfer.get_or_create(&DirectionLabel { direction: "out" }).clone();
        let gauges = Arc::default();
        registry.register_collector(Box::new(DriveFigures { drive, gauges: Arc::clone(&gauges) }));
        let rendering = Mutex::new(());
        Metrics { registry, requests, latency, file_bytes_in, file_bytes_out, gauges, rendering }
    }

    /// Records an answered request.
    pub(crate) fn answered(&self, operation: &'static str, status: StatusCode, took: Duration) {
        self.requests.get_or_create(&RequestLabels { operation, status: status.as_u16() }).inc();
        self.latency.get_or_create(&OperationLabel { operation }).observe(took.as_secs_f64());
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
        let counters: [CacheFigure; 2] = [
            ("cache_hits", "Read-cache lookups that found their entry", |c| c.hits),
            ("cache_misses", "Read-cache lookups that read the store", |c| c.misses),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(0u64);
            let mut family = encoder.encode_descriptor(name, help, None, counter.metric_type())?;
            for cache in &caches {
                let labels = CacheLabel { cache: cache.name };
                ConstCounter::new(value(cache)).encode(family.encode_family(&labels)?)?;
            }
        }
        let gauges: [CacheFigure; 2] = [
            ("cache_entries", "Entries a read cache holds", |c| c.entries),
            ("cache_weighted_bytes", "What a read cache's entries weigh", |c| c.weighted_bytes),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(0i64);
            let mut family = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            for cache in &caches {
                let labels = CacheLabel { cache: cache.name };
                let now = i64::try_from(value(cache)).unwrap_or(i64::MAX);
                ConstGauge::new(now).encode(family.encode_family(&labels)?)?;
            }
        }
        let writes = self.drive.write_figures();
        let commits: [(&str, &str, u64); 2] = [
            ("group_commits", "Transactions that committed combined writes", writes.commits),
            ("group_commit_writes", "Writes those transactions carried", writes.writes),
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
/// table like the router's own.
#[derive(Debug, Default)]
pub struct Operations {
    /// Route pattern → its index in `methods`.
    routes: matchit::Router<usize>,
    patterns: HashMap<String, usize>,
    /// Per pattern: the operation of each method (`None`: any method).
    methods: Vec<Vec<(Option<Method>, &'static str)>>,
}

impl Operations {
    /// Names requests to `path` (a route pattern, `{param}` and `{*rest}`)
    /// with `method` (`None`: any) `operation`.
    pub fn add(&mut self, path: &str, method: Option<Method>, operation: &str) {
        let operation = intern(operation);
        if let Some(&index) = self.patterns.get(path) {
            self.methods[index].push((method, operation));
            return;
        }
        // A pattern the table cannot take (one the router refuses too) only
        // leaves its requests counted as unknown.
        if self.routes.insert(path, self.methods.len()).is_ok() {
            self.patterns.insert(path.to_owned(), self.methods.len());
            self.methods.push(vec![(method, operation)]);
        }
    }

    /// The operation a request to `path` with `method` runs.
    pub fn name(&self, method: &Method, path: &str) -> &'static str {
        let Ok(found) = self.routes.at(path) else { return UNKNOWN_OPERATION };
        self.methods[*found.value]
            .iter()
            .find(|(m, _)| m.as_ref().is_none_or(|m| m == method))
            .map_or(UNKNOWN_OPERATION, |(_, operation)| operation)
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
        let mut operations = Operations::default();
        operations.add("/v1.0/storage/spaces/{spaceId}", Some(Method::GET), "GetSpace");
        operations.add("/v1.0/storage/spaces", Some(Method::POST), "AddSpace");
        operations.add("/blob/{*key}", Some(Method::PUT), "PutBlob");
        operations.add("/blob/{*key}", Some(Method::GET), "GetBlob");
        operations.add("/admin/v1/{*rest}", None, "Admin");
        let name = |m: Method, p: &str| operations.name(&m, p);
        assert_eq!(name(Method::GET, "/v1.0/storage/spaces/s1"), "GetSpace");
        assert_eq!(name(Method::POST, "/v1.0/storage/spaces"), "AddSpace");
        assert_eq!(name(Method::DELETE, "/v1.0/storage/spaces/s1"), UNKNOWN_OPERATION);
        assert_eq!(name(Method::PUT, "/blob/a/b/c"), "PutBlob");
        assert_eq!(name(Method::GET, "/blob/a"), "GetBlob");
        assert_eq!(name(Method::PATCH, "/admin/v1/orgs/x"), "Admin");
        assert_eq!(name(Method::GET, "/nowhere"), UNKNOWN_OPERATION);
        // Names are interned: a second table hands out the same pointers.
        let mut again = Operations::default();
        again.add("/x", None, "GetSpace");
        assert!(std::ptr::eq(
            again.name(&Method::GET, "/x"),
            name(Method::GET, "/v1.0/storage/spaces/s1")
        ));
    }
}

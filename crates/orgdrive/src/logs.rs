//! The process's log: lines on stderr, as text (the default) or as JSON
//! lines (`--log-format json`), filtered by `ORGDRIVE_LOG` and capped for
//! the PostgreSQL driver ([`driver_cap`]).
//!
//! A JSON line carries the id of the request being answered when it was
//! written (`requestid`, the `x-acs-request-id` the response carries): the
//! id lives in a task-local of the request's task, which the formatter
//! reads, so a request costs nothing more for it when nothing is logged.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`,
    /// `requestid` (inside a request), `fields` (the message among them),
    /// `spans`.
    Json,
}

/// Starts the process's log.
pub fn init(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = log_filter(std::env::var("ORGDRIVE_LOG").ok().as_deref());
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match format {
        // Colours only for a person at a terminal, not in log files.
        LogFormat::Text => {
            use std::io::IsTerminal;
            lines.with_ansi(std::io::stderr().is_terminal()).boxed()
        }
        // No colour codes in the fields of spans.
        LogFormat::Json => lines.with_ansi(false).event_format(JsonLines).boxed(),
    };
    tracing_subscriber::registry().with(lines.with_filter(filter).with_filter(driver_cap())).init();
}

/// The log filter: `ORGDRIVE_LOG` (default `info`).
fn log_filter(configured: Option<&str>) -> tracing_subscriber::EnvFilter {
    configured
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"))
}

/// A cap applied after [`log_filter`], whatever it says: the PostgreSQL
/// driver logs every statement's parameters (token hashes, upload keys,
/// names) at `debug`, so nothing below `info` passes from it. It only
/// lowers: `ORGDRIVE_LOG=warn` keeps the driver at `warn`.
fn driver_cap() -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    Targets::new().with_default(LevelFilter::TRACE).with_target("tokio_postgres", LevelFilter::INFO)
}

/// Writes an event as one JSON object on one line.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // Events of `log`-crate libraries (OpenDAL) arrive with target
        // `log`: their own target is in their fields.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let mut line = Map::new();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        line.insert("timestamp".into(), now.into());
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        let request_id = orgdrive_server::current_request_id();
        if !request_id.is_empty() {
            line.insert("requestid".into(), request_id.into());
        }
        let mut fields = Map::new();
        event.record(&mut JsonFields(&mut fields));
        line.insert("fields".into(), fields.into());
        if let Some(scope) = ctx.event_scope() {
            let spans: Vec<Value> = scope
                .from_root()
                .map(|span| {
                    let mut entry = Map::new();
                    entry.insert("name".into(), span.name().into());
                    if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
                        if !fields.is_empty() {
                            entry.insert("fields".into(), fields.as_str().into());
                        }
                    }
                    entry.into()
                })
                .collect();
            if !spans.is_empty() {
                line.insert("spans".into(), spans.into());
            }
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Collects an event's fields as JSON values (but the `log.*` fields that
/// carry a `log`-crate record's metadata, which the line has already).
struct JsonFields<'a>(&'a mut Map<String, Value>);

impl JsonFields<'_> {
    fn insert(&mut self, field: &Field, value: Value) {
        if !field.name().starts_with("log.") {
            self.0.insert(field.name().into(), value);
        }
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.insert(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_level_target_fields_and_spans() {
        let captured = Captured::default();
        let writer = captured.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .event_format(JsonLines);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", method = "GET");
            let _entered = span.enter();
            tracing::warn!(status = 503u64, ok = false, error = "a \"quoted\"\nline", "not ready");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "one event, one line: {text}");
        let line: Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["target"], module_path!());
        assert_eq!(line["fields"]["message"], "not ready");
        assert_eq!(line["fields"]["status"], 503);
        assert_eq!(line["fields"]["ok"], false);
        assert_eq!(line["fields"]["error"], "a \"quoted\"\nline");
        assert_eq!(line["spans"][0]["name"], "request");
        assert_eq!(line["spans"][0]["fields"], "method=\"GET\"");
        // Outside a request there is no request id.
        assert!(line.get("requestid").is_none());
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    /// What reaches the log under `ORGDRIVE_LOG=configured`: one event per
    /// (target, level) pair, recorded as "target level".
    fn written(configured: &str) -> Vec<String> {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        let writer = move || Line(sink.clone());
        let subscriber = tracing_subscriber::registry().with(
            tracing_subscriber::fmt::layer()
                .without_time()
                .with_ansi(false)
                .with_writer(writer)
                .with_filter(log_filter(Some(configured)))
                .with_filter(driver_cap()),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "tokio_postgres::query", "driver debug");
            tracing::info!(target: "tokio_postgres::connection", "driver info");
            tracing::debug!(target: "orgdrive_core", "core debug");
            tracing::warn!(target: "orgdrive_core", "core warn");
        });
        let text = String::from_utf8(lines.lock().unwrap().concat()).unwrap();
        text.lines().map(|l| l.split_once(": ").map_or(l, |(_, m)| m).to_string()).collect()
    }

    struct Line(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);
    impl std::io::Write for Line {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_postgres_driver_never_logs_below_info() {
        assert_eq!(written("debug"), ["driver info", "core debug", "core warn"]);
        // Naming the driver, or one of its modules, does not lift the cap.
        assert_eq!(
            written("tokio_postgres=trace,tokio_postgres::connection=info"),
            ["driver info"]
        );
        // The cap only lowers: `warn` and `off` keep the driver quiet.
        assert_eq!(written("warn"), ["core warn"]);
        assert!(written("off").is_empty());
        // A malformed filter falls back to `info`.
        assert_eq!(written("[{"), ["driver info", "core warn"]);
    }
}

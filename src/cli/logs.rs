//! Logging set-up: text for people, JSON lines for collectors.
//!
//! The JSON lines are `{"timestamp", "level", "fields": {"message", ...}, "target"}`, as
//! tracing-subscriber's own JSON format writes them, with two differences that collectors need:
//! fields that hold JSON (a reconcile's `verdicts`, `plan`, `execution`) are embedded as JSON
//! values, not as strings of JSON; and empty fields (an empty string, `null`) are left out. The
//! spans the event is in (the AWS SDK's, with `rpc.method` and `sdk_invocation_id`) are under
//! `spans`, root first, as tracing-subscriber writes them.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The fields whose value is JSON text, embedded as JSON.
const JSON_FIELDS: [&str; 3] = ["verdicts", "plan", "execution"];

/// One JSON object per event.
pub struct JsonLines;

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
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let meta = event.metadata();
        let mut line = serde_json::json!({
            "timestamp": jiff::Timestamp::now().to_string(),
            "level": meta.level().as_str(),
            "fields": Value::Object(fields.0),
            "target": meta.target(),
        });
        // The spans' fields, as the field formatter (JSON fields) recorded them.
        let spans: Vec<Value> = ctx
            .event_scope()
            .into_iter()
            .flat_map(|scope| scope.from_root())
            .map(|span| {
                let mut object = span
                    .extensions()
                    .get::<FormattedFields<N>>()
                    .and_then(|f| serde_json::from_str::<Map<String, Value>>(f).ok())
                    .unwrap_or_default();
                object.insert("name".into(), span.name().into());
                Value::Object(object)
            })
            .collect();
        if !spans.is_empty() {
            line["spans"] = Value::Array(spans);
        }
        writeln!(writer, "{line}")
    }
}

/// An event's fields as JSON.
struct Fields(Map<String, Value>);

impl Fields {
    fn text(&mut self, field: &Field, text: String) {
        let value = if JSON_FIELDS.contains(&field.name()) {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        } else {
            Value::String(text)
        };
        self.put(field, value);
    }

    fn put(&mut self, field: &Field, value: Value) {
        let empty = match &value {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            _ => false,
        };
        if !empty {
            self.0.insert(field.name().to_string(), value);
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.text(field, format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value.to_string());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.text(field, value.to_string());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// What a subscriber with [`JsonLines`] writes for the events `emit` makes.
    fn lines(emit: impl FnOnce()) -> Vec<Value> {
        #[derive(Clone, Default)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let out = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(JsonLines)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn json_fields_are_json_values_and_empty_fields_are_left_out() {
        let logged = lines(|| {
            tracing::info!(
                verdicts = %r#"[{"control":"SageMaker.3","status":"FAILED"}]"#,
                plan = %"null",
                execution = %r#"{"result":"applied"}"#,
                error = %"",
                resource = "nb",
                duration_ms = 1.5,
                dry_run = false,
                "reconciled"
            )
        });
        let fields = &logged[0]["fields"];
        assert_eq!(fields["verdicts"][0]["status"], "FAILED");
        assert_eq!(fields["execution"]["result"], "applied");
        assert!(fields.get("plan").is_none(), "{fields}");
        assert!(fields.get("error").is_none(), "{fields}");
        assert_eq!(fields["resource"], "nb");
        assert_eq!(fields["duration_ms"], 1.5);
        assert_eq!(fields["dry_run"], false);
        assert_eq!(fields["message"], "reconciled");
        assert_eq!(logged[0]["level"], "INFO");
        assert!(logged[0]["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn the_spans_an_event_is_in_are_written_root_first_with_their_fields() {
        let logged = lines(|| {
            let call = tracing::info_span!(
                "invoke",
                rpc.method = "DeleteMessageBatch",
                sdk_invocation_id = 7
            );
            let _in = call.enter();
            tracing::info!("beginning attempt #1");
        });
        let spans = logged[0]["spans"].as_array().unwrap();
        assert_eq!(spans[0]["name"], "invoke");
        assert_eq!(spans[0]["rpc.method"], "DeleteMessageBatch");
        assert_eq!(spans[0]["sdk_invocation_id"], 7);
    }

    #[test]
    fn a_field_named_like_a_json_one_that_is_not_json_stays_text() {
        let logged = lines(|| tracing::warn!(plan = %"not json", "x"));
        assert_eq!(logged[0]["fields"]["plan"], "not json");
    }
}

//! The report protocol: what test pages POST to `/__atelier/report`.
//!
//! Every report is a JSON object with a `kind` and the `page` it comes from
//! (`location.pathname`). See `serve/README.md` for the full table.

use serde_json::Value;

/// One report from a page.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// Sent first thing when the harness loads; `timeout_ms` comes from
    /// `<meta name="atelier-timeout-ms">` and extends the driver's deadline.
    Hello {
        /// `location.pathname` of the page.
        page: String,
        /// The page's own time budget, if it declared one.
        timeout_ms: Option<u64>,
    },
    /// Sent by `done()` before the tests run: the names of the registered tests.
    Plan {
        /// `location.pathname` of the page.
        page: String,
        /// Test names, in run order.
        tests: Vec<String>,
    },
    /// One test finished.
    Result {
        /// `location.pathname` of the page.
        page: String,
        /// Test name.
        name: String,
        /// Whether it passed.
        ok: bool,
        /// Why it failed.
        error: Option<String>,
        /// How long it took, in milliseconds.
        ms: f64,
    },
    /// All tests ran.
    Done {
        /// `location.pathname` of the page.
        page: String,
        /// Tests that passed.
        passed: u64,
        /// Tests that failed.
        failed: u64,
    },
    /// An uncaught error, an unhandled rejection, or a worker `error`/`messageerror`.
    Error {
        /// `location.pathname` of the page.
        page: String,
        /// What happened.
        message: String,
    },
    /// A line the driver prints verbatim (benchmarks print tables this way).
    Log {
        /// `location.pathname` of the page.
        page: String,
        /// The line.
        line: String,
    },
    /// A named JSON document the driver saves (bench results).
    Data {
        /// `location.pathname` of the page.
        page: String,
        /// File stem to save under.
        name: String,
        /// The document.
        json: Value,
    },
}

/// What the server hands to whoever is listening.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A page POSTed a report.
    Report(Report),
    /// An HTML file was served (the driver's clock for the harness's hello starts then).
    PageServed {
        /// The request path, as requested (with any `/__noniso` prefix).
        path: String,
    },
    /// A request was answered 404 (kept to explain a page that never reported).
    NotFound {
        /// The request path.
        path: String,
    },
}

impl Report {
    /// The page the report came from.
    pub fn page(&self) -> &str {
        match self {
            Report::Hello { page, .. }
            | Report::Plan { page, .. }
            | Report::Result { page, .. }
            | Report::Done { page, .. }
            | Report::Error { page, .. }
            | Report::Log { page, .. }
            | Report::Data { page, .. } => page,
        }
    }

    /// Parses a report body. The error names what is wrong with it.
    pub fn parse(body: &[u8]) -> Result<Report, String> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            format!("report body is not JSON ({e}): send JSON.stringify({{kind, page, ...}})")
        })?;
        let obj = v
            .as_object()
            .ok_or("report body is not a JSON object: send {kind, page, ...}")?;
        let text = |key: &str| -> Result<String, String> {
            match obj.get(key) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(format!(
                    "report field {key:?} must be a string, got {other}"
                )),
                None => Err(format!("report is missing the string field {key:?}")),
            }
        };
        let count = |key: &str| -> Result<u64, String> {
            obj.get(key)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("report field {key:?} must be a non-negative integer"))
        };
        let kind = text("kind")?;
        let page = text("page")?;
        let report = match kind.as_str() {
            "hello" => Report::Hello {
                page,
                timeout_ms: obj.get("timeoutMs").and_then(Value::as_f64).and_then(|ms| {
                    (ms.is_finite() && ms > 0.0).then_some(ms as u64)
                }),
            },
            "plan" => Report::Plan {
                page,
                tests: match obj.get("tests") {
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|t| t.as_str().map(str::to_string).unwrap_or_else(|| t.to_string()))
                        .collect(),
                    _ => return Err("plan report needs a \"tests\" array of names".into()),
                },
            },
            "result" => Report::Result {
                page,
                name: text("name")?,
                ok: obj
                    .get("ok")
                    .and_then(Value::as_bool)
                    .ok_or("result report needs a boolean \"ok\"")?,
                error: match obj.get("error") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(other) => Some(other.to_string()),
                },
                ms: obj.get("ms").and_then(Value::as_f64).unwrap_or(0.0),
            },
            "done" => Report::Done {
                page,
                passed: count("passed")?,
                failed: count("failed")?,
            },
            "error" => Report::Error {
                page,
                message: text("message")?,
            },
            "log" => Report::Log {
                page,
                line: text("line")?,
            },
            "data" => Report::Data {
                page,
                name: text("name")?,
                json: obj.get("json").cloned().unwrap_or(Value::Null),
            },
            other => {
                return Err(format!(
                    "unknown report kind {other:?}: expected hello, plan, result, done, error, log or data"
                ))
            }
        };
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        let p = |s: &str| Report::parse(s.as_bytes());
        assert_eq!(
            p(r#"{"kind":"hello","page":"/a.html","timeoutMs":300000}"#).unwrap(),
            Report::Hello {
                page: "/a.html".into(),
                timeout_ms: Some(300000)
            }
        );
        assert_eq!(
            p(r#"{"kind":"hello","page":"/a.html","timeoutMs":null}"#).unwrap(),
            Report::Hello {
                page: "/a.html".into(),
                timeout_ms: None
            }
        );
        assert_eq!(
            p(r#"{"kind":"plan","page":"/a","tests":["x","y"]}"#).unwrap(),
            Report::Plan {
                page: "/a".into(),
                tests: vec!["x".into(), "y".into()]
            }
        );
        assert_eq!(
            p(r#"{"kind":"result","page":"/a","name":"t","ok":false,"error":"boom","ms":1.5}"#)
                .unwrap(),
            Report::Result {
                page: "/a".into(),
                name: "t".into(),
                ok: false,
                error: Some("boom".into()),
                ms: 1.5
            }
        );
        assert_eq!(
            p(r#"{"kind":"done","page":"/a","passed":2,"failed":0}"#).unwrap(),
            Report::Done {
                page: "/a".into(),
                passed: 2,
                failed: 0
            }
        );
        assert!(matches!(
            p(r#"{"kind":"error","page":"/a","message":"m"}"#).unwrap(),
            Report::Error { .. }
        ));
        assert!(matches!(
            p(r#"{"kind":"log","page":"/a","line":"l"}"#).unwrap(),
            Report::Log { .. }
        ));
        match p(r#"{"kind":"data","page":"/a","name":"n","json":{"x":[1,2]}}"#).unwrap() {
            Report::Data { json, .. } => assert_eq!(json["x"][1], 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_bad_reports_with_reasons() {
        let e = |s: &str| Report::parse(s.as_bytes()).unwrap_err();
        assert!(e("nope").contains("not JSON"));
        assert!(e("[]").contains("not a JSON object"));
        assert!(e(r#"{"kind":"result","page":"/a","name":"t"}"#).contains("\"ok\""));
        assert!(e(r#"{"kind":"zap","page":"/a"}"#).contains("unknown report kind"));
        assert!(e(r#"{"kind":"log"}"#).contains("\"page\""));
    }
}

//! Running child commands: echoing their output while capturing it, and timing.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a finished command left behind.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its exit code, if it exited normally.
    pub code: Option<i32>,
    /// Standard output and standard error, line by line, roughly interleaved.
    pub text: String,
}

/// The command line as a person would type it, with the environment it sets.
pub fn describe(cmd: &Command) -> String {
    let quote = |s: &str| {
        if s.is_empty() || s.contains([' ', '"', '\'', '$', '*', '?']) {
            format!("'{s}'")
        } else {
            s.to_string()
        }
    };
    let mut parts: Vec<String> = Vec::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            parts.push(format!(
                "{}={}",
                k.to_string_lossy(),
                quote(&v.to_string_lossy())
            ));
        }
    }
    parts.push(cmd.get_program().to_string_lossy().into_owned());
    parts.extend(cmd.get_args().map(|a| quote(&a.to_string_lossy())));
    parts.join(" ")
}

fn spawn_error(cmd: &Command, e: std::io::Error) -> String {
    let program = cmd.get_program().to_string_lossy();
    if e.kind() == std::io::ErrorKind::NotFound {
        format!("`{program}` was not found on PATH: install it (or run `cargo atelier setup`)")
    } else {
        format!("cannot start `{}` ({e})", describe(cmd))
    }
}

fn pump<R: Read + Send + 'static>(
    from: R,
    echo: Option<fn(&[u8])>,
    sink: Arc<Mutex<String>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut line = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut line) {
            if n == 0 {
                break;
            }
            if let Some(echo) = echo {
                echo(&line);
            }
            if let Ok(mut s) = sink.lock() {
                s.push_str(&String::from_utf8_lossy(&line));
                if !line.ends_with(b"\n") {
                    s.push('\n');
                }
            }
            line.clear();
        }
    })
}

fn to_stdout(line: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(line);
    let _ = out.flush();
}

fn to_stderr(line: &[u8]) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(line);
    let _ = err.flush();
}

fn run(cmd: &mut Command, echo: bool) -> Result<Captured, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| spawn_error(cmd, e))?;
    let sink = Arc::new(Mutex::new(String::new()));
    let out = child
        .stdout
        .take()
        .map(|o| pump(o, echo.then_some(to_stdout as fn(&[u8])), sink.clone()));
    let err = child
        .stderr
        .take()
        .map(|e| pump(e, echo.then_some(to_stderr as fn(&[u8])), sink.clone()));
    let status = child
        .wait()
        .map_err(|e| format!("lost track of `{}` ({e})", describe(cmd)))?;
    for t in [out, err].into_iter().flatten() {
        let _ = t.join();
    }
    let text = sink.lock().map(|s| s.clone()).unwrap_or_default();
    Ok(Captured {
        success: status.success(),
        code: status.code(),
        text,
    })
}

/// Runs `cmd`, echoing its output as it comes and capturing it.
pub fn run_echo(cmd: &mut Command) -> Result<Captured, String> {
    run(cmd, true)
}

/// Runs `cmd` silently, capturing its output.
pub fn run_quiet(cmd: &mut Command) -> Result<Captured, String> {
    run(cmd, false)
}

/// `exit code 3`, or `killed by a signal` when there is no code.
pub fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exit code {c}"),
        None => "killed by a signal".to_string(),
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `850 ms`, `12.3 s`, `2 min 05 s`.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} min {:02} s", ms / 60_000, (ms / 1000) % 60)
    }
}

/// Prints `==> title` and returns a timer for [`step_end`].
pub fn step_start(title: &str) -> Instant {
    println!("==> {title}");
    Instant::now()
}

/// Prints `    done: <what> (<elapsed>)`.
pub fn step_end(started: Instant, what: &str) {
    println!("    {what} ({})", fmt_duration(started.elapsed()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_duration(Duration::from_millis(12)), "12 ms");
        assert_eq!(fmt_duration(Duration::from_millis(12_345)), "12.3 s");
        assert_eq!(fmt_duration(Duration::from_secs(125)), "2 min 05 s");
    }

    #[test]
    fn captures_and_describes() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"])
            .env("X", "1");
        assert_eq!(describe(&cmd), "X=1 sh -c 'echo out; echo err >&2; exit 3'");
        let c = run_quiet(&mut cmd).unwrap();
        assert!(!c.success);
        assert_eq!(c.code, Some(3));
        assert!(c.text.contains("out\n") && c.text.contains("err\n"));
        let e = run_quiet(&mut Command::new("definitely-not-a-program-atelier")).unwrap_err();
        assert!(e.contains("not found on PATH"), "{e}");
    }

    #[test]
    fn tails() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}

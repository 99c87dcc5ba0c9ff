//! Logging: JSON lines when stdout is not a terminal, human-readable on one.
//!
//! Log hygiene: nothing here logs request bodies or headers. Spans carry the service id and
//! `hookInstance` only; never a bearer token, a JWT, a patient name or a birth date.
//!
//! Log injection (issue 17 item 12): some fields hold text the caller chose (`hookInstance`, an
//! unsigned token's `kid`/`jku`/`typ` in a refusal's reason). The JSON format escapes control
//! characters itself; the human-readable one writes fields through [`pretty_fields`], which
//! escapes every control character (newline, carriage return, ESC…), so a field cannot start a
//! forged log line or drive the terminal.

use std::fmt::{self, Write as _};
use std::io::IsTerminal;

use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{debug_fn, Writer};
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber (once; later calls are ignored).
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init()
    } else {
        builder.fmt_fields(pretty_fields()).try_init()
    };
}

/// The field formatter of the human-readable format: `name=value` separated by spaces, the
/// message bare, every control character of a name or value escaped (`\n`, `\u{1b}`).
pub fn pretty_fields() -> impl for<'w> FormatFields<'w> + Send + Sync + 'static {
    debug_fn(|writer: &mut Writer<'_>, field, value| {
        let mut out = Escaping(writer);
        if field.name() == "message" {
            write!(out, "{value:?}")
        } else {
            write!(out, "{field}={value:?}")
        }
    })
    .delimited(" ")
}

/// Writes through to `W`, control characters escaped.
struct Escaping<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaping<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            if c.is_control() {
                for e in c.escape_default() {
                    self.0.write_char(e)?;
                }
            } else {
                self.0.write_char(c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the human-readable format writes for `f`, without colours.
    fn pretty_output(f: impl FnOnce()) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::TRACE)
            .fmt_fields(pretty_fields())
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    #[test]
    fn control_characters_in_fields_are_escaped_in_the_pretty_format() {
        let forged = "k1\n2026-11-27T00:00:00Z  INFO hook answered\r\u{1b}[31mred";
        let out = pretty_output(|| {
            let span = tracing::info_span!("hook", hook_instance = %forged);
            span.in_scope(|| {
                tracing::warn!(kid = %forged, typ = forged, reason = ?forged, "unauthorized call refused");
            });
        });
        assert_eq!(out.lines().count(), 1, "one event, one line: {out}");
        assert!(!out.contains('\u{1b}') && !out.contains('\r'), "{out:?}");
        assert!(out.contains("kid=k1\\n2026"), "{out}");
        assert!(out.contains("hook_instance=k1\\n2026"), "{out}");
        assert!(out.contains("\\u{1b}[31mred"), "{out}");
        assert!(out.contains("unauthorized call refused"), "{out}");
    }

    #[test]
    fn ordinary_fields_read_as_before() {
        let out = pretty_output(|| tracing::info!(port = 8080, host = %"127.0.0.1", "listening"));
        assert!(out.contains("listening port=8080 host=127.0.0.1"), "{out}");
    }
}

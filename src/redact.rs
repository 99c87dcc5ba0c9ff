//! Showing untrusted or secret-bearing text safely: in logs, card text and errors.
//!
//! A URL is shown without its userinfo, query and fragment ([`redact_url`]): `fhirServer` comes
//! from the EHR and may carry a password (`https://user:pw@host/…`) or a token (`?access_token=`),
//! and an unparseable one used to be echoed whole (issue 17 item 10).

use url::Url;

/// At most this many characters of a redacted URL are shown.
const MAX_SHOWN: usize = 200;

/// `raw` without userinfo, query and fragment, at most 200 characters, control characters
/// escaped. A parseable URL with a host is rebuilt from its parts; anything else is cut
/// textually: everything up to the last `@` after the scheme goes (over-redacting a path's `@`
/// rather than risking a password), then everything from the first `?` or `#`.
pub fn redact_url(raw: &str) -> String {
    let raw = raw.trim();
    let shown = match Url::parse(raw) {
        Ok(mut u) if u.has_host() => {
            // Both fail only for URLs that cannot have credentials: nothing to remove then.
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        _ => redact_text(raw),
    };
    bounded(&shown)
}

fn redact_text(raw: &str) -> String {
    let (scheme, rest) = match raw.split_once("://") {
        Some((s, rest))
            if !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            (Some(s), rest)
        }
        _ => (None, raw),
    };
    let after_userinfo = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let without_query = after_userinfo
        .find(['?', '#'])
        .map_or(after_userinfo, |i| &after_userinfo[..i]);
    match scheme {
        Some(s) => format!("{s}://{without_query}"),
        None => without_query.to_owned(),
    }
}

/// At most [`MAX_SHOWN`] characters, control characters (newlines, ANSI escapes) escaped.
fn bounded(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i == MAX_SHOWN {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_query_and_fragment_are_removed_from_a_url() {
        assert_eq!(
            redact_url("https://user:secret@h/fhir?token=x"),
            "https://h/fhir"
        );
        assert_eq!(
            redact_url(" https://ehr.example:8443/fhir/r4/#frag "),
            "https://ehr.example:8443/fhir/r4/"
        );
        assert_eq!(
            redact_url("https://user@ehr.example/fhir"),
            "https://ehr.example/fhir"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/fhir"),
            "http://127.0.0.1:8080/fhir"
        );
    }

    #[test]
    fn an_unparseable_string_loses_its_userinfo_and_query_too() {
        // A space in the host.
        assert_eq!(
            redact_url("https://user:pass@ehr example/fhir?token=x"),
            "https://ehr example/fhir"
        );
        // A port out of range, a password with a `/` and a `?`.
        assert_eq!(
            redact_url("https://admin:pa/s?s@ehr.example:99999/fhir#t"),
            "https://ehr.example:99999/fhir"
        );
        // No scheme.
        assert_eq!(redact_url("user:pass@ehr.example/fhir"), "ehr.example/fhir");
        // Not a URL at all, and a non-special scheme.
        assert_eq!(redact_url("not a url"), "not a url");
        assert_eq!(redact_url("user:pass@host"), "host");
        for raw in [
            "https://user:pass@ehr example/fhir",
            "https://admin:pa/s?s@ehr.example:99999/fhir",
            "user:pass@ehr.example/fhir",
            "ftp://user:pass@[::1/x",
        ] {
            let shown = redact_url(raw);
            assert!(
                !shown.contains("pass") && !shown.contains("pa/s"),
                "{raw} → {shown}"
            );
        }
    }

    #[test]
    fn the_result_is_bounded_and_has_no_control_characters() {
        let shown = redact_url(&format!("https://h x/{}", "a".repeat(1000)));
        assert_eq!(shown.chars().count(), MAX_SHOWN + 1);
        let shown = redact_url("https://h x/\n2026-01-01 WARN forged\u{1b}[31m");
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(
            shown.contains("\\n") && shown.contains("\\u{1b}"),
            "{shown}"
        );
    }
}

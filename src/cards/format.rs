//! Language-neutral formatting: markdown escaping of EHR text, dates, numbers, summary clamping.

use chrono::NaiveDate;

/// The contract's maximum summary length, in characters.
pub const SUMMARY_MAX_CHARS: usize = 139;

/// EHR-provided text longer than this is cut (with "…") before it goes into a detail, so that a
/// runaway label cannot drown the card.
pub const EHR_TEXT_MAX_CHARS: usize = 300;

/// Escapes text that comes from the EHR (labels, references, diagnostics) so that it shows as
/// written in GitHub-flavoured markdown: every markdown-active ASCII punctuation character gets a
/// backslash (CommonMark allows a backslash before any ASCII punctuation), line breaks and other
/// control characters become spaces (a label never starts a new block), bidi and zero-width
/// characters are dropped, what a GFM renderer would autolink (URL, `www.`, e-mail) is broken
/// with a backslash, and the text is capped at [`EHR_TEXT_MAX_CHARS`].
pub fn escape_md(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    let mut truncated = false;
    let mut last_space = false;
    let text = raw.trim();
    for (count, (at, ch)) in text.char_indices().enumerate() {
        let rest = text.get(at + ch.len_utf8()..).unwrap_or("");
        if count >= EHR_TEXT_MAX_CHARS {
            truncated = true;
            break;
        }
        // Bidi controls and zero-width characters (issue 17 item 13): they can reorder or hide
        // what the clinician reads; they are dropped.
        if is_invisible_format(ch) {
            continue;
        }
        if ch.is_control() || ch == '\u{2028}' || ch == '\u{2029}' {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        last_space = ch == ' ';
        // Block markers matter only where a line (or a list item's text) starts: escape them at
        // the start, and `1.` / `1)` ordered-list markers after a leading run of digits.
        let at_start = out.is_empty();
        let after_leading_digits = !out.is_empty() && out.chars().all(|c| c.is_ascii_digit());
        let inline_active = matches!(
            ch,
            '\\' | '`'
                | '*'
                | '_'
                | '{'
                | '}'
                | '['
                | ']'
                | '<'
                | '>'
                | '('
                | ')'
                | '#'
                | '!'
                | '|'
                | '~'
                | '&'
        );
        let block_start = at_start && matches!(ch, '-' | '+' | '=');
        let ordered_marker = after_leading_digits && ch == '.';
        if inline_active || block_start || ordered_marker || breaks_autolink(&out, ch, rest) {
            out.push('\\');
        }
        out.push(ch);
    }
    if truncated {
        out.push('…');
    }
    out
}

/// Bidi embedding/override/isolate marks, LRM/RLM/ALM, zero-width space/joiners, word joiner
/// and BOM: invisible, and able to make a label read otherwise than it is.
fn is_invisible_format(ch: char) -> bool {
    matches!(
        ch,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Whether `ch` (about to follow `out`, with `rest` after it) is where a GFM autolink would
/// start (issue 17 item 13), so that a backslash before it keeps EHR text from becoming a link:
/// every `@` (e-mail addresses), the `:` of `scheme://`, and the `.` of a `www.` that starts a
/// word. cmark-gfm and markdown-it see an escaped character as its own text, not part of a link.
fn breaks_autolink(out: &str, ch: char, rest: &str) -> bool {
    match ch {
        '@' => true,
        ':' => rest
            .chars()
            .filter(|c| !is_invisible_format(*c))
            .take(2)
            .eq("//".chars()),
        '.' => {
            let Some(i) = out.len().checked_sub(3) else {
                return false;
            };
            let (Some(head), Some(before)) = (out.get(..i), out.get(i..)) else {
                return false;
            };
            let word_start = head
                .chars()
                .next_back()
                .map_or(true, |c| !c.is_alphanumeric());
            before.eq_ignore_ascii_case("www") && word_start
        }
        _ => false,
    }
}

/// `YYYY-MM-DD`.
pub fn fmt_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// A number as a clinician writes it: no trailing zeros, at most 3 decimals, `decimal` as the
/// separator. `None` when the value is NaN or infinite (the caller says so in words).
pub fn fmt_number(v: f64, decimal: char) -> Option<String> {
    if !v.is_finite() {
        return None;
    }
    let s = if v.abs() >= 1e9 {
        format!("{v:e}")
    } else {
        let mut s = format!("{v:.3}");
        if s.contains('.') {
            while s.ends_with('0') {
                s.pop();
            }
            if s.ends_with('.') {
                s.pop();
            }
        }
        if s == "-0" {
            s = "0".to_string();
        }
        s
    };
    Some(if decimal == '.' {
        s
    } else {
        s.replace('.', &decimal.to_string())
    })
}

/// Cuts a summary to [`SUMMARY_MAX_CHARS`] characters on a char boundary, ending with "…".
/// The texts are written to fit; this is the last safety net.
pub fn clamp_summary(s: &str) -> String {
    let one_line: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one_line = one_line.trim();
    if one_line.chars().count() <= SUMMARY_MAX_CHARS {
        return one_line.to_string();
    }
    let mut out: String = one_line.chars().take(SUMMARY_MAX_CHARS - 1).collect();
    out = out.trim_end().to_string();
    out.push('…');
    out
}

/// A FHIR R4 `id`: `[A-Za-z0-9\-\.]{1,64}`.
pub fn is_fhir_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// A relative reference `Type/id` with a FHIR resource type and a valid id.
pub fn is_relative_reference(reference: &str, resource_type: Option<&str>) -> bool {
    let Some((ty, id)) = reference.split_once('/') else {
        return false;
    };
    let type_ok = match resource_type {
        Some(expected) => ty == expected,
        None => {
            ty.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && ty.chars().all(|c| c.is_ascii_alphabetic())
        }
    };
    type_ok && is_fhir_id(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_no_trailing_zeros() {
        assert_eq!(fmt_number(40.0, '.').as_deref(), Some("40"));
        assert_eq!(fmt_number(1.20, ',').as_deref(), Some("1,2"));
        assert_eq!(fmt_number(0.1 + 0.2, '.').as_deref(), Some("0.3"));
        assert_eq!(fmt_number(-0.0001, '.').as_deref(), Some("0"));
        assert_eq!(fmt_number(f64::NAN, '.'), None);
        assert_eq!(fmt_number(f64::INFINITY, '.'), None);
        assert!(fmt_number(1e300, '.').is_some_and(|s| s.len() < 12));
    }

    #[test]
    fn escaping_neutralises_markdown() {
        assert_eq!(escape_md("a*b_c"), "a\\*b\\_c");
        assert_eq!(escape_md("x\n# y"), "x \\# y");
        assert_eq!(escape_md("[l](http://x)"), "\\[l\\]\\(http\\://x\\)");
        assert_eq!(escape_md("- 1. bêta-1a"), "\\- 1. bêta-1a");
        assert_eq!(escape_md("12. x"), "12\\. x");
        assert_eq!(escape_md("<script>"), "\\<script\\>");
        let long = "é".repeat(500);
        let e = escape_md(&long);
        assert_eq!(e.chars().count(), EHR_TEXT_MAX_CHARS + 1);
        assert!(e.ends_with('…'));
    }

    /// Issue 17 item 13: text from the record never becomes a link, and invisible bidi or
    /// zero-width characters are dropped.
    #[test]
    fn escaping_keeps_urls_www_and_emails_from_becoming_links() {
        assert_eq!(
            escape_md("see https://evil.example/x"),
            "see https\\://evil.example/x"
        );
        assert_eq!(escape_md("HTTP://a.b"), "HTTP\\://a.b");
        assert_eq!(escape_md("www.evil.example"), "www\\.evil.example");
        assert_eq!(escape_md("go WWW.evil.example"), "go WWW\\.evil.example");
        assert_eq!(escape_md("awww.x"), "awww.x");
        assert_eq!(escape_md("dr@evil.example"), "dr\\@evil.example");
        assert_eq!(escape_md("ratio 1:2 at 10:30"), "ratio 1:2 at 10:30");
        assert_eq!(escape_md("LEMTRADA 12 mg"), "LEMTRADA 12 mg");
    }

    #[test]
    fn escaping_drops_bidi_and_zero_width_characters() {
        assert_eq!(escape_md("abc\u{202E}fed"), "abcfed");
        assert_eq!(escape_md("a\u{200B}b\u{200D}c\u{FEFF}"), "abc");
        assert_eq!(escape_md("\u{2066}x\u{2069}\u{200F}"), "x");
        assert_eq!(escape_md("w\u{200B}ww.evil.example"), "www\\.evil.example");
        assert_eq!(escape_md("http:\u{200B}//x"), "http\\://x");
    }

    #[test]
    fn clamp_cuts_on_char_boundary() {
        let s = "é".repeat(200);
        let c = clamp_summary(&s);
        assert_eq!(c.chars().count(), SUMMARY_MAX_CHARS);
        assert!(c.ends_with('…'));
        assert_eq!(clamp_summary("short"), "short");
    }

    #[test]
    fn references() {
        assert!(is_relative_reference(
            "MedicationRequest/abc-1",
            Some("MedicationRequest")
        ));
        assert!(!is_relative_reference(
            "MedicationRequest/",
            Some("MedicationRequest")
        ));
        assert!(!is_relative_reference("MedicationRequest/a b", None));
        assert!(is_relative_reference("Patient/1", None));
        assert!(!is_relative_reference("patient/1", None));
    }
}

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
/// control characters become spaces (a label never starts a new block), and the text is capped
/// at [`EHR_TEXT_MAX_CHARS`].
pub fn escape_md(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    let mut truncated = false;
    let mut last_space = false;
    for (count, ch) in raw.trim().chars().enumerate() {
        if count >= EHR_TEXT_MAX_CHARS {
            truncated = true;
            break;
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
        if inline_active || block_start || ordered_marker {
            out.push('\\');
        }
        out.push(ch);
    }
    if truncated {
        out.push('…');
    }
    out
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
        assert_eq!(escape_md("[l](http://x)"), "\\[l\\]\\(http://x\\)");
        assert_eq!(escape_md("- 1. bêta-1a"), "\\- 1. bêta-1a");
        assert_eq!(escape_md("12. x"), "12\\. x");
        assert_eq!(escape_md("<script>"), "\\<script\\>");
        let long = "é".repeat(500);
        let e = escape_md(&long);
        assert_eq!(e.chars().count(), EHR_TEXT_MAX_CHARS + 1);
        assert!(e.ends_with('…'));
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

//! How a coding or a text is matched against a value set: systems compared trimmed,
//! case-insensitively and without a trailing `/`; ATC by prefix; the ICD-10 family normalised and
//! matched by prefix or category range, MS by explicit rules ([`ms_from_icd`]); text accent-folded,
//! on whole words. The value sets themselves are in `value_sets.rs`.

use std::collections::HashSet;

use crate::rules::{Code, MsType};

use super::{ATC, ICD10, ICD10_CM, ICD10_FR, ICD10_GM};

const ICD_SYSTEMS: [&str; 4] = [ICD10, ICD10_CM, ICD10_FR, ICD10_GM];

// ---------------------------------------------------------------------------------------------
// Normalisation

pub(super) fn norm_system(system: &str) -> String {
    system.trim().trim_end_matches('/').to_ascii_lowercase()
}

pub(super) fn is_icd_system(norm_system: &str) -> bool {
    ICD_SYSTEMS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(norm_system))
}

/// ICD-10 code normalised: uppercase ASCII letters and digits only (`g35.a ` → `G35A`).
pub(super) fn norm_icd(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

pub(super) fn norm_code(norm_system: &str, code: &str) -> String {
    if is_icd_system(norm_system) {
        norm_icd(code)
    } else if norm_system == ATC {
        code.trim().to_ascii_uppercase()
    } else {
        code.trim().to_string()
    }
}

/// Lowercase, accents folded, punctuation as spaces, single spaces, padded with one space on each
/// side so that `" word "` finds whole words.
pub(super) fn fold_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    let mut last_space = true;
    for c in text.chars().flat_map(char::to_lowercase) {
        let folded: &str = match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ÿ' => "y",
            'œ' => "oe",
            'æ' => "ae",
            'ß' => "ss",
            c if c.is_alphanumeric() => {
                out.push(c);
                last_space = false;
                continue;
            }
            _ => " ",
        };
        if folded == " " {
            if !last_space {
                out.push(' ');
                last_space = true;
            }
        } else {
            out.push_str(folded);
            last_space = false;
        }
    }
    if !last_space {
        out.push(' ');
    }
    out
}

pub(super) fn contains_words(folded_haystack: &str, needle: &str) -> bool {
    let needle = fold_text(needle);
    !needle.trim().is_empty() && folded_haystack.contains(&needle)
}

// ---------------------------------------------------------------------------------------------
// Code sets

#[derive(Debug, Clone)]
enum IcdMatch {
    /// Normalised prefix (`K71` matches `K71.9`).
    Prefix(String),
    /// 3-character categories, inclusive (`I10`..=`I15`).
    Categories(String, String),
}

#[derive(Debug, Clone)]
struct IcdRule {
    /// Restrict to one ICD-10 system (normalised URI); `None` = every ICD-10 system.
    only: Option<&'static str>,
    matcher: IcdMatch,
}

#[derive(Debug, Clone, Default)]
pub(super) struct CodeSet {
    /// `(normalised system, normalised code)`.
    pub(super) exact: HashSet<(String, String)>,
    /// Uppercase ATC prefixes.
    pub(super) atc: Vec<String>,
    icd: Vec<IcdRule>,
    /// Needles, matched on whole words of the folded text.
    text: Vec<String>,
}

impl CodeSet {
    pub(super) fn new() -> Self {
        Self::default()
    }

    pub(super) fn codes(mut self, system: &str, codes: &[&str]) -> Self {
        for code in codes {
            self.add(system, code);
        }
        self
    }

    pub(super) fn atc(mut self, prefixes: &[&str]) -> Self {
        self.atc
            .extend(prefixes.iter().map(|p| p.trim().to_ascii_uppercase()));
        self
    }

    /// ICD-10 prefixes valid in every ICD-10 system.
    pub(super) fn icd(self, prefixes: &[&str]) -> Self {
        self.icd_in(None, prefixes)
    }

    pub(super) fn icd_in(mut self, only: Option<&'static str>, prefixes: &[&str]) -> Self {
        self.icd.extend(prefixes.iter().map(|p| IcdRule {
            only,
            matcher: IcdMatch::Prefix(norm_icd(p)),
        }));
        self
    }

    pub(super) fn icd_range(mut self, from: &str, to: &str) -> Self {
        self.icd.push(IcdRule {
            only: None,
            matcher: IcdMatch::Categories(norm_icd(from), norm_icd(to)),
        });
        self
    }

    pub(super) fn text(mut self, needles: &[&str]) -> Self {
        self.text.extend(needles.iter().map(|n| fold_text(n)));
        self
    }

    /// Adds one code: ATC codes become prefixes, everything else an exact pair.
    pub(super) fn add(&mut self, system: &str, code: &str) {
        let system = norm_system(system);
        if system == ATC {
            self.atc.push(code.trim().to_ascii_uppercase());
        } else {
            let code = norm_code(&system, code);
            self.exact.insert((system, code));
        }
    }

    pub(super) fn matches_code(&self, code: &Code) -> bool {
        let system = norm_system(&code.system);
        let value = norm_code(&system, &code.code);
        if value.is_empty() {
            return false;
        }
        if self.exact.contains(&(system.clone(), value.clone())) {
            return true;
        }
        if system == ATC {
            return self
                .atc
                .iter()
                .any(|p| !p.is_empty() && value.starts_with(p.as_str()));
        }
        if is_icd_system(&system) {
            return self.icd.iter().any(|rule| {
                rule.only
                    .map_or(true, |only| only.eq_ignore_ascii_case(&system))
                    && match &rule.matcher {
                        IcdMatch::Prefix(p) => value.starts_with(p.as_str()),
                        IcdMatch::Categories(from, to) => {
                            let category: String = value.chars().take(3).collect();
                            category.len() == 3
                                && category.as_str() >= from.as_str()
                                && category.as_str() <= to.as_str()
                        }
                    }
            });
        }
        false
    }

    pub(super) fn matches_any_code(&self, codes: &[Code]) -> bool {
        codes.iter().any(|c| self.matches_code(c))
    }

    /// `folded` is the output of [`fold_text`].
    pub(super) fn matches_text(&self, folded: &str) -> bool {
        self.text
            .iter()
            .any(|n| n.trim().len() > 1 && folded.contains(n.as_str()))
    }
}

/// MS type of a normalised ICD-10 code (any ICD-10 system), by explicit rules:
/// - ICD-10-CM (since October 2025): `G35.A` RRMS; `G35.B0`–`G35.B2` PPMS; `G35.C0`–`G35.C2`
///   SPMS; `G35.D` unspecified (S).
/// - ICD-10-GM: `G35.1x` relapsing-remitting (S). Assumed from the German classification, not
///   in the reference (U): `G35.2x` primary progressive ("primär-chronisch"), `G35.3x` secondary
///   progressive ("sekundär-chronisch"); both subtypes also have SNOMED CT and ICD-10-CM codes.
/// - WHO / CIM-10 `G35` and every other `G35…` code (GM `G35.0` first manifestation, `G35.9`):
///   MS without subtype, i.e. "RRMS not confirmed", never RRMS.
///
/// The subcode letters of ICD-10-CM and digits of ICD-10-GM do not collide, so the rules apply to
/// every ICD-10 system (a CM code sent under the WHO URI is still understood).
pub(super) fn ms_from_icd(code: &str) -> Option<MsType> {
    let rest = code.strip_prefix("G35")?;
    Some(if rest == "A" || rest.starts_with('1') {
        MsType::RelapsingRemitting
    } else if rest.starts_with('B') || rest.starts_with('2') {
        MsType::PrimaryProgressive
    } else if rest.starts_with('C') || rest.starts_with('3') {
        MsType::SecondaryProgressive
    } else {
        MsType::Unspecified
    })
}

//! `GET /admin/report?since=…&until=…[&profile=…][&format=json]`: the drug committee's report
//! (src/report/html.rs), the page `report --format html` writes, served by the running service.
//!
//! Its own credential, never the EHR's: `Authorization: Bearer <token>` with one of
//! `[admin] tokens` (src/admin.rs); the JWT guard (src/web/auth.rs) leaves this path to it, so
//! an EHR JWT is just a wrong token here. Without configured tokens the route answers 404. In
//! local mode (no JWT issuer) it also answers only a loopback peer (and, src/web/guard.rs, a
//! loopback `Host`). A refusal is logged with its reason and the peer, never the token.
//!
//! `since` / `until` are as in `report --since/--until` (a day `YYYY-MM-DD` UTC, `until`
//! inclusive, or an RFC 3339 instant); `profile` as in `report --profile` (`ansm-2019` or
//! `ema-2020`; empty: every profile); `format=json` answers `report --format json`'s document.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::operation_outcome;
use super::AppState;
use crate::report::html::{page, PageContext};

/// The page's policy: nothing but its own inline styles and SVG.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'";

/// An OperationOutcome (src/web/error.rs), never cached.
fn outcome(
    status: actix_web::http::StatusCode,
    code: &str,
    expression: Option<&str>,
    diagnostics: &str,
) -> HttpResponse {
    let mut response = operation_outcome(status, code, expression, diagnostics);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

fn refuse(req: &HttpRequest, reason: &'static str) -> HttpResponse {
    let peer = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    tracing::warn!(reason, %peer, "admin report refused");
    metrics::counter!("cds_admin_refused_total", "reason" => reason).increment(1);
    let mut resp = outcome(
        actix_web::http::StatusCode::UNAUTHORIZED,
        "login",
        None,
        "unauthorized",
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer realm=\"alemtuzumab-cds-admin\""),
    );
    resp
}

/// The bearer token of `Authorization`, if the header is one.
fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// The query: `since`, `until`, `profile`, `format` (`html` or `json`); anything else is an
/// error.
struct Query {
    since: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
    profile: Option<crate::rules::Profile>,
    json: bool,
}

fn parse_query(q: &str) -> Result<Query, (String, String)> {
    let mut out = Query {
        since: None,
        until: None,
        profile: None,
        json: false,
    };
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        let shown = |s: &str| {
            s.chars()
                .take(100)
                .flat_map(char::escape_default)
                .collect::<String>()
        };
        match k.as_ref() {
            // The page's form sends every field, empty when not chosen.
            "since" | "until" | "profile" if v.trim().is_empty() => {}
            "profile" => {
                out.profile =
                    Some(crate::report::parse_profile(&v).map_err(|e| ("profile".to_owned(), e))?)
            }
            "since" => {
                out.since = Some(
                    crate::report::parse_bound(&v, false).map_err(|e| ("since".to_owned(), e))?,
                )
            }
            "until" => {
                out.until = Some(
                    crate::report::parse_bound(&v, true).map_err(|e| ("until".to_owned(), e))?,
                )
            }
            "format" => match v.as_ref() {
                "html" => out.json = false,
                "json" => out.json = true,
                other => {
                    return Err((
                        "format".to_owned(),
                        format!("`{}`: expected html or json", shown(other)),
                    ))
                }
            },
            other => {
                return Err((
                    shown(other),
                    "unknown parameter: expected since, until, profile or format".to_owned(),
                ))
            }
        }
    }
    if let (Some(s), Some(u)) = (out.since, out.until) {
        if s >= u {
            return Err((
                "until".to_owned(),
                "the period ends before it starts".to_owned(),
            ));
        }
    }
    Ok(out)
}

/// `GET /admin/report`.
pub async fn report(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let settings = &state.settings;
    if !settings.admin.enabled() {
        return outcome(
            actix_web::http::StatusCode::NOT_FOUND,
            "not-found",
            None,
            "no admin report here: configure [admin] tokens to serve it",
        );
    }
    if settings.local_mode() && !req.peer_addr().is_some_and(|a| a.ip().is_loopback()) {
        return refuse(&req, "local mode, peer not loopback");
    }
    match bearer(&req) {
        Some(token) if settings.admin.accepts(token) => {}
        Some(_) => return refuse(&req, "wrong admin token"),
        None => return refuse(&req, "no bearer token"),
    }
    let query = match parse_query(req.query_string()) {
        Ok(q) => q,
        Err((param, message)) => {
            return outcome(
                actix_web::http::StatusCode::BAD_REQUEST,
                "invalid",
                Some(&param),
                &format!("query parameter `{param}`: {message}"),
            )
        }
    };
    let scope = crate::report::Scope {
        since: query.since,
        until: query.until,
        profile: query.profile,
    };
    let cards = settings.cards.clone();
    let read = state
        .store
        .with_store(move |store| async move { crate::report::load(&store, &scope, &cards).await })
        .await;
    let report = match read {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(error = %e, "admin report: store unavailable");
            return outcome(
                actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
                "transient",
                None,
                "the store is unavailable; retry later",
            );
        }
    };
    tracing::info!(
        since = ?report.since,
        until = ?report.until,
        profile = ?report.profile,
        json = query.json,
        "admin report served"
    );
    if query.json {
        return HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(&report);
    }
    let ctx = PageContext {
        language: settings.cards.language,
        profile: settings.rules.profile.as_str().to_owned(),
        generated_at: chrono::Utc::now(),
        form_action: Some("/admin/report".to_owned()),
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .body(page(&report, &ctx))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_since_until_profile_format_and_nothing_else() {
        let q = parse_query("since=2026-10-01&until=2026-12-31&format=json").unwrap();
        assert!(q.json && q.since.is_some() && q.until.is_some() && q.profile.is_none());
        assert!(parse_query("").is_ok_and(|q| !q.json && q.since.is_none()));
        assert!(parse_query("since=&until=&profile=").is_ok_and(|q| q.profile.is_none()));
        assert_eq!(
            parse_query("profile=ema-2020").ok().and_then(|q| q.profile),
            Some(crate::rules::Profile::Ema2020)
        );
        assert_eq!(parse_query("since=yesterday").err().unwrap().0, "since");
        assert_eq!(parse_query("format=pdf").err().unwrap().0, "format");
        assert_eq!(parse_query("profile=ema-2021").err().unwrap().0, "profile");
        assert_eq!(parse_query("rules=ema-2020").err().unwrap().0, "rules");
        assert_eq!(
            parse_query("since=2026-12-01&until=2026-11-01")
                .err()
                .unwrap()
                .0,
            "until"
        );
    }
}

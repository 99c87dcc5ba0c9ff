//! The outbound FHIR client: reqwest on rustls, one pool for the whole process.
//!
//! Guard-rails (docs/wire-contract.md §Outbound FHIR): requests go only to `fhirServer` base URLs on
//! the allow-list (local mode: loopback only), `https` unless loopback. Every outbound URL —
//! searches, `next` links, reads of references, redirects (followed here, not by reqwest, at
//! most [`MAX_REDIRECTS`]) — must lie under that base on a path boundary ([`under_base`]), not
//! merely on its origin (issue 17 item 5); `next` links never twice, at most `fhir.max_pages`
//! pages; bodies are capped at `fhir.max_response_bytes` and parsed only as JSON; every request
//! of a hook call shares one deadline. A failure is a [`GapReason`], which the rules show as
//! "could not check", never an error of the hook call.
//!
//! The bearer token (`fhirAuthorization.access_token`) is sent on every request and never logged.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use reqwest::header::{ACCEPT, AUTHORIZATION, LOCATION};
use serde_json::value::RawValue;
use tracing::Instrument;
use url::Url;

use super::model::head;
use super::prefetch::{Entry, RawBundle};
use crate::net::is_loopback_host;
use crate::redact::redact_url;
use crate::rules::GapReason;

/// Outbound FHIR settings (`[fhir]`, validated by `config`).
#[derive(Debug, Clone, PartialEq)]
pub struct FhirSettings {
    /// Base URLs `fhirServer` must start with. Empty: loopback servers only (local mode).
    pub allowed_servers: Vec<url::Url>,
    pub deadline: std::time::Duration,
    pub max_pages: u32,
    pub max_response_bytes: u64,
    /// FHIR response bytes one hook call may read, all its responses together (issue 17 item 2:
    /// 60 references to 8 MiB Medications took the process from 18 MiB to 1.1 GiB).
    pub max_call_response_bytes: u64,
    /// Distinct `medicationReference` reads per hook call (issue 17 item 2): the references
    /// beyond are not read and become one `data-unavailable` gap.
    pub max_medication_reads: u32,
    /// FHIR requests in flight at once for the whole process, all hook calls together (issue 17
    /// item 2): a request beyond waits for a slot within its call's deadline.
    pub max_concurrent_requests: usize,
}

/// A pooled FHIR client; cheap to clone.
#[derive(Debug, Clone)]
pub struct FhirClient {
    http: reqwest::Client,
    settings: FhirSettings,
    /// Requests in flight for the whole process (`fhir.max_concurrent_requests`): each hook
    /// call bounds its own reads, this bounds them all together (issue 17 item 2).
    slots: Arc<tokio::sync::Semaphore>,
}

/// Where and how to ask: the checked base URL and the lent token.
#[derive(Clone)]
pub struct FhirTarget {
    pub base: Url,
    pub token: Option<String>,
    pub deadline: Instant,
    /// Response bytes read so far by the hook call, shared by its concurrent requests and
    /// capped at `fhir.max_call_response_bytes` (issue 17 item 2).
    pub spent: Arc<AtomicU64>,
}

impl std::fmt::Debug for FhirTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FhirTarget")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl FhirClient {
    pub fn new(settings: &FhirSettings) -> Result<Self, reqwest::Error> {
        // Redirects are followed in `get_json`, which knows the base they must stay under: a
        // reqwest policy sees only the URLs, and keeps the token on any same-origin redirect.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.deadline)
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .user_agent(concat!("alemtuzumab-cds/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let slots = settings
            .max_concurrent_requests
            .clamp(1, tokio::sync::Semaphore::MAX_PERMITS);
        Ok(Self {
            http,
            settings: settings.clone(),
            slots: Arc::new(tokio::sync::Semaphore::new(slots)),
        })
    }

    pub fn settings(&self) -> &FhirSettings {
        &self.settings
    }

    /// Checks `fhirServer` against the allow-list; the error names the refused host, or the
    /// unparseable string without userinfo and query ([`redact_url`]): it is shown in the card
    /// and the log.
    pub fn check_server(&self, fhir_server: &str) -> Result<Url, GapReason> {
        let refused = |u: &str| GapReason::ServerNotAllowed(u.to_owned());
        let mut url =
            Url::parse(fhir_server.trim()).map_err(|_| refused(&redact_url(fhir_server)))?;
        let host = url.host_str().unwrap_or("").to_owned();
        // An encoded `/` or `\` is a separator to many servers and proxies but not to the
        // boundary check: `…/fhir/r4%2F..%2Fadmin` would pass as under `/fhir/r4/`.
        if has_encoded_separator(fhir_server) {
            return Err(refused(&host));
        }
        let loopback = is_loopback_host(&url);
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(refused(&host)),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused(&host));
        }
        url.set_query(None);
        url.set_fragment(None);
        if !url.path().ends_with('/') {
            let p = format!("{}/", url.path());
            url.set_path(&p);
        }
        let allowed = if self.settings.allowed_servers.is_empty() {
            loopback && under_base(&url, &url)
        } else {
            self.settings.allowed_servers.iter().any(|a| {
                let mut base = a.clone();
                if !base.path().ends_with('/') {
                    let p = format!("{}/", base.path());
                    base.set_path(&p);
                }
                under_base(&base, &url)
            })
        };
        if allowed {
            Ok(url)
        } else {
            Err(refused(&host))
        }
    }

    /// Runs a search (a prefetch template with its tokens filled) and follows `next` links.
    pub async fn search(
        &self,
        target: &FhirTarget,
        query: &str,
    ) -> Result<Vec<Entry<'static>>, GapReason> {
        let url = target
            .base
            .join(query.trim_start_matches('/'))
            .map_err(|e| GapReason::Unreadable(e.to_string()))?;
        let resource_type = query.split(['?', '/']).next().unwrap_or("").to_owned();
        self.pages(target, url, Vec::new(), &resource_type).await
    }

    /// Reads the pages after a prefetched first page.
    pub async fn remaining_pages<'a>(
        &self,
        target: &FhirTarget,
        next: &str,
        first: Vec<Entry<'a>>,
        resource_type: &str,
    ) -> Result<Vec<Entry<'a>>, GapReason> {
        // `Bundle.link.url` is a `uri`: a relative one is on `fhirServer` (whether it stays
        // under the base is checked in `pages` either way).
        let url = target.base.join(next).map_err(|_| GapReason::BadNextLink)?;
        self.pages(target, url, first, resource_type).await
    }

    async fn pages<'a>(
        &self,
        target: &FhirTarget,
        first_url: Url,
        mut entries: Vec<Entry<'a>>,
        resource_type: &str,
    ) -> Result<Vec<Entry<'a>>, GapReason> {
        let mut seen = HashSet::new();
        let mut url = first_url;
        let mut pages = 0u32;
        loop {
            if !under_base(&target.base, &url) {
                tracing::warn!(
                    url = %redact_url(url.as_str()),
                    "next link outside fhirServer refused"
                );
                return Err(GapReason::BadNextLink);
            }
            if !seen.insert(url.as_str().to_owned()) {
                return Err(GapReason::BadNextLink);
            }
            if pages >= self.settings.max_pages {
                return Err(GapReason::PageLimit(self.settings.max_pages));
            }
            pages += 1;
            let body = self.get_json(target, url.clone(), resource_type).await?;
            // The same reader as the prefetch (fhir::prefetch): the entries' resources stay
            // JSON text until fhir::model reads what the rules need of them.
            let bundle = match RawBundle::read(body.get()) {
                Ok(b) => b,
                Err(e) => {
                    return Err(match head(body.get()).resource_type {
                        Some(ty) if ty.as_str() == "Bundle" => {
                            GapReason::Unreadable(format!("a Bundle that cannot be read: {e}"))
                        }
                        _ => GapReason::NotFhirJson,
                    })
                }
            };
            match bundle.resource_type() {
                Some("Bundle") => {}
                Some("OperationOutcome") => {
                    return Err(GapReason::OperationOutcome(bundle.outcome_text()))
                }
                _ => return Err(GapReason::NotFhirJson),
            }
            let next = bundle.next_link();
            for entry in bundle.entries() {
                entries.push(entry.into_owned());
            }
            match next {
                None => return Ok(entries),
                Some(n) => {
                    url = target.base.join(&n).map_err(|_| GapReason::BadNextLink)?;
                }
            }
        }
    }

    /// Reads one resource by relative reference (`Medication/123`) or absolute URL on the server.
    pub async fn read(
        &self,
        target: &FhirTarget,
        reference: &str,
    ) -> Result<Box<RawValue>, GapReason> {
        let url = target
            .base
            .join(reference.trim_start_matches('/'))
            .map_err(|e| GapReason::Unreadable(e.to_string()))?;
        if !under_base(&target.base, &url) {
            let shown = redact_url(url.as_str());
            tracing::warn!(url = %shown, "reference outside fhirServer not read");
            return Err(GapReason::ServerNotAllowed(shown));
        }
        let resource_type = read_type(&url).unwrap_or("Resource").to_owned();
        let v = self.get_json(target, url, &resource_type).await?;
        let found = head(v.get()).resource_type;
        match found.as_ref().map(|t| t.as_str()) {
            Some("OperationOutcome") => {
                let text = RawBundle::read(v.get())
                    .map(|b| b.outcome_text())
                    .unwrap_or_else(|_| "OperationOutcome".to_owned());
                Err(GapReason::OperationOutcome(text))
            }
            // A read answered with another type (a searchset Bundle, another resource) is not
            // the resource asked for: used as is, it would be silently ignored.
            Some(ty) if resource_type != "Resource" && ty != resource_type => Err(
                GapReason::Unreadable(format!("{resource_type} read answered with a {ty}")),
            ),
            Some(_) => Ok(v),
            None => Err(GapReason::NotFhirJson),
        }
    }

    /// One GET under the hook call's deadline; the body is capped and must be JSON (kept as
    /// its text: the callers read only what they need of it).
    async fn get_json(
        &self,
        target: &FhirTarget,
        url: Url,
        resource_type: &str,
    ) -> Result<Box<RawValue>, GapReason> {
        let started = Instant::now();
        // The closed set in the log too: a reference's type is the record writer's text.
        let label = metric_label(resource_type);
        let span = tracing::info_span!(
            "fhir",
            resource_type = label,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let result = async {
            let remaining = target
                .deadline
                .checked_duration_since(Instant::now())
                .filter(|d| !d.is_zero())
                .ok_or(GapReason::Timeout)?;
            match tokio::time::timeout(remaining, self.get_within(target, url, remaining)).await {
                Ok(r) => r,
                Err(_) => Err(GapReason::Timeout),
            }
        }
        .instrument(span.clone())
        .await;
        let elapsed = started.elapsed();
        span.record("duration_ms", elapsed.as_secs_f64() * 1000.0);
        let outcome = match &result {
            Ok(_) => "ok",
            Err(GapReason::Timeout) => "timeout",
            Err(GapReason::Unreachable) => "unreachable",
            Err(GapReason::HttpStatus(_)) => "http_error",
            Err(GapReason::NotFhirJson) => "not_fhir",
            Err(_) => "error",
        };
        metrics::counter!("cds_fhir_requests_total", "resource_type" => label, "outcome" => outcome)
            .increment(1);
        metrics::histogram!("cds_fhir_request_duration_seconds", "resource_type" => label)
            .record(elapsed.as_secs_f64());
        result
    }

    /// The GET of [`FhirClient::get_json`], cut at `remaining` by its caller: a process-wide
    /// slot, the request (redirects followed under the base), the body capped, then the status
    /// and the JSON checked.
    async fn get_within(
        &self,
        target: &FhirTarget,
        url: Url,
        remaining: std::time::Duration,
    ) -> Result<Box<RawValue>, GapReason> {
        // Waits for a process-wide slot within the call's deadline (the caller's timeout); the
        // slot is held until the body is read.
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| GapReason::Unreachable)?;
        let mut response = self.send(target, url, remaining).await?;
        let status = response.status();
        tracing::Span::current().record("status", status.as_u16());
        if matches!(status.as_u16(), 401 | 403) {
            tracing::warn!(
                status = status.as_u16(),
                "FHIR server refused the fhirAuthorization token (authorization problem)"
            );
        }
        let body = self.read_body(target, &mut response).await?;
        if !status.is_success() {
            return Err(GapReason::HttpStatus(status.as_u16()));
        }
        // JSON that is not an object (a string, an array) is no FHIR resource either.
        match serde_json::from_slice::<Box<RawValue>>(&body) {
            Ok(v) if v.get().starts_with('{') => Ok(v),
            _ => Err(GapReason::NotFhirJson),
        }
    }

    /// Sends the GET with the token, following at most [`MAX_REDIRECTS`] redirects, each only
    /// under `fhirServer`'s base; the response of the last one (a 3xx beyond the limit is the
    /// answer, its status the gap).
    async fn send(
        &self,
        target: &FhirTarget,
        mut url: Url,
        remaining: std::time::Duration,
    ) -> Result<reqwest::Response, GapReason> {
        let mut redirects = 0;
        loop {
            let mut request = self
                .http
                .get(url.clone())
                .header(ACCEPT, "application/fhir+json, application/json;q=0.9")
                .timeout(remaining);
            if let Some(token) = &target.token {
                request = request.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            let response = request.send().await.map_err(request_error)?;
            let Some(next) = redirect_target(&url, &response) else {
                return Ok(response);
            };
            if redirects >= MAX_REDIRECTS {
                return Ok(response); // its 3xx status is the gap
            }
            if !under_base(&target.base, &next) {
                let shown = redact_url(next.as_str());
                tracing::warn!(url = %shown, "redirect outside fhirServer not followed");
                return Err(GapReason::ServerNotAllowed(shown));
            }
            redirects += 1;
            url = next;
        }
    }

    /// The body, at most `fhir.max_response_bytes`, each chunk counted against the call's
    /// `fhir.max_call_response_bytes` (shared by its concurrent requests).
    async fn read_body(
        &self,
        target: &FhirTarget,
        response: &mut reqwest::Response,
    ) -> Result<Vec<u8>, GapReason> {
        let max = self.settings.max_response_bytes;
        if response.content_length().is_some_and(|n| n > max) {
            return Err(GapReason::Unreadable(format!(
                "response larger than {max} bytes"
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            if (body.len() + chunk.len()) as u64 > max {
                return Err(GapReason::Unreadable(format!(
                    "response larger than {max} bytes"
                )));
            }
            let n = chunk.len() as u64;
            let budget = self.settings.max_call_response_bytes;
            if target
                .spent
                .fetch_add(n, Ordering::Relaxed)
                .saturating_add(n)
                > budget
            {
                return Err(GapReason::CallLimit {
                    setting: "fhir.max_call_response_bytes",
                    limit: budget,
                    not_read: 1,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// Redirects followed per request (each one checked by [`under_base`]).
const MAX_REDIRECTS: u32 = 3;

/// Where a redirect response points, resolved against the URL that answered; `None` when the
/// response is not a redirect to follow (its status is then the answer).
fn redirect_target(from: &Url, response: &reqwest::Response) -> Option<Url> {
    if !matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    from.join(location).ok()
}

/// Whether `raw` holds a percent-encoded `/` or `\` (any case).
fn has_encoded_separator(raw: &str) -> bool {
    let lower = raw.to_ascii_lowercase();
    lower.contains("%2f") || lower.contains("%5c")
}

/// Whether `url` may be asked with the token of a call whose `fhirServer` is `base` (a
/// directory URL, its path ending in `/`): same scheme, host and port, no userinfo, and a path
/// under the base's on a segment boundary. The `url` crate has already resolved `.` and `..`
/// segments (`%2e` ones included) and turned `\` into `/`; what it keeps encoded and a server may
/// still decode into a separator or a dot segment (`%2F`, `%5C`, `%2E`, and `%25`, which a
/// second decoding turns into any of them) is refused outright: FHIR paths (types, ids
/// `[A-Za-z0-9.-]`, `_history`) never need them.
pub(crate) fn under_base(base: &Url, url: &Url) -> bool {
    if base.origin() != url.origin()
        || !url.username().is_empty()
        || url.password().is_some()
        || !base.path().ends_with('/')
    {
        return false;
    }
    let path = url.path();
    let lower = path.to_ascii_lowercase();
    if ["%2f", "%5c", "%2e", "%25"]
        .iter()
        .any(|e| lower.contains(e))
    {
        return false;
    }
    if path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return false;
    }
    path.starts_with(base.path())
}

/// The resource types the service queries: the only values of the `resource_type` metric label.
const METRIC_TYPES: [&str; 8] = [
    "Patient",
    "Condition",
    "MedicationRequest",
    "MedicationStatement",
    "MedicationAdministration",
    "Medication",
    "Observation",
    "AllergyIntolerance",
];

/// The `resource_type` label of the FHIR metrics: a closed set, `other` for anything else. The
/// type of a read comes from a reference written by the EHR (or whoever wrote the record), so
/// used as is it would grow `/metrics` without bound (issue 17 item 3).
fn metric_label(resource_type: &str) -> &'static str {
    METRIC_TYPES
        .iter()
        .find(|t| **t == resource_type)
        .copied()
        .unwrap_or("other")
}

/// The resource type of a read URL: `…/Type/id` or `…/Type/id/_history/v`.
fn read_type(url: &Url) -> Option<&str> {
    let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
    let n = match segments.iter().rposition(|s| *s == "_history") {
        Some(h) => h,
        None => segments.len(),
    };
    let ty = *segments.get(n.checked_sub(2)?)?;
    ty.starts_with(|c: char| c.is_ascii_uppercase())
        .then_some(ty)
}

fn request_error(e: reqwest::Error) -> GapReason {
    if e.is_timeout() {
        GapReason::Timeout
    } else if let Some(status) = e.status() {
        GapReason::HttpStatus(status.as_u16())
    } else {
        // Connection refused or reset, DNS, TLS, a body cut short.
        GapReason::Unreachable
    }
}

/// Fills the CDS Hooks 2.0 prefetch tokens of a template (only `{{context.patientId}}` is used).
pub fn fill_template(template: &str, patient_id: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(patient_id.as_bytes()).collect();
    template.replace("{{context.patientId}}", &encoded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn client(allowed: &[&str]) -> FhirClient {
        FhirClient::new(&FhirSettings {
            allowed_servers: allowed.iter().map(|s| Url::parse(s).unwrap()).collect(),
            deadline: std::time::Duration::from_secs(3),
            max_pages: 10,
            max_response_bytes: 1024,
            max_call_response_bytes: 1500,
            max_medication_reads: 50,
            max_concurrent_requests: 64,
        })
        .unwrap()
    }

    #[test]
    fn local_mode_allows_loopback_only() {
        let c = client(&[]);
        for (given, base) in [
            ("http://127.0.0.1:8080/fhir", "http://127.0.0.1:8080/fhir/"),
            ("http://localhost/fhir", "http://localhost/fhir/"),
            ("http://[::1]:9/fhir", "http://[::1]:9/fhir/"),
        ] {
            assert_eq!(c.check_server(given).map(String::from), Ok(base.to_owned()));
        }
        assert_eq!(
            c.check_server("https://ehr.example/fhir"),
            Err(GapReason::ServerNotAllowed("ehr.example".into()))
        );
        assert!(c.check_server("http://10.0.0.5/fhir").is_err());
        assert!(c.check_server("file:///etc/passwd").is_err());
        assert!(c.check_server("not a url").is_err());
    }

    #[test]
    fn a_refused_fhir_server_is_named_without_credentials() {
        let c = client(&["https://ehr.example/fhir"]);
        for raw in [
            "https://user:secret@ehr example/fhir?token=secret",
            "https://user:secret@ehr.example/fhir?token=secret",
            "https://user:secret@other.example/fhir",
        ] {
            match c.check_server(raw) {
                Err(GapReason::ServerNotAllowed(shown)) => {
                    assert!(!shown.contains("secret"), "{raw} → {shown}");
                    assert!(shown.contains("example"), "{raw} → {shown}");
                }
                other => panic!("{raw}: {other:?}"),
            }
        }
    }

    #[test]
    fn the_allow_list_is_a_prefix_on_a_path_boundary_and_https_is_required() {
        let c = client(&["https://ehr.example/fhir/r4"]);
        let base = c.check_server("https://ehr.example/fhir/r4").unwrap();
        assert_eq!(base.as_str(), "https://ehr.example/fhir/r4/");
        assert_eq!(c.check_server("https://ehr.example/fhir/r4/"), Ok(base));
        assert!(c.check_server("https://ehr.example/fhir/r4x").is_err());
        assert!(c.check_server("https://ehr.example.evil/fhir/r4").is_err());
        assert!(c.check_server("http://ehr.example/fhir/r4").is_err());
        assert!(c
            .check_server("https://user:pw@ehr.example/fhir/r4")
            .is_err());
    }

    #[test]
    fn a_fhir_server_with_an_encoded_separator_is_refused() {
        let c = client(&["https://ehr.example/fhir/r4"]);
        for raw in [
            "https://ehr.example/fhir/r4/..%2Fadmin",
            "https://ehr.example/fhir/r4/..%2fadmin",
            "https://ehr.example/fhir/r4/..%5Cadmin",
            "https://ehr.example/fhir/r4/..%5cadmin",
            "https://ehr.example/fhir/r4/%2e%2e%2Fadmin",
            "https://ehr.example/fhir/r4/x%252F..%252Fadmin",
        ] {
            assert_eq!(
                c.check_server(raw),
                Err(GapReason::ServerNotAllowed("ehr.example".into())),
                "{raw}"
            );
        }
        // Dot segments are resolved before the boundary is checked.
        assert!(c
            .check_server("https://ehr.example/fhir/r4/../admin")
            .is_err());
        assert_eq!(
            c.check_server("https://ehr.example/fhir/r4/x/..")
                .map(String::from),
            Ok("https://ehr.example/fhir/r4/".to_owned())
        );
        let local = client(&[]);
        assert!(local.check_server("http://127.0.0.1:9/fhir%2F..").is_err());
    }

    #[test]
    fn outbound_urls_stay_under_the_base_on_a_path_boundary() {
        let base = Url::parse("https://ehr.example/fhir/r4/").unwrap();
        let under = |u: &str| under_base(&base, &base.join(u).unwrap());
        for ok in [
            "Medication/m1",
            "Condition?patient=p&_count=50",
            "https://ehr.example/fhir/r4/Medication/m1/_history/2",
            "Observation?code=http%3A%2F%2Floinc.org%7C1742-6",
            "x/../Medication/m1",
        ] {
            assert!(under(ok), "{ok}");
        }
        for refused in [
            "../admin/Medication/m1",
            "/admin/x",
            "/fhir/r4x/Medication/m1",
            "/fhir/r4",
            "https://ehr.example/fhir/admin",
            "https://ehr.example:8443/fhir/r4/Medication/m1",
            "http://ehr.example/fhir/r4/Medication/m1",
            "https://other.example/fhir/r4/Medication/m1",
            "https://u:p@ehr.example/fhir/r4/Medication/m1",
            "..%2Fadmin",
            "Medication%2F..%2F..%2Fadmin",
            "Medication%2f..%2f..%2fadmin",
            "Medication%5C..%5C..%5Cadmin",
            "%2e%2e/admin",
            "Medication/.%2E/.%2e/admin",
            "Medication%252F..%252Fadmin",
            "..\\admin\\x",
        ] {
            assert!(
                !under(refused),
                "{refused} → {}",
                base.join(refused).unwrap()
            );
        }
    }

    /// A target on a closed loopback port: a request sent would be `Unreachable`, so a
    /// `ServerNotAllowed` or `BadNextLink` answer means nothing was sent.
    fn closed_target() -> FhirTarget {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        FhirTarget {
            base: Url::parse(&format!("http://127.0.0.1:{port}/fhir/r4/")).unwrap(),
            token: Some("secret".into()),
            deadline: Instant::now() + std::time::Duration::from_secs(3),
            spent: Default::default(),
        }
    }

    #[tokio::test]
    async fn a_read_outside_the_base_is_not_sent() {
        let c = client(&[]);
        let t = closed_target();
        for reference in [
            "../admin/Medication/m1",
            "../../admin/Medication/m1",
            "Medication%2F..%2F..%2Fadmin",
        ] {
            match c.read(&t, reference).await {
                Err(GapReason::ServerNotAllowed(shown)) => {
                    assert!(!shown.contains("secret"), "{shown}")
                }
                other => panic!("{reference}: {other:?}"),
            }
        }
        // Inside the base, the request is sent (and fails: nothing listens).
        assert_eq!(
            c.read(&t, "Medication/m1")
                .await
                .map(|v| v.get().to_owned()),
            Err(GapReason::Unreachable)
        );
    }

    #[tokio::test]
    async fn a_next_link_outside_the_base_is_not_followed() {
        let c = client(&[]);
        let t = closed_target();
        let admin = format!(
            "http://{}/admin/Condition?page=2",
            t.base.host_str().unwrap_or("")
        );
        for next in [
            "../admin/Condition?page=2",
            "/admin/Condition?page=2",
            admin.as_str(),
            "Condition%2F..%2F..%2Fadmin?page=2",
        ] {
            assert_eq!(
                c.remaining_pages(&t, next, Vec::new(), "Condition").await,
                Err(GapReason::BadNextLink),
                "{next}"
            );
        }
        assert_eq!(
            c.remaining_pages(&t, "Condition?page=2", Vec::new(), "Condition")
                .await,
            Err(GapReason::Unreachable)
        );
    }

    #[test]
    fn metric_labels_are_a_closed_set() {
        for t in METRIC_TYPES {
            assert_eq!(metric_label(t), t);
        }
        for t in ["Zzz", "Resource", "", "patient", "Medication\n", "Binary"] {
            assert_eq!(metric_label(t), "other", "{t:?}");
        }
    }

    #[test]
    fn the_type_of_a_read_comes_from_its_url() {
        let t = |u: &str| read_type(&Url::parse(u).unwrap()).map(str::to_owned);
        assert_eq!(
            t("https://ehr/fhir/r4/Patient/p1").as_deref(),
            Some("Patient")
        );
        assert_eq!(
            t("https://ehr/fhir/Medication/m1/_history/3").as_deref(),
            Some("Medication")
        );
        assert_eq!(t("https://ehr/fhir/p1"), None);
        assert_eq!(t("https://ehr/"), None);
    }

    #[test]
    fn templates_keep_the_base_path_and_encode_the_patient_id() {
        let base = Url::parse("https://ehr.example/fhir/r4/").unwrap();
        let q = fill_template("Condition?patient={{context.patientId}}", "a b&c");
        assert_eq!(q, "Condition?patient=a+b%26c");
        assert_eq!(
            base.join(&q).unwrap().as_str(),
            "https://ehr.example/fhir/r4/Condition?patient=a+b%26c"
        );
    }

    #[tokio::test]
    async fn the_responses_of_a_call_share_one_byte_budget() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    // About 600 bytes: under the 1024 per response; the third one is over the 1500 per call.
                    let body = format!(
                        r#"{{"resourceType":"Medication","id":"m","text":{{"div":"{}"}}}}"#,
                        "x".repeat(550)
                    );
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(answer.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        let c = client(&[]);
        let t = FhirTarget {
            base: Url::parse(&format!("http://127.0.0.1:{port}/fhir/")).unwrap(),
            token: None,
            deadline: Instant::now() + std::time::Duration::from_secs(10),
            spent: Default::default(),
        };
        assert_eq!(
            serde_json::from_str::<Value>(c.read(&t, "Medication/m1").await.unwrap().get())
                .unwrap()["id"],
            "m"
        );
        assert_eq!(
            serde_json::from_str::<Value>(c.read(&t, "Medication/m2").await.unwrap().get())
                .unwrap()["id"],
            "m"
        );
        match c.read(&t, "Medication/m3").await {
            Err(GapReason::CallLimit { setting, limit, .. }) => {
                assert_eq!((setting, limit), ("fhir.max_call_response_bytes", 1500))
            }
            other => panic!("{other:?}"),
        }
        // Another call has its own budget.
        let fresh = FhirTarget {
            spent: Default::default(),
            ..t
        };
        assert_eq!(
            serde_json::from_str::<Value>(c.read(&fresh, "Medication/m4").await.unwrap().get())
                .unwrap()["id"],
            "m"
        );
    }

    /// A loopback HTTP server answering each request with `answer(path)` (a whole HTTP/1.1
    /// response, the connection closed after it); returns its port and the paths asked.
    async fn http_server(
        answer: fn(&str) -> String,
    ) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        http_server_gated(answer, None).await
    }

    /// [`http_server`] whose answers each wait for a permit of `gate`, when given: the test
    /// decides when each request is answered.
    async fn http_server_gated(
        answer: fn(&str) -> String,
        gate: Option<Arc<tokio::sync::Semaphore>>,
    ) -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = asked.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let (seen, gate) = (seen.clone(), gate.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split(' ').nth(1).unwrap_or("").to_owned();
                    seen.lock().unwrap().push(path.clone());
                    if let Some(gate) = gate {
                        gate.acquire().await.unwrap().forget();
                    }
                    let _ = conn.write_all(answer(&path).as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        (port, asked)
    }

    fn target_on(port: u16) -> FhirTarget {
        FhirTarget {
            base: Url::parse(&format!("http://127.0.0.1:{port}/fhir/")).unwrap(),
            token: None,
            deadline: Instant::now() + std::time::Duration::from_secs(10),
            spent: Default::default(),
        }
    }

    /// `fhir.max_response_bytes` (1024 here) holds whether the server announces the length or
    /// not (a body read to the connection's end); a body under it is read.
    #[tokio::test]
    async fn a_response_over_max_response_bytes_is_refused_with_or_without_a_length() {
        fn answer(path: &str) -> String {
            let size = if path.contains("big") { 1100 } else { 900 };
            let body = format!(
                r#"{{"resourceType":"Medication","id":"m","text":{{"div":"{}"}}}}"#,
                "x".repeat(size - 60)
            );
            if path.contains("unannounced") {
                format!("HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\nconnection: close\r\n\r\n{body}")
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
            }
        }
        let (port, asked) = http_server(answer).await;
        let c = client(&[]);
        let too_large = Err(GapReason::Unreadable(
            "response larger than 1024 bytes".into(),
        ));
        for reference in ["Medication/big", "Medication/big-unannounced"] {
            assert_eq!(
                c.read(&target_on(port), reference)
                    .await
                    .map(|v| v.get().to_owned()),
                too_large,
                "{reference}"
            );
        }
        for reference in ["Medication/small", "Medication/small-unannounced"] {
            let read: Value =
                serde_json::from_str(c.read(&target_on(port), reference).await.unwrap().get())
                    .unwrap();
            assert_eq!(read["resourceType"], "Medication", "{reference}");
        }
        assert_eq!(asked.lock().unwrap().len(), 4);
    }

    /// `next` links are never followed twice: a chain that comes back to a page already read
    /// (page 1 → 2 → 3 → 2) ends as [`GapReason::BadNextLink`] with each page asked once.
    #[tokio::test]
    async fn a_next_link_back_to_a_page_already_read_is_not_followed() {
        fn answer(path: &str) -> String {
            let next = if path.contains("page=2") {
                "Condition?page=3"
            } else {
                "Condition?page=2"
            };
            let body = format!(
                r#"{{"resourceType":"Bundle","type":"searchset","link":[{{"relation":"next","url":"{next}"}}]}}"#
            );
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        let (port, asked) = http_server(answer).await;
        let c = client(&[]);
        assert_eq!(
            c.search(&target_on(port), "Condition?patient=p").await,
            Err(GapReason::BadNextLink)
        );
        assert_eq!(
            *asked.lock().unwrap(),
            [
                "/fhir/Condition?patient=p",
                "/fhir/Condition?page=2",
                "/fhir/Condition?page=3"
            ]
        );
    }

    /// `fhir.max_concurrent_requests` bounds the requests of all calls together: with one slot,
    /// a second call's request waits while the first is held by the server, is never sent, and
    /// ends at its own deadline as a timeout; once the first is answered the slot serves again.
    #[tokio::test]
    async fn requests_of_all_calls_share_the_process_wide_slots() {
        fn answer(_: &str) -> String {
            let body = r#"{"resourceType":"Medication","id":"m"}"#;
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
        }
        let release = Arc::new(tokio::sync::Semaphore::new(0));
        let (port, asked) = http_server_gated(answer, Some(release.clone())).await;
        let received = || asked.lock().unwrap().len();
        let c = FhirClient::new(&FhirSettings {
            allowed_servers: Vec::new(),
            deadline: std::time::Duration::from_secs(3),
            max_pages: 10,
            max_response_bytes: 1024,
            max_call_response_bytes: 1 << 20,
            max_medication_reads: 50,
            max_concurrent_requests: 1,
        })
        .unwrap();
        let target = |secs: u64| FhirTarget {
            base: Url::parse(&format!("http://127.0.0.1:{port}/fhir/")).unwrap(),
            token: None,
            deadline: Instant::now() + std::time::Duration::from_secs(secs),
            spent: Default::default(),
        };
        let (first_target, first_client) = (target(60), c.clone());
        let first =
            tokio::spawn(async move { first_client.read(&first_target, "Medication/m1").await });
        // The first call's request reaches the server and holds the only slot.
        let polled = Instant::now();
        while received() < 1 {
            assert!(
                polled.elapsed() < std::time::Duration::from_secs(30),
                "never received"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        // Another call: no slot before its deadline, so its request is never sent.
        let second = c.read(&target(1), "Medication/m2").await;
        assert!(matches!(second, Err(GapReason::Timeout)), "{second:?}");
        assert_eq!(received(), 1, "a second request was sent");
        release.add_permits(1);
        assert!(first.await.unwrap().is_ok());
        // The slot is free again for the next call.
        release.add_permits(1);
        assert!(c.read(&target(30), "Medication/m3").await.is_ok());
        assert_eq!(
            asked.lock().unwrap().as_slice(),
            ["/fhir/Medication/m1", "/fhir/Medication/m3"]
        );
    }
}

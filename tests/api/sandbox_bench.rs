//! The test bench around the official CDS Hooks Sandbox (`tests/data/sandbox/`), for
//! `sandbox_e2e.rs`: three small HTTP servers on loopback, each a real HTTP server the browser
//! talks to.
//!
//! - [`serve_sandbox`]: the Sandbox build, as static files (what `sandbox.cds-hooks.org` serves).
//! - [`CorsProxy`]: hfs behind CORS. hfs sends no CORS headers, and the Sandbox reads the patient
//!   and fills the prefetch from the browser (it `POST`s `{type}/_search` with a form body, then
//!   falls back to `GET`); a hospital's FHIR server answers browsers the same way.
//! - [`LemtradaHelper`]: a test-only CDS service registered next to ours. The Sandbox's medication
//!   list has no alemtuzumab, but it applies a suggestion that `create`s a MedicationRequest: on
//!   `order-select`/`order-sign` with a draft that is not alemtuzumab this service answers one card
//!   whose suggestion swaps the draft for Lemtrada (RxNorm 1594663), and no card otherwise.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

/// RxNorm of the product the helper puts in the draft.
pub const LEMTRADA_RXNORM: &str = "1594663";
pub const LEMTRADA_TEXT: &str = "Lemtrada (alemtuzumab) 12 MG/1.2 ML Injection";
/// What the helper's card and suggestion say (the test clicks the label).
pub const HELPER_SUMMARY: &str = "Test bench: swap this draft for Lemtrada";
pub const HELPER_LABEL: &str = "Order Lemtrada (alemtuzumab) instead";

/// Starts an actix-web server on a free loopback port; returns `http://127.0.0.1:PORT`.
fn start<F, A>(factory: F) -> String
where
    F: Fn() -> App<A> + Send + Clone + 'static,
    A: actix_web::dev::ServiceFactory<
            actix_web::dev::ServiceRequest,
            Config = (),
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let server = HttpServer::new(factory)
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("the bench server listens")
        .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

// ---------------------------------------------------------------------------------------------
// The Sandbox page

/// Serves `dir` (the Sandbox build) as static files; `/` is `index.html`.
pub fn serve_sandbox(dir: PathBuf) -> String {
    let dir = web::Data::new(dir);
    start(move || {
        App::new()
            .app_data(dir.clone())
            .default_service(web::to(static_file))
    })
}

async fn static_file(req: HttpRequest, dir: web::Data<PathBuf>) -> HttpResponse {
    let path = req.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    // Plain names only: no `..`, no absolute paths.
    if path
        .split('/')
        .any(|part| part.is_empty() || part == "." || part == "..")
    {
        return HttpResponse::NotFound().finish();
    }
    let content_type = match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("css") => "text/css",
        _ => "text/plain; charset=utf-8",
    };
    match std::fs::read(dir.join(path)) {
        Ok(bytes) => HttpResponse::Ok().content_type(content_type).body(bytes),
        Err(_) => HttpResponse::NotFound().finish(),
    }
}

// ---------------------------------------------------------------------------------------------
// CORS in front of hfs

/// One request the proxy forwarded (or answered itself: preflights).
#[derive(Debug, Clone)]
pub struct ProxyCall {
    pub method: String,
    /// Path and query after the base path, e.g. `Patient/p02-patient`.
    pub target: String,
    pub status: u16,
}

struct ProxyState {
    upstream: String,
    base: String,
    http: reqwest::Client,
    calls: Mutex<Vec<ProxyCall>>,
}

#[derive(Clone)]
pub struct CorsProxy {
    /// The FHIR base URL to give the Sandbox and the service: `http://127.0.0.1:PORT/fhir`.
    pub base: String,
    state: Arc<ProxyState>,
}

pub const PROXY_BASE_PATH: &str = "/fhir";

impl CorsProxy {
    /// Starts the proxy in front of `upstream` (`http://127.0.0.1:PORT`, hfs).
    pub fn start(upstream: &str) -> Self {
        // Bound first: the state needs its own base URL to rewrite hfs's.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let base = format!("http://127.0.0.1:{port}{PROXY_BASE_PATH}");
        let state = Arc::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            base: base.clone(),
            http: reqwest::Client::new(),
            calls: Mutex::new(Vec::new()),
        });
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(forward))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("the proxy listens")
        .run();
        tokio::spawn(server);
        CorsProxy { base, state }
    }

    pub fn calls(&self) -> Vec<ProxyCall> {
        self.state.calls.lock().unwrap().clone()
    }
}

/// CORS headers on every answer: any origin (an open test server), the headers asked for.
fn cors(
    req: &HttpRequest,
    mut builder: actix_web::HttpResponseBuilder,
) -> actix_web::HttpResponseBuilder {
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("*")
        .to_owned();
    let asked = req
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("authorization, content-type, accept")
        .to_owned();
    builder
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
        .insert_header((header::VARY, "Origin"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, asked))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
    builder
}

async fn forward(req: HttpRequest, body: web::Bytes, st: web::Data<ProxyState>) -> HttpResponse {
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("")
        .strip_prefix(PROXY_BASE_PATH)
        .unwrap_or("")
        .trim_start_matches('/')
        .to_owned();
    let record = |status: u16| {
        st.calls.lock().unwrap().push(ProxyCall {
            method: req.method().to_string(),
            target: target.clone(),
            status,
        })
    };
    if req.method() == Method::OPTIONS {
        record(204);
        return cors(&req, HttpResponse::NoContent()).finish();
    }
    if req.method() != Method::GET && req.method() != Method::POST {
        record(405);
        return cors(&req, HttpResponse::MethodNotAllowed()).finish();
    }
    let url = format!("{}/{target}", st.upstream);
    let mut out = st
        .http
        .request(
            reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap(),
            &url,
        )
        .header("Accept", "application/fhir+json");
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        out = out.header("Content-Type", ct.as_bytes());
    }
    if req.method() == Method::POST {
        out = out.body(body.to_vec());
    }
    let (status, text) = match out.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.text().await.unwrap_or_default())
        }
        Err(e) => (502, e.to_string()),
    };
    record(status);
    // hfs's absolute URLs (`fullUrl`, `link`) point back at the proxy.
    let text = text.replace(st.upstream.as_str(), &st.base);
    cors(
        &req,
        HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY)),
    )
    .content_type("application/fhir+json")
    .body(text)
}

// ---------------------------------------------------------------------------------------------
// The helper CDS service that puts Lemtrada in the draft

/// One call the helper answered.
#[derive(Debug, Clone)]
pub struct HelperCall {
    pub method: String,
    pub path: String,
    /// For hooks: whether the draft was already alemtuzumab (then no card was answered).
    pub draft_is_alemtuzumab: Option<bool>,
    /// For hooks: the `medicationCodeableConcept.text` of each draft MedicationRequest.
    pub drafts: Vec<String>,
}

#[derive(Clone)]
pub struct LemtradaHelper {
    /// Its discovery URL, `http://127.0.0.1:PORT/cds-services`.
    pub discovery: String,
    calls: Arc<Mutex<Vec<HelperCall>>>,
}

impl LemtradaHelper {
    pub fn start() -> Self {
        let calls: Arc<Mutex<Vec<HelperCall>>> = Arc::default();
        let data = web::Data::new(calls.clone());
        let base = start(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(10 << 20))
                .default_service(web::to(helper))
        });
        LemtradaHelper {
            discovery: format!("{base}/cds-services"),
            calls,
        }
    }

    pub fn calls(&self) -> Vec<HelperCall> {
        self.calls.lock().unwrap().clone()
    }
}

/// Whether a hook request's draft orders hold alemtuzumab (the RxNorm product or the word).
pub fn draft_is_alemtuzumab(request: &Value) -> bool {
    request["context"]["draftOrders"]["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| {
            let concept = &e["resource"]["medicationCodeableConcept"];
            let text_says = |v: &Value| {
                v.as_str()
                    .is_some_and(|t| t.to_lowercase().contains("alemtuzumab"))
            };
            text_says(&concept["text"])
                || concept["coding"].as_array().into_iter().flatten().any(|c| {
                    c["code"].as_str() == Some(LEMTRADA_RXNORM) || text_says(&c["display"])
                })
        })
}

async fn helper(
    req: HttpRequest,
    body: web::Bytes,
    calls: web::Data<Arc<Mutex<Vec<HelperCall>>>>,
) -> HttpResponse {
    let path = req.path().to_owned();
    let mut call = HelperCall {
        method: req.method().to_string(),
        path: path.clone(),
        draft_is_alemtuzumab: None,
        drafts: Vec::new(),
    };
    let answer = if req.method() == Method::OPTIONS {
        cors(&req, HttpResponse::NoContent()).finish()
    } else if req.method() == Method::GET && path == "/cds-services" {
        let service = |hook: &str| {
            json!({"hook": hook, "id": format!("lemtrada-draft-{hook}"),
                   "title": "Test bench: Lemtrada draft",
                   "description": "Test only: swaps a draft order that is not alemtuzumab for Lemtrada"})
        };
        cors(&req, HttpResponse::Ok()).json(json!({
            "services": [service("order-select"), service("order-sign")]
        }))
    } else if req.method() == Method::POST && path.ends_with("/feedback") {
        cors(&req, HttpResponse::Ok()).finish()
    } else if req.method() == Method::POST && path.starts_with("/cds-services/lemtrada-draft-") {
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let already = draft_is_alemtuzumab(&request);
        call.draft_is_alemtuzumab = Some(already);
        call.drafts = request["context"]["draftOrders"]["entry"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["resource"]["medicationCodeableConcept"]["text"].as_str())
            .map(str::to_owned)
            .collect();
        let cards = if already {
            json!([])
        } else {
            let patient = request["context"]["patientId"].as_str().unwrap_or("");
            json!([{
                "uuid": uuid::Uuid::new_v4().to_string(),
                "summary": HELPER_SUMMARY,
                "indicator": "info",
                "source": {"label": "Sandbox end-to-end test helper"},
                "selectionBehavior": "at-most-one",
                "suggestions": [{
                    "label": HELPER_LABEL,
                    "uuid": uuid::Uuid::new_v4().to_string(),
                    "actions": [{
                        "type": "create",
                        "description": "Replace the draft's medication with Lemtrada",
                        "resource": {
                            "resourceType": "MedicationRequest",
                            "status": "draft",
                            "intent": "order",
                            "subject": {"reference": format!("Patient/{patient}")},
                            "medicationCodeableConcept": {
                                "text": LEMTRADA_TEXT,
                                "coding": [{
                                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                    "code": LEMTRADA_RXNORM,
                                    "display": LEMTRADA_TEXT
                                }]
                            }
                        }
                    }]
                }]
            }])
        };
        cors(&req, HttpResponse::Ok()).json(json!({ "cards": cards }))
    } else {
        cors(&req, HttpResponse::NotFound()).finish()
    };
    calls.lock().unwrap().push(call);
    answer
}

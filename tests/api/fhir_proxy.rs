//! A small recording and fault-injecting HTTP/1.1 layer in front of hfs (or of nothing).
//!
//! It serves under the base path `/fhir/r4` only: a request whose path is not under it is
//! recorded and answered `404` (never forwarded), so a service that dropped the path of
//! `fhirServer` gets no data and fails the tests that compare with hfs. Under the base, it strips
//! the base, forwards GETs to hfs and rewrites hfs's own absolute URLs (`link[next]`, `fullUrl`)
//! to point back at itself. Every request is recorded with its `Authorization` header. A
//! [`Behaviour`] replaces the forwarding with a fault: the faults are answered by the proxy
//! itself and never reach hfs (only [`Behaviour::Forward`], [`Behaviour::Delay`],
//! [`Behaviour::HoldUntil`], a read under [`Behaviour::EndlessNext`] / [`Behaviour::NextTo`] and
//! the target of [`Behaviour::RedirectTo`] do).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const BASE_PATH: &str = "/fhir/r4";

#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// Forward to the upstream hfs.
    Forward,
    /// Wait, then forward; a client that hangs up meanwhile is counted ([`FhirProxy::hung_up`]).
    Delay(Duration),
    /// Hold every request until this many have arrived, then forward: passes only if they are
    /// all in flight at once. A client that hangs up meanwhile is counted.
    HoldUntil(usize),
    /// Answer this status with an OperationOutcome body.
    Status(u16),
    /// `200` with an HTML page (a login page, a proxy's error page).
    Html,
    /// Searches: a Bundle whose `next` link always points at yet another page. Reads forward.
    EndlessNext,
    /// Searches: a Bundle whose `next` link points at this absolute URL. Reads forward.
    NextTo(String),
    /// Read the request, then close the connection without a word.
    Close,
    /// `200` with this FHIR JSON body, whatever was asked.
    Body(String),
    /// `302` to this path prefix followed by the request's own target (`/admin/` sends
    /// `/fhir/r4/Condition?…` to `/admin/Condition?…`; an absolute URL sends it to another
    /// origin); a request already under the prefix is forwarded without it if the prefix is under
    /// the base (`/fhir/r4/moved/`), else answered 404 like any path outside the base.
    RedirectTo(String),
}

#[derive(Debug, Clone)]
pub struct Recorded {
    /// Path and query after the base path, e.g. `Condition?patient=p01-patient`.
    pub target: String,
    /// The request target as sent, e.g. `/fhir/r4/Condition?patient=p01-patient`.
    pub path: String,
    pub authorization: Option<String>,
}

struct State {
    upstream: Option<String>,
    base: String,
    behaviour: Mutex<Behaviour>,
    requests: Mutex<Vec<Recorded>>,
    connections: AtomicUsize,
    pages: AtomicUsize,
    /// The number of requests recorded, for [`Behaviour::HoldUntil`].
    arrived: tokio::sync::watch::Sender<usize>,
    /// Requests whose client closed the connection before it was answered.
    hung_up: AtomicUsize,
    /// Requests outside [`BASE_PATH`], answered 404.
    outside_base: AtomicUsize,
}

#[derive(Clone)]
pub struct FhirProxy {
    /// The `fhirServer` to give the service: `http://127.0.0.1:PORT/fhir/r4`.
    pub base: String,
    state: Arc<State>,
}

impl FhirProxy {
    /// Starts a proxy in front of `upstream` (`http://127.0.0.1:PORT`), or in front of nothing
    /// (then [`Behaviour::Forward`] answers 502).
    pub async fn start(upstream: Option<&str>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let base = format!("http://127.0.0.1:{port}{BASE_PATH}");
        let state = Arc::new(State {
            upstream: upstream.map(|u| u.trim_end_matches('/').to_owned()),
            base: base.clone(),
            behaviour: Mutex::new(Behaviour::Forward),
            requests: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
            pages: AtomicUsize::new(0),
            arrived: tokio::sync::watch::Sender::new(0),
            hung_up: AtomicUsize::new(0),
            outside_base: AtomicUsize::new(0),
        });
        let st = state.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while let Ok((socket, _)) = listener.accept().await {
                st.connections.fetch_add(1, Ordering::SeqCst);
                let st = st.clone();
                let http = http.clone();
                tokio::spawn(async move {
                    let _ = serve(socket, st, http).await;
                });
            }
        });
        FhirProxy { base, state }
    }

    pub fn set(&self, b: Behaviour) {
        *self.state.behaviour.lock().unwrap() = b;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn clear(&self) {
        self.state.requests.lock().unwrap().clear();
    }

    /// Requests whose client (the service) closed the connection while the proxy was holding
    /// them ([`Behaviour::Delay`], [`Behaviour::HoldUntil`]): the requests the service cut.
    pub fn hung_up(&self) -> usize {
        self.state.hung_up.load(Ordering::SeqCst)
    }

    /// Polls (bounded) until `n` requests were cut; a hang-up reaches the proxy a moment after
    /// the service has answered. Asserts on the count, never on a duration.
    pub async fn wait_hung_up(&self, n: usize) -> usize {
        for _ in 0..200 {
            if self.hung_up() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.hung_up()
    }

    /// Requests whose path was not under [`BASE_PATH`] (answered 404, not forwarded).
    pub fn outside_base(&self) -> usize {
        self.state.outside_base.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }
}

/// One request per connection (`Connection: close`): enough for a client that pools.
async fn serve(
    mut socket: TcpStream,
    st: Arc<State>,
    http: reqwest::Client,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut chunk).await?;
        if n == 0 || buf.len() > 64 * 1024 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let authorization = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.trim().to_owned());
    // Under the base on a path boundary (`/fhir/r4/…`), or not served at all.
    let under_base = path
        .strip_prefix(BASE_PATH)
        .and_then(|rest| rest.strip_prefix('/'));
    let target = under_base.unwrap_or(&path).to_owned();
    st.requests.lock().unwrap().push(Recorded {
        target: target.clone(),
        path: path.clone(),
        authorization: authorization.clone(),
    });
    st.arrived.send_modify(|n| *n += 1);
    let behaviour = st.behaviour.lock().unwrap().clone();
    if under_base.is_none() {
        st.outside_base.fetch_add(1, Ordering::SeqCst);
        let body = format!("{path} is not under {BASE_PATH}/");
        let response = format!(
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(response.as_bytes()).await?;
        return socket.shutdown().await;
    }
    let is_search = target.contains('?') || !target.contains('/');
    let (status, content_type, body) = match behaviour {
        Behaviour::Close => return Ok(()),
        Behaviour::RedirectTo(prefix) => match path.strip_prefix(&prefix) {
            Some(rest) => forward(&st, &http, &method, rest, authorization).await,
            None => {
                let response = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {prefix}{target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                socket.write_all(response.as_bytes()).await?;
                return socket.shutdown().await;
            }
        },
        Behaviour::Status(code) => (
            code,
            "application/fhir+json",
            json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "exception", "diagnostics": format!("injected {code}")}]}).to_string(),
        ),
        Behaviour::Body(body) => (200, "application/fhir+json", body),
        Behaviour::Html => (
            200,
            "text/html",
            "<!doctype html><html><body><h1>Please log in</h1></body></html>".to_owned(),
        ),
        Behaviour::EndlessNext if is_search => {
            let n = st.pages.fetch_add(1, Ordering::SeqCst) + 1;
            let ty = target.split(['?', '/']).next().unwrap_or("Observation");
            (
                200,
                "application/fhir+json",
                json!({"resourceType": "Bundle", "type": "searchset", "entry": [],
                       "link": [{"relation": "next", "url": format!("{}/{ty}?_page={n}", st.base)}]})
                .to_string(),
            )
        }
        Behaviour::NextTo(url) if is_search => (
            200,
            "application/fhir+json",
            json!({"resourceType": "Bundle", "type": "searchset", "entry": [],
                   "link": [{"relation": "next", "url": url}]})
            .to_string(),
        ),
        Behaviour::Delay(d) => {
            if !hold(&mut socket, &st, tokio::time::sleep(d)).await {
                return Ok(());
            }
            forward(&st, &http, &method, &target, authorization).await
        }
        Behaviour::HoldUntil(n) => {
            let mut arrived = st.arrived.subscribe();
            let all_there = async move {
                let _ = arrived.wait_for(|a| *a >= n).await;
            };
            if !hold(&mut socket, &st, all_there).await {
                return Ok(());
            }
            forward(&st, &http, &method, &target, authorization).await
        }
        _ => forward(&st, &http, &method, &target, authorization).await,
    };
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    socket.write_all(response.as_bytes()).await?;
    socket.shutdown().await
}

/// Waits for `until` unless the client hangs up first (then counts it and returns false).
async fn hold(
    socket: &mut TcpStream,
    st: &State,
    until: impl std::future::Future<Output = ()>,
) -> bool {
    let mut byte = [0u8; 1];
    tokio::select! {
        () = until => true,
        // A client waiting for its answer sends nothing more: EOF or an error is a hang-up.
        _ = socket.read(&mut byte) => {
            st.hung_up.fetch_add(1, Ordering::SeqCst);
            false
        }
    }
}

async fn forward(
    st: &State,
    http: &reqwest::Client,
    method: &str,
    target: &str,
    authorization: Option<String>,
) -> (u16, &'static str, String) {
    let Some(upstream) = &st.upstream else {
        return (502, "text/plain", "no upstream".to_owned());
    };
    if method != "GET" {
        return (405, "text/plain", "GET only".to_owned());
    }
    let mut req = http
        .get(format!("{upstream}/{target}"))
        .header("Accept", "application/fhir+json");
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            // hfs's absolute URLs point back at this proxy.
            (
                status,
                "application/fhir+json",
                body.replace(upstream.as_str(), &st.base),
            )
        }
        Err(e) => (502, "text/plain", e.to_string()),
    }
}

//! The demo CRM server: a vtews look-alike on its own thread and runtime, checking Basic
//! `username:accesskey` as vtenext does (or trusting `X-Crm-User` in headers mode), and keeping
//! a record of every request it received so tests and the walkthrough can show what arrived.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::vtews::Crm;
use crate::proxy::route::{Route, route};

/// A CRM user of the demo.
#[derive(Debug, Clone)]
pub struct CrmUser {
    /// Login name.
    pub username: String,
    /// Password (for `loginpwd`).
    pub password: String,
    /// The access key REST calls authenticate with.
    pub access_key: String,
    /// Administrator.
    pub admin: bool,
    /// Groups.
    pub groups: Vec<String>,
}

/// How the demo CRM identifies the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmAuth {
    /// `Authorization: Basic base64(username:accesskey)`.
    Basic,
    /// Trust `X-Crm-User` (as a CRM behind the gateway in `headers` mode would).
    Headers,
}

/// One request as the CRM received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Headers, names lower case, in order, repeats kept.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Received {
    /// Every value of header `name` (lower case).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

struct State {
    crm: Crm,
    auth: CrmAuth,
    received: Vec<Received>,
    callbacks: std::collections::HashMap<String, String>,
}

/// A running demo CRM; stops when dropped.
pub struct DemoCrm {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const RECEIVED_KEPT: usize = 1000;

impl DemoCrm {
    /// Starts on `listen` (port 0 picks a free one).
    pub fn start(listen: SocketAddr, users: Vec<CrmUser>, auth: CrmAuth) -> std::io::Result<Self> {
        let std_listener = std::net::TcpListener::bind(listen)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let state = Arc::new(Mutex::new(State {
            crm: Crm::new(users),
            auth,
            received: Vec::new(),
            callbacks: std::collections::HashMap::new(),
        }));
        let (stop, stopped) = oneshot::channel();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("demo-crm".into())
            .spawn(move || serve(std_listener, shared, stopped))?;
        Ok(Self {
            addr,
            state,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far (the last 1000).
    pub fn received(&self) -> Vec<Received> {
        self.state
            .lock()
            .map(|s| s.received.clone())
            .unwrap_or_default()
    }

    /// Serves `/__demo/callback/<app>`, showing `command` with `{code}` replaced by the code.
    pub fn set_callback(&self, app: &str, command: &str) {
        if let Ok(mut s) = self.state.lock() {
            s.callbacks.insert(app.to_string(), command.to_string());
        }
    }

    /// Forgets the received requests.
    pub fn clear_received(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.received.clear();
        }
    }
}

impl Drop for DemoCrm {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    listener: std::net::TcpListener,
    state: Arc<Mutex<State>>,
    mut stop: oneshot::Receiver<()>,
) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async move {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            return;
        };
        loop {
            let accepted = tokio::select! {
                _ = &mut stop => return,
                a = listener.accept() => a,
            };
            let Ok((stream, _)) = accepted else { continue };
            let state = state.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| handle(state.clone(), req));
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc);
                let _ = conn.await;
            });
        }
    });
}

async fn handle(
    state: Arc<Mutex<State>>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let received = Received {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let Ok(mut st) = state.lock() else {
        return Ok(reply(
            500,
            &json!({"status": 500, "error": "demo CRM state poisoned"}),
        ));
    };
    if let Some(app) = parts.uri.path().strip_prefix("/__demo/callback/") {
        let html = super::callback::page(
            st.callbacks.get(app).map(String::as_str),
            parts.uri.query().unwrap_or_default(),
        );
        let mut resp = hyper::Response::new(Full::new(Bytes::from(html)));
        resp.headers_mut().insert(
            "content-type",
            hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return Ok(resp);
    }
    let (status, value) = dispatch(&mut st, &received);
    if received.uri != "/__demo/received" {
        st.received.push(received);
        if st.received.len() > RECEIVED_KEPT {
            st.received.remove(0);
        }
    }
    Ok(reply(status, &value))
}

fn reply(status: u16, value: &Value) -> hyper::Response<Full<Bytes>> {
    let body = Bytes::from(serde_json::to_vec_pretty(value).unwrap_or_default());
    let mut resp = hyper::Response::new(Full::new(body));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn dispatch(st: &mut State, r: &Received) -> (u16, Value) {
    let path = r.uri.split('?').next().unwrap_or_default();
    if path == "/__demo/received" {
        let list: Vec<Value> = st
            .received
            .iter()
            .rev()
            .take(20)
            .map(|x| json!({"method": x.method, "uri": x.uri, "headers": x.headers}))
            .collect();
        return (200, Value::Array(list));
    }
    let op = match route(path, "/restapi/") {
        Route::Protected { op: Some(op) } => op,
        Route::Unprotected if path == "/" => {
            return (
                200,
                json!({"page": "demo CRM web UI", "note": "not a protected path"}),
            );
        }
        _ => return (404, json!({"status": 404, "error": "not found"})),
    };
    if r.method != "POST" {
        return (405, json!({"status": 405, "error": "use POST"}));
    }
    let body: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    if op == "loginpwd" {
        return login(st, &body);
    }
    let Some(user) = caller(st, r) else {
        return (
            401,
            json!({"status": 401, "error": "authentication required"}),
        );
    };
    st.crm.call(&op, &user, &body)
}

fn login(st: &State, body: &Value) -> (u16, Value) {
    let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default();
    match st
        .crm
        .users
        .iter()
        .find(|u| u.username == s("username") && u.password == s("password"))
    {
        // vtenext 20.04: the key in a list; a wrong password is an HTTP 500.
        Some(u) => (200, json!({"status": 200, "data": [u.access_key]})),
        None => (
            500,
            json!({"status": 500, "error": "WebServiceException", "message": "Invalid username or password"}),
        ),
    }
}

fn caller(st: &State, r: &Received) -> Option<CrmUser> {
    let users = &st.crm.users;
    match st.auth {
        CrmAuth::Headers => {
            let name = r.header_values("x-crm-user").first().copied()?;
            users.iter().find(|u| u.username == name).cloned()
        }
        CrmAuth::Basic => {
            let value = r.header_values("authorization").first().copied()?;
            let b64 = value.strip_prefix("Basic ")?;
            let decoded = String::from_utf8(STANDARD.decode(b64).ok()?).ok()?;
            let (name, key) = decoded.split_once(':')?;
            users
                .iter()
                .find(|u| u.username == name && u.access_key == key)
                .cloned()
        }
    }
}

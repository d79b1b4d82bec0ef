//! The processes the bench re-executes itself as (`--role NAME ...`): a minimal hyper upstream,
//! a bare pingora pass-through, and `seed`, which fills a gateway data dir with live tokens
//! through the crmgate library.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use pingora::prelude::*;
use pingora::server::configuration::ServerConf;

/// What the upstream answers to every request (24 bytes).
pub const BODY: &[u8] = br#"{"status":200,"data":[]}"#;
/// Longest a server role lives, in case its parent vanished without signalling it.
const MAX_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// Runs the role named by `args[0]` with its `--key value` arguments.
pub fn run(args: &[String]) -> Result<(), String> {
    let get = |key: &str| -> Result<&str, String> {
        args.iter()
            .position(|a| a == key)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
            .ok_or_else(|| format!("role argument {key} missing"))
    };
    let port = |key: &str| -> Result<u16, String> {
        get(key)?
            .parse()
            .map_err(|e| format!("{key}: not a port: {e}"))
    };
    match args.first().map(String::as_str) {
        Some("upstream") => upstream(port("--port")?),
        Some("passthrough") => passthrough(port("--port")?, port("--upstream")?),
        Some("seed") => seed(&SeedArgs {
            data_dir: get("--data-dir")?.into(),
            client_id: get("--client-id")?.into(),
            count: parse(get("--count")?)?,
            sample: parse(get("--sample")?)?,
            out: get("--out")?.into(),
        }),
        other => Err(format!("unknown role {other:?}")),
    }
}

fn parse(v: &str) -> Result<usize, String> {
    v.parse().map_err(|e| format!("{v}: {e}"))
}

/// A keep-alive HTTP/1.1 server on one tokio thread answering [`BODY`] to everything.
fn upstream(port: u16) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("upstream: bind 127.0.0.1:{port}: {e}"))?;
        let serve = async {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let conn = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service_fn(answer));
                    let _ = conn.await;
                });
            }
        };
        let _ = tokio::time::timeout(MAX_LIFETIME, serve).await;
        Ok(())
    })
}

async fn answer(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    req.into_body().collect().await?;
    let mut resp = Response::new(Full::new(Bytes::from_static(BODY)));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// A `ProxyHttp` with only `upstream_peer`.
struct Pass {
    peer: HttpPeer,
}

#[async_trait]
impl ProxyHttp for Pass {
    type CTX = ();

    fn new_ctx(&self) {}

    async fn upstream_peer(&self, _session: &mut Session, _ctx: &mut ()) -> Result<Box<HttpPeer>> {
        Ok(Box::new(self.peer.clone()))
    }
}

/// A bare pingora pass-through on `port` to the upstream: one thread, no work stealing.
fn passthrough(port: u16, upstream: u16) -> Result<(), String> {
    let conf = ServerConf {
        threads: 1,
        work_stealing: false,
        grace_period_seconds: Some(0),
        graceful_shutdown_timeout_seconds: Some(0),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], upstream));
    let peer = HttpPeer::new(addr, false, String::new());
    let mut proxy = pingora::proxy::http_proxy_service(&server.configuration, Pass { peer });
    proxy.add_tcp(&format!("127.0.0.1:{port}"));
    server.add_service(proxy);
    std::thread::spawn(|| {
        std::thread::sleep(MAX_LIFETIME);
        std::process::exit(0);
    });
    server.run_forever()
}

struct SeedArgs {
    data_dir: std::path::PathBuf,
    client_id: String,
    count: usize,
    sample: usize,
    out: std::path::PathBuf,
}

/// Tokens issued concurrently, so that they share group-committed flushes.
const SEED_BATCH: usize = 4096;
/// Longest a seed run may take.
const SEED_LIMIT: Duration = Duration::from_secs(900);

/// Adds `count` live access tokens of `client_id` to the store in `data_dir` (the gateway must
/// be stopped) and writes about `sample` of them, spread over the run, to `out`.
fn seed(a: &SeedArgs) -> Result<(), String> {
    use crmgate::clock::SystemClock;
    use crmgate::keys::KeyRing;
    use crmgate::metrics::Metrics;
    use crmgate::store::sled_store::SledStore;
    use crmgate::token::service::TokenService;

    let keys = KeyRing::load_or_create(&a.data_dir).map_err(|e| e.to_string())?;
    let store = Arc::new(SledStore::open(&a.data_dir.join("store")).map_err(|e| e.to_string())?);
    let metrics = Arc::new(Metrics::new().map_err(|e| e.to_string())?);
    let service = Arc::new(TokenService::new(
        keys.tokens.clone(),
        store.clone(),
        0,
        Arc::new(SystemClock),
        metrics,
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let every = a.count.div_ceil(a.sample.max(1)).max(1);
    let mut sampled = String::new();
    let start = Instant::now();
    let mut done = 0;
    while done < a.count {
        if start.elapsed() > SEED_LIMIT {
            return Err(format!(
                "seeding stopped after {done} tokens: over {SEED_LIMIT:?}"
            ));
        }
        let n = SEED_BATCH.min(a.count - done);
        let tokens = rt.block_on(issue_batch(&service, &a.client_id, n))?;
        for (i, t) in tokens.iter().enumerate() {
            if (done + i) % every == 0 {
                sampled.push_str(t);
                sampled.push('\n');
            }
        }
        done += n;
    }
    store.flush_now().map_err(|e| e.to_string())?;
    std::fs::write(&a.out, sampled).map_err(|e| format!("{}: {e}", a.out.display()))
}

async fn issue_batch(
    service: &Arc<crmgate::token::service::TokenService>,
    client_id: &str,
    n: usize,
) -> Result<Vec<String>, String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let record = access_record(client_id, now, now + 4 * 3600)?;
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let service = service.clone();
        let record = record.clone();
        set.spawn(async move { service.issue(record).await });
    }
    let mut out = Vec::with_capacity(n);
    while let Some(joined) = set.join_next().await {
        let issued = joined.map_err(|e| format!("seed task: {e}"))?;
        out.push(issued.map_err(|e| format!("issue: {e}"))?);
    }
    Ok(out)
}

/// A client_credentials-like access record (app's user and scope at request time). Built
/// through serde so optional fields added to `TokenRecord` later stay `None` here.
fn access_record(
    client_id: &str,
    issued_at: u64,
    expires_at: u64,
) -> Result<crmgate::token::record::TokenRecord, String> {
    let value = serde_json::json!({
        "kind": "Access",
        "client_id": client_id,
        "user": null,
        "scope": null,
        "issued_at": issued_at,
        "expires_at": expires_at,
    });
    serde_json::from_value(value).map_err(|e| format!("cannot build a token record: {e}"))
}

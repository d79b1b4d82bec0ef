//! `GET /gateway/readyz`: whether this gateway can serve now. 200 `{"status": "ok"}` when the
//! store takes a durable write and the CRM accepts a connection; else 503 with `status`
//! (`store_unavailable`, `crm_unreachable`) and a `reason`. `/gateway/healthz` stays the
//! liveness check (the process runs and its store has not failed for good).

use std::time::Duration;

use serde_json::json;

use crate::gateway::Gateway;
use crate::response::Response;

/// Longest the CRM check waits for a connection.
const CRM_CHECK: Duration = Duration::from_secs(2);

/// The readiness answer.
pub async fn readyz(gw: &Gateway) -> Response {
    if let Err(reason) = gw.tokens.store().ready().await {
        return not_ready("store_unavailable", &reason);
    }
    if let Err(reason) = crm_reachable(gw).await {
        return not_ready("crm_unreachable", &reason);
    }
    Response::json(200, &json!({"status": "ok"})).header("Cache-Control", "no-store")
}

fn not_ready(status: &str, reason: &str) -> Response {
    Response::json(503, &json!({"status": status, "reason": reason}))
        .header("Cache-Control", "no-store")
        .header("Retry-After", "1")
}

/// Opens (and drops) a TCP connection to the CRM.
async fn crm_reachable(gw: &Gateway) -> Result<(), String> {
    let up = &gw.config.upstream;
    let wait = up.connect_timeout.min(CRM_CHECK);
    match tokio::time::timeout(wait, tokio::net::TcpStream::connect(up.address.as_str())).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!(
            "the CRM at {} refused a connection: {e}",
            up.address
        )),
        Err(_) => Err(format!(
            "the CRM at {} did not accept a connection within {} ms",
            up.address,
            wait.as_millis()
        )),
    }
}

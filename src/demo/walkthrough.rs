//! The text `crmgate demo` prints: where things are, the demo apps, and copy-paste commands.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use super::setup::DemoApp;

/// The walkthrough for a demo gateway at `gateway` in front of the CRM at `crm`.
pub fn text(gateway: SocketAddr, crm: SocketAddr, dir: &Path, apps: &[DemoApp]) -> String {
    let base = format!("http://{gateway}");
    let mut t = String::new();
    let _ = writeln!(t, "crmgate demo is running.\n");
    let _ = writeln!(
        t,
        "  gateway   {base}   (OAuth endpoints under {base}/oauth2/v2.0/)"
    );
    let _ = writeln!(
        t,
        "  demo CRM  http://{crm}   (what it received: http://{crm}/__demo/received)"
    );
    let _ = writeln!(
        t,
        "  files     {}   (apps.toml is watched: edit it, save, it applies)\n",
        dir.display()
    );
    let _ = writeln!(t, "Demo applications (service accounts, client secret):");
    for a in apps {
        let _ = writeln!(
            t,
            "  {:<11} client_id={}  scope={:<14} acts as {}\n              secret={}",
            a.name, a.client_id, a.scope, a.user, a.secret
        );
    }
    let (g, r) = (&apps[0], &apps[1]);
    let token_cmd = |a: &DemoApp| {
        format!(
            "curl -s -u {}:{} -d grant_type=client_credentials {base}/oauth2/v2.0/token.php",
            a.client_id, a.secret
        )
    };
    let extract = "sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/'";
    let call = |op: &str, body: &str| {
        format!(
            "curl -s -X POST {base}/restapi/v1/vtews/{op} -H \"Authorization: Bearer $TOKEN\" \
             -H 'Content-Type: application/json' -d '{body}'"
        )
    };
    let query = call("query", r#"{"query":"SELECT * FROM Invoice;"}"#);
    let _ = writeln!(
        t,
        "\n1. Get a token for Gestionale (acts as aldo):\n   {}",
        token_cmd(g)
    );
    let _ = writeln!(
        t,
        "   or keep it in a variable:\n   TOKEN=$({} | {extract})",
        token_cmd(g)
    );
    let _ = writeln!(
        t,
        "\n2. Query invoices with it: only aldo's invoices come back.\n   {query}"
    );
    let _ = writeln!(
        t,
        "\n   The same as Reporting (acts as bruna) shows bruna's invoices instead:\n   TOKEN=$({} | {extract})\n   {query}",
        token_cmd(r)
    );
    let create = call(
        "create",
        r#"{"elementType":"Invoice","element":{"subject":"Nuova fattura"}}"#,
    );
    let _ = writeln!(
        t,
        "\n3. Reporting is read-only: create is refused with 403 insufficient_scope.\n   {create}"
    );
    let _ = writeln!(
        t,
        "\n4. Revoke the token, then call again: 401 invalid_token.\n   curl -s -u {}:{} -d \"token=$TOKEN\" {base}/oauth2/v2.0/revoke.php\n   {query}",
        r.client_id, r.secret
    );
    let inject = format!(
        "curl -s -X POST {base}/restapi/v1/vtews/query -H \"Authorization: Bearer $TOKEN\" \
         -H 'X-Crm-User: admin' -H 'Client-IP: 6.6.6.6' -H 'Content-Type: application/json' \
         -d '{{\"query\":\"SELECT * FROM Invoice;\"}}'"
    );
    let _ = writeln!(
        t,
        "\n5. Try to impersonate someone (get a fresh token first, as in 1): the CRM never sees the\n   injected headers, only the gateway's own X-Crm-User.\n   TOKEN=$({} | {extract})\n   {inject}\n   curl -s http://{crm}/__demo/received",
        token_cmd(g)
    );
    let _ = writeln!(
        t,
        "\nAlso: {base}/.well-known/oauth-authorization-server, {base}/gateway/metrics.\n\
         \"Admin sync\" is bound to an admin user: it gets no token while allow_admin_users = false.\n\
         Stop with Ctrl-C; the temporary files are removed."
    );
    t
}

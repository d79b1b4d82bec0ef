//! The text `crmgate demo` prints: where things are, the demo apps, and copy-paste commands.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use super::setup::{Demo, DemoApp, UserApp};

/// The walkthrough for a demo gateway at `gateway` in front of the CRM at `crm`, with the step
/// for more gateways on a shared Redis when there are `nodes`.
pub fn text(
    gateway: SocketAddr,
    crm: SocketAddr,
    dir: &Path,
    demo: &Demo,
    nodes: &[super::nodes::Node],
) -> String {
    let base = format!("http://{gateway}");
    let mut t = overview(&base, crm, dir, &demo.accounts);
    if let [rw, ro, ..] = demo.accounts.as_slice() {
        t.push_str(&steps(&base, crm, rw, ro));
    }
    t.push_str(&user_steps(&base, demo));
    if let (false, Some(rw)) = (nodes.is_empty(), demo.accounts.first()) {
        t.push_str(&super::nodes::step(&base, nodes, rw));
    }
    t.push_str(
        "\nAlso: {base}/.well-known/oauth-authorization-server and {base}/gateway/metrics.\n\
         Stop with Ctrl-C; the temporary files are removed.\n"
            .replace("{base}", &base)
            .as_str(),
    );
    t
}

/// The authorize link of a user app.
pub fn authorize_link(base: &str, app: &UserApp) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", &app.redirect_uri)
        .append_pair("state", "demo");
    if let Some(c) = app.challenge() {
        q.append_pair("code_challenge", &c)
            .append_pair("code_challenge_method", "S256");
    }
    format!("{base}/oauth2/v2.0/auth.php?{}", q.finish())
}

/// The command that trades a code (`{code}`) for tokens, as the demo app's page shows it.
pub fn exchange_command(base: &str, app: &UserApp) -> String {
    let auth = match &app.secret {
        Some(secret) => format!("-u {}:{secret} ", app.client_id),
        None => format!("-d client_id={} ", app.client_id),
    };
    let verifier = app
        .verifier
        .as_deref()
        .map(|v| format!("-d code_verifier={v} "))
        .unwrap_or_default();
    format!(
        "curl -s {auth}-d grant_type=authorization_code -d code={{code}} -d redirect_uri={} {verifier}{base}/oauth2/v2.0/token.php",
        app.redirect_uri
    )
}

fn user_steps(base: &str, demo: &Demo) -> String {
    let (w, n) = (&demo.web, &demo.native);
    let refresh = format!(
        "curl -s -u {}:{} -d grant_type=refresh_token -d refresh_token=REFRESH_TOKEN {base}/oauth2/v2.0/token.php",
        w.client_id,
        w.secret.as_deref().unwrap_or_default()
    );
    format!(
        "\n6. A CRM user authorizes \"{}\" (a web app, read-only, with offline access).\n   \
         Open this link in a browser, sign in as aldo / aldo-demo (or bruna / bruna-demo;\n   \
         admin is refused while allow_admin_users = false) and click Allow:\n   {}\n   \
         The demo app's page then shows the code and the command that trades it for tokens.\n   \
         Call the API with that access token as in step 2: the rows are the signed-in user's.\n   \
         The refresh token keeps the app working without the user (it rotates on every use):\n   {refresh}\n\
         \n7. \"{}\" (a native / single-page app) uses PKCE instead of a secret:\n   {}\n",
        w.name,
        authorize_link(base, w),
        n.name,
        authorize_link(base, n),
    )
}

fn overview(base: &str, crm: SocketAddr, dir: &Path, apps: &[DemoApp]) -> String {
    let mut t = String::from("crmgate demo is running.\n\n");
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
        "  files     {}   (apps.toml is watched: edit it, save, it applies)",
        dir.display()
    );
    let _ = writeln!(
        t,
        "  admin     {base}/gateway/admin/   (sign in as admin / admin-demo)"
    );
    let _ = writeln!(
        t,
        "  account   {base}/gateway/account/   (\"Connected applications\": aldo / aldo-demo)"
    );
    let _ = writeln!(t, "\nDemo applications (service accounts, client secret):");
    for a in apps {
        let _ = writeln!(
            t,
            "  {:<11} client_id={}  scope={:<14} acts as {}\n              secret={}",
            a.name, a.client_id, a.scope, a.user, a.secret
        );
    }
    t
}

fn token_cmd(base: &str, a: &DemoApp) -> String {
    format!(
        "curl -s -u {}:{} -d grant_type=client_credentials {base}/oauth2/v2.0/token.php",
        a.client_id, a.secret
    )
}

/// `TOKEN=$(...)`: a token for `a` kept in a shell variable.
pub fn keep_token(base: &str, a: &DemoApp) -> String {
    let extract = "sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/'";
    format!("TOKEN=$({} | {extract})", token_cmd(base, a))
}

/// A REST call with `$TOKEN`.
pub fn call(base: &str, op: &str, headers: &str, body: &str) -> String {
    format!(
        "curl -s -X POST {base}/restapi/v1/vtews/{op} -H \"Authorization: Bearer $TOKEN\"{headers} \
         -H 'Content-Type: application/json' -d '{body}'"
    )
}

/// The numbered steps, with `rw` the read-write app and `ro` the read-only one.
fn steps(base: &str, crm: SocketAddr, rw: &DemoApp, ro: &DemoApp) -> String {
    let query = call(base, "query", "", r#"{"query":"SELECT * FROM Invoice;"}"#);
    let create = call(
        base,
        "create",
        "",
        r#"{"elementType":"Invoice","element":{"subject":"Nuova fattura"}}"#,
    );
    let inject = call(
        base,
        "query",
        " -H 'X-Crm-User: admin' -H 'Client-IP: 6.6.6.6'",
        r#"{"query":"SELECT * FROM Invoice;"}"#,
    );
    let revoke = format!(
        "curl -s -u {}:{} -d \"token=$TOKEN\" {base}/oauth2/v2.0/revoke.php",
        ro.client_id, ro.secret
    );
    let (rw_name, ro_name) = (rw.name, ro.name);
    let (rw_user, ro_user) = (rw.user, ro.user);
    format!(
        "\n1. Get a token for {rw_name} (acts as {rw_user}):\n   {}\n   or keep it in a variable:\n   {}\n\
         \n2. Query invoices with it: only {rw_user}'s invoices come back.\n   {query}\n\
         \n   The same as {ro_name} (acts as {ro_user}) shows {ro_user}'s invoices instead:\n   {}\n   {query}\n\
         \n3. {ro_name} is read-only: create is refused with 403 insufficient_scope.\n   {create}\n\
         \n4. Revoke the token, then call again: 401 invalid_token.\n   {revoke}\n   {query}\n\
         \n5. Try to impersonate someone (with a fresh token): the CRM never sees the injected\n   \
         headers, only the gateway's own X-Crm-User.\n   {}\n   {inject}\n   curl -s http://{crm}/__demo/received\n\
         \n\"Admin sync\" is bound to an admin user: it gets no token while allow_admin_users = false.\n",
        token_cmd(base, rw),
        keep_token(base, rw),
        keep_token(base, ro),
        keep_token(base, rw),
    )
}

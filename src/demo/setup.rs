//! Writes the demo's users, apps and gateway config into a folder, with fresh secrets each run.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

use super::crm::CrmUser;
use crate::generate::{client_id, random_hex};

/// A demo service account as the walkthrough presents it.
#[derive(Debug, Clone)]
pub struct DemoApp {
    /// Display name.
    pub name: &'static str,
    /// Generated client id.
    pub client_id: String,
    /// Generated secret.
    pub secret: String,
    /// Scope.
    pub scope: &'static str,
    /// Bound user.
    pub user: &'static str,
}

/// A demo app users authorize (authorization code flow).
#[derive(Debug, Clone)]
pub struct UserApp {
    /// Display name.
    pub name: &'static str,
    /// Path segment of its callback page on the demo CRM.
    pub slug: &'static str,
    /// Generated client id.
    pub client_id: String,
    /// Secret (web app) or none (native app).
    pub secret: Option<String>,
    /// Scope.
    pub scope: &'static str,
    /// Its redirect URI: the demo CRM's callback page.
    pub redirect_uri: String,
    /// PKCE verifier the walkthrough prints (native app).
    pub verifier: Option<String>,
}

impl UserApp {
    /// The S256 challenge of the verifier.
    pub fn challenge(&self) -> Option<String> {
        self.verifier.as_deref().map(crate::oauth::pkce::s256)
    }
}

/// Everything the demo registers.
#[derive(Debug, Clone)]
pub struct Demo {
    /// CRM users.
    pub users: Vec<CrmUser>,
    /// Service accounts.
    pub accounts: Vec<DemoApp>,
    /// A web app with offline access, for aldo and the support group.
    pub web: UserApp,
    /// A native app with PKCE, for everyone.
    pub native: UserApp,
}

impl Demo {
    /// Fresh ids and secrets; redirect URIs point at the demo CRM at `crm`.
    pub fn new(crm: SocketAddr) -> Self {
        let callback = |slug: &str| format!("http://{crm}/__demo/callback/{slug}");
        Self {
            users: users(),
            accounts: apps(),
            web: UserApp {
                name: "Portale clienti",
                slug: "portale",
                client_id: client_id(),
                secret: Some(random_hex(32)),
                scope: "rest.all.read",
                redirect_uri: callback("portale"),
                verifier: None,
            },
            native: UserApp {
                name: "App mobile",
                slug: "mobile",
                client_id: client_id(),
                secret: None,
                scope: "rest.all",
                redirect_uri: callback("mobile"),
                verifier: Some(random_hex(32)),
            },
        }
    }
}

/// The demo users: two sales/support users, one more support user, and an admin.
pub fn users() -> Vec<CrmUser> {
    [
        ("aldo", false, vec!["sales"]),
        ("bruna", false, vec!["support"]),
        ("carla", false, vec!["support"]),
        ("admin", true, vec![]),
    ]
    .into_iter()
    .map(|(name, admin, groups)| CrmUser {
        username: name.into(),
        password: format!("{name}-demo"),
        access_key: random_hex(8),
        admin,
        groups: groups.into_iter().map(str::to_string).collect(),
    })
    .collect()
}

/// The demo apps: a read-write account for aldo, a read-only one for bruna, and one bound to
/// the admin (refused while admin users are not allowed).
pub fn apps() -> Vec<DemoApp> {
    let app = |name, scope, user| DemoApp {
        name,
        client_id: client_id(),
        secret: random_hex(32),
        scope,
        user,
    };
    vec![
        app("Gestionale", "rest.all", "aldo"),
        app("Reporting", "rest.all.read", "bruna"),
        app("Admin sync", "rest.all", "admin"),
    ]
}

/// Writes `crmgate.toml`, `apps.toml` and `users.toml` into `dir`.
pub fn write(dir: &Path, listen: SocketAddr, crm: SocketAddr, demo: &Demo) -> std::io::Result<()> {
    std::fs::write(dir.join("crmgate.toml"), gateway_toml(listen, crm))?;
    std::fs::write(dir.join("users.toml"), users_toml(&demo.users)?)?;
    let mut apps = apps_toml(&demo.accounts);
    apps.push_str(&user_apps_toml(demo));
    std::fs::write(dir.join("apps.toml"), apps)?;
    Ok(())
}

fn user_apps_toml(demo: &Demo) -> String {
    let (w, n) = (&demo.web, &demo.native);
    let web = [
        "[[apps]]".to_string(),
        format!("client_id = \"{}\"", w.client_id),
        format!("name = \"{}\"", w.name),
        "description = \"Mostra fatture e contatti nel portale clienti\"".to_string(),
        "client_type = \"web_app\"".to_string(),
        format!(
            "client_secret = \"{}\"",
            w.secret.as_deref().unwrap_or_default()
        ),
        format!("scope = \"{}\"", w.scope),
        format!("redirect_uris = [\"{}\"]", w.redirect_uri),
        "offline_access = true".to_string(),
        "all_users = false".to_string(),
        "authorized_users = [\"aldo\"]".to_string(),
        "authorized_groups = [\"support\"]".to_string(),
    ];
    let native = [
        "[[apps]]".to_string(),
        format!("client_id = \"{}\"", n.client_id),
        format!("name = \"{}\"", n.name),
        "client_type = \"native_app\"".to_string(),
        format!("scope = \"{}\"", n.scope),
        format!("redirect_uris = [\"{}\"]", n.redirect_uri),
    ];
    format!("\n{}\n\n{}\n", web.join("\n"), native.join("\n"))
}

/// The demo gateway's `crmgate.toml`.
pub fn gateway_toml(listen: SocketAddr, crm: SocketAddr) -> String {
    format!(
        "# crmgate demo configuration (temporary)\n\
         [server]\nlisten = \"{listen}\"\npublic_url = \"http://{listen}\"\ndata_dir = \"data\"\n\n\
         [upstream]\naddress = \"{crm}\"\nauth = \"basic\"\n"
    )
}

fn users_toml(users: &[CrmUser]) -> std::io::Result<String> {
    let mut out = String::from("# Demo users; passwords are <username>-demo\n");
    for u in users {
        let hash = crate::generate::hash_password(&u.password).map_err(std::io::Error::other)?;
        let groups: Vec<String> = u.groups.iter().map(|g| format!("\"{g}\"")).collect();
        let _ = write!(
            out,
            "\n[[users]]\nusername = \"{}\"\nname = \"{}\"\npassword_hash = \"{hash}\"\n\
             admin = {}\ngroups = [{}]\ncrm_access_key = \"{}\"\n",
            u.username,
            capitalise(&u.username),
            u.admin,
            groups.join(", "),
            u.access_key
        );
    }
    Ok(out)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn apps_toml(apps: &[DemoApp]) -> String {
    let mut out = String::from(
        "# Demo applications. Edit and save: the gateway applies it within 2 seconds.\n\
         [settings]\noauth_enabled = true\nusers_can_manage_secrets = true\nallow_admin_users = false\n",
    );
    for a in apps {
        let _ = write!(
            out,
            "\n[[apps]]\nclient_id = \"{}\"\nname = \"{}\"\nclient_type = \"service_account\"\n\
             secret_type = \"client_secret\"\nclient_secret = \"{}\"\nscope = \"{}\"\nuser = \"{}\"\n\
             enabled = true\n",
            a.client_id, a.name, a.secret, a.scope, a.user
        );
    }
    out
}

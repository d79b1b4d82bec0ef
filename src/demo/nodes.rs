//! `crmgate demo --redis URL`: the demo gateway on a shared Redis, and the folders of two more
//! gateways (same master key, same store, their own ports) with the walkthrough step that starts
//! them and shows a token from one used on another and revoked everywhere.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use rand::RngCore as _;

use super::setup::DemoApp;

/// One more gateway of the demo.
#[derive(Debug, Clone)]
pub struct Node {
    /// Where it listens.
    pub listen: SocketAddr,
    /// Its config file.
    pub config: PathBuf,
}

fn free_loopback() -> std::io::Result<SocketAddr> {
    TcpListener::bind(("127.0.0.1", 0))?.local_addr()
}

/// Puts the demo gateway in `dir` on the Redis at `url` and writes two more gateways' folders
/// (`node2/`, `node3/`) next to it; returns them.
pub fn write(dir: &Path, crm: SocketAddr, url: &str) -> std::io::Result<Vec<Node>> {
    let prefix = format!("crmgate-demo-{}:", crate::generate::random_hex(4));
    let store = format!(
        "\n[store]\nbackend = \"redis\"\n\n[store.redis]\nurl = \"{url}\"\nkey_prefix = \"{prefix}\"\n"
    );
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let config = dir.join("crmgate.toml");
    let first = std::fs::read_to_string(&config)?;
    std::fs::write(&config, format!("{first}{store}"))?;
    write_key(dir, &key)?;
    let mut nodes = Vec::new();
    for i in 2..=3 {
        let folder = dir.join(format!("node{i}"));
        write_key(&folder, &key)?;
        let listen = free_loopback()?;
        let config = folder.join("crmgate.toml");
        let toml = super::setup::gateway_toml(listen, crm);
        std::fs::write(&config, format!("{toml}{store}"))?;
        nodes.push(Node { listen, config });
    }
    Ok(nodes)
}

fn write_key(dir: &Path, key: &[u8]) -> std::io::Result<()> {
    let data = dir.join("data");
    std::fs::create_dir_all(&data)?;
    crate::fsutil::write_atomic(&data.join(crate::keys::MASTER_KEY_FILE), key, Some(0o600))
}

/// The walkthrough step for the extra gateways, with `app` as the caller.
pub fn step(base: &str, nodes: &[Node], app: &DemoApp) -> String {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "crmgate".into());
    let bases: Vec<String> = nodes
        .iter()
        .map(|n| format!("http://{}", n.listen))
        .collect();
    let (Some(second), Some(third)) = (bases.first(), bases.get(1)) else {
        return String::new();
    };
    let mut t = String::from(
        "\n8. Several gateways on one Redis. Start two more, each in a terminal of its own (stop\n   \
         them before this demo, which removes their folders):\n",
    );
    for n in nodes {
        let _ = writeln!(t, "   {exe} serve --config {}", n.config.display());
    }
    let token = super::walkthrough::keep_token(base, app);
    let query =
        |b: &str| super::walkthrough::call(b, "query", "", r#"{"query":"SELECT * FROM Invoice;"}"#);
    let revoke = format!(
        "curl -s -u {}:{} -d \"token=$TOKEN\" {third}/oauth2/v2.0/revoke.php",
        app.client_id, app.secret
    );
    let _ = write!(
        t,
        "   A token from this gateway works on the second:\n   {token}\n   {}\n   \
         Revoked on the third, it is refused by this one and the second at once:\n   {revoke}\n   \
         {}\n   {}\n   \
         Admin changes (the admin page, `crmgate registry push`) apply on all three within a second.\n",
        query(second),
        query(base),
        query(second),
    );
    t
}

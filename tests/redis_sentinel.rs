//! Redis behind Sentinel (`store.redis.sentinels`, `master_name`, `wait_replicas = 1`): a
//! primary, a replica and one Sentinel, all throwaway `redis-server` processes on loopback. The
//! gateway finds the primary through the Sentinel; every acknowledged commit is on the replica
//! too; when the primary is killed the Sentinel promotes the replica, the gateway moves to it by
//! itself (answering 503 while no replica can confirm a write), and a token acknowledged before
//! the failover still works after it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::several_gateways::{APP, KEY, apps, within};

use common::redis_server::TestRedis;
use common::*;

/// A Sentinel watching one primary as `m`; stopped when dropped.
struct Sentinel {
    child: Child,
    _dir: tempfile::TempDir,
    port: u16,
}

impl Sentinel {
    fn start(primary: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {}\nsentinel monitor m 127.0.0.1 {primary} 1\n\
                 sentinel down-after-milliseconds m 500\nsentinel failover-timeout m 3000\n",
                dir.path().display()
            ),
        )
        .unwrap();
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let s = Self {
            child,
            _dir: dir,
            port,
        };
        within("sentinel listening", Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        s
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn behind_sentinel_a_failover_moves_the_gateway_to_the_new_primary_and_loses_no_acknowledged_token()
{
    let mut primary = TestRedis::start();
    let replica_of = primary.port.to_string();
    let replica = TestRedis::start_with(&["--replicaof", "127.0.0.1", &replica_of]);
    within("replica in sync", Duration::from_secs(10), || {
        redis_cli(replica.port, &["INFO", "replication"]).contains("master_link_status:up")
    });
    let sentinel = Sentinel::start(primary.port);
    within("sentinel sees the replica", Duration::from_secs(15), || {
        redis_cli(sentinel.port, &["SENTINEL", "replicas", "m"]).contains(&replica.port.to_string())
    });
    let store = format!(
        "[store]\nbackend = \"redis\"\n[store.redis]\nurl = \"redis://127.0.0.1:1/0\"\n\
         sentinels = [\"127.0.0.1:{}\"]\nmaster_name = \"m\"\nwait_replicas = 1\ntimeout_ms = 500\n",
        sentinel.port
    );
    let node = Harness::start_with(
        &apps(),
        Options {
            extra: store,
            master_key: Some(KEY),
            ..Options::default()
        },
    );
    let before = node.token(APP, "s-a");
    assert_eq!(node.query_invoices(&before).status(), 200);
    primary.signal("KILL");
    let killed = Instant::now();
    within("the replica promoted", Duration::from_secs(20), || {
        redis_cli(replica.port, &["ROLE"]).starts_with("master")
    });
    // With wait_replicas = 1 a lone primary cannot acknowledge anything: the old primary comes
    // back, and the Sentinel makes it the new primary's replica.
    let no_replica = node.token_basic(APP, "s-a", &[("grant_type", "client_credentials")]);
    assert_eq!(no_replica.status(), 503, "no replica to confirm the write");
    primary.crash_and_restart();
    let mut statuses = Vec::new();
    let took = within(
        "a token issued after the failover",
        Duration::from_secs(30),
        || {
            let r = node.token_basic(APP, "s-a", &[("grant_type", "client_credentials")]);
            statuses.push(r.status().as_u16());
            r.status() == 200
        },
    );
    eprintln!(
        "issuance worked again {took:?} after the primary was killed ({:?})",
        killed.elapsed()
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "only 503s while there is no primary: {statuses:?}"
    );
    assert_eq!(
        node.query_invoices(&before).status(),
        200,
        "the token acknowledged before the failover"
    );
    let after = node.token(APP, "s-a");
    assert_eq!(node.query_invoices(&after).status(), 200);
}

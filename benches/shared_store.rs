//! The token store backends side by side in one invocation: sled (embedded) and Redis (a
//! throwaway `redis-server` on loopback with `appendfsync always`), through the `TokenStore`
//! trait the gateway uses. Durable issuance-shaped commits per second (one writer, and 32
//! concurrent writers), reads of one record (a token cache miss), and how long a revocation
//! committed through one store takes to reach a second store's watcher (another gateway node).
//! Every loop is bounded in count and time. Run: `cargo bench --bench shared_store`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../src/store/redis_test_server.rs"]
mod redis_server;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crmgate::store::redb_store::RedbStore;
use crmgate::store::redis_store::{RedisOptions, RedisStore};
use crmgate::store::sled_store::SledStore;
use crmgate::store::{Changed, Space, TokenStore, Write};

const COMMITS: usize = 2000;
const READS: usize = 5000;
const REVOCATIONS: usize = 300;
const LIMIT: Duration = Duration::from_secs(30);

fn key(i: usize, salt: u8) -> Vec<u8> {
    let mut k = [salt; 32];
    k[..8].copy_from_slice(&(i as u64).to_be_bytes());
    k.to_vec()
}

/// What an issuance commits: the record and its two index entries.
fn issuance(i: usize, salt: u8) -> Vec<Write> {
    let put = |space, key: Vec<u8>, len| Write::Put {
        space,
        key,
        value: vec![7; len],
        expires_at: 4_000_000_000,
    };
    vec![
        put(Space::Token, key(i, salt), 120),
        put(
            Space::ClientToken,
            [b"vte_bench\0".to_vec(), key(i, salt)].concat(),
            9,
        ),
        put(Space::Family, [key(i, salt), key(i, salt)].concat(), 0),
    ]
}

async fn commits_per_second(store: &Arc<dyn TokenStore>, writers: usize, salt: u8) -> f64 {
    let start = Instant::now();
    let per = COMMITS / writers;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                if start.elapsed() > LIMIT {
                    return i;
                }
                store
                    .commit(vec![], issuance(w * per + i, salt))
                    .await
                    .unwrap();
            }
            per
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap();
    }
    done as f64 / start.elapsed().as_secs_f64()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn read_latency(store: &Arc<dyn TokenStore>, salt: u8) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(READS);
    let start = Instant::now();
    for i in 0..READS {
        if start.elapsed() > LIMIT {
            break;
        }
        let t = Instant::now();
        let got = store.get(Space::Token, &key(i % 500, salt)).await.unwrap();
        samples.push(t.elapsed());
        assert!(got.is_some());
    }
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

/// Token keys a watcher reported, with when.
type Arrivals = Vec<(Vec<u8>, Instant)>;

/// Commits a revocation through `a` and waits until `b`'s watcher reports its key.
async fn propagation(a: &Arc<dyn TokenStore>, b: &RedisStore) -> Vec<Duration> {
    let seen: Arc<Mutex<Arrivals>> = Arc::default();
    let sink = seen.clone();
    b.watch(Arc::new(move |c| {
        if let Changed::Tokens(keys) = c {
            let now = Instant::now();
            sink.lock()
                .unwrap()
                .extend(keys.into_iter().map(|k| (k, now)));
        }
    }));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut delays = Vec::new();
    let start = Instant::now();
    for i in 0..REVOCATIONS {
        if start.elapsed() > LIMIT {
            break;
        }
        let k = key(i, 9);
        let sent = Instant::now();
        let del = Write::Delete {
            space: Space::Token,
            key: k.clone(),
        };
        a.commit(vec![], vec![del]).await.unwrap();
        let wait_until = sent + Duration::from_secs(2);
        loop {
            let arrived = seen
                .lock()
                .unwrap()
                .iter()
                .find(|(x, _)| *x == k)
                .map(|(_, t)| *t);
            if let Some(t) = arrived {
                delays.push(t - sent);
                break;
            }
            assert!(Instant::now() < wait_until, "revocation {i} never arrived");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }
    delays.sort();
    delays
}

fn redis_options(url: String) -> RedisOptions {
    RedisOptions {
        url,
        key_prefix: "bench:".into(),
        require_fsync: true,
        timeout: Duration::from_secs(2),
        stale_after: Duration::from_secs(2),
        ..RedisOptions::default()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sled: Arc<dyn TokenStore> = Arc::new(SledStore::open(&dir.path().join("sled")).unwrap());
    let redb: Arc<dyn TokenStore> =
        Arc::new(RedbStore::open_checked(&dir.path().join("redb"), false).unwrap());
    let server = redis_server::TestRedis::start();
    let url = server.url();
    let opts = redis_options(url);
    let redis: Arc<dyn TokenStore> =
        Arc::new(tokio::task::block_in_place(|| RedisStore::open(&opts)).unwrap());
    let node_b = tokio::task::block_in_place(|| RedisStore::open(&opts)).unwrap();
    println!(
        "machine: {} CPUs; redis-server on 127.0.0.1, appendonly yes, appendfsync always; sled in a temp dir on the same disk",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!("| measure | sled | redb | redis | redb / sled | redis / sled |");
    println!("|---|---:|---:|---:|---:|---:|");
    for writers in [1, 32, 128] {
        let s = commits_per_second(&sled, writers, writers as u8).await;
        let b = commits_per_second(&redb, writers, writers as u8).await;
        let r = commits_per_second(&redis, writers, writers as u8).await;
        println!(
            "| durable issuance commits/s, {writers} writer(s) | {s:.0} | {b:.0} | {r:.0} | {:.2}x | {:.2}x |",
            b / s,
            r / s
        );
    }
    let (s50, s99) = read_latency(&sled, 1).await;
    let (b50, b99) = read_latency(&redb, 1).await;
    let (r50, r99) = read_latency(&redis, 1).await;
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    for (name, s, b, r) in [("p50", s50, b50, r50), ("p99", s99, b99, r99)] {
        println!(
            "| one record read (cache miss), {name} us | {:.1} | {:.1} | {:.1} | {:.1}x | {:.1}x |",
            us(s),
            us(b),
            us(r),
            us(b) / us(s),
            us(r) / us(s)
        );
    }
    let delays = propagation(&redis, &node_b).await;
    println!();
    println!(
        "revocation committed on one node, seen by another node's watcher ({} samples): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        delays.len(),
        us(percentile(&delays, 0.5)) / 1000.0,
        us(percentile(&delays, 0.99)) / 1000.0,
        us(*delays.last().unwrap()) / 1000.0
    );
}

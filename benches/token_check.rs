//! Hot path micro-benchmarks: the keyed hash of a token, and a token check answered from the
//! cache (hit) or from sled (miss). Run with `cargo bench --bench token_check`; the figures go to
//! BENCHMARKS.md with the machine they were measured on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use crmgate::clock::SystemClock;
use crmgate::keys::KeyRing;
use crmgate::metrics::Metrics;
use crmgate::store::sled_store::SledStore;
use crmgate::token::record::{TokenKind, TokenRecord};
use crmgate::token::service::TokenService;

fn record() -> TokenRecord {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    TokenRecord {
        kind: TokenKind::Access,
        client_id: "vte_5a0391ecbe3d04058d56".into(),
        user: None,
        scope: None,
        issued_at: now,
        expires_at: now + 3600,
        family: None,
        rotated: None,
    }
}

fn benches(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let keys = KeyRing::from_master(&[1; 32]);
    let store = Arc::new(SledStore::open(dir.path()).expect("store"));
    let metrics = Arc::new(Metrics::new().expect("metrics"));
    let hasher = keys.tokens.clone();
    let service = |capacity| {
        TokenService::new(
            hasher.clone(),
            store.clone(),
            capacity,
            Arc::new(SystemClock),
            metrics.clone(),
        )
    };
    let cached = service(10_000);
    let uncached = service(0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let token = rt.block_on(cached.issue(record())).expect("issue");
    c.bench_function("keyed_hash_token", |b| {
        b.iter(|| keys.tokens.hash(token.as_bytes()))
    });
    c.bench_function("token_check_cache_hit", |b| {
        b.iter(|| {
            rt.block_on(cached.lookup(&token, TokenKind::Access))
                .expect("lookup")
        })
    });
    c.bench_function("token_check_cache_miss_sled", |b| {
        b.iter(|| {
            rt.block_on(uncached.lookup(&token, TokenKind::Access))
                .expect("lookup")
        })
    });
}

criterion_group!(token_check, benches);
criterion_main!(token_check);

//! The backend contract: what every [`TokenStore`] must do, as one suite each backend runs
//! (`contract_suite!(name, || open the store)`; calling the opener again reopens the same store,
//! after the test dropped its handle). Atomic conditional commits, expiry and purge, ordered
//! prefix scans, races between concurrent commits, and acknowledged writes surviving a reopen.

use std::sync::Arc;

use super::{Expect, Space, TokenStore, Write};

/// Opens (or reopens) the store under test.
pub type Opener<'a> = &'a dyn Fn() -> Arc<dyn TokenStore>;

/// A put of `value` under `key` until `at`.
pub fn put(space: Space, key: &[u8], value: &[u8], at: u64) -> Write {
    Write::Put {
        space,
        key: key.to_vec(),
        value: value.to_vec(),
        expires_at: at,
    }
}

fn expect(space: Space, key: &[u8], value: Option<&[u8]>) -> Expect {
    Expect {
        space,
        key: key.to_vec(),
        value: value.map(<[u8]>::to_vec),
    }
}

/// Puts and deletes; spaces do not see each other's keys.
pub async fn reads_and_writes(open: Opener<'_>) {
    let s = open();
    let w = vec![
        put(Space::Token, b"a", b"1", 100),
        put(Space::Grant, b"a", b"g", 100),
    ];
    assert!(s.commit(vec![], w).await.unwrap());
    assert_eq!(
        s.get(Space::Token, b"a").await.unwrap(),
        Some(b"1".to_vec())
    );
    assert_eq!(
        s.get(Space::Grant, b"a").await.unwrap(),
        Some(b"g".to_vec())
    );
    assert_eq!(
        s.get(Space::Code, b"a").await.unwrap(),
        None,
        "spaces are separate"
    );
    let del = Write::Delete {
        space: Space::Token,
        key: b"a".to_vec(),
    };
    assert!(s.commit(vec![], vec![del]).await.unwrap());
    assert_eq!(s.get(Space::Token, b"a").await.unwrap(), None);
    assert_eq!(
        s.get(Space::Grant, b"a").await.unwrap(),
        Some(b"g".to_vec())
    );
    assert!(
        s.commit(vec![], vec![]).await.unwrap(),
        "an empty commit succeeds"
    );
    assert!(s.healthy());
}

/// A commit applies all of its writes when every expectation holds, and none otherwise.
pub async fn conditional_commits(open: Opener<'_>) {
    let s = open();
    let claim = vec![put(Space::Once, b"j", b"", 150)];
    let absent = expect(Space::Once, b"j", None);
    assert!(s.commit(vec![absent.clone()], claim.clone()).await.unwrap());
    assert!(
        !s.commit(vec![absent], claim).await.unwrap(),
        "second claim"
    );
    assert!(
        s.commit(vec![], vec![put(Space::Token, b"b", b"2", 300)])
            .await
            .unwrap()
    );
    let swap = expect(Space::Token, b"b", Some(b"2"));
    let writes = vec![
        put(Space::Token, b"b", b"3", 500),
        put(Space::Code, b"x", b"y", 500),
    ];
    assert!(s.commit(vec![swap.clone()], writes.clone()).await.unwrap());
    assert!(
        !s.commit(vec![swap], vec![]).await.unwrap(),
        "stale expectation"
    );
    // One unmet expectation among several: nothing of the batch is written.
    let mixed = vec![
        expect(Space::Token, b"b", Some(b"3")),
        expect(Space::Code, b"x", Some(b"other")),
    ];
    let more = vec![
        put(Space::Token, b"b", b"4", 500),
        put(Space::Grant, b"new", b"", 500),
    ];
    assert!(!s.commit(mixed, more).await.unwrap());
    assert_eq!(
        s.get(Space::Token, b"b").await.unwrap(),
        Some(b"3".to_vec())
    );
    assert_eq!(
        s.get(Space::Grant, b"new").await.unwrap(),
        None,
        "all or nothing"
    );
    // An expected value is compared whole, not as a prefix.
    let prefix = expect(Space::Token, b"b", Some(b""));
    assert!(!s.commit(vec![prefix], vec![]).await.unwrap());
}

/// Purge deletes what expired before `now`, keeps the rest, and a later re-put wins.
pub async fn expiry_and_purge(open: Opener<'_>) {
    let s = open();
    let w = vec![
        put(Space::Token, b"a", b"1", 100),
        put(Space::Token, b"b", b"2", 300),
        put(Space::Once, b"j", b"", 150),
        put(Space::Code, b"edge", b"", 400),
    ];
    assert!(s.commit(vec![], w).await.unwrap());
    assert!(
        s.commit(vec![], vec![put(Space::Token, b"b", b"3", 500)])
            .await
            .unwrap()
    );
    assert_eq!(
        s.purge_expired(400).await.unwrap(),
        2,
        "a and j; b was re-put until 500"
    );
    assert_eq!(s.get(Space::Token, b"a").await.unwrap(), None);
    assert_eq!(s.get(Space::Once, b"j").await.unwrap(), None);
    assert_eq!(
        s.get(Space::Token, b"b").await.unwrap(),
        Some(b"3".to_vec())
    );
    assert!(
        s.get(Space::Code, b"edge").await.unwrap().is_some(),
        "expires at now: kept"
    );
    assert_eq!(
        s.purge_expired(400).await.unwrap(),
        0,
        "nothing left to purge"
    );
    assert_eq!(s.purge_expired(10_000).await.unwrap(), 2);
    assert_eq!(s.scan(Space::Token, b"", 10).await.unwrap().len(), 0);
}

/// Scans return one space's keys with the prefix, in key order, at most `limit`.
pub async fn prefix_scans(open: Opener<'_>) {
    let s = open();
    let keys: [&[u8]; 5] = [b"c1\0b", b"c1\0a", b"c10\0a", b"c2\0a", b"c1\0c"];
    let w = keys
        .iter()
        .map(|k| put(Space::ClientToken, k, k, 900))
        .collect();
    assert!(s.commit(vec![], w).await.unwrap());
    assert!(
        s.commit(vec![], vec![put(Space::ClientGrant, b"c1\0z", b"", 900)])
            .await
            .unwrap()
    );
    let found = s.scan(Space::ClientToken, b"c1\0", 100).await.unwrap();
    let names: Vec<&[u8]> = found.iter().map(|(k, _)| k.as_slice()).collect();
    assert_eq!(
        names,
        [&b"c1\0a"[..], b"c1\0b", b"c1\0c"],
        "ordered, one prefix, one space"
    );
    assert!(
        found.iter().all(|(k, v)| k == v),
        "values come with their keys"
    );
    assert_eq!(
        s.scan(Space::ClientToken, b"c1\0", 2).await.unwrap().len(),
        2
    );
    assert_eq!(
        s.scan(Space::ClientToken, b"", usize::MAX)
            .await
            .unwrap()
            .len(),
        5
    );
    assert!(s.scan(Space::Family, b"", 10).await.unwrap().is_empty());
}

/// Concurrent conditional commits on one key: exactly one claim wins, and compare-and-swap
/// increments lose no update.
pub async fn concurrent_commits(open: Opener<'_>) {
    let s = open();
    let mut claims = Vec::new();
    for i in 0..16u8 {
        let s = s.clone();
        claims.push(tokio::spawn(async move {
            let w = vec![put(Space::Once, b"race", &[i], 900)];
            s.commit(vec![expect(Space::Once, b"race", None)], w)
                .await
                .unwrap()
        }));
    }
    let mut won = 0;
    for c in claims {
        won += usize::from(c.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one of 16 concurrent claims wins");
    assert!(
        s.commit(
            vec![],
            vec![put(Space::Grant, b"n", &0u32.to_be_bytes(), 900)]
        )
        .await
        .unwrap()
    );
    let mut adders = Vec::new();
    for _ in 0..4 {
        let s = s.clone();
        adders.push(tokio::spawn(async move {
            for _ in 0..25 {
                increment(&*s).await;
            }
        }));
    }
    for a in adders {
        a.await.unwrap();
    }
    let n = s.get(Space::Grant, b"n").await.unwrap().unwrap();
    assert_eq!(n, 100u32.to_be_bytes(), "no lost update");
}

async fn increment(s: &dyn TokenStore) {
    for _ in 0..10_000 {
        let raw = s.get(Space::Grant, b"n").await.unwrap().unwrap();
        let n = u32::from_be_bytes(raw.as_slice().try_into().unwrap());
        let w = vec![put(Space::Grant, b"n", &(n + 1).to_be_bytes(), 900)];
        if s.commit(vec![expect(Space::Grant, b"n", Some(&raw))], w)
            .await
            .unwrap()
        {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("an increment never won its compare-and-swap");
}

/// What a commit acknowledged (puts and deletes) is there after the store is reopened.
pub async fn acknowledged_writes_survive_reopen(open: Opener<'_>) {
    let s = open();
    let w = vec![
        put(Space::Token, b"kept", b"1", 900),
        put(Space::Token, b"gone", b"2", 900),
    ];
    assert!(s.commit(vec![], w).await.unwrap());
    let del = Write::Delete {
        space: Space::Token,
        key: b"gone".to_vec(),
    };
    assert!(
        s.commit(vec![expect(Space::Token, b"gone", Some(b"2"))], vec![del])
            .await
            .unwrap()
    );
    s.close().unwrap();
    drop(s);
    let s = open();
    assert_eq!(
        s.get(Space::Token, b"kept").await.unwrap(),
        Some(b"1".to_vec())
    );
    assert_eq!(s.get(Space::Token, b"gone").await.unwrap(), None);
}

/// Runs every check of the contract against the backend `$open` opens, one test each.
macro_rules! contract_suite {
    ($name:ident, $open:expr) => {
        mod $name {
            use super::*;
            use $crate::store::contract;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reads_and_writes() {
                let (_keep, open) = $open;
                contract::reads_and_writes(&open).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn conditional_commits() {
                let (_keep, open) = $open;
                contract::conditional_commits(&open).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn expiry_and_purge() {
                let (_keep, open) = $open;
                contract::expiry_and_purge(&open).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn prefix_scans() {
                let (_keep, open) = $open;
                contract::prefix_scans(&open).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn concurrent_commits() {
                let (_keep, open) = $open;
                contract::concurrent_commits(&open).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn acknowledged_writes_survive_reopen() {
                let (_keep, open) = $open;
                contract::acknowledged_writes_survive_reopen(&open).await;
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use contract_suite;

#[cfg(test)]
mod backends {
    use std::sync::Arc;

    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use crate::store::TokenStore;
    use crate::store::memory::MemoryStore;
    use crate::store::redb_store::RedbStore;
    use crate::store::redis_store::{RedisOptions, RedisStore};
    use crate::store::redis_test_server::TestRedis;
    use crate::store::sled_store::SledStore;

    /// The reference store: "reopening" hands back the same map (it lives as long as the process).
    fn memory() -> ((), impl Fn() -> Arc<dyn TokenStore>) {
        let store: Arc<dyn TokenStore> = Arc::new(MemoryStore::new());
        ((), move || store.clone())
    }

    /// sled in a temporary folder; reopening opens the folder again (verified, as at start-up).
    fn sled() -> (tempfile::TempDir, impl Fn() -> Arc<dyn TokenStore>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let open = move || Arc::new(SledStore::open(&path).unwrap()) as Arc<dyn TokenStore>;
        (dir, open)
    }

    /// redb in a temporary folder; reopening opens the file again.
    fn redb() -> (tempfile::TempDir, impl Fn() -> Arc<dyn TokenStore>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let open =
            move || Arc::new(RedbStore::open_checked(&path, false).unwrap()) as Arc<dyn TokenStore>;
        (dir, open)
    }

    /// A fresh redis-server; reopening kills it with SIGKILL and restarts it on its AOF, so the
    /// durability check is a real crash.
    fn redis() -> (Arc<Mutex<TestRedis>>, impl Fn() -> Arc<dyn TokenStore>) {
        let server = Arc::new(Mutex::new(TestRedis::start()));
        let opened = AtomicBool::new(false);
        let keep = server.clone();
        let open = move || {
            let mut s = server.lock().unwrap();
            if opened.swap(true, Ordering::SeqCst) {
                s.crash_and_restart();
            }
            let opts = RedisOptions {
                url: s.url(),
                key_prefix: "test:".into(),
                require_fsync: true,
                timeout: Duration::from_secs(2),
                stale_after: Duration::from_secs(2),
                ..RedisOptions::default()
            };
            let store = tokio::task::block_in_place(|| RedisStore::open(&opts)).unwrap();
            Arc::new(store) as Arc<dyn TokenStore>
        };
        (keep, open)
    }

    contract_suite!(memory_store, memory());
    contract_suite!(sled_store, sled());
    contract_suite!(redb_store, redb());
    contract_suite!(redis_store, redis());
}

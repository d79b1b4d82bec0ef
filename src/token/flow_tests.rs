//! Flow tests of codes, grants and refresh rotation against a real sled store, with an injected
//! clock: single use, parallel redemption, reuse detection, grace period, family revocation.

use std::sync::Arc;

use super::codes::{CodeRecord, Redeemed};
use super::grants::GrantRecord;
use super::record::{self, FamilyId, TokenKind, TokenRecord, UserSnapshot, new_family};
use super::refresh::{RefreshRequest, Refreshed};
use super::scope::Scope;
use super::service::TokenService;
use crate::clock::{ManualClock, UnixTime};
use crate::keys::KeyRing;
use crate::metrics::Metrics;
use crate::store::sled_store::SledStore;

const T0: u64 = 1_900_000_000;

fn service(dir: &std::path::Path, clock: &ManualClock) -> Arc<TokenService> {
    let store = Arc::new(SledStore::open(dir).unwrap());
    let keys = KeyRing::from_master(&[3; 32]);
    let metrics = Arc::new(Metrics::new().unwrap());
    Arc::new(TokenService::new(
        keys.tokens,
        store,
        1000,
        Arc::new(clock.clone()),
        metrics,
    ))
}

fn code_record(family: FamilyId) -> CodeRecord {
    CodeRecord {
        client_id: "web".into(),
        user: "aldo".into(),
        scope: Scope::ALL,
        redirect_uri: Some("https://app/cb".into()),
        challenge: None,
        family,
        offline: true,
        expires_at: T0 + 60,
        used: false,
        profile: UserSnapshot::default(),
    }
}

fn token(kind: TokenKind, family: FamilyId, ttl: u64) -> TokenRecord {
    TokenRecord {
        kind,
        client_id: "web".into(),
        user: Some("aldo".into()),
        scope: Some(Scope::ALL),
        issued_at: T0,
        expires_at: T0 + ttl,
        family: Some(family),
        rotated: None,
    }
}

fn grant() -> GrantRecord {
    GrantRecord {
        client_id: "web".into(),
        user: "aldo".into(),
        scope: Scope::ALL,
        offline: true,
        created_at: T0,
        profile: UserSnapshot::default(),
    }
}

async fn redeem(svc: &TokenService, code: &str) -> Option<(String, String)> {
    let stored = svc.code(code).await.unwrap()?;
    let family = stored.record.family;
    let access = token(TokenKind::Access, family, 3600);
    let refresh = token(TokenKind::Refresh, family, 86400);
    match svc
        .redeem_code(code, stored, &access, Some(&refresh), &grant())
        .await
        .unwrap()
    {
        Redeemed::Issued { access, refresh } => Some((access, refresh.unwrap())),
        Redeemed::Spent => None,
    }
}

fn refresh_req(token: &str, grace: u64) -> RefreshRequest<'_> {
    RefreshRequest {
        token,
        client_id: "web",
        scope: None,
        access_ttl: 3600,
        refresh_ttl: 86400,
        grace,
        profile: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_parallel_redemptions_give_one_success() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let svc = service(dir.path(), &clock);
    let code = svc.issue_code(&code_record(new_family())).await.unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (svc, code) = (svc.clone(), code.clone());
            tokio::spawn(async move { redeem(&svc, &code).await })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(wins, 1);
    assert!(svc.code(&code).await.unwrap().unwrap().record.used);
}

#[tokio::test]
async fn rotation_then_reuse_revokes_the_family() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let svc = service(dir.path(), &clock);
    let family = new_family();
    let code = svc.issue_code(&code_record(family)).await.unwrap();
    let (access1, refresh1) = redeem(&svc, &code).await.unwrap();
    assert_eq!(svc.grants_of("aldo").await.unwrap().len(), 1);
    clock.advance(10);
    let Refreshed::Issued {
        access: access2,
        refresh: refresh2,
        ..
    } = svc.refresh(&refresh_req(&refresh1, 0)).await.unwrap()
    else {
        panic!("first refresh failed");
    };
    assert!(
        svc.lookup(&access2, TokenKind::Access)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        svc.lookup(&access1, TokenKind::Access)
            .await
            .unwrap()
            .is_some(),
        "old access token lives on"
    );
    assert!(matches!(
        svc.refresh(&refresh_req(&refresh1, 0)).await.unwrap(),
        Refreshed::Reused
    ));
    for t in [&access1, &access2] {
        assert!(
            svc.lookup(t, TokenKind::Access).await.unwrap().is_none(),
            "family not revoked"
        );
    }
    assert!(matches!(
        svc.refresh(&refresh_req(&refresh2, 0)).await.unwrap(),
        Refreshed::Invalid(_)
    ));
    assert!(svc.grants_of("aldo").await.unwrap().is_empty());
}

#[tokio::test]
async fn within_the_grace_period_a_retry_replaces_the_lost_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let svc = service(dir.path(), &clock);
    let code = svc.issue_code(&code_record(new_family())).await.unwrap();
    let (_, refresh1) = redeem(&svc, &code).await.unwrap();
    let Refreshed::Issued {
        access: lost_access,
        refresh: lost_refresh,
        ..
    } = svc.refresh(&refresh_req(&refresh1, 30)).await.unwrap()
    else {
        panic!("refresh failed");
    };
    clock.advance(20);
    let Refreshed::Issued {
        access, refresh, ..
    } = svc.refresh(&refresh_req(&refresh1, 30)).await.unwrap()
    else {
        panic!("retry within grace refused");
    };
    assert!(
        svc.lookup(&lost_access, TokenKind::Access)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        svc.lookup(&access, TokenKind::Access)
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        svc.refresh(&refresh_req(&lost_refresh, 30)).await.unwrap(),
        Refreshed::Invalid(_)
    ));
    clock.advance(31);
    assert!(matches!(
        svc.refresh(&refresh_req(&refresh1, 30)).await.unwrap(),
        Refreshed::Reused
    ));
    assert!(
        svc.lookup(&access, TokenKind::Access)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        svc.refresh(&refresh_req(&refresh, 30)).await.unwrap(),
        Refreshed::Invalid(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_refreshes_of_one_token_let_at_most_one_through() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let svc = service(dir.path(), &clock);
    let code = svc.issue_code(&code_record(new_family())).await.unwrap();
    let (_, refresh1) = redeem(&svc, &code).await.unwrap();
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (svc, t) = (svc.clone(), refresh1.clone());
            tokio::spawn(async move { svc.refresh(&refresh_req(&t, 0)).await.unwrap() })
        })
        .collect();
    let mut issued = Vec::new();
    for t in tasks {
        if let Refreshed::Issued { access, .. } = t.await.unwrap() {
            issued.push(access);
        }
    }
    assert!(issued.len() <= 1, "{} refreshes succeeded", issued.len());
    let mut live = 0;
    for a in &issued {
        live += usize::from(svc.lookup(a, TokenKind::Access).await.unwrap().is_some());
    }
    assert_eq!(live, 0, "a racing reuse must revoke the family");
}

#[tokio::test]
async fn narrower_scope_is_allowed_and_wider_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(T0);
    let svc = service(dir.path(), &clock);
    let mut rec = code_record(new_family());
    rec.scope = Scope::READ;
    let code = svc.issue_code(&rec).await.unwrap();
    let stored = svc.code(&code).await.unwrap().unwrap();
    let family = stored.record.family;
    let mut refresh = token(TokenKind::Refresh, family, 86400);
    refresh.scope = Some(Scope::READ);
    let Redeemed::Issued {
        refresh: Some(r), ..
    } = svc
        .redeem_code(
            &code,
            stored,
            &token(TokenKind::Access, family, 60),
            Some(&refresh),
            &grant(),
        )
        .await
        .unwrap()
    else {
        panic!()
    };
    let mut req = refresh_req(&r, 0);
    req.scope = Some(Scope::ALL);
    assert!(matches!(
        svc.refresh(&req).await.unwrap(),
        Refreshed::WiderScope
    ));
    req.scope = Some(Scope::READ);
    assert!(matches!(
        svc.refresh(&req).await.unwrap(),
        Refreshed::Issued {
            scope: Scope::READ,
            ..
        }
    ));
}

/// The grant as it was stored before [`UserSnapshot`] held its last three fields.
#[derive(serde::Serialize)]
struct InlineGrant {
    client_id: String,
    user: String,
    scope: Scope,
    offline: bool,
    created_at: UnixTime,
    sealed_key: Option<Vec<u8>>,
    admin: bool,
    groups: Vec<String>,
}

#[test]
fn grants_written_with_inline_user_fields_read_back_unchanged() {
    let old = InlineGrant {
        client_id: "web".into(),
        user: "aldo".into(),
        scope: Scope::READ,
        offline: true,
        created_at: T0,
        sealed_key: Some(vec![1, 2, 3]),
        admin: true,
        groups: vec!["Sales".into()],
    };
    let new = GrantRecord {
        scope: Scope::READ,
        profile: UserSnapshot {
            sealed_key: Some(vec![1, 2, 3]),
            admin: true,
            groups: vec!["Sales".into()],
        },
        ..grant()
    };
    assert_eq!(record::encode(&old), record::encode(&new));
    let back: GrantRecord = record::decode(&record::encode(&old)).unwrap();
    assert_eq!(back, new);
}

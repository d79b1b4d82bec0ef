//! Refresh tokens (RFC 6749 §6, OAuth 2.0 Security BCP §4.14): rotated on every use. Presenting
//! a rotated token again revokes the whole grant, unless it comes within the configured grace
//! period after a rotation whose answer the client may have lost; then the tokens of that
//! rotation are replaced. Each rotation is one atomic commit conditional on the token and grant
//! being unchanged, so parallel refreshes of one token cannot both succeed.

use super::grants::GrantRecord;
use super::record::{self, FamilyId, Rotation, TokenKey, TokenKind, TokenRecord, UserSnapshot};
use super::service::Minted;
use super::service::TokenService;
use crate::clock::UnixTime;
use crate::store::{Expect, Space, StoreError, Write, schema};
use crate::token::scope::Scope;

/// What a refresh asks for.
pub struct RefreshRequest<'a> {
    /// The refresh token presented.
    pub token: &'a str,
    /// The authenticated client.
    pub client_id: &'a str,
    /// A narrower scope for the new access token, if asked.
    pub scope: Option<Scope>,
    /// Access token lifetime.
    pub access_ttl: u64,
    /// Refresh token lifetime.
    pub refresh_ttl: u64,
    /// Seconds after a rotation during which the old token may be presented again.
    pub grace: u64,
    /// A fresh look at the user whose administrator flag and groups the grant keeps (CRM users).
    pub profile: Option<UserSnapshot>,
}

/// The outcome of a refresh.
#[derive(Debug)]
pub enum Refreshed {
    /// New tokens.
    Issued {
        /// Access token.
        access: String,
        /// The next refresh token.
        refresh: String,
        /// Scope of the access token.
        scope: Scope,
    },
    /// Unknown, another client's, or its grant is gone.
    Invalid(&'static str),
    /// The client's own refresh token, past its lifetime.
    Expired,
    /// A wider scope than granted was asked.
    WiderScope,
    /// A rotated token came back: the grant has been revoked.
    Reused,
}

struct Current {
    record: TokenRecord,
    raw: Vec<u8>,
    family: FamilyId,
    grant_raw: Vec<u8>,
}

impl TokenService {
    /// Exchanges a refresh token for new tokens.
    pub async fn refresh(&self, req: &RefreshRequest<'_>) -> Result<Refreshed, StoreError> {
        for _ in 0..3 {
            let cur = match self.current(req).await? {
                Ok(cur) => cur,
                Err(outcome) => return Ok(outcome),
            };
            let scope = match req.scope {
                Some(s) if !cur.record.scope.unwrap_or_default().contains(s) => {
                    return Ok(Refreshed::WiderScope);
                }
                Some(s) => s,
                None => cur.record.scope.unwrap_or_default(),
            };
            let now = self.clock().now();
            if let Some(rot) = cur.record.rotated {
                let in_grace = req.grace > 0 && now <= rot.at + req.grace;
                // A retry is only a retry while its successor is untouched; a used successor
                // means two parties hold the grant.
                if !in_grace || self.successor_unused(&rot).await?.is_none() {
                    self.revoke_family(&cur.family).await?;
                    return Ok(Refreshed::Reused);
                }
            }
            if let Some(issued) = self.rotate(req, &cur, scope).await? {
                return Ok(issued);
            }
        }
        Ok(Refreshed::Invalid(
            "the refresh token changed during the exchange",
        ))
    }

    /// The stored bytes of the refresh token a rotation issued, if it still exists unrotated.
    async fn successor_unused(&self, rot: &Rotation) -> Result<Option<Vec<u8>>, StoreError> {
        let key = schema::hashed(&rot.refresh);
        let Some(raw) = self.store().get(Space::Token, &key).await? else {
            return Ok(None);
        };
        let successor: TokenRecord = record::decode(&raw)?;
        Ok(successor.rotated.is_none().then_some(raw))
    }

    async fn current(
        &self,
        req: &RefreshRequest<'_>,
    ) -> Result<Result<Current, Refreshed>, StoreError> {
        let invalid = |why| Ok(Err(Refreshed::Invalid(why)));
        if record::kind_of(req.token) != Some(TokenKind::Refresh) {
            return invalid("not a refresh token");
        }
        let key = schema::hashed(&self.key(req.token));
        let Some(raw) = self.store().get(Space::Token, &key).await? else {
            return invalid("unknown or revoked refresh token");
        };
        let record: TokenRecord = record::decode(&raw)?;
        if record.kind != TokenKind::Refresh {
            return invalid("not a refresh token");
        }
        if record.client_id != req.client_id {
            return invalid("the refresh token belongs to another client");
        }
        if record.is_expired(self.clock().now()) {
            return Ok(Err(Refreshed::Expired));
        }
        let Some(family) = record.family else {
            return invalid("refresh token without a grant");
        };
        let grant_key = schema::family(&family);
        let Some(grant_raw) = self.store().get(Space::Grant, &grant_key).await? else {
            return invalid("the grant was revoked");
        };
        Ok(Ok(Current {
            record,
            raw,
            family,
            grant_raw,
        }))
    }

    /// One rotation: the presented token marked rotated, the tokens of an earlier rotation
    /// within the grace period replaced, the grant extended, new tokens stored; `None` when the
    /// token, the grant or the replaced successor changed meanwhile.
    async fn rotate(
        &self,
        req: &RefreshRequest<'_>,
        cur: &Current,
        scope: Scope,
    ) -> Result<Option<Refreshed>, StoreError> {
        let now = self.clock().now();
        let (access_record, access, refresh) = self.successors(req, cur, scope, now);
        let mut writes = self.rotated_writes(req, cur, &access, &refresh, now)?;
        writes.extend(access.writes);
        writes.extend(refresh.writes);
        let mut expect = vec![
            Expect {
                space: Space::Token,
                key: schema::hashed(&self.key(req.token)),
                value: Some(cur.raw.clone()),
            },
            Expect {
                space: Space::Grant,
                key: schema::family(&cur.family),
                value: Some(cur.grant_raw.clone()),
            },
        ];
        if let Some(rot) = &cur.record.rotated {
            // The successor being replaced must still be unused when the commit lands.
            let Some(successor) = self.successor_unused(rot).await? else {
                return Ok(None);
            };
            expect.push(Expect {
                space: Space::Token,
                key: schema::hashed(&rot.refresh),
                value: Some(successor),
            });
        }
        if !self.store().commit(expect, writes).await? {
            return Ok(None);
        }
        self.counted(&[&access_record]);
        if let Some(r) = cur.record.rotated {
            self.forget(&[r.refresh, r.access]);
        }
        Ok(Some(Refreshed::Issued {
            access: access.token,
            refresh: refresh.token,
            scope,
        }))
    }

    /// The new access token (its record too) and refresh token of a rotation.
    fn successors(
        &self,
        req: &RefreshRequest<'_>,
        cur: &Current,
        scope: Scope,
        now: UnixTime,
    ) -> (TokenRecord, Minted, Minted) {
        let access = TokenRecord {
            kind: TokenKind::Access,
            client_id: cur.record.client_id.clone(),
            user: cur.record.user.clone(),
            scope: Some(scope),
            issued_at: now,
            expires_at: now + req.access_ttl,
            family: Some(cur.family),
            rotated: None,
        };
        let refresh = TokenRecord {
            kind: TokenKind::Refresh,
            scope: cur.record.scope,
            expires_at: now + req.refresh_ttl,
            ..access.clone()
        };
        let (a, r) = (self.mint(&access), self.mint(&refresh));
        (access, a, r)
    }

    /// The writes of a rotation besides the new tokens: the presented token marked rotated,
    /// the earlier successors deleted, the grant (with a fresh profile) extended.
    fn rotated_writes(
        &self,
        req: &RefreshRequest<'_>,
        cur: &Current,
        access: &Minted,
        refresh: &Minted,
        now: UnixTime,
    ) -> Result<Vec<Write>, StoreError> {
        let mut old = cur.record.clone();
        old.rotated = Some(Rotation {
            at: now,
            refresh: refresh.key,
            access: access.key,
        });
        let mut writes = vec![Write::Put {
            space: Space::Token,
            key: schema::hashed(&self.key(req.token)),
            value: record::encode(&old),
            expires_at: old.expires_at,
        }];
        let replaced: Vec<TokenKey> = cur
            .record
            .rotated
            .iter()
            .flat_map(|r| [r.refresh, r.access])
            .collect();
        for key in &replaced {
            writes.push(Write::Delete {
                space: Space::Token,
                key: schema::hashed(key),
            });
            writes.push(Write::Delete {
                space: Space::Family,
                key: schema::family_token(&cur.family, key),
            });
        }
        let mut grant: GrantRecord = record::decode(&cur.grant_raw)?;
        if let Some(fresh) = &req.profile {
            grant.profile.update(fresh);
        }
        writes.extend(grant.writes(&cur.family, refresh.expires_at));
        Ok(writes)
    }
}

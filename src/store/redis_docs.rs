//! [`SharedDocs`] on the shared Redis: `<prefix>doc:apps` and `<prefix>doc:users` hashes
//! (`text` sealed with the gateways' master key, so no secret a document holds is readable in
//! Redis; `version`; `revision`), `<prefix>doc:icons` (path under `icons/` → bytes). A write is
//! one Lua script: compare the version, store, announce on `<prefix>events` (field `d`).

use std::sync::Arc;

use async_trait::async_trait;
use redis::Script;

use super::documents::{Base, DocName, Document, IconChange, SharedDocs};
use super::redis_store::{RedisStore, STREAM_LENGTH};
use super::{Changed, StoreError, TokenStore};
use crate::keys::Sealer;

const WRITE: &str = r#"
local p = ARGV[1]
local k = p .. 'doc:' .. ARGV[2]
local cur = redis.call('HGET', k, 'version')
if ARGV[3] == 'absent' then
  if cur then return 0 end
elseif ARGV[3] == 'version' then
  if cur ~= ARGV[4] then return 0 end
end
local rev = redis.call('HINCRBY', k, 'revision', 1)
redis.call('HSET', k, 'text', ARGV[5], 'version', ARGV[6])
local icons = p .. 'doc:icons'
local i = 8
for _ = 1, tonumber(ARGV[7]) do
  if ARGV[i + 1] == '1' then
    redis.call('HSET', icons, ARGV[i], ARGV[i + 2])
  else
    redis.call('HDEL', icons, ARGV[i])
  end
  i = i + 3
end
redis.call('XADD', p .. 'events', 'MAXLEN', '~', STREAM_LENGTH, '*', 'd', ARGV[2])
return rev
"#;

/// The shared documents of a [`RedisStore`].
pub struct RedisDocs {
    store: Arc<RedisStore>,
    sealer: Sealer,
    write: Script,
}

fn backend(e: redis::RedisError) -> StoreError {
    StoreError::Backend(format!("redis: {e}"))
}

fn context(doc: DocName) -> Vec<u8> {
    [b"crmgate shared document ", doc.as_str().as_bytes()].concat()
}

impl RedisDocs {
    /// The documents on `store`, sealed with `sealer`.
    pub fn new(store: Arc<RedisStore>, sealer: Sealer) -> Self {
        Self {
            store,
            sealer,
            write: Script::new(&WRITE.replace("STREAM_LENGTH", &STREAM_LENGTH.to_string())),
        }
    }

    fn key(&self, name: &str) -> Vec<u8> {
        [self.store.prefix(), b"doc:", name.as_bytes()].concat()
    }
}

#[async_trait]
impl SharedDocs for RedisDocs {
    async fn read(&self, doc: DocName) -> Result<Option<Document>, StoreError> {
        let fields: (Option<Vec<u8>>, Option<String>, Option<u64>) = redis::cmd("HMGET")
            .arg(self.key(doc.as_str()))
            .arg("text")
            .arg("version")
            .arg("revision")
            .query_async(&mut self.store.connection())
            .await
            .map_err(backend)?;
        let (Some(sealed), Some(version), Some(revision)) = fields else {
            return Ok(None);
        };
        let damaged = || StoreError::Corrupt(format!("shared document {}", doc.as_str()));
        let text = self
            .sealer
            .open(&sealed, &context(doc))
            .ok_or_else(damaged)?;
        let text = String::from_utf8(text).map_err(|_| damaged())?;
        Ok(Some(Document {
            text,
            version,
            revision,
        }))
    }

    async fn version(&self, doc: DocName) -> Result<Option<String>, StoreError> {
        redis::cmd("HGET")
            .arg(self.key(doc.as_str()))
            .arg("version")
            .query_async(&mut self.store.connection())
            .await
            .map_err(backend)
    }

    async fn write(
        &self,
        doc: DocName,
        base: Base<'_>,
        text: &str,
        version: &str,
        icons: Vec<IconChange>,
    ) -> Result<Option<u64>, StoreError> {
        let (kind, expected) = match base {
            Base::Absent => ("absent", ""),
            Base::Version(v) => ("version", v),
            Base::Any => ("any", ""),
        };
        let mut call = self.write.prepare_invoke();
        call.arg(self.store.prefix())
            .arg(doc.as_str())
            .arg(kind)
            .arg(expected)
            .arg(self.sealer.seal(text.as_bytes(), &context(doc)))
            .arg(version)
            .arg(icons.len());
        for icon in icons {
            let flag = if icon.bytes.is_some() { "1" } else { "0" };
            call.arg(icon.name)
                .arg(flag)
                .arg(icon.bytes.unwrap_or_default());
        }
        let mut con = self.store.connection();
        let revision: u64 = call.invoke_async(&mut con).await.map_err(backend)?;
        self.store.replicated(&mut con).await?;
        Ok((revision > 0).then_some(revision))
    }

    async fn icons(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        redis::cmd("HGETALL")
            .arg(self.key("icons"))
            .query_async(&mut self.store.connection())
            .await
            .map_err(backend)
    }

    fn watch(&self, on: Arc<dyn Fn() + Send + Sync>) {
        self.store.watch(Arc::new(move |change| {
            if matches!(change, Changed::Documents | Changed::Unknown) {
                on();
            }
        }));
    }
}

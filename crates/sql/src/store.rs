//! Where data lives: [`Location`] (a local path or an object-store URL, as configured and as
//! resolved) and [`Store`], a place to keep whole files (state, score history, incremental
//! rollups) on a local disk or an object store. A leaf: it knows JSON and Parquet bytes, not
//! what the files mean. Writes are atomic: a local write goes to a temporary file that is
//! renamed into place, an object-store put replaces the object whole, so a crash leaves the old
//! file.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
pub use pqlsync_core::files::StoreError;
use pqlsync_core::files::{self, Files};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A location (dataset or state): as written in the config, and resolved for the object store.
#[derive(Clone)]
pub struct Location {
    /// As written, for messages.
    pub configured: String,
    /// An absolute local path (directories end in `/`) or a cloud URL.
    pub url: String,
    /// Object-store options from the environment (`AWS_*`, `GOOGLE_*`, `AZURE_*`), lowercased
    /// keys as object_store expects. May hold secrets: never printed.
    pub store_options: Vec<(String, String)>,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.store_options.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Location")
            .field("configured", &self.configured)
            .field("url", &self.url)
            .field("store_option_keys", &keys)
            .finish()
    }
}

impl Location {
    /// Resolve `value` as configured under `key`: plain paths against `base` (the config
    /// file's directory), `file://` URLs to paths, cloud URLs checked for a supported scheme.
    /// Directories get a trailing `/` so they list as collections.
    pub fn dataset(
        value: &str,
        base: &Path,
        store_options: &[(String, String)],
    ) -> Result<Location, String> {
        Ok(Location {
            configured: value.to_string(),
            url: resolve_location(value, base)?,
            store_options: store_options.to_vec(),
        })
    }

    /// A place for files the job writes (state, history, rollups): a URL as given, a path
    /// joined to `base` (it may not exist yet).
    pub fn directory(
        configured: &str,
        base: &Path,
        store_options: &[(String, String)],
    ) -> Location {
        Location {
            url: if is_url(configured) {
                configured.to_string()
            } else {
                base.join(configured).to_string_lossy().into_owned()
            },
            configured: configured.to_string(),
            store_options: store_options.to_vec(),
        }
    }
}

/// Environment variable prefixes object_store reads credentials and endpoints from.
const CLOUD_ENV_PREFIXES: &[&str] = &["AWS_", "GOOGLE_", "AZURE_"];

/// Object-store options (`AWS_*`, `GOOGLE_*`, `AZURE_*`) from the environment, with keys
/// lowercased as object_store expects. The job and the cluster's processes read them alike.
pub fn options_from_env(env: &[(String, String)]) -> Vec<(String, String)> {
    env.iter()
        .filter(|(k, _)| CLOUD_ENV_PREFIXES.iter().any(|p| k.starts_with(p)))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect()
}

/// `name` as a sibling of the location `of` (`.pqlsync/state` → `.pqlsync/history`,
/// `s3://b/p/state/` → `s3://b/p/history`, `s3://b` → `s3://b/history`).
pub fn beside(of: &str, name: &str) -> String {
    let trimmed = of.trim().trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some((parent, _)) if !parent.ends_with(':') && !parent.ends_with(":/") => {
            format!("{parent}/{name}")
        }
        Some(_) => format!("{trimmed}/{name}"),
        None => name.to_string(),
    }
}

fn is_url(s: &str) -> bool {
    s.contains("://")
}

/// Resolve a dataset location: plain paths against `base`, `file://` URLs to paths, cloud URLs
/// checked for a supported scheme. Directories get a trailing `/` so they list as collections.
fn resolve_location(value: &str, base: &Path) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if is_url(value) {
        let url =
            url::Url::parse(value).map_err(|e| format!("`{value}` is not a valid URL: {e}"))?;
        return match url.scheme() {
            "file" => {
                let path = url
                    .to_file_path()
                    .map_err(|_| format!("`{value}` is not a valid file:// URL"))?;
                Ok(local(&path))
            }
            "s3" | "s3a" | "gs" | "az" | "abfs" | "abfss" => {
                let mut u = value.to_string();
                if !u.ends_with('/') && !u.ends_with(".parquet") {
                    u.push('/');
                }
                Ok(u)
            }
            other => Err(format!(
                "unsupported scheme `{other}://` (use a path, file://, s3://, gs:// or az://)"
            )),
        };
    }
    Ok(local(&base.join(value)))
}

fn local(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut s = abs.to_string_lossy().into_owned();
    if abs.is_dir() && !s.ends_with('/') {
        s.push('/');
    }
    s
}

/// A place to keep whole files: JSON state, Parquet history and rollups.
#[derive(Debug, Clone)]
pub struct Store {
    url: String,
    store: Arc<dyn ObjectStore>,
    prefix: StorePath,
    /// The directory, when the store is a local one.
    local: Option<std::path::PathBuf>,
}

impl Store {
    pub fn open(location: &Location) -> Result<Store, StoreError> {
        let err = |message: String| StoreError::Store {
            url: location.configured.clone(),
            message,
        };
        let mut local = None;
        let (store, prefix): (Arc<dyn ObjectStore>, StorePath) = if location.url.contains("://") {
            let url = url::Url::parse(&location.url).map_err(|e| err(e.to_string()))?;
            let (store, path) = object_store::parse_url_opts(
                &url,
                location
                    .store_options
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone())),
            )
            .map_err(|e| err(e.to_string()))?;
            (Arc::from(store), path)
        } else {
            let dir = std::path::Path::new(&location.url);
            std::fs::create_dir_all(dir)
                .map_err(|e| err(format!("cannot create directory: {e}")))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
                .map_err(|e| err(e.to_string()))?;
            local = Some(dir.to_path_buf());
            (Arc::new(store), StorePath::default())
        };
        Ok(Store {
            url: location.configured.clone(),
            store,
            prefix,
            local,
        })
    }

    /// A store in memory, gone with the process: rollups a command carries from one scoring
    /// day to the next (`backfill`, `calibrate`), which no later run should read. `name` is
    /// what messages call it.
    pub fn in_memory(name: &str) -> Store {
        Store {
            url: name.to_string(),
            store: Arc::new(object_store::memory::InMemory::new()),
            prefix: StorePath::default(),
            local: None,
        }
    }

    /// A store over `store` itself, for tests of what works on any object store.
    #[cfg(test)]
    pub fn from_object_store(url: &str, store: Arc<dyn ObjectStore>) -> Store {
        Store {
            url: url.to_string(),
            store,
            prefix: StorePath::default(),
            local: None,
        }
    }

    /// The object path of `file` (which may contain `/`) under this store's prefix.
    pub fn path(&self, file: &str) -> StorePath {
        file.split('/')
            .filter(|p| !p.is_empty())
            .fold(self.prefix.clone(), |path, part| path.join(part))
    }

    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The directory of a local store; `None` for an object store.
    pub fn local_dir(&self) -> Option<&std::path::Path> {
        self.local.as_deref()
    }

    /// The location as configured, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Read a JSON state file; `None` if it does not exist yet.
    pub async fn read<T: DeserializeOwned>(&self, file: &str) -> Result<Option<T>, StoreError> {
        files::read_json(self, file).await
    }

    /// Replace a JSON state file atomically.
    pub async fn write<T: Serialize>(&self, file: &str, value: &T) -> Result<(), StoreError> {
        files::write_json(self, file, value).await
    }

    /// Replace `file` with `batches` as one Parquet file ([`crate::output::parquet_bytes`]).
    /// The error is the writer's or the store's message, for the caller to name the object it
    /// was writing.
    pub async fn put_parquet(
        &self,
        file: &str,
        schema: &SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<(), String> {
        let bytes = crate::output::parquet_bytes(schema, batches).map_err(|e| e.to_string())?;
        self.store
            .put(&self.path(file), PutPayload::from(bytes))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// What the rules and the sync see of a store: whole files, read and replaced.
#[async_trait]
impl Files for Store {
    fn url(&self) -> &str {
        &self.url
    }

    async fn get(&self, file: &str) -> Result<Option<Vec<u8>>, String> {
        match self.store.get(&self.path(file)).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(|e| e.to_string())?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn put(&self, file: &str, bytes: Vec<u8>) -> Result<(), String> {
        self.store
            .put(&self.path(file), PutPayload::from(bytes))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use pqlsync_rules::route::{LeadStage, Memory, Motion};
    use pqlsync_rules::score::Tier;
    use pqlsync_rules::state::RoutingState;

    use super::*;

    fn mem(day: u32, tier: Tier) -> Memory {
        Memory {
            as_of: chrono::NaiveDate::from_ymd_opt(2026, 11, day).unwrap(),
            motion: Motion::SelfServe,
            owner: None,
            lead_stage: LeadStage::trial(tier),
            deal_stage: None,
            trial_id: None,
            tier,
            green_since: None,
            hot_since: None,
            last: Default::default(),
            open: vec![],
        }
    }

    /// The routing state over a local store (the state's own tests use one in memory).
    #[tokio::test]
    async fn writes_are_readable_and_atomic() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location {
            configured: dir.path().display().to_string(),
            url: dir.path().join("nested").display().to_string(),
            store_options: vec![],
        };
        let store = Store::open(&location).unwrap();
        let mut s = RoutingState::load(&store).await.unwrap();
        assert!(s.accounts.is_empty());
        s.record("a", mem(20, Tier::Green));
        s.save(&store).await.unwrap();
        assert_eq!(RoutingState::load(&store).await.unwrap(), s);
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("nested"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(leftovers, ["routing.json"]);
        std::fs::write(dir.path().join("nested/routing.json"), "{not json").unwrap();
        let err = RoutingState::load(&store).await.unwrap_err().to_string();
        assert!(err.contains("routing.json"), "{err}");
    }
}

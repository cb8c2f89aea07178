//! Where whole state files live, as the rules and the sync see it: a small trait over "read
//! this file" and "replace this file", with JSON on top. The state may be a local directory or
//! an object store (S3, GCS, Azure); which one, and the object-store client, belong to the
//! binary's `store` module, so nothing below it links an object-store SDK. [`MemoryFiles`] is
//! an implementation in memory, for tests and for runs that must not keep state.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Errors reading or writing a store. The messages say "state" because the store most
/// people meet is `[state] url`; history and rollups live beside it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state at {url}: {message}")]
    Store { url: String, message: String },
    #[error("state file {url}/{file} is not valid ({message}); move it away to start afresh")]
    Corrupt {
        url: String,
        file: String,
        message: String,
    },
}

/// A place to keep whole files. A write replaces the file atomically: a reader sees the old
/// content or the new, never a mix.
#[async_trait]
pub trait Files: Send + Sync + std::fmt::Debug {
    /// The location as configured, for messages.
    fn url(&self) -> &str;
    /// The content of `file` (which may contain `/`); `None` if it does not exist.
    async fn get(&self, file: &str) -> Result<Option<Vec<u8>>, String>;
    /// Replace `file` with `bytes`.
    async fn put(&self, file: &str, bytes: Vec<u8>) -> Result<(), String>;
}

/// Read a JSON state file; `None` if it does not exist yet.
pub async fn read_json<T: DeserializeOwned>(
    files: &dyn Files,
    file: &str,
) -> Result<Option<T>, StoreError> {
    let err = |message: String| StoreError::Store {
        url: files.url().to_string(),
        message,
    };
    let Some(bytes) = files.get(file).await.map_err(err)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StoreError::Corrupt {
            url: files.url().to_string(),
            file: file.to_string(),
            message: e.to_string(),
        })
}

/// Replace a JSON state file atomically.
pub async fn write_json<T: Serialize + ?Sized>(
    files: &dyn Files,
    file: &str,
    value: &T,
) -> Result<(), StoreError> {
    let err = |message: String| StoreError::Store {
        url: files.url().to_string(),
        message,
    };
    let bytes = serde_json::to_vec(value).map_err(|e| err(e.to_string()))?;
    files.put(file, bytes).await.map_err(err)
}

/// Files in memory.
#[derive(Debug, Default)]
pub struct MemoryFiles {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
}

#[async_trait]
impl Files for MemoryFiles {
    fn url(&self) -> &str {
        "memory"
    }

    async fn get(&self, file: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self.files.lock().expect("not poisoned").get(file).cloned())
    }

    async fn put(&self, file: &str, bytes: Vec<u8>) -> Result<(), String> {
        self.files
            .lock()
            .expect("not poisoned")
            .insert(file.to_string(), bytes);
        Ok(())
    }
}

/// This machine's name, for messages that say which run holds or advanced a state.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn json_round_trips_and_a_corrupt_file_is_named() {
        let files = MemoryFiles::default();
        assert_eq!(read_json::<Vec<u32>>(&files, "a.json").await.unwrap(), None);
        write_json(&files, "a.json", &vec![1, 2]).await.unwrap();
        assert_eq!(
            read_json::<Vec<u32>>(&files, "a.json").await.unwrap(),
            Some(vec![1, 2])
        );
        files.put("a.json", b"{not json".to_vec()).await.unwrap();
        let err = read_json::<Vec<u32>>(&files, "a.json").await.unwrap_err();
        assert!(err.to_string().contains("memory/a.json"), "{err}");
    }
}

//! One run at a time per state location. `pqlsync run` and `backfill` hold a lock on
//! `[state] url` for their whole run, because two runs on one state each read the same
//! routing memory and sync state, both create what the other is creating, and the slower one
//! writes last.
//!
//! On a local disk the lock is `pqlsync.lock` held with an OS file lock (`flock`): the kernel
//! drops it when the process exits, however it exits, so a crashed run never blocks the next
//! one; the file's text (host, pid, command, start) only names the holder for the message a
//! second run prints. On an object store (S3, GCS, Azure) there is no such lock, so the lock is
//! a lease object written with a conditional put (`PutMode::Create`, then `PutMode::Update`
//! with its ETag): it carries an expiry that the holder renews every third of [`LEASE_TTL`], and
//! a run that finds an expired lease takes it over with the same conditional update, so of two
//! runs taking over at once exactly one wins. A holder that cannot renew (someone took the
//! lease, the store is gone) asks its run to stop through [`Halt`].

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use pqlsync_core::files::hostname;
use pqlsync_core::halt::Halt;

use crate::store::Store;

/// The lock's name under the state location.
pub const LOCK_FILE: &str = "pqlsync.lock";

/// How long an object-store lease lasts unrenewed: how long a crashed run blocks the next.
pub const LEASE_TTL: Duration = Duration::from_secs(90);

/// How often a waiting run (`--wait`) tries again.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Who holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub host: String,
    pub pid: u32,
    pub command: String,
    pub started_at: DateTime<Utc>,
    /// When an object-store lease runs out unless renewed; local locks do not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

impl Holder {
    fn me(command: &str) -> Holder {
        Holder {
            host: hostname(),
            pid: std::process::id(),
            command: command.to_string(),
            started_at: Utc::now(),
            expires_at: None,
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`pqlsync {}` on {} (pid {}), started {}",
            self.command,
            self.host,
            self.pid,
            self.started_at.format("%Y-%m-%dT%H:%M:%SZ")
        )?;
        if let Some(at) = self.expires_at {
            write!(f, ", lease until {}", at.format("%Y-%m-%dT%H:%M:%SZ"))?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another run holds the state at {url}: {}. Runs on one state must not overlap; \
         let it finish, or pass --wait SECS to wait for it{}",
        holder.as_ref().map_or_else(|| "a run that is just starting".to_string(), |h| h.to_string()),
        if holder.as_ref().is_some_and(|h| h.expires_at.is_some()) {
            " (a lease whose holder died is taken over once it expires)"
        } else {
            ""
        }
    )]
    Held { url: String, holder: Option<Holder> },
    #[error("cannot lock the state at {url}: {message}")]
    Failed { url: String, message: String },
}

/// A held lock; released by [`RunLock::release`], or (local) when the process exits.
pub struct RunLock {
    held: Held,
    /// A stale lock this run took over: the holder that died.
    pub took_over: Option<Holder>,
}

enum Held {
    Local {
        file: File,
    },
    Lease {
        store: Store,
        renew: AbortOnDrop,
        version: std::sync::Arc<std::sync::Mutex<UpdateVersion>>,
    },
}

/// Take the lock of `store` for `command`, waiting up to `wait` for a holder to finish.
/// `halt` is asked to stop the run if an object-store lease is lost later.
pub async fn acquire(
    store: &Store,
    command: &str,
    wait: Duration,
    halt: &Halt,
) -> Result<RunLock, LockError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let attempt = match store.local_dir() {
            Some(dir) => try_local(store.url(), dir.join(LOCK_FILE), command),
            None => try_lease(store, command, halt).await,
        };
        match attempt {
            Err(LockError::Held { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(RETRY_EVERY).await;
            }
            other => return other,
        }
    }
}

fn try_local(url: &str, path: PathBuf, command: &str) -> Result<RunLock, LockError> {
    let failed = |e: std::io::Error| LockError::Failed {
        url: url.to_string(),
        message: format!("{}: {e}", path.display()),
    };
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(failed)?;
    let mut text = String::new();
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let _ = file.read_to_string(&mut text);
            return Err(LockError::Held {
                url: url.to_string(),
                holder: serde_json::from_str(&text).ok(),
            });
        }
        Err(TryLockError::Error(e)) => return Err(failed(e)),
    }
    // Text left by a holder that did not release: it died (the kernel dropped its lock).
    let _ = file.read_to_string(&mut text);
    let took_over = serde_json::from_str(&text).ok();
    let me = serde_json::to_vec(&Holder::me(command)).expect("serialisable");
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(&me))
        .and_then(|()| file.sync_data())
        .map_err(failed)?;
    Ok(RunLock {
        held: Held::Local { file },
        took_over,
    })
}

fn lease_payload(command: &str, started_at: DateTime<Utc>) -> PutPayload {
    let holder = Holder {
        started_at,
        expires_at: Some(Utc::now() + LEASE_TTL),
        ..Holder::me(command)
    };
    PutPayload::from(serde_json::to_vec(&holder).expect("serialisable"))
}

fn version_of(e_tag: Option<String>, version: Option<String>) -> UpdateVersion {
    UpdateVersion { e_tag, version }
}

async fn try_lease(store: &Store, command: &str, halt: &Halt) -> Result<RunLock, LockError> {
    let failed = |e: object_store::Error| LockError::Failed {
        url: store.url().to_string(),
        message: match e {
            object_store::Error::NotImplemented { .. } => format!(
                "this object store does not support conditional writes, which the lock needs ({e})"
            ),
            e => e.to_string(),
        },
    };
    let path = store.path(LOCK_FILE);
    let os = store.object_store();
    let started_at = Utc::now();
    let create = PutOptions::from(PutMode::Create);
    let (result, took_over) = match os
        .put_opts(&path, lease_payload(command, started_at), create)
        .await
    {
        Ok(result) => (result, None),
        Err(object_store::Error::AlreadyExists { .. }) => {
            let found = os.get(&path).await.map_err(failed)?;
            let meta = found.meta.clone();
            let bytes = found.bytes().await.map_err(failed)?;
            let holder: Option<Holder> = serde_json::from_slice(&bytes).ok();
            let expired = holder
                .as_ref()
                .and_then(|h| h.expires_at)
                .is_none_or(|at| at < Utc::now());
            if !expired {
                return Err(LockError::Held {
                    url: store.url().to_string(),
                    holder,
                });
            }
            // Expired (or unreadable): take it over, unless another run does first.
            let update = PutMode::Update(version_of(meta.e_tag, meta.version));
            match os
                .put_opts(&path, lease_payload(command, started_at), update.into())
                .await
            {
                Ok(result) => (result, holder),
                Err(object_store::Error::Precondition { .. }) => {
                    return Err(LockError::Held {
                        url: store.url().to_string(),
                        holder: None,
                    });
                }
                Err(e) => return Err(failed(e)),
            }
        }
        Err(e) => return Err(failed(e)),
    };
    let version = std::sync::Arc::new(std::sync::Mutex::new(version_of(
        result.e_tag,
        result.version,
    )));
    let renew = AbortOnDrop(tokio::spawn(renew(
        store.clone(),
        command.to_string(),
        started_at,
        std::sync::Arc::clone(&version),
        halt.clone(),
    )));
    Ok(RunLock {
        held: Held::Lease {
            store: store.clone(),
            renew,
            version,
        },
        took_over,
    })
}

/// Renew the lease every third of its life; on failure, ask the run to stop.
async fn renew(
    store: Store,
    command: String,
    started_at: DateTime<Utc>,
    version: std::sync::Arc<std::sync::Mutex<UpdateVersion>>,
    halt: Halt,
) {
    let path = store.path(LOCK_FILE);
    loop {
        tokio::time::sleep(LEASE_TTL / 3).await;
        let current = version.lock().expect("not poisoned").clone();
        let mode = PutMode::Update(current);
        match store
            .object_store()
            .put_opts(&path, lease_payload(&command, started_at), mode.into())
            .await
        {
            Ok(result) => {
                *version.lock().expect("not poisoned") = version_of(result.e_tag, result.version);
            }
            Err(e) => {
                halt.request(format!(
                    "lost the lock on the state at {} ({e}); stopping before another run's writes meet this one's",
                    store.url()
                ));
                return;
            }
        }
    }
}

impl RunLock {
    /// Give the lock up: clear the local file's text, or delete the lease if it is still ours.
    pub async fn release(self) {
        match self.held {
            Held::Local { file } => {
                // The kernel lock goes with the file handle; the empty text tells the next run
                // that nobody died holding it.
                let _ = file.set_len(0);
                drop(file);
            }
            Held::Lease {
                store,
                renew,
                version,
            } => {
                drop(renew);
                let path = store.path(LOCK_FILE);
                let ours = version.lock().expect("not poisoned").e_tag.clone();
                // Delete only our own lease: after a lost renewal it may be another run's.
                if let Ok(meta) = store.object_store().head(&path).await
                    && meta.e_tag == ours
                {
                    let _ = store.object_store().delete(&path).await;
                }
            }
        }
    }
}

/// The renewal task, stopped with the lock however the lock goes away.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Location;

    fn local_store(dir: &std::path::Path) -> Store {
        Store::open(&Location::directory(dir.to_str().unwrap(), dir, &[])).unwrap()
    }

    #[tokio::test]
    async fn a_second_local_lock_is_refused_naming_the_holder_then_granted_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let store = local_store(dir.path());
        let halt = Halt::default();
        let first = acquire(&store, "run", Duration::ZERO, &halt).await.unwrap();
        assert_eq!(first.took_over, None);
        let err = match acquire(&store, "run", Duration::ZERO, &halt).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("a second lock was granted"),
        };
        assert!(err.contains("another run holds the state"), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        first.release().await;
        let again = acquire(&store, "run", Duration::ZERO, &halt).await.unwrap();
        assert_eq!(again.took_over, None, "a released lock is not stale");
        again.release().await;
    }

    #[tokio::test]
    async fn a_local_lock_whose_holder_died_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let dead = Holder {
            host: "old-host".into(),
            pid: 4_000_000,
            command: "run".into(),
            started_at: Utc::now(),
            expires_at: None,
        };
        std::fs::write(
            dir.path().join(LOCK_FILE),
            serde_json::to_vec(&dead).unwrap(),
        )
        .unwrap();
        let store = local_store(dir.path());
        let lock = acquire(&store, "run", Duration::ZERO, &Halt::default())
            .await
            .unwrap();
        assert_eq!(lock.took_over, Some(dead));
        lock.release().await;
    }

    #[tokio::test]
    async fn waiting_gets_the_lock_when_the_holder_releases_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = local_store(dir.path());
        let halt = Halt::default();
        let first = acquire(&store, "run", Duration::ZERO, &halt).await.unwrap();
        let waiter = {
            let store = store.clone();
            let halt = halt.clone();
            tokio::spawn(
                async move { acquire(&store, "run", Duration::from_secs(10), &halt).await },
            )
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiter.is_finished());
        first.release().await;
        let second = waiter.await.unwrap().expect("granted after release");
        second.release().await;
    }

    /// Lease semantics against an in-memory object store, which implements conditional puts
    /// as S3, GCS and Azure do.
    #[tokio::test]
    async fn leases_refuse_a_live_holder_and_take_over_an_expired_one() {
        let memory: std::sync::Arc<dyn object_store::ObjectStore> =
            std::sync::Arc::new(object_store::memory::InMemory::new());
        let store = Store::from_object_store("memory://state", memory.clone());
        let halt = Halt::default();
        let first = acquire(&store, "run", Duration::ZERO, &halt).await.unwrap();
        assert!(matches!(
            acquire(&store, "run", Duration::ZERO, &halt).await,
            Err(LockError::Held {
                holder: Some(_),
                ..
            })
        ));
        // The holder dies without releasing; its lease runs out.
        drop(first);
        let mut stale: Holder = serde_json::from_slice(
            &memory
                .get(&store.path(LOCK_FILE))
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
        )
        .unwrap();
        stale.expires_at = Some(Utc::now() - chrono::TimeDelta::seconds(1));
        memory
            .put(
                &store.path(LOCK_FILE),
                PutPayload::from(serde_json::to_vec(&stale).unwrap()),
            )
            .await
            .unwrap();
        let second = acquire(&store, "run", Duration::ZERO, &halt).await.unwrap();
        assert_eq!(second.took_over, Some(stale));
        second.release().await;
        assert!(
            memory.head(&store.path(LOCK_FILE)).await.is_err(),
            "released"
        );
    }
}

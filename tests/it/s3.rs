//! `s3://` datasets and state, end to end, against a local S3 (moto) this test starts on
//! 127.0.0.1. Credentials and the endpoint reach object_store through the AWS_* environment,
//! as in production.
//!
//! moto comes from PyPI; `.ci/run` installs it and sets `PQLSYNC_MOTO_SERVER` (and
//! `PQLSYNC_REQUIRE_MOTO=1`, so CI fails rather than skips). Locally:
//! `python3 -m venv v && v/bin/pip install 'moto[server]'` and
//! `PQLSYNC_MOTO_SERVER=v/bin/moto_server cargo test --release --test s3`.

use std::path::Path;

use crate::common::moto::{demo_exports_on_s3, env};
use crate::common::*;
use futures::TryStreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

#[tokio::test]
async fn datasets_and_state_on_s3_give_the_same_decisions_as_local_files() {
    let dir = tempfile::tempdir().unwrap();
    let Some((moto, data, s3)) = demo_exports_on_s3(dir.path()).await else {
        return;
    };

    // Locally first, for the reference.
    write_config(dir.path(), &data, "");
    let local = dir.path().join("local");
    let o = pqlsync(dir.path())
        .arg("run")
        .arg("--out")
        .arg(&local)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let s3_dir = dir.path().join("s3run");
    std::fs::create_dir(&s3_dir).unwrap();
    let config = std::fs::read_to_string(dir.path().join("pqlsync.toml"))
        .unwrap()
        .replace(&format!("{}/", data.display()), "s3://exports/segment/")
        .replace(
            &format!("url = \"{}\"", dir.path().join("state").display()),
            "url = \"s3://exports/pqlsync/state\"",
        );
    assert!(config.contains("s3://exports/segment/tracks"), "{config}");
    std::fs::write(s3_dir.join("pqlsync.toml"), config).unwrap();
    let remote = dir.path().join("remote");
    let mut cmd = pqlsync(&s3_dir);
    for (k, v) in env(moto.port) {
        cmd.env(k, v);
    }
    let o = cmd.arg("run").arg("--out").arg(&remote).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let read = |p: &Path| {
        let mut rows = read_rows(&p.join("decisions.parquet"));
        rows.sort_by_key(|r| get(r, "account_id").to_string());
        rows
    };
    assert_eq!(read(&local), read(&remote));
    let state: Vec<_> = s3
        .list(Some(&StorePath::from("pqlsync/state")))
        .try_collect()
        .await
        .unwrap();
    assert!(
        state
            .iter()
            .any(|m| m.location.as_ref().ends_with("routing.json")),
        "{state:?}"
    );
    // The credentials are not echoed anywhere.
    assert!(!stdout(&o).contains("testing") && !stderr(&o).contains("testing"));

    // The run's lease was released.
    let lock = StorePath::from("pqlsync/state/pqlsync.lock");
    assert!(s3.head(&lock).await.is_err(), "the lease was left behind");
    // A live lease of another run: exit 3, naming it, nothing done.
    let lease = |expires: &str| {
        PutPayload::from(format!(
            r#"{{"host":"pod-7","pid":12,"command":"run","started_at":"2026-11-26T01:00:00Z","expires_at":"{expires}"}}"#
        ))
    };
    s3.put(&lock, lease("2999-01-01T00:00:00Z")).await.unwrap();
    let run = |args: &[&str]| {
        let mut cmd = pqlsync(&s3_dir);
        for (k, v) in env(moto.port) {
            cmd.env(k, v);
        }
        cmd.args(args).arg("--out").arg(&remote).output().unwrap()
    };
    let o = run(&["run"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("pod-7"), "{}", stderr(&o));
    // A lease whose holder died (expired): taken over, then released.
    s3.put(&lock, lease("2026-01-01T00:00:00Z")).await.unwrap();
    let o = run(&["run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("took over the lock"), "{}", stderr(&o));
    assert!(s3.head(&lock).await.is_err());
}

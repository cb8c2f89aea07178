//! A local S3 (moto, from PyPI) on 127.0.0.1 for the tests that read or write `s3://`.
//! `.ci/run` installs it and sets `PQLSYNC_MOTO_SERVER` (and `PQLSYNC_REQUIRE_MOTO=1`, so CI
//! fails rather than skips).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use std::path::Path;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::{parquet_files, skipped};

pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn moto() -> Option<Moto> {
    let Ok(server) = std::env::var("PQLSYNC_MOTO_SERVER") else {
        skipped(
            "PQLSYNC_REQUIRE_MOTO",
            "moto",
            "set PQLSYNC_MOTO_SERVER to a moto_server binary",
        );
        return None;
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = StdCommand::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto { child, port };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "moto did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}

/// Create a bucket with a bare path-style PUT (moto does not check signatures).
pub fn create_bucket(port: u16, bucket: &str) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
}

pub fn env(port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT", format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_REGION", "us-east-1".into()),
    ]
}

pub fn store(port: u16, bucket: &str) -> impl ObjectStore {
    let mut b = AmazonS3Builder::new().with_bucket_name(bucket);
    for (k, v) in env(port) {
        b = b.with_config(k.to_ascii_lowercase().parse().unwrap(), v);
    }
    b.build().unwrap()
}

/// Copy every Parquet file under `dir` to `store` under `prefix/`, keeping relative paths.
pub async fn upload(store: &impl ObjectStore, prefix: &str, dir: &Path) {
    for file in parquet_files(dir) {
        let key = format!("{prefix}/{}", file.strip_prefix(dir).unwrap().display());
        store
            .put(
                &StorePath::from(key),
                PutPayload::from(std::fs::read(&file).unwrap()),
            )
            .await
            .unwrap();
    }
}

/// A moto server with a bucket `exports` holding demo exports (120 accounts, 20 days) under
/// `segment/`, generated into `dir/data`; `None` when moto is not available (see [`moto`]).
pub async fn demo_exports_on_s3(
    dir: &Path,
) -> Option<(Moto, std::path::PathBuf, impl ObjectStore)> {
    let moto = moto()?;
    let data = super::demo_data(dir, 120, 20, 9);
    create_bucket(moto.port, "exports");
    let s3 = store(moto.port, "exports");
    upload(&s3, "segment", &data).await;
    Some((moto, data, s3))
}

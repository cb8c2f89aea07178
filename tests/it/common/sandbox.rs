//! A `pqlsync sandbox` process for the HTTP tests, and the minimal client that reads it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};

use serde_json::Value as Json;

/// A `pqlsync sandbox` process on 127.0.0.1, killed on drop.
pub struct Sandbox {
    child: Child,
    pub url: String,
    /// The token it serves with, which HubSpot's API calls here carry.
    token: String,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sandbox {
    /// Serve a sandbox with `token` and the flags `args`. From `dir` it reads that directory's
    /// `pqlsync.toml` (its owners and task queues), as `pqlsync sandbox` does.
    pub fn start(dir: Option<&Path>, token: &str, args: &[&str]) -> Sandbox {
        let mut cmd = StdCommand::new(assert_cmd::cargo::cargo_bin("pqlsync"));
        if let Some(dir) = dir {
            cmd.current_dir(dir);
        }
        let mut child = cmd
            .args(["sandbox", "--port", "0", "--token", token])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sandbox starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Sandbox {
            child,
            url,
            token: token.to_string(),
        }
    }

    pub fn get(&self, path: &str) -> Json {
        let url = format!("{}{path}", self.url);
        let body = http("GET", &url, None, None);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
    }

    pub fn post(&self, path: &str, body: &Json) -> Json {
        let url = format!("{}{path}", self.url);
        let text = http("POST", &url, Some(&body.to_string()), Some(&self.token));
        serde_json::from_str(&text).unwrap_or(Json::Null)
    }

    /// PUT as HubSpot's API (with the token); the answer's body, if any.
    pub fn put(&self, path: &str, body: &Json) -> String {
        let url = format!("{}{path}", self.url);
        http("PUT", &url, Some(&body.to_string()), Some(&self.token))
    }

    /// Change a record as a person would in HubSpot (`POST /_sandbox/edit`): `object` by its
    /// HubSpot `id`, with `properties`. Panics unless the sandbox took the change.
    pub fn edit(&self, object: &str, id: &str, properties: Json) {
        let url = format!("{}/_sandbox/edit", self.url);
        let body = serde_json::json!({"object": object, "id": id, "properties": properties});
        let text = http("POST", &url, Some(&body.to_string()), None);
        let answer: Json = serde_json::from_str(&text).unwrap_or(Json::Null);
        assert_eq!(
            answer["id"].as_str(),
            Some(id),
            "edit {object} {id}: {text}"
        );
    }

    pub fn dump(&self) -> Json {
        self.get("/_sandbox/dump")
    }

    pub fn stats(&self) -> Json {
        self.get("/_sandbox/stats")
    }

    pub fn reset_stats(&self) {
        http(
            "POST",
            &format!("{}/_sandbox/stats/reset", self.url),
            Some("{}"),
            None,
        );
    }
}

/// A minimal HTTP/1.1 client over a TcpStream (tests talk to 127.0.0.1 only).
pub fn http(method: &str, url: &str, body: Option<&str>, token: Option<&str>) -> String {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut s = std::net::TcpStream::connect(host).unwrap();
    let body = body.unwrap_or("");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, payload) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = payload;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n]);
            rest = &tail[n + 2..];
        }
        out
    } else {
        payload.to_string()
    }
}

//! The HTTP client: bearer-token auth over rustls, bounded concurrency, the rate limiter, and
//! retries with backoff decided by `retry::classify`. Every request goes through `send`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Mutex, Semaphore};

use super::api::ErrorBody;
use super::limiter::Limiter;
use super::outcome::{Failure, Stop};
use super::retry::{self, Backoff, Verdict, Wait, classify, classify_transport};
use super::{ApiVersion, ObjectType, Secret};
use pqlsync_core::halt::Halt;

/// How to reach and pace HubSpot.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    /// The API version every request targets.
    pub api: ApiVersion,
    pub token: Secret,
    pub requests_per_10s: u32,
    pub max_concurrency: usize,
    pub timeout: Duration,
    pub backoff: Backoff,
    /// The run's stop request (SIGTERM, a lost lock): it ends any wait at once.
    pub halt: Halt,
}

/// Whether a request changes anything: reads sent as POST (`batch/read`, `search`) do not.
fn is_write(method: &Method, url: &str) -> bool {
    *method != Method::GET && !retry::reads_as_post(url)
}

/// What the client did, for the run summary.
#[derive(Debug, Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub writes: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
}

impl Counters {
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// reqwest sets up TLS when the client is built; with the platform verifier that means
    /// loading the system's root certificates, the one thing here a machine can lack. The
    /// message carries reqwest's whole chain of causes: `main` prints errors with `Display`
    /// only, and reqwest's own message is just "builder error".
    #[error(
        "cannot set up HTTPS for HubSpot ({}): install the system's root certificates (the ca-certificates package) or point SSL_CERT_FILE at a PEM bundle of them",
        causes(.0)
    )]
    Tls(reqwest::Error),
}

/// An error and its sources, `: `-separated.
fn causes(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(&format!(": {s}"));
        source = s.source();
    }
    message
}

/// A final, non-retryable refusal of a request.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub status: u16,
    pub body: ErrorBody,
}

/// Why a request did not succeed.
#[derive(Debug, Clone)]
pub enum CallError {
    /// HubSpot refused the request's content (4xx): split the batch or fail the record.
    Rejected(Rejected),
    /// Retries ran out (5xx, timeouts, connections): the records are reported as failed.
    GaveUp(Failure),
    /// Stop the run.
    Stop(Stop),
}

/// A HubSpot API client, shared by every request of a run.
pub struct Client {
    http: reqwest::Client,
    base: String,
    api: ApiVersion,
    token: Secret,
    limiter: Limiter,
    slots: Semaphore,
    backoff: Backoff,
    rng: Mutex<ChaCha8Rng>,
    /// The run's stop request: every wait ends when it comes.
    halt: Halt,
    pub counters: Arc<Counters>,
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

impl Client {
    pub fn new(config: &ClientConfig) -> Result<Client, ClientError> {
        // One process-wide crypto provider for rustls (ring, already built for object_store).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("pqlsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(ClientError::Tls)?;
        Ok(Client {
            http,
            base: config.base_url.trim_end_matches('/').to_string(),
            api: config.api,
            token: config.token.clone(),
            limiter: Limiter::new(config.requests_per_10s, Duration::from_secs(10)),
            slots: Semaphore::new(config.max_concurrency.max(1)),
            backoff: config.backoff,
            rng: Mutex::new(ChaCha8Rng::from_rng(&mut rand::rng())),
            halt: config.halt.clone(),
            counters: Arc::new(Counters::default()),
        })
    }

    /// The API version this client's requests target: paths come from it.
    pub fn api(&self) -> ApiVersion {
        self.api
    }

    /// GET `path` and decode the JSON body.
    pub async fn get<R: DeserializeOwned>(&self, path: &str) -> Result<R, CallError> {
        let (_, bytes) = self.send(Method::GET, path, None::<&()>, 1).await?;
        decode(path, &bytes)
    }

    /// POST `body` to `path`; `inputs` is how many records it carries (for splitting).
    pub async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        inputs: usize,
    ) -> Result<(u16, R), CallError> {
        let (status, bytes) = self.send(Method::POST, path, Some(body), inputs).await?;
        Ok((status, decode(path, &bytes)?))
    }

    /// POST `body` to `path`, documented to answer 204 No Content. Another 2xx is not what
    /// HubSpot documents, so it fails the request rather than passing for a success.
    pub async fn post_no_content<B: Serialize>(
        &self,
        path: &str,
        body: &B,
        inputs: usize,
    ) -> Result<(), CallError> {
        match self.send(Method::POST, path, Some(body), inputs).await? {
            (204, _) => Ok(()),
            (status, bytes) => Err(CallError::GaveUp(Failure::local(format!(
                "HubSpot answered {path} with HTTP {status} and {} bytes, not the 204 No \
                 Content its API documents; the request's outcome is unknown, check the records \
                 in HubSpot",
                bytes.len()
            )))),
        }
    }

    /// Send with pacing and retries; returns a 2xx status and its body.
    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        inputs: usize,
    ) -> Result<(u16, bytes::Bytes), CallError> {
        let url = format!("{}{path}", self.base);
        let payload = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| {
                CallError::GaveUp(Failure::local(format!(
                    "cannot encode the request to {path}: {e}"
                )))
            })?),
            None => None,
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (verdict, failure) = match self
                .attempt(&method, &url, payload.as_deref(), inputs)
                .await
            {
                Ok(answer) => return Ok(answer),
                Err(refusal) => refusal,
            };
            match verdict {
                Verdict::Retry { after } if !self.backoff.exhausted(attempt) => {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    let wait = self
                        .backoff
                        .wait(attempt, after, &mut *self.rng.lock().await);
                    self.wait(wait, path, &failure).await?;
                }
                Verdict::Retry { .. } => {
                    return Err(CallError::GaveUp(Failure {
                        message: format!("{} (gave up after {attempt} attempts)", failure.message),
                        ..failure
                    }));
                }
                Verdict::SplitBatch | Verdict::Fail => {
                    return Err(CallError::Rejected(Rejected {
                        status: failure.status.unwrap_or(400),
                        body: failure.body.unwrap_or_default(),
                    }));
                }
                Verdict::GiveUp => return Err(CallError::GaveUp(failure)),
                Verdict::StopRun => return Err(CallError::Stop(stop_reason(&failure, path))),
            }
        }
    }

    /// Wait before retrying `path`: at most `Backoff::max_wait`, and no longer than the run
    /// wants to go on (a stop request ends the wait at once). A wait HubSpot asks for beyond
    /// the bound stops the sync, with what was confirmed saved.
    #[allow(clippy::result_large_err)]
    async fn wait(&self, wait: Wait, path: &str, failure: &Failure) -> Result<(), CallError> {
        let delay = match wait {
            Wait::For(delay) => delay,
            Wait::TooLong(asked) => {
                return Err(CallError::Stop(Stop {
                    message: format!(
                        "HubSpot asked to wait {} s before retrying {path} ({}), longer than \
                         [hubspot] max_retry_wait_secs = {} s: the sync stopped, what was \
                         confirmed is saved and the next run goes on",
                        asked.as_secs(),
                        failure.message,
                        self.backoff.max_wait.as_secs()
                    ),
                    correlation_id: failure.correlation_id.clone(),
                    credentials: false,
                }));
            }
        };
        if delay >= Duration::from_secs(2) {
            tracing::warn!(
                stage = "sync",
                wait_secs = delay.as_secs_f64(),
                path,
                reason = %failure.message,
                "waiting {:.1} s before retrying {path}: {}",
                delay.as_secs_f64(),
                failure.message
            );
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => Ok(()),
            reason = self.halt.requested() => Err(CallError::Stop(Stop {
                message: reason,
                correlation_id: None,
                credentials: false,
            })),
        }
    }

    /// One try, in a concurrency slot and within the rate limit: a 2xx status and its body, or
    /// what to do about the failure and how HubSpot explained it.
    async fn attempt(
        &self,
        method: &Method,
        url: &str,
        payload: Option<&[u8]>,
        inputs: usize,
    ) -> Result<(u16, bytes::Bytes), (Verdict, Failure)> {
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("semaphore is never closed");
        // The rate limit can hold a request for most of its window: a stop request ends that
        // wait too, before the request is sent.
        tokio::select! {
            () = self.limiter.acquire() => {}
            reason = self.halt.requested() => {
                return Err((Verdict::StopRun, Failure::local(reason)));
            }
        }
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        if is_write(method, url) {
            self.counters.writes.fetch_add(1, Ordering::Relaxed);
        }
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(self.token.expose());
        if let Some(p) = payload {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(p.to_vec());
        }
        let replay = retry::replayable(method.as_str(), url);
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                // A connection that never opened sent nothing; anything later may have.
                let verdict = classify_transport(!e.is_connect(), replay);
                return Err((verdict, lost_answer(&e, verdict)));
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(max) = header_u64(&headers, "x-hubspot-ratelimit-max") {
            self.limiter.observe_max(max as u32).await;
        }
        if let Some(left) = header_u64(&headers, "x-hubspot-ratelimit-remaining") {
            self.limiter.observe_remaining(left as u32).await;
        }
        // A connection reset while the answer arrives is a lost answer, not an empty body: the
        // request was sent and may have been applied.
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(e) => {
                let verdict = classify_transport(true, replay);
                return Err((verdict, lost_answer(&e, verdict)));
            }
        };
        if status.is_success() {
            return Ok((status.as_u16(), bytes));
        }
        Err(self.refused(status, &headers, &bytes, inputs).await)
    }

    /// Classify a non-2xx answer; a 429 to be retried pauses every request, not just this one:
    /// the window is shared.
    async fn refused(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        bytes: &[u8],
        inputs: usize,
    ) -> (Verdict, Failure) {
        let body: ErrorBody = serde_json::from_slice(bytes).unwrap_or_else(|_| ErrorBody {
            message: String::from_utf8_lossy(bytes).chars().take(300).collect(),
            ..ErrorBody::default()
        });
        let retry_after = header_u64(headers, RETRY_AFTER.as_str()).map(Duration::from_secs);
        let verdict = classify(
            status.as_u16(),
            body.policy_name.as_deref(),
            retry_after,
            inputs,
        );
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
            if let Verdict::Retry { after } = verdict {
                self.limiter
                    .pause(after.unwrap_or(Duration::from_secs(1)))
                    .await;
            }
        }
        (verdict, Failure::from_body(Some(status.as_u16()), &body))
    }
}

fn transport_message(e: &reqwest::Error) -> String {
    // reqwest's messages carry the URL (never the token, which is a header) and the cause.
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "transport error"
    };
    format!("{kind}: {}", causes(e))
}

/// A transport failure's message, saying whether it is retried or may have been applied.
fn lost_answer(e: &reqwest::Error, verdict: Verdict) -> Failure {
    let message = transport_message(e);
    Failure::local(match verdict {
        Verdict::GiveUp => format!(
            "{message}; the request may have been applied, so it is not sent again (its \
             records are looked up before any is created again)"
        ),
        _ => message,
    })
}

/// Why the run stops, from the refusal of `path` that stops it.
fn stop_reason(f: &Failure, path: &str) -> Stop {
    let message = match f.status {
        Some(429) => format!(
            "HubSpot's daily API limit is reached ({}); the records not yet written will sync on the next run",
            f.message
        ),
        Some(401) => format!(
            "HubSpot rejected the token (401: {}); check HUBSPOT_TOKEN or [hubspot] token_file",
            f.message
        ),
        Some(403) => forbidden(f, path),
        _ => f.message.clone(),
    };
    Stop {
        message,
        correlation_id: f.correlation_id.clone(),
        credentials: matches!(f.status, Some(401 | 403)),
    }
}

/// A 403, naming what was refused and the scopes HubSpot listed for it.
fn forbidden(f: &Failure, path: &str) -> String {
    let object = path
        .split(['/', '?'])
        .find_map(|segment| {
            ObjectType::ALL
                .into_iter()
                .find(|o| segment == o.name() || segment == o.spec_segment())
        })
        .map_or_else(String::new, |o| format!(" to {o}"));
    let scopes = f
        .body
        .as_ref()
        .map(ErrorBody::required_scopes)
        .unwrap_or_default();
    let need = match scopes.as_slice() {
        [] => "lacks a scope".to_string(),
        [one] => format!("needs the scope {one}"),
        many => format!("needs one of the scopes {}", many.join(", ")),
    };
    format!(
        "HubSpot refused access{object} ({path}: 403 {}: {}); the Service Key or private app {need}: \
         add it in HubSpot and run again (README: HubSpot setup)",
        f.category.as_deref().unwrap_or("FORBIDDEN"),
        f.message
    )
}

// `CallError` is built at most once per failed request; boxing its variants would buy nothing.
#[allow(clippy::result_large_err)]
fn decode<R: DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<R, CallError> {
    serde_json::from_slice(bytes).map_err(|e| {
        CallError::GaveUp(Failure::local(format!(
            "unexpected response from {path}: {e}: {}",
            String::from_utf8_lossy(bytes)
                .chars()
                .take(200)
                .collect::<String>()
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server on 127.0.0.1 that answers every request 429 with `Retry-After: retry_after`.
    async fn always_429(retry_after: u64) -> String {
        let app = axum::Router::new().fallback(move || async move {
            (
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after.to_string())],
                r#"{"status":"error","message":"slow down","policyName":"TEN_SECONDLY_ROLLING"}"#,
            )
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn client(base_url: String, halt: &Halt) -> Client {
        Client::new(&ClientConfig {
            base_url,
            api: ApiVersion::default(),
            token: Secret::new("t"),
            requests_per_10s: 100,
            max_concurrency: 1,
            timeout: Duration::from_secs(5),
            backoff: Backoff::default(),
            halt: halt.clone(),
        })
        .unwrap()
    }

    fn stopped(r: Result<(u16, serde_json::Value), CallError>) -> String {
        match r {
            Err(CallError::Stop(stop)) => stop.message,
            other => panic!("not a stop: {other:?}"),
        }
    }

    /// Three 429s with `Retry-After: 86400` stalled a run past 170 s.
    #[tokio::test]
    async fn a_retry_after_of_a_day_hung_the_run() {
        let halt = Halt::default();
        let c = client(always_429(86_400).await, &halt);
        let started = std::time::Instant::now();
        let message = stopped(c.post("/x", &serde_json::json!({}), 1).await);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(
            message.contains("asked to wait 86400 s before retrying /x")
                && message.contains("max_retry_wait_secs = 60"),
            "{message}"
        );
    }

    /// SIGTERM was ignored for the length of a retry wait.
    #[tokio::test]
    async fn sigterm_during_a_retry_wait_was_ignored() {
        let halt = Halt::default();
        let c = client(always_429(50).await, &halt);
        let stop = halt.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            stop.request("stopped by SIGTERM");
        });
        let started = std::time::Instant::now();
        let message = stopped(c.post("/x", &serde_json::json!({}), 1).await);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(message, "stopped by SIGTERM");
        assert_eq!(
            Counters::get(&c.counters.requests),
            1,
            "no retry after the stop"
        );
    }

    /// A server on 127.0.0.1 whose first answer breaks off: the status line and part of
    /// the body, then the connection closes. Later requests get a whole answer.
    async fn resets_the_first_answer() -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            for n in 0.. {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // The whole request: its headers, then as many bytes as Content-Length says.
                loop {
                    let read = socket.read(&mut buf).await.unwrap();
                    request.extend_from_slice(&buf[..read]);
                    let text = String::from_utf8_lossy(&request).to_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                    if read == 0 {
                        break;
                    }
                }
                let body = r#"{"ok":true}"#;
                let answer = if n == 0 {
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n{\"ok\"".to_string()
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                };
                socket.write_all(answer.as_bytes()).await.unwrap();
                drop(socket);
            }
        });
        url
    }

    /// A connection reset after the request was sent was reported as a JSON parse error and
    /// not retried. It is a lost answer: retried when sending again is safe (an upsert by a
    /// unique property), reported as possibly applied when not (a create).
    #[tokio::test]
    async fn a_connection_reset_after_send_was_a_parse_error() {
        let halt = Halt::default();
        let c = client(resets_the_first_answer().await, &halt);
        let upsert = "/crm/objects/2026-09/companies/batch/upsert";
        let (status, body): (u16, serde_json::Value) = c
            .post(upsert, &serde_json::json!({"inputs": []}), 1)
            .await
            .unwrap();
        assert_eq!((status, body), (200, serde_json::json!({"ok": true})));
        assert_eq!(Counters::get(&c.counters.retries), 1);

        let c = client(resets_the_first_answer().await, &halt);
        let create = "/crm/objects/2026-09/leads/batch/create";
        let r: Result<(u16, serde_json::Value), CallError> =
            c.post(create, &serde_json::json!({"inputs": []}), 1).await;
        match r {
            Err(CallError::GaveUp(f)) => {
                assert!(f.message.contains("may have been applied"), "{}", f.message);
                assert!(!f.message.contains("unexpected response"), "{}", f.message);
                assert!(!f.certainly_not_applied());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Counters::get(&c.counters.requests),
            1,
            "a create is not sent twice"
        );
    }

    /// A 403 named neither the object nor the scopes HubSpot listed for it.
    #[test]
    fn a_missing_scope_named_neither_the_object_nor_the_scope() {
        let body: ErrorBody = serde_json::from_str(
            r#"{"status":"error","message":"This app hasn't been granted all required scopes to make this call.","correlationId":"c-1","errors":[{"message":"One or more of the following scopes are required.","context":{"requiredGranularScopes":["crm.objects.leads.write"]}}],"category":"MISSING_SCOPES"}"#,
        )
        .unwrap();
        let f = Failure::from_body(Some(403), &body);
        let stop = stop_reason(&f, "/crm/objects/2026-09/leads/batch/create");
        assert!(stop.credentials);
        for needle in [
            "refused access to leads",
            "/crm/objects/2026-09/leads/batch/create: 403 MISSING_SCOPES",
            "needs the scope crm.objects.leads.write",
        ] {
            assert!(stop.message.contains(needle), "{needle}: {}", stop.message);
        }
        let stop = stop_reason(&f, "/crm/objects/2026-09/0-3/batch/upsert");
        assert!(
            stop.message.contains("refused access to deals"),
            "{}",
            stop.message
        );
        let token = Failure {
            status: Some(401),
            ..Failure::local("Authentication credentials not found".into())
        };
        let stop = stop_reason(&token, "/x");
        assert!(stop.credentials && stop.message.contains("HUBSPOT_TOKEN"));
    }

    #[test]
    fn reads_sent_as_post_are_not_counted_as_writes() {
        let base = "https://api.hubapi.com/crm/objects/2026-09/companies";
        let cases = [
            (Method::POST, format!("{base}/batch/upsert"), true),
            (Method::POST, format!("{base}/batch/read"), false),
            (Method::POST, format!("{base}/search"), false),
            (Method::PATCH, format!("{base}/123"), true),
            (Method::GET, format!("{base}/123"), false),
        ];
        for (method, url, write) in cases {
            assert_eq!(is_write(&method, &url), write, "{method} {url}");
        }
    }

    #[test]
    fn a_client_error_names_the_cause_and_what_to_do() {
        // TLS 1.3 at least and 1.2 at most: a setup reqwest refuses when building.
        let e = reqwest::Client::builder()
            .tls_version_min(reqwest::tls::Version::TLS_1_3)
            .tls_version_max(reqwest::tls::Version::TLS_1_2)
            .build()
            .map(drop)
            .unwrap_err();
        let message = ClientError::Tls(e).to_string();
        assert!(
            message.starts_with("cannot set up HTTPS for HubSpot (builder error: ")
                && message.contains("tls versions")
                && message.contains("SSL_CERT_FILE"),
            "{message}"
        );
    }
}

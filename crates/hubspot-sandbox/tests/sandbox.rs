//! The sandbox over HTTP, as a HubSpot client sees it: each test starts a server on
//! 127.0.0.1:0 and talks to it with reqwest.

use std::time::Duration;

use hubspot_sandbox::{Sandbox, SandboxConfig};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

const TOKEN: &str = "sandbox-token";

struct Server {
    base: String,
    http: reqwest::Client,
    sandbox: Sandbox,
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Value,
}

async fn start(config: SandboxConfig) -> Server {
    // reqwest is built without a default rustls provider; pqlsync's client installs ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sandbox = Sandbox::new(config);
    let served = sandbox.clone();
    tokio::spawn(async move { served.serve(listener).await });
    Server {
        base: format!("http://{addr}"),
        http: reqwest::Client::new(),
        sandbox,
    }
}

fn config() -> SandboxConfig {
    SandboxConfig {
        owners: vec![
            "jane.doe@example.com".into(),
            "max.mustermann@example.com".into(),
        ],
        requests_per_10s: 10_000,
        ..SandboxConfig::default()
    }
}

async fn server() -> Server {
    start(config()).await
}

impl Server {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body), Some(TOKEN))
            .await
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None, Some(TOKEN))
            .await
    }

    async fn put(&self, path: &str, body: Option<Value>) -> Reply {
        self.send(reqwest::Method::PUT, path, body, Some(TOKEN))
            .await
    }

    async fn patch(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::PATCH, path, Some(body), Some(TOKEN))
            .await
    }

    async fn admin(&self, path: &str) -> Value {
        self.send(reqwest::Method::GET, path, None, None).await.body
    }

    /// What `pqlsync hubspot setup` does: a group and a unique id property on each object.
    async fn setup(&self) {
        for (object, prop) in [
            ("companies", "plg_account_id"),
            ("deals", "plg_trial_id"),
            ("leads", "plg_account_id"),
            ("tasks", "plg_task_key"),
        ] {
            let r = self
                .post(
                    &format!("/crm/v3/properties/{object}/groups"),
                    json!({"name": "pqlsync", "label": "PQL scoring", "displayOrder": -1}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            let r = self
                .post(
                    &format!("/crm/v3/properties/{object}"),
                    json!({"name": prop, "label": "Key", "type": "string", "fieldType": "text",
                           "groupName": "pqlsync", "description": "", "hasUniqueValue": true}),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let r = self
            .post(
                "/crm/v3/properties/companies",
                json!({"name": "pql_score", "label": "PQL score", "type": "number", "fieldType": "number",
                       "groupName": "pqlsync", "description": ""}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    /// A contact, created the way a marketing tool would.
    async fn contact(&self, email: &str) -> String {
        let r = self
            .post(
                "/crm/v3/objects/contacts",
                json!({"properties": {"email": email, "firstname": "Pat"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    async fn company(&self, key: &str) -> String {
        let r = self
            .post(
                "/crm/v3/objects/companies/batch/upsert",
                json!({"inputs": [{"id": key, "idProperty": "plg_account_id", "properties": {"name": key}}]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["results"][0]["id"].as_str().unwrap().to_string()
    }
}

fn header(r: &Reply, name: &str) -> Option<String> {
    r.headers.get(name).map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn requests_without_the_token_get_401() {
    let s = server().await;
    for token in [None, Some("wrong")] {
        let r = s
            .send(reqwest::Method::GET, "/crm/v3/owners", None, token)
            .await;
        assert_eq!(r.status, 401);
        assert_eq!(r.body["status"], "error");
        assert_eq!(r.body["category"], "INVALID_AUTHENTICATION");
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .starts_with("Authentication credentials not found.")
        );
        assert!(r.body["correlationId"].as_str().unwrap().len() == 36);
    }
    // The admin routes need no token.
    let stats = s.admin("/_sandbox/stats").await;
    assert_eq!(stats["unauthorized"], 2);
    assert_eq!(stats["requests"], 2);
}

#[tokio::test]
async fn upsert_creates_then_updates() {
    let s = server().await;
    s.setup().await;
    let body = json!({"inputs": [{"id": "acct-1", "idProperty": "plg_account_id",
        "properties": {"name": "Acme", "pql_score": "42", "plg_account_id": "acct-1"}}]});
    let r = s.post("/crm/v3/objects/companies/batch/upsert", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "COMPLETE");
    assert!(r.body["startedAt"].is_string() && r.body["completedAt"].is_string());
    let first = &r.body["results"][0];
    assert_eq!(first["new"], true);
    assert_eq!(first["archived"], false);
    assert_eq!(first["properties"]["plg_account_id"], "acct-1");
    assert_eq!(first["properties"]["name"], "Acme");
    let id = first["id"].as_str().unwrap().to_string();
    assert!(id.parse::<u64>().is_ok());
    chrono::DateTime::parse_from_rfc3339(first["createdAt"].as_str().unwrap()).unwrap();

    let body = json!({"inputs": [{"id": "acct-1", "idProperty": "plg_account_id", "properties": {"name": "Acme Inc"}}]});
    let r = s.post("/crm/v3/objects/companies/batch/upsert", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["results"][0]["new"], false);
    assert_eq!(r.body["results"][0]["id"], id.as_str());
    assert_eq!(
        r.body["results"][0]["properties"]["plg_account_id"],
        "acct-1"
    );

    let r = s
        .get(&format!(
            "/crm/v3/objects/companies/{id}?properties=name,pql_score"
        ))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["properties"]["name"], "Acme Inc");
    assert_eq!(r.body["properties"]["pql_score"], "42");
    let r = s
        .get("/crm/v3/objects/companies/acct-1?idProperty=plg_account_id")
        .await;
    assert_eq!(r.body["id"], id.as_str());

    // Contacts upsert on email, matched case-insensitively against a pre-existing contact.
    let existing = s.contact("Pat@Example.com").await;
    let body = json!({"inputs": [
        {"id": "pat@example.com", "idProperty": "email", "properties": {"lifecyclestage": "lead"}},
        {"id": "new@example.com", "idProperty": "email", "properties": {"lifecyclestage": "lead"}}]});
    let r = s.post("/crm/v3/objects/contacts/batch/upsert", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["results"][0]["id"], existing.as_str());
    assert_eq!(r.body["results"][0]["new"], false);
    assert_eq!(
        r.body["results"][0]["properties"]["email"],
        "pat@example.com"
    );
    assert_eq!(r.body["results"][1]["new"], true);

    // The idProperty must be unique.
    let body = json!({"inputs": [{"id": "Acme", "idProperty": "name", "properties": {}}]});
    let r = s.post("/crm/v3/objects/companies/batch/upsert", body).await;
    assert_eq!(r.status, 400);
}

/// The 2026-09 spec's `SimplePublicUpsertObject` has string properties, never null; the
/// sandbox answered null for a property an upsert cleared, which Prism refused
/// (`scripts/check-hubspot-specs.sh`).
#[tokio::test]
async fn upsert_answers_a_cleared_property_as_an_empty_string_never_null() {
    let s = server().await;
    s.setup().await;
    let upsert = |properties: serde_json::Value| json!({"inputs": [{"id": "acct-1", "idProperty": "plg_account_id", "properties": properties}]});
    let r = s
        .post(
            "/crm/v3/objects/companies/batch/upsert",
            upsert(json!({"name": "Acme", "pql_score": "42"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .post(
            "/crm/v3/objects/companies/batch/upsert",
            upsert(json!({"pql_score": ""})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let properties = r.body["results"][0]["properties"].as_object().unwrap();
    assert_eq!(properties["pql_score"], "");
    assert!(
        properties.values().all(|v| v.is_string()),
        "every property a string: {properties:?}"
    );
    // A read by id (`SimplePublicObject`, nullable) still answers null for no value.
    let id = r.body["results"][0]["id"].as_str().unwrap();
    let r = s
        .get(&format!(
            "/crm/v3/objects/companies/{id}?properties=pql_score"
        ))
        .await;
    assert_eq!(r.body["properties"]["pql_score"], serde_json::Value::Null);
}

#[tokio::test]
async fn deals_answer_on_0_3_and_deals() {
    let s = server().await;
    s.setup().await;
    let body = json!({"inputs": [{"id": "t1", "idProperty": "plg_trial_id",
        "properties": {"dealname": "Trial", "pipeline": "default", "dealstage": "qualifiedtobuy", "amount": "99.5",
                       "closedate": "2025-03-01", "hubspot_owner_id": "70000001"}}]});
    let r = s.post("/crm/v3/objects/0-3/batch/upsert", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["results"][0]["id"].as_str().unwrap().to_string();
    let r = s
        .get(&format!("/crm/v3/objects/deals/{id}?properties=dealstage"))
        .await;
    assert_eq!(r.body["properties"]["dealstage"], "qualifiedtobuy");
    let stats = s.admin("/_sandbox/stats").await;
    assert_eq!(
        stats["by_route"]["POST /crm/v3/objects/deals/batch/upsert"],
        1
    );
}

#[tokio::test]
async fn duplicate_ids_fail_the_batch() {
    let s = server().await;
    s.setup().await;
    let body = json!({"inputs": [
        {"id": "a", "idProperty": "plg_account_id", "properties": {}},
        {"id": "b", "idProperty": "plg_account_id", "properties": {}},
        {"id": "a", "idProperty": "plg_account_id", "properties": {}}]});
    let r = s.post("/crm/v3/objects/companies/batch/upsert", body).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["category"], "VALIDATION_ERROR");
    assert_eq!(
        r.body["message"],
        "Duplicate IDs found in batch input: [a]. IDs must be unique"
    );
    assert_eq!(r.body["context"]["ids"], json!(["a"]));
    let r = s
        .post(
            "/crm/v3/objects/companies/batch/update",
            json!({"inputs": [{"id": "1", "properties": {}}, {"id": "1", "properties": {}}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = s
        .post(
            "/crm/v3/objects/contacts/batch/read",
            json!({"inputs": [{"id": "A@x.com"}, {"id": "a@x.com"}], "idProperty": "email",
                   "properties": [], "propertiesWithHistory": []}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("Duplicate IDs")
    );
    assert_eq!(s.sandbox.dump()["objects"]["companies"], json!([]));
}

#[tokio::test]
async fn more_than_100_inputs_fail() {
    let s = server().await;
    s.setup().await;
    let inputs: Vec<Value> = (0..101)
        .map(|i| json!({"id": format!("k{i}"), "idProperty": "plg_account_id", "properties": {}}))
        .collect();
    let r = s
        .post(
            "/crm/v3/objects/companies/batch/upsert",
            json!({ "inputs": inputs }),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["category"], "VALIDATION_ERROR");
    assert!(r.body["message"].as_str().unwrap().contains("100"));
    let pairs: Vec<Value> = (0..101)
        .map(|i| json!({"from": {"id": i.to_string()}, "to": {"id": "1"}}))
        .collect();
    let r = s
        .post(
            "/crm/v4/associations/contacts/companies/batch/associate/default",
            json!({ "inputs": pairs }),
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn unknown_properties_fail_the_whole_batch() {
    let s = server().await;
    s.setup().await;
    let body = json!({"inputs": [
        {"id": "good", "idProperty": "plg_account_id", "properties": {"name": "Good"}},
        {"id": "bad", "idProperty": "plg_account_id", "properties": {"pql_sore": "1"}}]});
    let r = s.post("/crm/v3/objects/companies/batch/upsert", body).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["category"], "VALIDATION_ERROR");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Property values were not valid")
    );
    let e = &r.body["errors"][0];
    assert_eq!(e["code"], "PROPERTY_DOESNT_EXIST");
    assert!(e["message"].as_str().unwrap().contains("pql_sore"));
    assert_eq!(e["context"]["propertyName"], json!(["pql_sore"]));
    assert_eq!(e["context"]["index"], json!(["1"]));
    assert_eq!(e["context"]["id"], json!(["bad"]));
    // Nothing applied: the good input was not written either.
    assert_eq!(s.sandbox.dump()["objects"]["companies"], json!([]));
}

#[tokio::test]
async fn non_string_values_are_refused() {
    let s = server().await;
    s.setup().await;
    let body = json!({"inputs": [{"id": "a", "idProperty": "plg_account_id", "properties": {"pql_score": 42}}]});
    let r = s.post("/crm/v3/objects/companies/batch/upsert", body).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["category"], "VALIDATION_ERROR");
    let m = r.body["message"].as_str().unwrap();
    assert!(m.contains("string") && m.contains("pql_score"), "{m}");
}

#[tokio::test]
async fn a_garbled_route_answers_200_html_then_json_again() {
    let s = server().await;
    s.setup().await;
    let r = s
        .send(
            reqwest::Method::POST,
            "/_sandbox/garble",
            Some(json!({"route": "GET /crm/v3/pipelines/deals", "times": 1})),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let resp = s
        .http
        .get(format!("{}/crm/v3/pipelines/deals", s.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(resp.text().await.unwrap().contains("<html>"));
    let r = s.get("/crm/v3/pipelines/deals").await;
    assert_eq!(r.status, 200);
    assert!(r.body["results"].is_array(), "{}", r.body);
}

#[tokio::test]
async fn a_value_refused_on_request_fails_its_batch_like_an_invalid_one() {
    let s = server().await;
    s.setup().await;
    let r = s
        .send(
            reqwest::Method::POST,
            "/_sandbox/refuse",
            Some(json!({"property": "email", "value": "blocked@example.com"})),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = json!({"inputs": [
        {"id": "ok@example.com", "idProperty": "email", "properties": {}},
        {"id": "blocked@example.com", "idProperty": "email", "properties": {}}
    ]});
    let r = s.post("/crm/v3/objects/contacts/batch/upsert", body).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errors"][0]["code"], "INVALID_EMAIL");
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("blocked@example.com")
    );
    assert_eq!(s.sandbox.dump()["objects"]["contacts"], json!([]));
    let body =
        json!({"inputs": [{"id": "ok@example.com", "idProperty": "email", "properties": {}}]});
    let r = s.post("/crm/v3/objects/contacts/batch/upsert", body).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn invalid_values_are_refused() {
    let s = server().await;
    s.setup().await;
    let body = json!({"inputs": [{"id": "not-an-email", "idProperty": "email", "properties": {}}]});
    let r = s.post("/crm/v3/objects/contacts/batch/upsert", body).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["errors"][0]["code"], "INVALID_EMAIL");
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not-an-email")
    );

    let cases = [
        (
            "companies",
            json!({"lifecyclestage": "prospect"}),
            "INVALID_OPTION",
        ),
        (
            "companies",
            json!({"hubspot_owner_id": "123"}),
            "INVALID_OPTION",
        ),
        ("companies", json!({"pql_score": "high"}), "INVALID_INTEGER"),
        (
            "deals",
            json!({"dealstage": "new-stage-id"}),
            "INVALID_OPTION",
        ),
        ("deals", json!({"pipeline": "nope"}), "INVALID_OPTION"),
        (
            "leads",
            json!({"hs_pipeline_stage": "closedwon"}),
            "INVALID_OPTION",
        ),
    ];
    for (object, props, code) in cases {
        let idp = match object {
            "deals" => "plg_trial_id",
            _ => "plg_account_id",
        };
        let body = json!({"inputs": [{"id": "x", "idProperty": idp, "properties": props}]});
        let r = s
            .post(&format!("/crm/v3/objects/{object}/batch/upsert"), body)
            .await;
        assert_eq!(r.status, 400, "{object} {props}: {}", r.body);
        assert_eq!(
            r.body["errors"][0]["code"], code,
            "{object} {props}: {}",
            r.body
        );
    }
    // Tasks need a due date.
    let r = s
        .post(
            "/crm/v3/objects/tasks/batch/upsert",
            json!({"inputs": [{"id": "k", "idProperty": "plg_task_key", "properties": {"hs_task_subject": "Call"}}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["message"].as_str().unwrap().contains("hs_timestamp"));
}

#[tokio::test]
async fn task_queues_are_options_checked_on_every_write_and_added_at_runtime() {
    let s = start(SandboxConfig {
        queues: vec!["1001".into(), "1002".into()],
        ..config()
    })
    .await;
    s.setup().await;
    let r = s
        .get("/crm/v3/properties/tasks/hs_queue_membership_ids")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["type"], &r.body["fieldType"], &r.body["label"]),
        (&json!("enumeration"), &json!("checkbox"), &json!("Queue"))
    );
    assert_eq!(
        r.body["options"],
        json!([
            {"label": "Queue 1001", "value": "1001", "displayOrder": 0, "hidden": false},
            {"label": "Queue 1002", "value": "1002", "displayOrder": 1, "hidden": false}
        ])
    );

    // Each write path that validates values, with a queue value and the one it refuses.
    let due = "2025-01-01T09:00:00Z";
    let create = |queues: &str| {
        json!({"properties": {"hs_timestamp": due,
            "hs_queue_membership_ids": queues}})
    };
    let r = s.post("/crm/v3/objects/tasks", create("1001;1002")).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let upsert = |queues: &str| {
        json!({"inputs": [{"id": "k", "idProperty": "plg_task_key",
            "properties": {"hs_timestamp": due, "hs_queue_membership_ids": queues}}]})
    };
    let update = |queues: &str| {
        json!({"inputs": [{"id": id,
            "properties": {"hs_queue_membership_ids": queues}}]})
    };
    let patch = |queues: &str| json!({"properties": {"hs_queue_membership_ids": queues}});
    let refused = |r: &Reply, bad: &str| {
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["category"], "VALIDATION_ERROR");
        assert_eq!(r.body["errors"][0]["code"], "INVALID_OPTION", "{}", r.body);
        let m = r.body["errors"][0]["message"].as_str().unwrap();
        assert!(
            m.starts_with(&format!("{bad} was not one of the allowed options")),
            "{m}"
        );
    };
    for bad in ["1001;999", "2002"] {
        let named = bad.rsplit(';').next().unwrap();
        refused(&s.post("/crm/v3/objects/tasks", create(bad)).await, named);
        refused(
            &s.post(
                "/crm/objects/2026-09/tasks/batch/create",
                json!({"inputs": [{"properties": create(bad)["properties"], "associations": []}]}),
            )
            .await,
            named,
        );
        refused(
            &s.post("/crm/v3/objects/tasks/batch/upsert", upsert(bad))
                .await,
            named,
        );
        refused(
            &s.post("/crm/v3/objects/tasks/batch/update", update(bad))
                .await,
            named,
        );
        refused(
            &s.patch(&format!("/crm/v3/objects/tasks/{id}"), patch(bad))
                .await,
            named,
        );
    }
    // "" clears the queues, as it clears any value.
    let r = s
        .patch(&format!("/crm/v3/objects/tasks/{id}"), patch(""))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // A queue created after start is taken from then on, added once however often it is
    // posted.
    for _ in 0..2 {
        let r = s
            .send(
                reqwest::Method::POST,
                "/_sandbox/queues",
                Some(json!({"id": "2002", "name": "Trial rescue"})),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body, json!({"id": "2002", "name": "Trial rescue"}));
    }
    let r = s
        .get("/crm/v3/properties/tasks/hs_queue_membership_ids")
        .await;
    assert_eq!(
        r.body["options"][2],
        json!({"label": "Trial rescue", "value": "2002", "displayOrder": 2, "hidden": false})
    );
    assert_eq!(r.body["options"].as_array().unwrap().len(), 3);
    for (path, body) in [
        ("/crm/v3/objects/tasks", create("2002")),
        ("/crm/v3/objects/tasks/batch/upsert", upsert("1001;2002")),
        ("/crm/v3/objects/tasks/batch/update", update("2002")),
    ] {
        let r = s.post(path, body).await;
        assert!(matches!(r.status, 200 | 201), "{path}: {}", r.body);
    }
    let r = s
        .get(&format!(
            "/crm/v3/objects/tasks/{id}?properties=hs_queue_membership_ids"
        ))
        .await;
    assert_eq!(r.body["properties"]["hs_queue_membership_ids"], "2002");

    // Queue ids are numeric.
    for body in [
        json!({"id": "trial-rescue", "name": "Trial rescue"}),
        json!({"id": "", "name": "Trial rescue"}),
        json!({"id": "12a"}),
        json!({"name": "Trial rescue"}),
    ] {
        let r = s
            .send(
                reqwest::Method::POST,
                "/_sandbox/queues",
                Some(body.clone()),
                None,
            )
            .await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!(r.body["status"], "error", "{body}");
    }
    let r = s
        .get("/crm/v3/properties/tasks/hs_queue_membership_ids")
        .await;
    assert_eq!(r.body["options"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn leads_need_a_contact_to_be_created() {
    let s = server().await;
    s.setup().await;
    let contact = s.contact("lead@example.com").await;
    let company = s.company("acct-9").await;
    let r = s
        .post(
            "/crm/v3/objects/leads/batch/create",
            json!({"inputs": [{"properties": {"hs_lead_name": "Acme", "plg_account_id": "acct-9"}, "associations": [],
                               "objectWriteTraceId": "acct-9"}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["message"].as_str().unwrap().contains("contact"),
        "{}",
        r.body
    );

    // Upsert cannot create a lead either.
    let r = s
        .post(
            "/crm/v3/objects/leads/batch/upsert",
            json!({"inputs": [{"id": "acct-9", "idProperty": "plg_account_id", "properties": {"hs_lead_name": "Acme"}}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["message"].as_str().unwrap().contains("upsert"),
        "{}",
        r.body
    );

    let assoc = |id: &str, type_id: i64| json!({"to": {"id": id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]});
    let r = s
        .post(
            "/crm/v3/objects/leads/batch/create",
            json!({"inputs": [{"properties": {"hs_lead_name": "Acme", "plg_account_id": "acct-9",
                                              "hs_pipeline": "lead-pipeline-id", "hs_pipeline_stage": "connected-stage-id"},
                               "associations": [assoc(&contact, 578), assoc(&company, 580)],
                               "objectWriteTraceId": "acct-9"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let lead = &r.body["results"][0];
    assert_eq!(lead["objectWriteTraceId"], "acct-9");
    assert_eq!(
        lead["properties"]["hs_pipeline_stage"],
        "connected-stage-id"
    );
    let lead_id = lead["id"].as_str().unwrap().to_string();

    // An association to a missing contact is refused.
    let r = s
        .post(
            "/crm/v3/objects/leads/batch/create",
            json!({"inputs": [{"properties": {"hs_lead_name": "B"}, "associations": [assoc("999", 578)]}]}),
        )
        .await;
    assert_eq!(r.status, 400);

    // Now upsert updates it.
    let r = s
        .post(
            "/crm/v3/objects/leads/batch/upsert",
            json!({"inputs": [{"id": "acct-9", "idProperty": "plg_account_id",
                               "properties": {"hs_pipeline_stage": "qualified-stage-id"}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["results"][0]["new"], false);
    assert_eq!(r.body["results"][0]["id"], lead_id.as_str());

    // The create stored the associations, visible from both sides.
    let r = s
        .get(&format!(
            "/crm/v4/objects/contacts/{contact}/associations/leads"
        ))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["results"][0]["toObjectId"], lead_id.as_str());
    assert_eq!(r.body["results"][0]["associationTypes"][0]["typeId"], 579);
    let r = s
        .get(&format!(
            "/crm/v4/objects/0-136/{lead_id}/associations/companies"
        ))
        .await;
    assert_eq!(r.body["results"][0]["associationTypes"][0]["typeId"], 580);
    assert_eq!(
        r.body["results"][0]["associationTypes"][0]["label"],
        "Primary"
    );
}

#[tokio::test]
async fn unique_values_conflict_with_409() {
    let s = server().await;
    s.setup().await;
    s.contact("taken@example.com").await;
    let r = s
        .post(
            "/crm/v3/objects/contacts/batch/create",
            json!({"inputs": [{"properties": {"email": "TAKEN@example.com"}, "associations": []}]}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["category"], "CONFLICT");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Contact already exists. Existing ID: ")
    );
    s.company("acct-1").await;
    let r = s
        .post(
            "/crm/v3/objects/companies/batch/create",
            json!({"inputs": [{"properties": {"plg_account_id": "acct-1"}, "associations": []}]}),
        )
        .await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["category"], "CONFLICT");
    assert_eq!(
        s.sandbox.dump()["objects"]["companies"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn batch_read_and_update_report_missing_ids_with_207() {
    let s = server().await;
    s.setup().await;
    let id = s.company("acct-1").await;
    let body = json!({"inputs": [{"id": id}, {"id": "424242"}], "properties": ["name", "no_such"],
                      "propertiesWithHistory": ["name"]});
    let r = s.post("/crm/v3/objects/companies/batch/read", body).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(r.body["numErrors"], 1);
    let e = &r.body["errors"][0];
    assert_eq!(e["status"], "error");
    assert_eq!(e["category"], "OBJECT_NOT_FOUND");
    assert_eq!(e["context"]["ids"], json!(["424242"]));
    let props = r.body["results"][0]["properties"].as_object().unwrap();
    let mut names: Vec<&str> = props.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        vec!["createdate", "hs_lastmodifieddate", "hs_object_id", "name"]
    );
    assert_eq!(
        r.body["results"][0]["propertiesWithHistory"]["name"][0]["value"],
        "acct-1"
    );

    // By unique property, all found: 200.
    let body = json!({"inputs": [{"id": "acct-1"}], "idProperty": "plg_account_id", "properties": ["name"],
                      "propertiesWithHistory": []});
    let r = s.post("/crm/v3/objects/companies/batch/read", body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["results"][0]["id"], id.as_str());

    let body = json!({"inputs": [{"id": id, "properties": {"name": "Renamed"}}, {"id": "5", "properties": {"name": "X"}}]});
    let r = s.post("/crm/v3/objects/companies/batch/update", body).await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(r.body["errors"][0]["context"]["ids"], json!(["5"]));
    assert_eq!(r.body["results"][0]["properties"]["name"], "Renamed");
    let body = json!({"inputs": [{"id": id, "properties": {"name": "Again"}}]});
    assert_eq!(
        s.post("/crm/v3/objects/companies/batch/update", body)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn default_associations_are_idempotent_and_partial() {
    let s = server().await;
    s.setup().await;
    let contact = s.contact("a@example.com").await;
    let company = s.company("acct-1").await;
    let body = json!({"inputs": [{"from": {"id": contact}, "to": {"id": company}}]});
    for _ in 0..2 {
        let r = s
            .post(
                "/crm/v4/associations/contacts/companies/batch/associate/default",
                body.clone(),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let spec = &r.body["results"][0]["associationSpec"];
        assert_eq!(spec["associationCategory"], "HUBSPOT_DEFINED");
        assert_eq!(spec["associationTypeId"], 279);
    }
    // The reverse direction is the same association.
    let body = json!({"inputs": [{"from": {"id": company}, "to": {"id": contact}}]});
    assert_eq!(
        s.post("/crm/v4/associations/0-2/0-1/batch/associate/default", body)
            .await
            .status,
        200
    );
    assert_eq!(
        s.sandbox.dump()["associations"].as_array().unwrap().len(),
        1
    );

    let other = s.contact("b@example.com").await;
    let body = json!({"inputs": [
        {"from": {"id": other}, "to": {"id": company}},
        {"from": {"id": "777"}, "to": {"id": company}}]});
    let r = s
        .post(
            "/crm/v4/associations/contacts/companies/batch/associate/default",
            body,
        )
        .await;
    assert_eq!(r.status, 207, "{}", r.body);
    assert_eq!(r.body["results"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["errors"][0]["category"], "OBJECT_NOT_FOUND");
    assert_eq!(r.body["errors"][0]["context"]["ids"], json!(["777"]));
    assert_eq!(
        s.sandbox.dump()["associations"].as_array().unwrap().len(),
        2
    );

    let r = s
        .post(
            "/crm/v4/associations/companies/contacts/batch/read",
            json!({"inputs": [{"id": company}, {"id": "31337"}]}),
        )
        .await;
    assert_eq!(r.status, 207);
    let to = r.body["results"][0]["to"].as_array().unwrap();
    assert_eq!(to.len(), 2);
    assert_eq!(to[0]["associationTypes"][0]["typeId"], 280);
}

#[tokio::test]
async fn labels_list_hubspot_defined_types() {
    let s = server().await;
    let r = s.get("/crm/v4/associations/leads/contacts/labels").await;
    assert_eq!(r.status, 200);
    let results = r.body["results"].as_array().unwrap();
    assert!(
        results
            .contains(&json!({"category": "HUBSPOT_DEFINED", "typeId": 578, "label": "Primary"}))
    );
    assert!(
        results.contains(&json!({"category": "HUBSPOT_DEFINED", "typeId": 608})),
        "an unlabelled type has no label (the spec types it as a string): {results:?}"
    );
    let r = s.get("/crm/v4/associations/0-3/0-2/labels").await;
    let ids: Vec<i64> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["typeId"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![341, 5]);
    let r = s.get("/crm/v4/associations/tasks/contacts/labels").await;
    assert_eq!(r.body["results"][0]["typeId"], 204);
    assert_eq!(
        s.get("/crm/v4/associations/tickets/contacts/labels")
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn properties_and_groups_are_created_once() {
    let s = server().await;
    let r = s.get("/crm/v3/properties/contacts").await;
    let email = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "email")
        .unwrap()
        .clone();
    assert_eq!(email["hasUniqueValue"], true);
    assert_eq!(email["hubspotDefined"], true);
    for field in [
        "name",
        "label",
        "type",
        "fieldType",
        "groupName",
        "description",
        "options",
    ] {
        assert!(email.get(field).is_some(), "{field}");
    }
    let group = json!({"name": "pqlsync", "label": "PQL", "displayOrder": -1});
    assert_eq!(
        s.post("/crm/v3/properties/contacts/groups", group.clone())
            .await
            .status,
        201
    );
    let r = s.post("/crm/v3/properties/contacts/groups", group).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.body["category"], "CONFLICT");
    let prop = json!({"name": "pql_tier", "label": "Tier", "type": "enumeration", "fieldType": "select",
                      "groupName": "pqlsync", "description": "",
                      "options": [{"label": "Red", "value": "red", "displayOrder": 0, "hidden": false}]});
    let r = s.post("/crm/v3/properties/contacts", prop.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["options"][0]["value"], "red");
    let r = s.post("/crm/v3/properties/contacts", prop).await;
    assert_eq!(r.status, 409);
    assert_eq!(
        r.body["message"],
        "Property named 'pql_tier' already exists."
    );
    let r = s
        .post(
            "/crm/v3/properties/contacts",
            json!({"name": "x", "label": "X", "type": "string", "fieldType": "text", "groupName": "nope"}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = s
        .post(
            "/crm/v3/properties/contacts",
            json!({"name": "y", "label": "Y"}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body["message"].as_str().unwrap().contains("fieldType"));
    // The new option is enforced on writes.
    let body = json!({"inputs": [{"id": "a@b.co", "idProperty": "email", "properties": {"pql_tier": "blue"}}]});
    let r = s.post("/crm/v3/objects/contacts/batch/upsert", body).await;
    assert_eq!(r.body["errors"][0]["code"], "INVALID_OPTION");
}

#[tokio::test]
async fn pipelines_are_seeded_and_created() {
    let s = server().await;
    let r = s.get("/crm/v3/pipelines/deals").await;
    let sales = &r.body["results"][0];
    assert_eq!(sales["id"], "default");
    assert_eq!(sales["label"], "Sales Pipeline");
    let stage_ids: Vec<&str> = sales["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert!(stage_ids.contains(&"closedwon") && stage_ids.contains(&"appointmentscheduled"));
    let r = s.get("/crm/v3/pipelines/0-136").await;
    assert_eq!(r.body["results"][0]["id"], "lead-pipeline-id");
    assert_eq!(
        r.body["results"][0]["stages"][4]["id"],
        "unqualified-stage-id"
    );
    assert_eq!(r.body["results"][0]["stages"][4]["label"], "Disqualified");

    let input = json!({"label": "PLG Trials", "displayOrder": 1, "stages": [
        {"label": "Trial Red", "displayOrder": 0, "metadata": {"probability": "0.1"}},
        {"label": "Won", "displayOrder": 1, "metadata": {"probability": "1.0", "isClosed": "true"}}]});
    let r = s.post("/crm/v3/pipelines/deals", input.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let pid = r.body["id"].as_str().unwrap().to_string();
    assert!(pid.parse::<u64>().is_ok());
    let red = r.body["stages"][0]["id"].as_str().unwrap().to_string();
    assert!(red.parse::<u64>().is_ok());
    assert_eq!(s.post("/crm/v3/pipelines/deals", input).await.status, 409);
    let r = s
        .post(
            "/crm/v3/pipelines/deals",
            json!({"label": "Bad", "displayOrder": 2, "stages": [{"label": "S", "displayOrder": 0, "metadata": {}}]}),
        )
        .await;
    assert_eq!(r.status, 400);
    let r = s
        .post(
            &format!("/crm/v3/pipelines/deals/{pid}/stages"),
            json!({"label": "Trial Green", "displayOrder": 2, "metadata": {"probability": "0.5"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let green = r.body["id"].as_str().unwrap().to_string();

    // Stages are checked against the deal's pipeline.
    s.setup().await;
    let upsert = |stage: &str, pipeline: &str| json!({"inputs": [{"id": "t", "idProperty": "plg_trial_id", "properties": {"pipeline": pipeline, "dealstage": stage}}]});
    assert_eq!(
        s.post("/crm/v3/objects/deals/batch/upsert", upsert(&green, &pid))
            .await
            .status,
        200
    );
    assert_eq!(
        s.post(
            "/crm/v3/objects/deals/batch/upsert",
            upsert(&red, "default")
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn owners_filter_by_email_and_page() {
    let s = server().await;
    let r = s.get("/crm/v3/owners?email=Jane.Doe%40example.com").await;
    assert_eq!(r.status, 200);
    let results = r.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let o = &results[0];
    assert_eq!(o["id"], "70000001");
    assert_eq!(o["email"], "jane.doe@example.com");
    assert_eq!(o["firstName"], "Jane");
    assert_eq!(o["lastName"], "Doe");
    assert_eq!(o["type"], "PERSON");
    assert_eq!(o["archived"], false);
    assert!(o["userId"].is_i64());
    let r = s.get("/crm/v3/owners?limit=1").await;
    assert_eq!(r.body["results"].as_array().unwrap().len(), 1);
    let after = r.body["paging"]["next"]["after"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .get(&format!("/crm/v3/owners?limit=1&after={after}"))
        .await;
    assert_eq!(r.body["results"][0]["email"], "max.mustermann@example.com");
    assert!(r.body.get("paging").is_none());
    assert_eq!(
        s.get("/crm/v3/owners?email=nobody@example.com").await.body["results"],
        json!([])
    );
}

#[tokio::test]
async fn rolling_window_refuses_with_429_and_headers() {
    let s = start(SandboxConfig {
        requests_per_10s: 5,
        ..config()
    })
    .await;
    for i in 0..5 {
        let r = s.get("/crm/v3/owners").await;
        assert_eq!(r.status, 200);
        assert_eq!(header(&r, "x-hubspot-ratelimit-max").as_deref(), Some("5"));
        assert_eq!(
            header(&r, "x-hubspot-ratelimit-remaining"),
            Some((4 - i).to_string())
        );
        assert_eq!(
            header(&r, "x-hubspot-ratelimit-interval-milliseconds").as_deref(),
            Some("10000")
        );
        assert!(header(&r, "x-hubspot-ratelimit-daily").is_none());
    }
    // Refused requests have no side effect.
    let r = s
        .post(
            "/crm/v3/objects/contacts/batch/upsert",
            json!({"inputs": [{"id": "a@b.co", "idProperty": "email", "properties": {}}]}),
        )
        .await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["status"], "error");
    assert_eq!(
        r.body["message"],
        "You have reached your ten_secondly_rolling limit."
    );
    assert_eq!(r.body["errorType"], "RATE_LIMIT");
    assert_eq!(r.body["policyName"], "TEN_SECONDLY_ROLLING");
    assert!(r.body["correlationId"].is_string() && r.body["groupName"].is_string());
    assert_eq!(
        header(&r, "x-hubspot-ratelimit-remaining").as_deref(),
        Some("0")
    );
    assert_eq!(s.sandbox.dump()["objects"]["contacts"], json!([]));
    let stats = s.admin("/_sandbox/stats").await;
    assert_eq!(stats["rate_limited"], 1);
    // The admin routes are never limited.
    assert!(s.admin("/_sandbox/dump").await.get("objects").is_some());
}

#[tokio::test]
async fn daily_budget_refuses_with_daily_policy() {
    let s = start(SandboxConfig {
        daily_limit: Some(3),
        ..config()
    })
    .await;
    for left in [2, 1, 0] {
        let r = s.get("/crm/v3/pipelines/deals").await;
        assert_eq!(r.status, 200);
        assert_eq!(
            header(&r, "x-hubspot-ratelimit-daily").as_deref(),
            Some("3")
        );
        assert_eq!(
            header(&r, "x-hubspot-ratelimit-daily-remaining"),
            Some(left.to_string())
        );
    }
    let r = s.get("/crm/v3/pipelines/deals").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["policyName"], "DAILY");
    assert_eq!(r.body["message"], "You have reached your daily limit.");
    assert_eq!(
        header(&r, "x-hubspot-ratelimit-daily-remaining").as_deref(),
        Some("0")
    );
    // The admin route sets a new budget from now on (tests use it after an unlimited setup).
    let r = s
        .send(
            reqwest::Method::POST,
            "/_sandbox/limits",
            Some(json!({"daily_limit": 1})),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.get("/crm/v3/pipelines/deals").await.status, 200);
    assert_eq!(
        s.get("/crm/v3/pipelines/deals").await.body["policyName"],
        "DAILY"
    );
    let r = s
        .send(
            reqwest::Method::POST,
            "/_sandbox/limits",
            Some(json!({"daily": 1})),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "unknown fields are refused");
    s.send(
        reqwest::Method::POST,
        "/_sandbox/limits",
        Some(json!({"daily_limit": null})),
        None,
    )
    .await;
    assert_eq!(s.get("/crm/v3/pipelines/deals").await.status, 200);
}

/// The statuses of `n` owner reads against a fresh sandbox with `seed`.
async fn fault_sequence(seed: u64, n: usize) -> Vec<u16> {
    let s = start(SandboxConfig {
        fail_rate: 0.5,
        seed,
        ..config()
    })
    .await;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(s.get("/crm/v3/owners").await.status);
    }
    out
}

#[tokio::test]
async fn faults_are_deterministic_per_seed() {
    let a = fault_sequence(11, 40).await;
    assert_eq!(a, fault_sequence(11, 40).await);
    assert_ne!(a, fault_sequence(12, 40).await);
    assert!(a.contains(&200));
    assert!(a.iter().all(|s| matches!(s, 200 | 500 | 502 | 503 | 504)));
    assert!(a.iter().any(|s| *s >= 500));
}

#[tokio::test]
async fn after_commit_faults_apply_the_write() {
    let s = start(SandboxConfig {
        fail_rate: 1.0,
        seed: 3,
        ..config()
    })
    .await;
    let mut seen = (false, false);
    for i in 0..20 {
        let email = format!("c{i}@example.com");
        let body = json!({"inputs": [{"id": email, "idProperty": "email", "properties": {}}]});
        let r = s.post("/crm/v3/objects/contacts/batch/upsert", body).await;
        assert!(r.status >= 500, "{}", r.status);
        assert_eq!(r.body["status"], "error");
        assert!(r.body["category"].is_string() && r.body["correlationId"].is_string());
        let stored = s.sandbox.dump()["objects"]["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["properties"]["email"] == email.as_str());
        match header(&r, "x-sandbox-fault").as_deref() {
            Some("after-commit") => {
                assert!(stored, "an after-commit fault applies the write");
                seen.0 = true;
            }
            Some("before-processing") => {
                assert!(!stored, "a before-processing fault has no effect");
                seen.1 = true;
            }
            other => panic!("no fault header: {other:?}"),
        }
    }
    assert_eq!(seen, (true, true));
    assert_eq!(s.admin("/_sandbox/stats").await["injected_faults"], 20);
}

#[tokio::test]
async fn latency_delays_responses() {
    let s = start(SandboxConfig {
        latency: Duration::from_millis(100),
        ..config()
    })
    .await;
    let t = std::time::Instant::now();
    s.get("/crm/v3/owners").await;
    assert!(t.elapsed() >= Duration::from_millis(80));
    let t = std::time::Instant::now();
    s.admin("/_sandbox/stats").await;
    assert!(
        t.elapsed() < Duration::from_millis(80),
        "admin routes are not delayed"
    );
}

#[tokio::test]
async fn stats_count_writes_by_route() {
    let s = server().await;
    s.setup().await; // 9 writes
    s.post(
        "/crm/v3/objects/0-3/batch/upsert",
        json!({"inputs": [{"id": "t", "idProperty": "plg_trial_id", "properties": {"bogus": "1"}}]}),
    )
    .await; // a failed write still counts
    s.post(
        "/crm/v3/objects/companies/batch/read",
        json!({"inputs": [{"id": "1"}], "properties": [], "propertiesWithHistory": []}),
    )
    .await;
    s.get("/crm/v3/objects/companies/1").await;
    s.get("/crm/v3/objects/companies/2").await;
    let stats = s.admin("/_sandbox/stats").await;
    assert_eq!(stats["requests"], 13);
    assert_eq!(stats["writes"], 10);
    assert_eq!(
        stats["by_route"]["POST /crm/v3/objects/deals/batch/upsert"],
        1
    );
    assert_eq!(
        stats["by_route"]["POST /crm/v3/properties/companies/groups"],
        1
    );
    assert_eq!(stats["by_route"]["GET /crm/v3/objects/companies/{id}"], 2);
    assert_eq!(
        stats["by_route"]["POST /crm/v3/objects/companies/batch/read"],
        1
    );
    let r = s
        .send(reqwest::Method::POST, "/_sandbox/stats/reset", None, None)
        .await;
    assert_eq!(r.status, 200);
    let stats = s.admin("/_sandbox/stats").await;
    assert_eq!(stats["requests"], 0);
    assert_eq!(stats["writes"], 0);
    assert_eq!(stats["by_route"], json!({}));
}

#[tokio::test]
async fn dump_shows_the_portal() {
    let s = server().await;
    s.setup().await;
    let contact = s.contact("d@example.com").await;
    let company = s.company("acct-1").await;
    s.post(
        "/crm/v4/associations/contacts/companies/batch/associate/default",
        json!({"inputs": [{"from": {"id": contact}, "to": {"id": company}}]}),
    )
    .await;
    let over_http = s.admin("/_sandbox/dump").await;
    let d = s.sandbox.dump();
    assert_eq!(over_http, d);
    for kind in ["companies", "contacts", "deals", "leads", "tasks"] {
        assert!(d["objects"][kind].is_array(), "{kind}");
        assert!(d["properties"][kind].is_array(), "{kind}");
    }
    let c = &d["objects"]["contacts"][0];
    assert_eq!(c["id"], contact.as_str());
    assert_eq!(c["properties"]["email"], "d@example.com");
    assert!(c["createdAt"].is_string() && c["updatedAt"].is_string());
    assert_eq!(
        d["associations"][0],
        json!({"fromType": "contacts", "fromId": contact, "toType": "companies", "toId": company, "typeId": 279})
    );
    assert!(
        d["properties"]["companies"]
            .as_array()
            .unwrap()
            .contains(&json!("plg_account_id"))
    );
    assert_eq!(d["pipelines"]["deals"][0]["id"], "default");
    assert_eq!(d["owners"][1]["id"], "70000002");
}

#[tokio::test]
async fn concurrent_writes_get_distinct_ids() {
    let s = server().await;
    s.setup().await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let http = s.http.clone();
        let url = format!("{}/crm/v3/objects/companies/batch/upsert", s.base);
        tasks.push(tokio::spawn(async move {
            let body = json!({"inputs": [{"id": format!("acct-{i}"), "idProperty": "plg_account_id", "properties": {}}]});
            let r = http.post(url).bearer_auth(TOKEN).json(&body).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let v: Value = r.json().await.unwrap();
            v["results"][0]["id"].as_str().unwrap().parse::<u64>().unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 20);
    assert_eq!(
        s.sandbox.dump()["objects"]["companies"]
            .as_array()
            .unwrap()
            .len(),
        20
    );
}

#[tokio::test]
async fn unknown_routes_and_types_answer_in_hubspot_shape() {
    let s = server().await;
    let r = s.get("/crm/v3/objects/tickets/1").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["category"], "VALIDATION_ERROR");
    let r = s.get("/crm/v9/nothing").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["status"], "error");
    let r = s.get("/crm/v3/objects/contacts/123").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["category"], "OBJECT_NOT_FOUND");
    let r = s
        .send(
            reqwest::Method::POST,
            "/crm/v3/objects/contacts/batch/upsert",
            None,
            Some(TOKEN),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("Invalid input JSON")
    );
}

#[tokio::test]
async fn search_counts_records_with_a_property() {
    let s = server().await;
    s.setup().await;
    let has = |prop: &str| {
        json!({"filterGroups": [{"filters": [{"propertyName": prop, "operator": "HAS_PROPERTY"}]}],
               "properties": [prop], "sorts": [], "limit": 1, "after": "0"})
    };
    let r = s
        .post("/crm/v3/objects/companies/search", has("plg_account_id"))
        .await;
    assert_eq!(
        (r.status, r.body["total"].as_u64()),
        (200, Some(0)),
        "{}",
        r.body
    );
    let inputs: Vec<Value> = (0..3)
        .map(|i| json!({"id": format!("a{i}"), "idProperty": "plg_account_id", "properties": {"name": format!("N{i}")}}))
        .collect();
    assert_eq!(
        s.post(
            "/crm/v3/objects/companies/batch/upsert",
            json!({"inputs": inputs})
        )
        .await
        .status,
        200
    );
    s.post(
        "/crm/v3/objects/companies",
        json!({"properties": {"name": "Marketing's"}}),
    )
    .await;
    let r = s
        .post("/crm/v3/objects/companies/search", has("plg_account_id"))
        .await;
    assert_eq!(r.body["total"], 3, "{}", r.body);
    assert_eq!(r.body["results"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["paging"]["next"]["after"], "1");
    let r = s
        .post(
            "/crm/v3/objects/companies/search",
            json!({"filterGroups": [{"filters": [{"propertyName": "plg_account_id", "operator": "IN", "values": ["a0", "a2", "zz"]}]},
                                    {"filters": [{"propertyName": "name", "operator": "EQ", "value": "Marketing's"}]}],
                   "properties": ["name"], "sorts": [], "limit": 10, "after": "0"}),
        )
        .await;
    assert_eq!(r.body["total"], 3, "{}", r.body);
    let r = s
        .post(
            "/crm/v3/objects/companies/search",
            json!({"filterGroups": [{"filters": [{"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": "x"}]}]}),
        )
        .await;
    assert_eq!(
        r.status, 400,
        "unsupported operators are refused, not ignored: {}",
        r.body
    );
}

// ---- date-versioned paths ----

/// The object paths of each dialect: legacy, 2026-03, 2026-09.
const OBJECTS: [&str; 3] = [
    "/crm/v3/objects",
    "/crm/objects/2026-03",
    "/crm/objects/2026-09",
];

/// Every required field of `schema` (a 2026-09 `required` list) is present in `v`.
fn has_required(v: &Value, required: &[&str]) {
    for field in required {
        assert!(v.get(field).is_some(), "{field} missing from {v}");
    }
}

const SIMPLE_PUBLIC_OBJECT: &[&str] = &["archived", "createdAt", "id", "properties", "updatedAt"];
const BATCH_RESPONSE: &[&str] = &["completedAt", "results", "startedAt", "status"];

#[tokio::test]
async fn objects_answer_on_2026_09() {
    let s = server().await;
    s.setup().await;
    let o = "/crm/objects/2026-09";
    let r = s
        .post(
            &format!("{o}/companies/batch/upsert"),
            json!({"inputs": [{"id": "acct-1", "idProperty": "plg_account_id", "properties": {"name": "Acme"}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    has_required(&r.body, BATCH_RESPONSE);
    has_required(&r.body["results"][0], SIMPLE_PUBLIC_OBJECT);
    assert_eq!(r.body["results"][0]["new"], true);
    let company = r.body["results"][0]["id"].as_str().unwrap().to_string();

    let r = s
        .post(
            &format!("{o}/0-3/batch/create"),
            json!({"inputs": [{"properties": {"dealname": "D", "amount": "10"}, "associations": [
                {"to": {"id": company}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341}]}]}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    has_required(&r.body, BATCH_RESPONSE);
    let deal = r.body["results"][0]["id"].as_str().unwrap().to_string();

    let r = s
        .post(
            &format!("{o}/deals/batch/update"),
            json!({"inputs": [{"id": deal, "properties": {"amount": "20"}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["results"][0]["properties"]["amount"], "20");

    let r = s
        .post(
            &format!("{o}/deals/batch/read"),
            json!({"inputs": [{"id": deal}], "properties": ["amount"], "propertiesWithHistory": []}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["results"][0]["properties"]["amount"], "20");
    assert!(r.body.get("errors").is_none());

    let r = s
        .post(
            &format!("{o}/companies/search"),
            json!({"filterGroups": [{"filters": [{"propertyName": "plg_account_id", "operator": "EQ", "value": "acct-1"}]}],
                   "properties": ["name"], "sorts": [], "limit": 10, "after": "0"}),
        )
        .await;
    assert_eq!((r.status, &r.body["total"]), (200, &json!(1)), "{}", r.body);

    let r = s
        .post(
            &format!("{o}/contacts"),
            json!({"properties": {"email": "one@example.com"}, "associations": []}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    has_required(&r.body, SIMPLE_PUBLIC_OBJECT);
    let contact = r.body["id"].as_str().unwrap().to_string();
    let r = s
        .patch(
            &format!("{o}/contacts/{contact}"),
            json!({"properties": {"firstname": "Una"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .get(&format!("{o}/0-1/{contact}?properties=firstname"))
        .await;
    assert_eq!(r.body["properties"]["firstname"], "Una", "{}", r.body);
    let r = s.get(&format!("{o}/contacts?limit=5")).await;
    assert_eq!(r.body["results"][0]["id"], contact.as_str(), "{}", r.body);
}

#[tokio::test]
async fn schema_and_associations_answer_on_2026_09() {
    let s = server().await;
    let v = "2026-09";
    // Properties and groups.
    let r = s
        .post(
            &format!("/crm/properties/{v}/companies/groups"),
            json!({"name": "pqlsync", "label": "PQL scoring"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    has_required(&r.body, &["archived", "label", "name"]);
    let r = s
        .post(
            &format!("/crm/properties/{v}/0-2"),
            json!({"name": "plg_account_id", "label": "Key", "type": "string", "fieldType": "text",
                   "groupName": "pqlsync", "hasUniqueValue": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let property = &[
        "description",
        "fieldType",
        "groupName",
        "label",
        "name",
        "options",
        "type",
    ];
    has_required(&r.body, property);
    let r = s
        .get(&format!("/crm/properties/{v}/companies/plg_account_id"))
        .await;
    assert_eq!(r.body["hasUniqueValue"], true, "{}", r.body);
    let r = s.get(&format!("/crm/properties/{v}/companies")).await;
    for p in r.body["results"].as_array().unwrap() {
        has_required(p, property);
    }
    let r = s
        .get(&format!("/crm/properties/{v}/companies/groups"))
        .await;
    assert!(
        r.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "pqlsync")
    );

    // Pipelines and stages, every stage with writePermissions (required from 2026-03 on).
    let stage = &[
        "archived",
        "createdAt",
        "displayOrder",
        "id",
        "label",
        "metadata",
        "updatedAt",
        "writePermissions",
    ];
    let r = s.get(&format!("/crm/pipelines/{v}/deals")).await;
    assert_eq!(r.status, 200);
    for p in r.body["results"].as_array().unwrap() {
        has_required(
            p,
            &[
                "archived",
                "createdAt",
                "displayOrder",
                "id",
                "label",
                "stages",
                "updatedAt",
            ],
        );
        for st in p["stages"].as_array().unwrap() {
            has_required(st, stage);
            assert_eq!(st["writePermissions"], "CRM_PERMISSIONS_ENFORCEMENT");
        }
    }
    let r = s
        .post(
            &format!("/crm/pipelines/{v}/0-3"),
            json!({"label": "PLG", "displayOrder": 1, "stages": [
                {"label": "Trial", "displayOrder": 0, "metadata": {"probability": "0.1"}}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["stages"][0]["writePermissions"],
        "CRM_PERMISSIONS_ENFORCEMENT"
    );
    let pid = r.body["id"].as_str().unwrap().to_string();
    let r = s
        .post(
            &format!("/crm/pipelines/{v}/deals/{pid}/stages"),
            json!({"label": "Won", "displayOrder": 1, "metadata": {"probability": "1.0"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    has_required(&r.body, stage);
    let r = s
        .get(&format!("/crm/pipelines/{v}/deals/{pid}/stages"))
        .await;
    assert_eq!(r.body["results"].as_array().unwrap().len(), 2);
    let r = s
        .get(&format!("/crm/pipelines/{v}/leads/lead-pipeline-id"))
        .await;
    assert_eq!(
        r.body["stages"][0]["writePermissions"],
        "CRM_PERMISSIONS_ENFORCEMENT"
    );

    // Owners.
    let r = s
        .get(&format!("/crm/owners/{v}?email=JANE.DOE@example.com"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    has_required(
        &r.body["results"][0],
        &["archived", "createdAt", "id", "type", "updatedAt"],
    );
    let r = s.get(&format!("/crm/owners/{v}/70000002")).await;
    assert_eq!(r.body["email"], "max.mustermann@example.com");

    // Associations: labels, default associations in batch and one by one, reads.
    let r = s
        .get(&format!("/crm/associations/{v}/contacts/companies/labels"))
        .await;
    assert_eq!(r.status, 200);
    for l in r.body["results"].as_array().unwrap() {
        has_required(l, &["category", "typeId"]);
    }
    let contact = s.contact("a@example.com").await;
    let company = s
        .post(
            &format!("/crm/objects/{v}/companies"),
            json!({"properties": {"name": "Acme"}, "associations": []}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s
        .post(
            &format!("/crm/associations/{v}/contacts/companies/batch/associate/default"),
            json!({"inputs": [{"from": {"id": contact}, "to": {"id": company}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    has_required(&r.body, BATCH_RESPONSE);
    has_required(&r.body["results"][0], &["associationSpec", "from", "to"]);
    let r = s
        .put(
            &format!("/crm/objects/{v}/companies/{company}/associations/default/0-1/{contact}"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .post(
            &format!("/crm/associations/{v}/companies/contacts/batch/read"),
            json!({"inputs": [{"id": company}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["results"][0]["to"][0]["toObjectId"],
        contact.as_str()
    );
    has_required(
        &r.body["results"][0]["to"][0],
        &["associationTypes", "toObjectId"],
    );
    // 2026-09 has no GET of one record's associations; 2026-03 and v4 do.
    let r = s
        .get(&format!(
            "/crm/objects/{v}/companies/{company}/associations/contacts"
        ))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    for path in [
        format!("/crm/objects/2026-03/companies/{company}/associations/contacts"),
        format!("/crm/v4/objects/companies/{company}/associations/contacts"),
    ] {
        let r = s.get(&path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.body["results"][0]["toObjectId"], contact.as_str());
    }
}

#[tokio::test]
async fn partial_batches_are_200_on_2026_09_and_207_before() {
    let s = server().await;
    s.setup().await;
    let id = s.company("acct-1").await;
    for (objects, status) in OBJECTS.iter().zip([207, 207, 200]) {
        let body = json!({"inputs": [{"id": id}, {"id": "424242"}], "properties": ["name"],
                          "propertiesWithHistory": []});
        let r = s
            .post(&format!("{objects}/companies/batch/read"), body)
            .await;
        assert_eq!(r.status, status, "{objects}: {}", r.body);
        assert_eq!(r.body["numErrors"], 1, "{objects}");
        assert_eq!(r.body["errors"][0]["context"]["ids"], json!(["424242"]));
        has_required(
            &r.body["errors"][0],
            &[
                "category", "context", "errors", "links", "message", "status",
            ],
        );
        assert_eq!(r.body["results"][0]["id"], id.as_str());

        let body = json!({"inputs": [{"id": id, "properties": {"name": "N"}}, {"id": "5", "properties": {"name": "X"}}]});
        let r = s
            .post(&format!("{objects}/companies/batch/update"), body)
            .await;
        assert_eq!(r.status, status, "{objects}: {}", r.body);
        assert_eq!(r.body["numErrors"], 1);
    }
    let contact = s.contact("p@example.com").await;
    for (associations, status) in [
        ("/crm/v4/associations", 207),
        ("/crm/associations/2026-03", 207),
        ("/crm/associations/2026-09", 200),
    ] {
        let r = s
            .post(
                &format!("{associations}/contacts/companies/batch/associate/default"),
                json!({"inputs": [{"from": {"id": contact}, "to": {"id": id}}, {"from": {"id": contact}, "to": {"id": "77"}}]}),
            )
            .await;
        assert_eq!(r.status, status, "{associations}: {}", r.body);
        assert_eq!(r.body["numErrors"], 1);
        let r = s
            .post(
                &format!("{associations}/contacts/companies/batch/read"),
                json!({"inputs": [{"id": contact}, {"id": "88"}]}),
            )
            .await;
        assert_eq!(r.status, status, "{associations}: {}", r.body);
        assert_eq!(r.body["numErrors"], 1);
    }
}

/// A rule on the company name and one on contact emails.
async fn set_rules(s: &Server) {
    let r = s
        .put(
            "/crm/property-validations/2026-09/0-2/name/rule-type/MAX_LENGTH",
            Some(json!({"ruleArguments": ["5"]})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.body, Value::Null);
    let r = s
        .put(
            "/crm/property-validations/2026-03/contacts/email/rule-type/EMAIL_BLOCKED_DOMAINS",
            Some(json!({"ruleArguments": ["gmail.com"], "shouldApplyNormalization": false})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

#[tokio::test]
async fn validation_rules_fail_2026_09_writes_only() {
    let s = server().await;
    s.setup().await;
    set_rules(&s).await;
    let batch = json!({"inputs": [
        {"id": "a1", "idProperty": "plg_account_id", "properties": {"name": "Acme"}},
        {"id": "a2", "idProperty": "plg_account_id", "properties": {"name": "Acme Corporation"}},
        {"id": "a3", "idProperty": "plg_account_id", "properties": {"name": "Initech Ltd"}}]});
    let r = s
        .post("/crm/objects/2026-09/companies/batch/upsert", batch.clone())
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["category"], "VALIDATION_ERROR");
    let m = r.body["message"].as_str().unwrap();
    assert!(m.starts_with("Property values were not valid: "), "{m}");
    assert!(
        m.contains("VALIDATION_RULE_VIOLATION") && m.contains("MAX_LENGTH"),
        "{m}"
    );
    let errors = r.body["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{}", r.body);
    for (e, (index, value)) in errors
        .iter()
        .zip([("1", "Acme Corporation"), ("2", "Initech Ltd")])
    {
        assert_eq!(e["code"], "VALIDATION_RULE_VIOLATION");
        assert_eq!(e["context"]["propertyName"], json!(["name"]));
        assert_eq!(e["context"]["ruleType"], json!(["MAX_LENGTH"]));
        assert_eq!(e["context"]["value"], json!([value]));
        assert_eq!(e["context"]["index"], json!([index]));
        assert!(e["message"].as_str().unwrap().contains(value), "{e}");
    }
    assert!(
        s.sandbox.dump()["objects"]["companies"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing of a refused batch is applied"
    );
    // Every other 2026-09 write is checked too.
    let r = s
        .post(
            "/crm/objects/2026-09/companies",
            json!({"properties": {"name": "Too long"}, "associations": []}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = s
        .post(
            "/crm/objects/2026-09/companies/batch/create",
            json!({"inputs": [{"properties": {"name": "Fine"}, "associations": []},
                              {"properties": {"name": "Not fine"}, "associations": []}]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["errors"][0]["context"]["index"], json!(["1"]));

    // The same batch passes on 2026-03 and on the legacy paths, which do not enforce rules.
    let r = s
        .post("/crm/objects/2026-03/companies/batch/upsert", batch.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .post("/crm/v3/objects/companies/batch/upsert", batch)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["results"][1]["id"].as_str().unwrap().to_string();
    let r = s
        .patch(
            &format!("/crm/objects/2026-09/companies/{id}"),
            json!({"properties": {"name": "Still too long"}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = s
        .post(
            "/crm/objects/2026-09/companies/batch/update",
            json!({"inputs": [{"id": id, "properties": {"name": "Short"}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "a valid value passes: {}", r.body);
    let r = s
        .post(
            "/crm/objects/2026-09/companies/batch/update",
            json!({"inputs": [{"id": id, "properties": {"name": ""}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "clearing a value is not checked: {}", r.body);

    // Contacts: a blocked email domain.
    let contacts = |user: &str| {
        json!({"inputs": [{"properties": {"email": format!("{user}@example.com")}, "associations": []},
                          {"properties": {"email": format!("{user}@gmail.com")}, "associations": []}]})
    };
    let r = s
        .post(
            "/crm/objects/2026-09/contacts/batch/create",
            contacts("pat"),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["errors"].as_array().unwrap().len(), 1, "{}", r.body);
    assert_eq!(r.body["errors"][0]["context"]["index"], json!(["1"]));
    assert_eq!(
        r.body["errors"][0]["context"]["ruleType"],
        json!(["EMAIL_BLOCKED_DOMAINS"])
    );
    assert_eq!(
        r.body["errors"][0]["context"]["propertyName"],
        json!(["email"])
    );
    let r = s
        .post(
            "/crm/objects/2026-03/contacts/batch/create",
            contacts("pat"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .post("/crm/v3/objects/contacts/batch/create", contacts("sam"))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn validation_rules_are_set_one_type_at_a_time_and_listed() {
    let s = server().await;
    set_rules(&s).await;
    let v = "/crm/property-validations/2026-09";
    // A second rule on the name leaves the first alone; a PUT of the same type replaces it.
    for (rule, args) in [("WHITESPACE", json!([])), ("MAX_LENGTH", json!(["8"]))] {
        let r = s
            .put(
                &format!("{v}/companies/name/rule-type/{rule}"),
                Some(json!({ "ruleArguments": args })),
            )
            .await;
        assert_eq!(r.status, 204, "{rule}: {}", r.body);
    }
    let rules = json!([
        {"ruleType": "MAX_LENGTH", "ruleArguments": ["8"], "shouldApplyNormalization": false},
        {"ruleType": "WHITESPACE", "ruleArguments": [], "shouldApplyNormalization": false},
    ]);
    for path in [
        format!("{v}/0-2/name"),
        "/crm/property-validations/2026-03/companies/name".to_string(),
        "/crm/v3/property-validations/0-2/name".to_string(),
    ] {
        let r = s.get(&path).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert_eq!(r.body["results"], rules, "{path}");
    }
    let r = s.get(&format!("{v}/companies")).await;
    assert_eq!(
        r.body,
        json!({"results": [{"propertyName": "name", "propertyValidationRules": rules}]}),
        "only properties with rules are listed"
    );
    let r = s.get(&format!("{v}/0-1")).await;
    assert_eq!(r.body["results"][0]["propertyName"], "email");
    let r = s.get(&format!("{v}/deals")).await;
    assert_eq!(r.body, json!({"results": []}));
    let r = s
        .get(&format!("{v}/companies/name/rule-type/MAX_LENGTH"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, rules[0]);
    let r = s
        .get(&format!("{v}/companies/name/rule-type/MIN_LENGTH"))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    let r = s.get(&format!("{v}/companies/domain")).await;
    assert_eq!((r.status, &r.body["results"]), (200, &json!([])));

    // Refused: rule types the sandbox does not enforce, unknown types, bad arguments,
    // unknown properties.
    let s = &s;
    let put = |path: String, body: Value| async move { s.put(&path, Some(body)).await };
    let r = put(
        format!("{v}/companies/name/rule-type/REGEX"),
        json!({"ruleArguments": ["^A"]}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["category"], "VALIDATION_ERROR");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("does not enforce REGEX"),
        "{}",
        r.body
    );
    let r = put(
        format!("{v}/companies/name/rule-type/SHOUTING"),
        json!({"ruleArguments": []}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = put(
        format!("{v}/companies/name/rule-type/MAX_LENGTH"),
        json!({"ruleArguments": ["-3"]}),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("non-negative integer")
    );
    let r = put(
        format!("{v}/companies/name/rule-type/MAX_NUMBER"),
        json!({"ruleArguments": ["3"]}),
    )
    .await;
    assert_eq!(
        r.status, 400,
        "number rules need number properties: {}",
        r.body
    );
    let r = put(
        format!("{v}/companies/no_such/rule-type/MAX_LENGTH"),
        json!({"ruleArguments": ["3"]}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.body["category"], "OBJECT_NOT_FOUND");
    assert_eq!(s.get(&format!("{v}/companies/no_such")).await.status, 404);
    assert_eq!(s.get(&format!("{v}/tickets")).await.status, 400);
    // Nothing refused was stored.
    assert_eq!(
        s.get(&format!("{v}/companies/name")).await.body["results"],
        rules
    );
    assert_eq!(
        s.sandbox.dump()["validationRules"]["companies"]["name"],
        rules
    );
}

#[tokio::test]
async fn unknown_versions_answer_404_naming_the_supported_ones() {
    let s = server().await;
    for (method, path) in [
        (reqwest::Method::GET, "/crm/objects/2025-09/deals"),
        (
            reqwest::Method::POST,
            "/crm/objects/2027-03/deals/batch/upsert",
        ),
        (reqwest::Method::GET, "/crm/owners/2025-09"),
        (
            reqwest::Method::GET,
            "/crm/property-validations/2026-01/0-1",
        ),
    ] {
        let r = s
            .send(
                method.clone(),
                path,
                Some(json!({"inputs": []})),
                Some(TOKEN),
            )
            .await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
        assert_eq!(r.body["status"], "error");
        assert_eq!(r.body["category"], "RESOURCE_NOT_FOUND");
        let m = r.body["message"].as_str().unwrap();
        assert!(m.contains("2026-03") && m.contains("2026-09"), "{m}");
        assert_eq!(
            r.body["context"]["supportedVersions"],
            json!(["2026-03", "2026-09"])
        );
    }
    // A supported version without that endpoint is an ordinary 404; a known path with the
    // wrong method a 405.
    let r = s.get("/crm/objects/2026-09/deals/1/nothing").await;
    assert_eq!(r.status, 404);
    assert!(r.body["context"].get("supportedVersions").is_none());
    let r = s
        .send(
            reqwest::Method::DELETE,
            "/crm/owners/2026-09",
            None,
            Some(TOKEN),
        )
        .await;
    assert_eq!(r.status, 405, "{}", r.body);
}

#[tokio::test]
async fn stats_and_garble_work_on_dated_routes() {
    let s = server().await;
    s.setup().await;
    s.post(
        "/crm/objects/2026-09/0-3/batch/upsert",
        json!({"inputs": [{"id": "t", "idProperty": "plg_trial_id", "properties": {}}]}),
    )
    .await;
    s.post(
        "/crm/objects/2026-09/deals/batch/read",
        json!({"inputs": [{"id": "1"}], "properties": [], "propertiesWithHistory": []}),
    )
    .await;
    s.get("/crm/pipelines/2026-09/0-3").await;
    s.get("/crm/owners/2026-09").await;
    s.get("/crm/owners/2026-09/70000001").await;
    s.post(
        "/crm/associations/2026-09/0-1/0-2/batch/associate/default",
        json!({"inputs": []}),
    )
    .await;
    s.get("/crm/property-validations/2026-09/0-1").await;
    s.put(
        "/crm/property-validations/2026-09/0-2/name/rule-type/MAX_LENGTH",
        Some(json!({"ruleArguments": ["50"]})),
    )
    .await;
    let stats = s.admin("/_sandbox/stats").await;
    for key in [
        "POST /crm/objects/2026-09/deals/batch/upsert",
        "POST /crm/objects/2026-09/deals/batch/read",
        "GET /crm/pipelines/2026-09/deals",
        "GET /crm/owners/2026-09",
        "GET /crm/owners/2026-09/{ownerId}",
        "POST /crm/associations/2026-09/contacts/companies/batch/associate/default",
        "GET /crm/property-validations/2026-09/contacts",
        "PUT /crm/property-validations/2026-09/companies/{propertyName}/rule-type/MAX_LENGTH",
    ] {
        assert_eq!(stats["by_route"][key], 1, "{key}: {stats}");
    }
    // setup's 9 writes, the upsert, the association batch and the rule; not the read.
    assert_eq!(stats["writes"], 12, "{stats}");

    // Garbling by route key: the type by name matches a request by type id.
    let r = s
        .send(
            reqwest::Method::POST,
            "/_sandbox/garble",
            Some(json!({"route": "POST /crm/objects/2026-09/deals/batch/upsert", "times": 1})),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let upsert = || {
        s.http
            .post(format!("{}/crm/objects/2026-09/0-3/batch/upsert", s.base))
            .bearer_auth(TOKEN)
            .json(&json!({"inputs": [{"id": "t", "idProperty": "plg_trial_id", "properties": {}}]}))
            .send()
    };
    let resp = upsert().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.unwrap().contains("<html>"));
    let resp = upsert().await.unwrap();
    assert!(resp.text().await.unwrap().starts_with('{'));
    // And by an exact path, or refused when it is not `METHOD /path`.
    let r = s
        .send(
            reqwest::Method::POST,
            "/_sandbox/garble",
            Some(json!({"route": "/crm/owners/2026-09", "times": 1})),
            None,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[tokio::test]
async fn every_family_answers_on_every_dialect() {
    let s = server().await;
    for (objects, properties, pipelines, owners, associations, validations) in [
        (
            "/crm/v3/objects",
            "/crm/v3/properties",
            "/crm/v3/pipelines",
            "/crm/v3/owners",
            "/crm/v4/associations",
            "/crm/v3/property-validations",
        ),
        (
            "/crm/objects/2026-03",
            "/crm/properties/2026-03",
            "/crm/pipelines/2026-03",
            "/crm/owners/2026-03",
            "/crm/associations/2026-03",
            "/crm/property-validations/2026-03",
        ),
        (
            "/crm/objects/2026-09",
            "/crm/properties/2026-09",
            "/crm/pipelines/2026-09",
            "/crm/owners/2026-09",
            "/crm/associations/2026-09",
            "/crm/property-validations/2026-09",
        ),
    ] {
        for path in [
            format!("{objects}/companies"),
            format!("{objects}/0-3?limit=1"),
            format!("{properties}/0-2"),
            format!("{properties}/contacts/groups"),
            format!("{properties}/contacts/email"),
            format!("{pipelines}/0-136"),
            format!("{pipelines}/deals/default/stages"),
            owners.to_string(),
            format!("{owners}/70000001"),
            format!("{associations}/deals/contacts/labels"),
            format!("{validations}/0-1"),
            format!("{validations}/contacts/email"),
        ] {
            let r = s.get(&path).await;
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            assert!(r.body.is_object(), "{path}");
        }
    }
}

// ---- the sales team's edits, last-modified dates and HubSpot's search limits ----

impl Server {
    /// A `/_sandbox/*` POST (no token).
    async fn admin_post(&self, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body), None)
            .await
    }

    /// `POST /_sandbox/edit`, as a rep changing a record in HubSpot's UI.
    async fn edit(&self, body: Value) -> Reply {
        self.admin_post("/_sandbox/edit", body).await
    }

    /// One record's properties, read back over the API.
    async fn read(&self, object: &str, id: &str, properties: &str) -> Value {
        let r = self
            .get(&format!(
                "/crm/v3/objects/{object}/{id}?properties={properties}"
            ))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["properties"].clone()
    }

    async fn search(&self, object: &str, body: Value) -> Reply {
        self.post(&format!("/crm/v3/objects/{object}/search"), body)
            .await
    }
}

/// A timestamp as HubSpot writes them (RFC 3339 with milliseconds and `Z`), in epoch ms.
fn millis(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("not a timestamp: {v}"));
    assert!(
        s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.',
        "not HubSpot's datetime format: {s}"
    );
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_millis()
}

/// Long enough for the clock to move past the last write.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

fn ids(r: &Reply) -> Vec<String> {
    r.body["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {}", r.body))
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn last_modified_moves_on_every_write_and_is_searchable() {
    let s = server().await;
    let r = s
        .post(
            "/crm/v3/objects/deals",
            json!({"properties": {"dealname": "D", "amount": "10"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let deal = r.body["id"].as_str().unwrap().to_string();
    let created = millis(&r.body["properties"]["createdate"]);
    let mut modified = millis(&r.body["properties"]["hs_lastmodifieddate"]);
    assert_eq!(created, modified, "a new record was modified when created");

    // An API update (PATCH, batch update, upsert) moves it; createdate stays.
    tick().await;
    let r = s
        .patch(
            &format!("/crm/v3/objects/deals/{deal}"),
            json!({"properties": {"amount": "20"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let props = s
        .read("deals", &deal, "hs_lastmodifieddate,createdate,amount")
        .await;
    assert!(millis(&props["hs_lastmodifieddate"]) > modified, "{props}");
    assert_eq!(millis(&props["createdate"]), created);
    modified = millis(&props["hs_lastmodifieddate"]);
    tick().await;
    let r = s
        .post(
            "/crm/objects/2026-09/deals/batch/update",
            json!({"inputs": [{"id": deal, "properties": {"amount": "30"}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(millis(&r.body["results"][0]["properties"]["hs_lastmodifieddate"]) > modified);
    modified = millis(&r.body["results"][0]["properties"]["hs_lastmodifieddate"]);

    // So does an edit made as a person would; the answer is the record as a GET gives it.
    tick().await;
    let r = s
        .edit(json!({"object": "deals", "id": deal, "properties": {"dealstage": "closedlost"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], deal.as_str());
    assert_eq!(r.body["archived"], false);
    assert_eq!(r.body["properties"]["dealstage"], "closedlost");
    assert_eq!(r.body["properties"]["amount"], "30");
    let edited = &r.body["properties"]["hs_lastmodifieddate"];
    assert!(millis(edited) > modified, "{}", r.body);
    assert_eq!(millis(&r.body["updatedAt"]), millis(edited));
    // Readable through batch read, and searchable like any property.
    let r = s
        .post(
            "/crm/v3/objects/deals/batch/read",
            json!({"inputs": [{"id": deal}], "properties": ["hs_lastmodifieddate", "dealstage"], "propertiesWithHistory": []}),
        )
        .await;
    assert_eq!(
        r.body["results"][0]["properties"]["hs_lastmodifieddate"],
        *edited
    );
    let r = s
        .search(
            "deals",
            json!({"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "EQ", "value": millis(edited).to_string()}]}],
                   "properties": ["hs_lastmodifieddate"]}),
        )
        .await;
    assert_eq!((r.status, ids(&r)), (200, vec![deal.clone()]), "{}", r.body);

    // Contacts keep the legacy name, and an upsert that updates moves it too.
    let contact = s.contact("pat@example.com").await;
    let before =
        millis(&s.read("contacts", &contact, "lastmodifieddate").await["lastmodifieddate"]);
    tick().await;
    let r = s
        .post(
            "/crm/v3/objects/contacts/batch/upsert",
            json!({"inputs": [{"id": "pat@example.com", "idProperty": "email", "properties": {"lastname": "Lee"}}]}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["results"][0]["new"]),
        (200, &json!(false))
    );
    let after = millis(&s.read("contacts", &contact, "lastmodifieddate").await["lastmodifieddate"]);
    assert!(after > before, "{before} -> {after}");
    // Nobody writes it but HubSpot.
    let r = s
        .edit(json!({"object": "contacts", "id": contact, "properties": {"lastmodifieddate": "2020-01-01"}}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["errors"][0]["code"], "READ_ONLY_VALUE");
}

#[tokio::test]
async fn task_completion_date_is_set_and_cleared_with_the_status() {
    let s = server().await;
    let r = s
        .get("/crm/v3/properties/tasks/hs_task_completion_date")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["type"], "datetime");
    assert_eq!(r.body["modificationMetadata"]["readOnlyValue"], true);

    let r = s
        .post(
            "/crm/v3/objects/tasks",
            json!({"properties": {"hs_timestamp": "2026-01-05T09:00:00Z", "hs_task_subject": "Call",
                                  "hs_task_status": "NOT_STARTED"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let task = r.body["id"].as_str().unwrap().to_string();
    let props = "hs_task_status,hs_task_completion_date,hs_lastmodifieddate";
    assert_eq!(
        s.read("tasks", &task, props).await["hs_task_completion_date"],
        Value::Null
    );

    // A rep completes it: the completion date is the time of that write.
    tick().await;
    let r = s
        .edit(json!({"object": "0-27", "id": task, "properties": {"hs_task_status": "COMPLETED"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = s.read("tasks", &task, props).await;
    assert_eq!(done["hs_task_status"], "COMPLETED");
    assert_eq!(
        millis(&done["hs_task_completion_date"]),
        millis(&done["hs_lastmodifieddate"])
    );
    // Writing another property leaves it; completing again keeps the first date.
    tick().await;
    for properties in [
        json!({"hs_task_subject": "Call back"}),
        json!({"hs_task_status": "COMPLETED"}),
    ] {
        let r = s
            .patch(
                &format!("/crm/v3/objects/tasks/{task}"),
                json!({ "properties": properties }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            s.read("tasks", &task, props).await["hs_task_completion_date"],
            done["hs_task_completion_date"]
        );
    }
    // Reopened, it is cleared; completed again, it is the new time.
    let r = s
        .patch(
            &format!("/crm/v3/objects/tasks/{task}"),
            json!({"properties": {"hs_task_status": "IN_PROGRESS"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        s.read("tasks", &task, props).await["hs_task_completion_date"],
        Value::Null
    );
    tick().await;
    let r = s
        .edit(json!({"object": "tasks", "id": task, "properties": {"hs_task_status": "COMPLETED"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let again = millis(&r.body["properties"]["hs_task_completion_date"]);
    assert!(again > millis(&done["hs_task_completion_date"]));
    // Clearing the status clears it too.
    let r = s
        .edit(json!({"object": "tasks", "id": task, "properties": {"hs_task_status": ""}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["properties"]
            .get("hs_task_completion_date")
            .is_none(),
        "{}",
        r.body
    );

    // A task created completed has it from the start; nobody writes it but HubSpot.
    let r = s
        .post(
            "/crm/v3/objects/tasks",
            json!({"properties": {"hs_timestamp": "1767603600000", "hs_task_status": "COMPLETED"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        millis(&r.body["properties"]["hs_task_completion_date"]),
        millis(&r.body["properties"]["createdate"])
    );
    let r = s
        .patch(
            &format!("/crm/v3/objects/tasks/{task}"),
            json!({"properties": {"hs_task_completion_date": "1767603600000"}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["errors"][0]["code"], "READ_ONLY_VALUE");
}

#[tokio::test]
async fn edits_are_validated_like_api_updates_and_not_counted() {
    let s = server().await;
    s.setup().await;
    let r = s
        .post(
            "/crm/v3/objects/deals/batch/upsert",
            json!({"inputs": [{"id": "trial_1", "idProperty": "plg_trial_id", "properties": {"dealname": "Trial 1"}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let deal = r.body["results"][0]["id"].as_str().unwrap().to_string();
    s.send(reqwest::Method::POST, "/_sandbox/stats/reset", None, None)
        .await;
    let before = s.sandbox.dump()["objects"]["deals"].clone();

    let by_key = |properties: Value| json!({"object": "deals", "idProperty": "plg_trial_id", "id": "trial_1", "properties": properties});
    // Refused as an API update would be, with HubSpot's codes, and nothing changes.
    for (properties, code) in [
        (json!({"dealstage": "nowhere"}), "INVALID_OPTION"),
        (json!({"hubspot_owner_id": "1"}), "INVALID_OPTION"),
        (json!({"deal_mood": "grim"}), "PROPERTY_DOESNT_EXIST"),
        (json!({"amount": "lots"}), "INVALID_INTEGER"),
        (json!({"hs_object_id": "5"}), "READ_ONLY_VALUE"),
    ] {
        let r = s.edit(by_key(properties.clone())).await;
        assert_eq!(r.status, 400, "{properties}: {}", r.body);
        assert!(
            r.body["message"]
                .as_str()
                .unwrap()
                .starts_with("Property values were not valid"),
            "{}",
            r.body
        );
        assert_eq!(r.body["errors"][0]["code"], code, "{}", r.body);
    }
    let r = s.edit(by_key(json!({"amount": 5}))).await;
    assert_eq!(
        r.status, 400,
        "values are strings, as in the API: {}",
        r.body
    );
    assert_eq!(s.sandbox.dump()["objects"]["deals"], before);

    // Not found: 404 naming what was looked for.
    let r = s
        .edit(json!({"object": "deals", "idProperty": "plg_trial_id", "id": "trial_9", "properties": {"dealstage": "closedlost"}}))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("trial_9"),
        "{}",
        r.body
    );
    let r = s
        .edit(json!({"object": "0-3", "id": "99999999", "properties": {"dealstage": "closedlost"}}))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // Requests the sandbox cannot read are refused, plainly.
    for bad in [
        json!({"object": "tickets", "id": deal, "properties": {"subject": "x"}}),
        json!({"object": "deals", "id": deal, "properties": {}}),
        json!({"object": "deals", "id": deal}),
        json!({"object": "deals", "id": deal, "properties": {"dealstage": "closedlost"}, "archived": true}),
    ] {
        let r = s.edit(bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.body["status"], "error");
    }

    // A valid edit by the unique key, then by record id and type id.
    let r = s
        .edit(by_key(
            json!({"dealstage": "closedlost", "hubspot_owner_id": "70000002"}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["id"], deal.as_str());
    assert_eq!(r.body["properties"]["dealstage"], "closedlost");
    assert_eq!(r.body["properties"]["hubspot_owner_id"], "70000002");
    assert_eq!(r.body["properties"]["plg_trial_id"], "trial_1");
    let r = s
        .edit(json!({"object": "0-3", "id": deal, "properties": {"amount": "1200"}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let props = s
        .read("deals", &deal, "dealstage,amount,hubspot_owner_id")
        .await;
    assert_eq!(
        (
            &props["dealstage"],
            &props["amount"],
            &props["hubspot_owner_id"]
        ),
        (&json!("closedlost"), &json!("1200"), &json!("70000002"))
    );

    // Edits are not API requests: not counted (the read above is the only one), not limited.
    let stats = s.admin("/_sandbox/stats").await;
    assert_eq!(stats["requests"], 1, "{stats}");
    assert_eq!(stats["writes"], 0, "{stats}");
}

/// A search request that matches anything.
fn any_search() -> Value {
    json!({"filterGroups": [], "properties": ["name"], "sorts": [], "limit": 1, "after": "0"})
}

#[tokio::test]
async fn the_sixth_search_within_a_second_is_refused_with_secondly() {
    let s = server().await;
    // Six searches must arrive within one second for the sixth to be refused; on a loaded
    // machine a round may take longer, so a round counts only when it was that fast
    // (measured around it, so the server saw it in less). The admin route clears the counters.
    let mut refused = None;
    for _ in 0..20 {
        let r = s
            .admin_post("/_sandbox/limits", json!({"search_per_second": 5}))
            .await;
        assert_eq!(r.body["search_per_second"], 5, "{}", r.body);
        let started = std::time::Instant::now();
        let mut statuses = Vec::new();
        let mut last = None;
        for _ in 0..6 {
            let r = s.search("companies", any_search()).await;
            statuses.push(r.status);
            last = Some(r);
        }
        if started.elapsed() < Duration::from_millis(950) {
            assert_eq!(statuses, [200, 200, 200, 200, 200, 429]);
            refused = last;
            break;
        }
    }
    let r = refused.expect("six searches never fit in one second");
    assert_eq!(r.body["status"], "error");
    assert_eq!(r.body["errorType"], "RATE_LIMIT");
    assert_eq!(r.body["policyName"], "SECONDLY");
    assert_eq!(r.body["message"], "You have reached your secondly limit.");
    assert!(r.body["correlationId"].as_str().unwrap().len() == 36);
    assert!(r.body.get("category").is_none());
    assert_eq!(header(&r, "retry-after").as_deref(), Some("1"));
    // Other requests are not held by it.
    assert_eq!(s.get("/crm/v3/owners").await.status, 200);
    // A second after the admitted ones, searches pass again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = s.search("companies", any_search()).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The limit can be turned off, and set no lower than 1.
    let r = s
        .admin_post("/_sandbox/limits", json!({"search_per_second": null}))
        .await;
    assert_eq!(
        (r.status, &r.body["search_per_second"]),
        (200, &Value::Null)
    );
    for _ in 0..12 {
        assert_eq!(s.search("companies", any_search()).await.status, 200);
    }
    let r = s
        .admin_post("/_sandbox/limits", json!({"search_per_second": 0}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    // Other fields leave it as it is.
    let r = s
        .admin_post("/_sandbox/limits", json!({"requests_per_10s": 10000}))
        .await;
    assert_eq!(
        (r.status, &r.body["search_per_second"]),
        (200, &Value::Null)
    );
}

#[tokio::test]
async fn searches_are_exempt_from_the_ten_second_window() {
    // The specs mark the search endpoints `x-hubspot-rate-limit-exemptions: ["ten-secondly"]`.
    let s = start(SandboxConfig {
        requests_per_10s: 3,
        daily_limit: Some(100),
        ..config()
    })
    .await;
    for _ in 0..5 {
        let r = s.search("companies", any_search()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            header(&r, "x-hubspot-ratelimit-remaining").as_deref(),
            Some("3")
        );
    }
    for _ in 0..3 {
        assert_eq!(s.get("/crm/v3/owners").await.status, 200);
    }
    let r = s.get("/crm/v3/owners").await;
    assert_eq!(r.body["policyName"], "TEN_SECONDLY_ROLLING", "{}", r.body);
    // The daily budget counts every search.
    assert_eq!(
        header(&r, "x-hubspot-ratelimit-daily-remaining").as_deref(),
        Some("92")
    );
}

#[tokio::test]
async fn searches_reach_10000_results_and_no_further() {
    let s = server().await;
    for batch in 0..101 {
        let inputs: Vec<Value> = (0..100)
            .map(|i| json!({"properties": {"name": format!("C{}", batch * 100 + i)}, "associations": []}))
            .collect();
        let r = s
            .post(
                "/crm/v3/objects/companies/batch/create",
                json!({ "inputs": inputs }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let page = |after: &str, limit: u32| json!({"filterGroups": [], "properties": ["name"], "sorts": [], "limit": limit, "after": after});
    // Pages of at most 200.
    let r = s.search("companies", page("0", 201)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = s.search("companies", page("0", 200)).await;
    assert_eq!((r.status, ids(&r).len()), (200, 200));
    // The last page within 10,000 stops at the 10,000th result; the next is refused.
    let r = s.search("companies", page("9900", 200)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["total"], 10_100);
    assert_eq!(ids(&r).len(), 100);
    let next = r.body["paging"]["next"]["after"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(next, "10000");
    let r = s.search("companies", page(&next, 200)).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["category"], "VALIDATION_ERROR");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("limited to 10000 total results"),
        "{}",
        r.body
    );
    // A query that matches fewer is paged to its end as usual.
    let r = s
        .search(
            "companies",
            json!({"filterGroups": [{"filters": [{"propertyName": "name", "operator": "IN", "values": ["C1", "C2", "C3"]}]}],
                   "properties": ["name"], "limit": 2, "after": "2"}),
        )
        .await;
    assert_eq!((r.status, ids(&r).len()), (200, 1), "{}", r.body);
    assert!(r.body.get("paging").is_none());
}

#[tokio::test]
async fn range_filters_and_sorts_find_what_reps_changed() {
    // This test searches many times in a row: its own search limit keeps it clear of HubSpot's.
    let s = start(SandboxConfig {
        search_per_second: Some(1_000),
        ..config()
    })
    .await;
    let inputs: Vec<Value> = ["A", "B", "C", "D"]
        .iter()
        .zip(["100", "250", "400", ""])
        .map(|(name, amount)| {
            let mut properties = json!({"dealname": name});
            if !amount.is_empty() {
                properties["amount"] = json!(amount);
            }
            json!({"properties": properties, "associations": []})
        })
        .collect();
    let r = s
        .post(
            "/crm/v3/objects/deals/batch/create",
            json!({ "inputs": inputs }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let mut deals: Vec<(String, String)> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["properties"]["dealname"].as_str().unwrap().to_string(),
                d["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    deals.sort();
    let id = |name: &str| deals.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let synced = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| millis(&d["properties"]["hs_lastmodifieddate"]))
        .max()
        .unwrap();
    // After the sync, reps edit D, then B.
    let since = synced + 1;
    tick().await;
    for name in ["D", "B"] {
        let r = s
            .edit(json!({"object": "deals", "id": id(name), "properties": {"dealstage": "closedlost"}}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        tick().await;
    }
    let changed_since = |value: String, sort: Value| {
        json!({"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": value}]}],
               "properties": ["hs_lastmodifieddate", "dealstage"], "sorts": sort, "limit": 100, "after": "0"})
    };
    let ascending = json!([{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}]);
    let r = s
        .search("deals", changed_since(since.to_string(), ascending.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ids(&r), [id("D"), id("B")]);
    assert_eq!(r.body["total"], 2);
    // The same instant in ISO 8601; descending, in both of HubSpot's sort shapes.
    let iso = chrono::DateTime::from_timestamp_millis(since)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let r = s
        .search("deals", changed_since(iso.clone(), ascending))
        .await;
    assert_eq!(ids(&r), [id("D"), id("B")], "{}", r.body);
    for descending in [
        json!([{"propertyName": "hs_lastmodifieddate", "direction": "DESCENDING"}]),
        json!(["-hs_lastmodifieddate"]),
    ] {
        let r = s
            .search("deals", changed_since(iso.clone(), descending))
            .await;
        assert_eq!(ids(&r), [id("B"), id("D")], "{}", r.body);
    }
    // The records nobody touched, by ascending id when no sort is given.
    let r = s
        .search(
            "deals",
            json!({"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "LT", "value": since.to_string()}]}]}),
        )
        .await;
    assert_eq!(ids(&r), [id("A"), id("C")], "{}", r.body);

    // Numbers compare as numbers; BETWEEN includes both ends; unset values match no range.
    let range = |filter: Value| json!({"filterGroups": [{"filters": [filter]}], "limit": 10});
    for (filter, expected) in [
        (
            json!({"propertyName": "amount", "operator": "GT", "value": "99.5"}),
            vec!["A", "B", "C"],
        ),
        (
            json!({"propertyName": "amount", "operator": "BETWEEN", "value": "100", "highValue": "250"}),
            vec!["A", "B"],
        ),
        (
            json!({"propertyName": "amount", "operator": "LTE", "value": "1e2"}),
            vec!["A"],
        ),
        (
            json!({"propertyName": "hs_object_id", "operator": "GT", "value": id("B")}),
            vec!["C", "D"],
        ),
    ] {
        let r = s.search("deals", range(filter.clone())).await;
        let names: Vec<String> = expected.iter().map(|n| id(n)).collect();
        assert_eq!(ids(&r), names, "{filter}: {}", r.body);
    }
    // Sorting by a number puts unset values last, either way.
    for (direction, expected) in [
        ("ASCENDING", ["A", "B", "C", "D"]),
        ("DESCENDING", ["C", "B", "A", "D"]),
    ] {
        let r = s
            .search(
                "deals",
                json!({"sorts": [{"propertyName": "amount", "direction": direction}], "limit": 10}),
            )
            .await;
        let names: Vec<String> = expected.iter().map(|n| id(n)).collect();
        assert_eq!(ids(&r), names, "{direction}: {}", r.body);
    }

    // What the sandbox cannot answer faithfully is refused.
    for bad in [
        range(json!({"propertyName": "dealname", "operator": "GT", "value": "B"})),
        range(json!({"propertyName": "amount", "operator": "GTE", "value": "many"})),
        range(json!({"propertyName": "closedate", "operator": "LT", "value": "tomorrow"})),
        range(json!({"propertyName": "nope", "operator": "LT", "value": "1"})),
        range(json!({"propertyName": "amount", "operator": "BETWEEN", "value": "1"})),
        range(json!({"propertyName": "dealname", "operator": "CONTAINS_TOKEN", "value": "A"})),
        json!({"sorts": [{"propertyName": "nope"}]}),
        json!({"sorts": ["amount", "dealname"]}),
    ] {
        let r = s.search("deals", bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.body["category"], "VALIDATION_ERROR");
    }
}

// ---- a token revoked, or without some scopes, while a client runs ----

/// HubSpot's 401, whatever made the token fail.
fn assert_unauthorized(r: &Reply) {
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(r.body["category"], "INVALID_AUTHENTICATION");
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Authentication credentials not found."),
        "{}",
        r.body
    );
    assert!(header(r, "x-hubspot-ratelimit-remaining").is_none());
}

#[tokio::test]
async fn a_revoked_token_works_for_the_requests_left_then_answers_401() {
    let s = server().await;
    let r = s.admin_post("/_sandbox/revoke", json!({"after": 2})).await;
    assert_eq!((r.status, &r.body), (200, &json!({"after": 2})));
    assert_eq!(s.get("/crm/v3/owners").await.status, 200);
    assert_eq!(s.get("/crm/objects/2026-09/companies").await.status, 200);
    // From the third on, every API request is refused, writes with nothing applied.
    assert_unauthorized(&s.get("/crm/v3/owners").await);
    let r = s
        .post(
            "/crm/objects/2026-09/contacts",
            json!({"properties": {"email": "late@example.com"}}),
        )
        .await;
    assert_unauthorized(&r);
    assert_eq!(s.sandbox.dump()["objects"]["contacts"], json!([]));
    // Unknown paths too, as for a wrong token; the admin routes still answer.
    assert_unauthorized(&s.get("/crm/v3/nothing").await);
    let stats = s.admin("/_sandbox/stats").await;
    assert_eq!(
        (&stats["requests"], &stats["unauthorized"]),
        (&json!(5), &json!(3))
    );

    // `null` restores the token; 0 revokes it at once.
    let r = s
        .admin_post("/_sandbox/revoke", json!({"after": null}))
        .await;
    assert_eq!((r.status, &r.body), (200, &json!({"after": null})));
    for _ in 0..3 {
        assert_eq!(s.get("/crm/v3/owners").await.status, 200);
    }
    s.admin_post("/_sandbox/revoke", json!({"after": 0})).await;
    assert_unauthorized(&s.get("/crm/v3/pipelines/deals").await);

    // `after` must be given, as a count or null.
    for bad in [
        json!({}),
        json!({"after": -1}),
        json!({"after": 1, "at": 2}),
    ] {
        let r = s.admin_post("/_sandbox/revoke", bad.clone()).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert_eq!(r.body["status"], "error");
    }
}

/// A lead batch create, associated with `contact` as HubSpot requires.
fn lead_create(contact: &str) -> Value {
    json!({"inputs": [{"properties": {"hs_lead_name": "Acme"}, "associations": [
        {"to": {"id": contact}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 578}]}
    ]}]})
}

#[tokio::test]
async fn a_token_without_a_scope_gets_403_for_what_needs_it_only() {
    let s = server().await;
    s.setup().await;
    let contact = s.contact("pat@example.com").await;
    let r = s
        .admin_post(
            "/_sandbox/scopes",
            json!({"missing": ["crm.objects.leads.write"]}),
        )
        .await;
    assert_eq!(
        (r.status, &r.body),
        (200, &json!({"missing": ["crm.objects.leads.write"]}))
    );

    let r = s
        .post(
            "/crm/objects/2026-09/leads/batch/create",
            lead_create(&contact),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["status"], "error");
    assert_eq!(r.body["category"], "MISSING_SCOPES");
    assert_eq!(
        r.body["message"],
        "This app hasn't been granted all required scopes to make this call. Read more about \
         required scopes here: https://developers.hubspot.com/scopes."
    );
    assert_eq!(
        r.body["errors"][0]["message"],
        "One or more of the following scopes are required."
    );
    assert_eq!(
        r.body["errors"][0]["context"]["requiredGranularScopes"],
        json!(["crm.objects.leads.write"])
    );
    assert_eq!(
        r.body["links"]["scopes"],
        "https://developers.hubspot.com/scopes"
    );
    assert_eq!(r.body["correlationId"].as_str().unwrap().len(), 36);
    assert!(header(&r, "x-hubspot-ratelimit-remaining").is_none());
    assert_eq!(s.sandbox.dump()["objects"]["leads"], json!([]));
    // On every dialect, by name or type id.
    let r = s
        .post("/crm/v3/objects/0-136/batch/create", lead_create(&contact))
        .await;
    assert_eq!(r.status, 403, "{}", r.body);

    // What needs another scope goes on: companies, and reading leads.
    let r = s
        .post(
            "/crm/v3/objects/companies/batch/upsert",
            json!({"inputs": [{"id": "acct-1", "idProperty": "plg_account_id", "properties": {"name": "Acme"}}]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s
        .post(
            "/crm/objects/2026-09/leads/search",
            json!({"filterGroups": [], "properties": [], "limit": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.get("/crm/v3/properties/leads").await.status, 200);
    assert_eq!(s.admin("/_sandbox/stats").await["missing_scopes"], 2);

    // A typo is refused; `[]` restores every scope.
    let r = s
        .admin_post(
            "/_sandbox/scopes",
            json!({"missing": ["crm.object.leads.write"]}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = s
        .admin_post("/_sandbox/scopes", json!({"missing": []}))
        .await;
    assert_eq!((r.status, &r.body), (200, &json!({"missing": []})));
    let r = s
        .post(
            "/crm/objects/2026-09/leads/batch/create",
            lead_create(&contact),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn refusals_for_the_token_or_its_scopes_are_not_rate_limited() {
    let s = server().await;
    s.admin_post(
        "/_sandbox/scopes",
        json!({"missing": ["crm.objects.owners.read"]}),
    )
    .await;
    let r = s
        .admin_post("/_sandbox/limits", json!({"requests_per_10s": 2}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    for _ in 0..3 {
        let r = s.get("/crm/owners/2026-09").await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert_eq!(
            r.body["errors"][0]["context"]["requiredGranularScopes"],
            json!(["crm.objects.owners.read"])
        );
    }
    // 401s before them, as ever.
    for _ in 0..3 {
        let r = s
            .send(reqwest::Method::GET, "/crm/v3/owners", None, Some("wrong"))
            .await;
        assert_unauthorized(&r);
    }
    // The window is untouched: two requests pass, the third is limited.
    let statuses = [
        s.get("/crm/v3/pipelines/deals").await.status,
        s.get("/crm/v3/pipelines/deals").await.status,
        s.get("/crm/v3/pipelines/deals").await.status,
    ];
    assert_eq!(statuses, [200, 200, 429]);
}

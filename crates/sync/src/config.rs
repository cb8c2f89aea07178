//! `[hubspot]`: where the sync writes (a portal, the sandbox, or offline recording), how hard
//! it may push (rate, concurrency, timeout, attempts), which objects it writes, and the PLG
//! pipeline and lifecycle mapping (stage labels by pqlsync stage), parsed and validated beside
//! the sync that uses them.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::lifecycle::scored_stages;
use pqlsync_core::setting::Invalid;
use pqlsync_hubspot::{ApiVersion, DEFAULT_BASE_URL, ObjectType, Secret};
use pqlsync_rules::route::{DealStage, LeadStage};

/// `[hubspot]`: where and how to sync. Without a token (`HUBSPOT_TOKEN` or `token_file`) and
/// without a base URL, `run` records the requests it would send to `out/hubspot/` instead.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubspotFile {
    /// API base URL (default `https://api.hubapi.com`); the `HUBSPOT_BASE_URL` environment
    /// variable overrides it. Point it at `pqlsync sandbox` to rehearse a sync locally.
    pub base_url: Option<String>,
    /// HubSpot API version: `2026-09` (default), `2026-03`, or `legacy` (the `/crm/v3` and
    /// `/crm/v4` paths HubSpot stops supporting in 2027; for portals or proxies that need them).
    pub api_version: Option<String>,
    /// File holding the Service Key or private app access token, used when `HUBSPOT_TOKEN` is
    /// not set.
    pub token_file: Option<String>,
    /// Requests allowed per rolling 10 seconds: 100 (Free/Starter) or 190 (Professional/Enterprise).
    pub requests_per_10s: Option<u32>,
    /// Requests in flight at once (default 4).
    pub max_concurrency: Option<usize>,
    /// Seconds before a request times out (default 30).
    pub timeout_secs: Option<u64>,
    /// Attempts per request before its records are reported as failed (default 8).
    pub max_attempts: Option<u32>,
    /// The longest wait before one retry, Retry-After included (default 60 s); HubSpot asking
    /// for longer stops the sync, state saved, instead of hanging the run.
    pub max_retry_wait_secs: Option<u64>,
    /// Object types to write (default all): companies, contacts, deals, leads, tasks.
    pub objects: Option<Vec<String>>,
    /// The trial deal pipeline and stages.
    #[serde(default)]
    pub deals: PipelineFile,
    /// The lead pipeline and stages.
    #[serde(default)]
    pub leads: PipelineFile,
    /// Lifecycle stage to move contacts and companies to, by lead stage (only ever forward).
    pub lifecycle_stages: Option<BTreeMap<String, String>>,
    /// PQL score at which an account's contacts and company reach a lifecycle stage, e.g.
    /// `{ marketingqualifiedlead = 60, salesqualifiedlead = 85 }`; combined with
    /// `lifecycle_stages` by taking the furthest, and only ever forward. `{}` turns it off.
    pub lifecycle_thresholds: Option<BTreeMap<String, u8>>,
}

/// `[hubspot.deals]` / `[hubspot.leads]`: a pipeline and its stages, each by label or id.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Pipeline label or id. Deals default to "PLG Trials"; leads to the portal's lead pipeline.
    pub pipeline: Option<String>,
    /// Stage label or id by pqlsync stage name (`trial_self_served`, … or `new`, `trial_red`, …).
    pub stages: Option<BTreeMap<String, String>>,
}

/// Where the sync writes.
#[derive(Debug, Clone)]
pub enum Target {
    /// A HubSpot portal (or the sandbox) at `base_url`.
    Portal { base_url: String, token: Secret },
    /// No portal configured: record the would-be requests to files.
    Offline,
}

/// The validated `[hubspot]`.
#[derive(Debug, Clone)]
pub struct HubspotConfig {
    pub target: Target,
    pub api_version: ApiVersion,
    pub requests_per_10s: u32,
    pub max_concurrency: usize,
    pub timeout: std::time::Duration,
    pub max_attempts: u32,
    pub max_retry_wait: std::time::Duration,
    pub objects: Vec<ObjectType>,
    pub deal_pipeline: String,
    pub deal_stages: BTreeMap<DealStage, String>,
    pub lead_pipeline: Option<String>,
    pub lead_stages: BTreeMap<LeadStage, String>,
    pub lifecycle: BTreeMap<LeadStage, String>,
    /// (PQL score, lifecycle stage), in lifecycle order.
    pub lifecycle_thresholds: Vec<(u8, String)>,
}

/// The deal stages' default labels (the PLG trial pipeline).
pub const DEFAULT_DEAL_STAGES: &[(DealStage, &str)] = &[
    (DealStage::TrialSelfServed, "Test Trial Self-Served"),
    (DealStage::TrialSalesAssisted, "Test Trial Sales-Assisted"),
    (DealStage::ClosedWon, "Closed Won"),
    (DealStage::ClosedLost, "Closed Lost"),
];

/// The lead stages' default labels.
pub const DEFAULT_LEAD_STAGES: &[(LeadStage, &str)] = &[
    (LeadStage::New, "New"),
    (LeadStage::Interested, "Interested"),
    (LeadStage::TrialRed, "Free Trial Active - Red"),
    (LeadStage::TrialYellow, "Free Trial Active - Yellow"),
    (LeadStage::TrialGreen, "Free Trial Active - Green"),
    (LeadStage::TrialEnded, "Trial Ended"),
    (LeadStage::SelfCheckedOut, "Self Checked Out"),
    (LeadStage::Disqualified, "Disqualified"),
];

/// Lifecycle stages by lead stage: a PQL in trial is a marketing-qualified lead, a Green one
/// sales-qualified, a self-checkout a customer. Trial Ended and Disqualified leave it alone.
pub const DEFAULT_LIFECYCLE: &[(LeadStage, &str)] = &[
    (LeadStage::New, "lead"),
    (LeadStage::Interested, "marketingqualifiedlead"),
    (LeadStage::TrialRed, "marketingqualifiedlead"),
    (LeadStage::TrialYellow, "marketingqualifiedlead"),
    (LeadStage::TrialGreen, "salesqualifiedlead"),
    (LeadStage::SelfCheckedOut, "customer"),
];

impl HubspotConfig {
    /// Validate `[hubspot]`. `base_url` is the file's, or `HUBSPOT_BASE_URL` when set; `token`
    /// is `HUBSPOT_TOKEN` or the contents of `token_file` (`config` reads both, so this stays
    /// free of the environment and the file system).
    pub fn from_file(
        file: &HubspotFile,
        base_url: Option<String>,
        token: Option<Secret>,
    ) -> Result<HubspotConfig, Invalid> {
        let positive = |key: &str, v: Option<u64>, default: u64| -> Result<u64, Invalid> {
            match v {
                Some(0) => Err(Invalid::new(format!("hubspot.{key}"), "must be at least 1")),
                Some(n) => Ok(n),
                None => Ok(default),
            }
        };
        let requests = positive(
            "requests_per_10s",
            file.requests_per_10s.map(u64::from),
            100,
        )?;
        let concurrency = positive("max_concurrency", file.max_concurrency.map(|n| n as u64), 4)?;
        let timeout = positive("timeout_secs", file.timeout_secs, 30)?;
        let attempts = positive("max_attempts", file.max_attempts.map(u64::from), 8)?;
        let max_wait = positive("max_retry_wait_secs", file.max_retry_wait_secs, 60)?;
        Ok(HubspotConfig {
            target: target(base_url, token)?,
            api_version: api_version(file.api_version.as_deref())?,
            requests_per_10s: requests as u32,
            max_concurrency: concurrency as usize,
            timeout: std::time::Duration::from_secs(timeout),
            max_attempts: attempts as u32,
            max_retry_wait: std::time::Duration::from_secs(max_wait),
            objects: objects(file.objects.as_deref())?,
            deal_pipeline: file
                .deals
                .pipeline
                .clone()
                .unwrap_or_else(|| "PLG Trials".into()),
            deal_stages: stage_labels(
                "hubspot.deals.stages",
                file.deals.stages.as_ref(),
                DEFAULT_DEAL_STAGES,
                DealStage::as_str,
            )?,
            lead_pipeline: file.leads.pipeline.clone(),
            lead_stages: stage_labels(
                "hubspot.leads.stages",
                file.leads.stages.as_ref(),
                DEFAULT_LEAD_STAGES,
                LeadStage::as_str,
            )?,
            lifecycle: lifecycle(file.lifecycle_stages.as_ref())?,
            lifecycle_thresholds: lifecycle_thresholds(file.lifecycle_thresholds.as_ref())?,
        })
    }
}

/// A portal when there is a token, offline recording when there is neither a token nor a URL;
/// a URL without a token is a mistake worth stopping for.
fn target(base_url: Option<String>, token: Option<Secret>) -> Result<Target, Invalid> {
    if let Some(url) = &base_url {
        let parsed = url::Url::parse(url)
            .map_err(|e| Invalid::new("hubspot.base_url", format!("`{url}` is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(Invalid::new(
                "hubspot.base_url",
                format!("`{url}` must be an https:// (or, for the sandbox, http://) URL"),
            ));
        }
    }
    match (token, base_url) {
        (Some(token), url) => Ok(Target::Portal {
            base_url: url.unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
            token,
        }),
        (None, Some(_)) => Err(Invalid::new(
            "hubspot.base_url",
            "a HubSpot URL is configured (here or in HUBSPOT_BASE_URL) but no token: set HUBSPOT_TOKEN or [hubspot] token_file",
        )),
        (None, None) => Ok(Target::Offline),
    }
}

fn api_version(given: Option<&str>) -> Result<ApiVersion, Invalid> {
    let Some(given) = given else {
        return Ok(ApiVersion::default());
    };
    ApiVersion::parse(given.trim()).ok_or_else(|| {
        Invalid::new(
            "hubspot.api_version",
            format!(
                "unknown version `{given}`: use {} (`legacy` is HubSpot's v3/v4 paths, unsupported from 2027)",
                ApiVersion::NAMES.join(", ")
            ),
        )
    })
}

fn objects(list: Option<&[String]>) -> Result<Vec<ObjectType>, Invalid> {
    let Some(list) = list else {
        return Ok(ObjectType::ALL.to_vec());
    };
    list.iter()
        .map(|o| {
            ObjectType::parse(o.trim()).ok_or_else(|| {
                Invalid::new(
                    "hubspot.objects",
                    format!("unknown object `{o}` (companies, contacts, deals, leads, tasks)"),
                )
            })
        })
        .collect()
}

/// Every stage's label (or id) in the portal: the configured one under `key`, else the
/// default. Keys are pqlsync's stage names; anything else is an error.
fn stage_labels<S: Ord + Copy>(
    key: &str,
    given: Option<&BTreeMap<String, String>>,
    defaults: &[(S, &str)],
    name: fn(S) -> &'static str,
) -> Result<BTreeMap<S, String>, Invalid> {
    for (k, v) in given.into_iter().flatten() {
        if !defaults.iter().any(|(s, _)| name(*s) == k) {
            return Err(Invalid::new(
                format!("{key}.{k}"),
                "not a pqlsync stage name",
            ));
        }
        if v.trim().is_empty() {
            return Err(Invalid::new(
                format!("{key}.{k}"),
                "must name a stage (label or id)",
            ));
        }
    }
    Ok(defaults
        .iter()
        .map(|(stage, label)| {
            let given = given.and_then(|g| g.get(name(*stage)));
            let label = given.map_or_else(|| label.to_string(), |v| v.trim().to_string());
            (*stage, label)
        })
        .collect())
}

/// The default score thresholds: an account scoring 60 (well into Yellow: real fit and real
/// usage) is marketing-qualified even outside a trial, and one scoring 85 (the `hot_pql`
/// line, where a rep is asked to reach out live) is sales-qualified.
pub const DEFAULT_LIFECYCLE_THRESHOLDS: &[(&str, u8)] =
    &[("marketingqualifiedlead", 60), ("salesqualifiedlead", 85)];

/// Score thresholds by lifecycle stage, validated: known stages, scores 1–100, a further
/// stage never at a lower score.
fn lifecycle_thresholds(
    given: Option<&BTreeMap<String, u8>>,
) -> Result<Vec<(u8, String)>, Invalid> {
    let Some(map) = given else {
        return Ok(DEFAULT_LIFECYCLE_THRESHOLDS
            .iter()
            .map(|(stage, score)| (*score, stage.to_string()))
            .collect());
    };
    let mut out: Vec<(u8, String)> = Vec::new();
    let scored = scored_stages();
    for stage in scored {
        let Some((key, score)) = map.iter().find(|(k, _)| k.eq_ignore_ascii_case(stage)) else {
            continue;
        };
        if !(1..=100).contains(score) {
            return Err(Invalid::new(
                format!("hubspot.lifecycle_thresholds.{key}"),
                format!("must be a PQL score from 1 to 100, got {score}"),
            ));
        }
        if let Some((lower, earlier)) = out.last()
            && score < lower
        {
            return Err(Invalid::new(
                format!("hubspot.lifecycle_thresholds.{key}"),
                format!(
                    "{score} is below {earlier}'s {lower}: a further stage needs at least the score of an earlier one"
                ),
            ));
        }
        out.push((*score, stage.to_string()));
    }
    if let Some(k) = map
        .keys()
        .find(|k| !scored.iter().any(|s| s.eq_ignore_ascii_case(k)))
    {
        return Err(Invalid::new(
            format!("hubspot.lifecycle_thresholds.{k}"),
            format!(
                "not a lifecycle stage a score can reach (one of {})",
                scored.join(", ")
            ),
        ));
    }
    Ok(out)
}

/// Lifecycle stages by lead stage: the defaults, or the configured map (an empty value
/// leaves that lead stage's lifecycle alone).
fn lifecycle(
    given: Option<&BTreeMap<String, String>>,
) -> Result<BTreeMap<LeadStage, String>, Invalid> {
    let Some(map) = given else {
        return Ok(DEFAULT_LIFECYCLE
            .iter()
            .map(|(st, l)| (*st, l.to_string()))
            .collect());
    };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        let st = LeadStage::parse(k).ok_or_else(|| {
            Invalid::new(
                format!("hubspot.lifecycle_stages.{k}"),
                "not a pqlsync lead stage",
            )
        })?;
        if !v.trim().is_empty() {
            out.insert(st, v.trim().to_string());
        }
    }
    Ok(out)
}

//! The HubSpot side of the commands: the sync step of `run` and `plan`, and `hubspot setup` /
//! `hubspot check`. Resolves the config's labels, owners and association types against the
//! portal (or placeholders when offline), then hands plain data to `sync`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use futures::StreamExt;

use super::{Engine, Log};
use crate::Error;
use crate::config::{Config, Target};
use crate::decision::Decision;
use crate::features::{FeatureError, Value};
use crate::hubspot::api::StageInput;
use crate::hubspot::portal::{self, Created, Portal};
use crate::hubspot::retry::Backoff;
use crate::hubspot::{Client, ClientConfig, Counters, ObjectType, Recorder};
use crate::state::Store;
use crate::sync::schema::{self, id_property};
use crate::sync::{self, Contact, LEDGER_FILE, Ledger, Mapping, STATE_FILE, SyncReport, SyncState};

/// What the sync step produced.
pub(super) struct Synced {
    pub report: SyncReport,
    /// Accounts whose company already had an owner in HubSpot: account → owner.
    pub owners: BTreeMap<String, String>,
    pub plan: Option<String>,
}

/// Association type ids HubSpot documents for the HubSpot-defined "Primary" lead associations;
/// used only to show offline requests. A live sync reads them from the portal.
const OFFLINE_LEAD_CONTACT_TYPE: i64 = 578;
const OFFLINE_LEAD_COMPANY_TYPE: i64 = 580;

fn client(config: &Config) -> Result<Option<Client>, Error> {
    let hs = &config.hubspot;
    match &hs.target {
        Target::Offline => Ok(None),
        Target::Portal { base_url, token } => Client::new(&ClientConfig {
            base_url: base_url.clone(),
            token: token.clone(),
            requests_per_10s: hs.requests_per_10s,
            max_concurrency: hs.max_concurrency,
            timeout: hs.timeout,
            backoff: Backoff {
                max_attempts: hs.max_attempts,
                ..Backoff::default()
            },
        })
        .map(Some)
        .map_err(|e| Error::Usage(e.to_string())),
    }
}

/// The account's identified users, from the `account_contacts` view.
async fn load_contacts(engine: &Engine) -> Result<BTreeMap<String, Vec<Contact>>, Error> {
    const VIEW: &str = "account_contacts";
    if !engine
        .ctx
        .table_exist(VIEW)
        .map_err(FeatureError::Execution)?
    {
        return Err(FeatureError::Contract {
            message: "sql/features/account_contacts.sql is missing: the HubSpot sync needs each account's contacts (account_id, email, is_primary)".into(),
        }
        .into());
    }
    let df = engine
        .ctx
        .table(VIEW)
        .await
        .map_err(FeatureError::Execution)?;
    let mut stream = df.execute_stream().await.map_err(FeatureError::execution)?;
    let mut out: BTreeMap<String, Vec<Contact>> = BTreeMap::new();
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(FeatureError::execution)?;
        let column = |name: &str, to: &DataType| {
            let found = batch
                .column_by_name(name)
                .ok_or_else(|| FeatureError::Contract {
                    message: format!("account_contacts.sql: column `{name}` is missing"),
                })?;
            cast(found, to).map_err(|_| FeatureError::Contract {
                message: format!(
                    "account_contacts.sql: column `{name}` is {}, expected {to}",
                    found.data_type()
                ),
            })
        };
        let accounts = column("account_id", &DataType::Utf8)?;
        let emails = column("email", &DataType::Utf8)?;
        let primary = column("is_primary", &DataType::Boolean)?;
        let (accounts, emails, primary) = (
            accounts.as_string::<i32>(),
            emails.as_string::<i32>(),
            primary.as_boolean(),
        );
        let since = batch.column_by_name("first_identified_at");
        for row in 0..batch.num_rows() {
            if accounts.is_null(row) || emails.is_null(row) {
                continue;
            }
            let account = accounts.value(row);
            let contact = Contact {
                account_id: account.to_string(),
                email: emails.value(row).trim().to_ascii_lowercase(),
                primary: primary.is_valid(row) && primary.value(row),
                first_identified_at: since.and_then(|a| match Value::from_array(a, row) {
                    Ok(Value::Timestamp(us)) => Some(us),
                    _ => None,
                }),
            };
            match out.get_mut(account) {
                Some(list) => list.push(contact),
                None => {
                    out.insert(account.to_string(), vec![contact]);
                }
            }
        }
    }
    Ok(out)
}

/// One readiness check of the portal.
struct Check {
    ok: bool,
    what: String,
}

/// Everything the sync needs from the portal, checked; and the mapping when all is there.
fn readiness(config: &Config, portal: &Portal) -> (Vec<Check>, Mapping) {
    let hs = &config.hubspot;
    let mut checks = Vec::new();
    let mut mapping = Mapping {
        owners: portal.owners.clone(),
        lifecycle: hs.lifecycle.clone(),
        ..Mapping::default()
    };
    let wants = |o: ObjectType| hs.objects.contains(&o);
    for object in hs.objects.iter().copied() {
        let name = id_property(object);
        let ok = portal
            .property(object, name)
            .is_some_and(|p| object == ObjectType::Contacts || p.has_unique_value);
        checks.push(Check {
            ok,
            what: format!("{object}.{name} exists as a unique property"),
        });
    }
    for (object, property) in schema::properties() {
        if wants(object) && property.name != id_property(object) {
            checks.push(Check {
                ok: portal.has_property(object, &property.name),
                what: format!("{object}.{} exists", property.name),
            });
        }
    }
    if wants(ObjectType::Deals) {
        match portal.pipeline(ObjectType::Deals, &hs.deal_pipeline) {
            Some(p) => {
                mapping.deal_pipeline = p.id.clone();
                checks.push(Check {
                    ok: true,
                    what: format!("deal pipeline \"{}\" (id {})", p.label, p.id),
                });
                resolve_stages(
                    "deal",
                    p,
                    hs.deal_stages.iter().map(|(st, l)| (*st, st.as_str(), l)),
                    &mut mapping.deal_stages,
                    &mut checks,
                );
            }
            None => checks.push(Check {
                ok: false,
                what: format!("deal pipeline \"{}\"", hs.deal_pipeline),
            }),
        }
    }
    if wants(ObjectType::Leads) {
        let pipeline = match &hs.lead_pipeline {
            Some(l) => portal.pipeline(ObjectType::Leads, l),
            None => portal.default_pipeline(ObjectType::Leads),
        };
        match pipeline {
            Some(p) => {
                mapping.lead_pipeline = p.id.clone();
                checks.push(Check {
                    ok: true,
                    what: format!("lead pipeline \"{}\" (id {})", p.label, p.id),
                });
                resolve_stages(
                    "lead",
                    p,
                    hs.lead_stages.iter().map(|(st, l)| (*st, st.as_str(), l)),
                    &mut mapping.lead_stages,
                    &mut checks,
                );
            }
            None => checks.push(Check {
                ok: false,
                what: format!(
                    "lead pipeline \"{}\"",
                    hs.lead_pipeline.as_deref().unwrap_or("(default)")
                ),
            }),
        }
        checks.push(Check {
            ok: portal
                .association_type(ObjectType::Leads, ObjectType::Contacts)
                .is_some(),
            what: "a lead-to-contact association type".into(),
        });
    }
    let pools = config
        .routing
        .owners
        .enterprise
        .iter()
        .chain(&config.routing.owners.self_serve);
    for email in pools {
        let id = portal.owners.get(&email.to_ascii_lowercase());
        checks.push(Check {
            ok: id.is_some(),
            what: format!(
                "owner {email}{}",
                id.map(|i| format!(" (id {i})")).unwrap_or_default()
            ),
        });
    }
    (checks, mapping)
}

fn render_checks(checks: &[Check]) -> String {
    let mut t = String::new();
    for c in checks {
        let _ = writeln!(
            t,
            "  {} {}",
            if c.ok { "ok     " } else { "MISSING" },
            c.what
        );
    }
    t
}

/// Placeholders for offline recording: labels stand in for ids.
fn offline_mapping(config: &Config) -> Mapping {
    let hs = &config.hubspot;
    let pools = config
        .routing
        .owners
        .enterprise
        .iter()
        .chain(&config.routing.owners.self_serve);
    Mapping {
        owners: pools
            .map(|e| (e.to_ascii_lowercase(), format!("{{{{owner:{e}}}}}")))
            .collect(),
        deal_pipeline: format!("{{{{pipeline:{}}}}}", hs.deal_pipeline),
        deal_stages: hs
            .deal_stages
            .iter()
            .map(|(s, l)| (*s, format!("{{{{stage:{l}}}}}")))
            .collect(),
        lead_pipeline: format!(
            "{{{{pipeline:{}}}}}",
            hs.lead_pipeline.as_deref().unwrap_or("leads")
        ),
        lead_stages: hs
            .lead_stages
            .iter()
            .map(|(s, l)| (*s, format!("{{{{stage:{l}}}}}")))
            .collect(),
        lifecycle: hs.lifecycle.clone(),
    }
}

fn counters(report: &mut SyncReport, c: &Counters) {
    report.requests = Counters::get(&c.requests);
    report.write_requests = Counters::get(&c.writes);
    report.retries = Counters::get(&c.retries);
    report.rate_limited = Counters::get(&c.rate_limited);
}

/// The sync step of `run` (`dry_run`: only the plan).
pub(super) async fn sync(
    config: &Config,
    engine: &Engine,
    decisions: &[Decision],
    dry_run: bool,
    log: &Log,
) -> Result<Synced, Error> {
    let contacts = load_contacts(engine).await?;
    log.note(|| format!("read the contacts of {} accounts", contacts.len()));
    let hs = &config.hubspot;
    let Some(client) = client(config)? else {
        let desired = sync::build(decisions, &contacts, &offline_mapping(config));
        log.note(|| "built the desired records".into());
        let mut state = SyncState::default();
        if dry_run {
            let plan = sync::plan(desired, &state);
            log.note(|| "planned the sync".into());
            return Ok(Synced {
                report: SyncReport {
                    mode: "plan (offline: no portal configured)".into(),
                    ..SyncReport::default()
                },
                owners: BTreeMap::new(),
                plan: Some(plan.render(config.verbosity >= crate::config::Verbosity::Verbose)),
            });
        }
        let dir = config
            .out
            .clone()
            .unwrap_or_else(|| config.output_dir.clone())
            .join("hubspot");
        let recorder = Recorder::new(&dir)
            .map_err(|e| Error::Usage(format!("cannot create {}: {e}", dir.display())))?;
        let options = sync::Options {
            concurrency: 1,
            lead_contact_type: Some(OFFLINE_LEAD_CONTACT_TYPE),
            lead_company_type: Some(OFFLINE_LEAD_COMPANY_TYPE),
            objects: hs.objects.clone(),
        };
        let mut report = sync::run(&recorder, &desired, &mut state, None, &options).await?;
        let (files, requests) = recorder
            .finish()
            .await
            .map_err(|e| Error::Usage(format!("cannot write {}: {e}", dir.display())))?;
        report.mode = "offline: no HubSpot portal configured, requests recorded".into();
        report.requests = requests;
        report.write_requests = requests;
        report.outputs = files.iter().map(|f| f.display().to_string()).collect();
        return Ok(Synced {
            report,
            owners: BTreeMap::new(),
            plan: None,
        });
    };
    let Target::Portal { base_url, .. } = &hs.target else {
        unreachable!("a client exists only for a portal")
    };
    let portal = Portal::discover(&client).await?;
    let (checks, mapping) = readiness(config, &portal);
    if checks.iter().any(|c| !c.ok) {
        return Err(Error::NotReady(format!(
            "the HubSpot portal at {base_url} is not ready for pqlsync (run `pqlsync hubspot setup`, with --create-pipelines to add the pipeline and stages):\n{}",
            render_checks(&checks.into_iter().filter(|c| !c.ok).collect::<Vec<_>>())
        )));
    }
    let desired = sync::build(decisions, &contacts, &mapping);
    log.note(|| "built the desired records".into());
    let store = Store::open(&config.state)?;
    let mut state: SyncState = store.read(STATE_FILE).await?.unwrap_or_default();
    let mut warnings = Vec::new();
    if state.portal.as_deref().is_some_and(|p| p != base_url) {
        warnings.push(format!(
            "the sync state was for {}, not {base_url}: starting afresh (records are matched by their unique properties, so none is duplicated)",
            state.portal.as_deref().unwrap_or("?")
        ));
        state = SyncState::default();
    }
    state.portal = Some(base_url.clone());
    if dry_run {
        let plan = sync::plan(desired, &state);
        log.note(|| "planned the sync".into());
        let mut report = SyncReport {
            mode: format!("plan against {base_url}"),
            warnings,
            ..SyncReport::default()
        };
        counters(&mut report, &client.counters);
        return Ok(Synced {
            report,
            owners: BTreeMap::new(),
            plan: Some(plan.render(config.verbosity >= crate::config::Verbosity::Verbose)),
        });
    }
    let options = sync::Options {
        concurrency: hs.max_concurrency,
        lead_contact_type: portal.association_type(ObjectType::Leads, ObjectType::Contacts),
        lead_company_type: portal.association_type(ObjectType::Leads, ObjectType::Companies),
        objects: hs.objects.clone(),
    };
    let mut report = sync::run(&client, &desired, &mut state, Some(&store), &options).await?;
    report.mode = format!("synced to {base_url}");
    report.warnings.extend(warnings);
    counters(&mut report, &client.counters);
    store
        .write(
            LEDGER_FILE,
            &Ledger {
                as_of: Some(config.as_of),
                stopped: report.stopped.clone(),
                failures: report.failures.clone(),
            },
        )
        .await?;
    // Owners HubSpot already had win; remember them as routing's owners.
    let by_id: BTreeMap<&String, &String> = portal.owners.iter().map(|(e, id)| (id, e)).collect();
    let mut owners = BTreeMap::new();
    for d in decisions {
        if let Some(id) = state
            .get(ObjectType::Companies, &d.account_id)
            .and_then(|c| c.props.get("hubspot_owner_id"))
        {
            let owner = by_id
                .get(id)
                .map_or_else(|| format!("hubspot:{id}"), |e| e.to_string());
            if d.route.owner.as_deref().map(str::to_ascii_lowercase)
                != Some(owner.to_ascii_lowercase())
            {
                owners.insert(d.account_id.clone(), owner);
            }
        }
    }
    Ok(Synced {
        report,
        owners,
        plan: None,
    })
}

/// `pqlsync hubspot check`: what the portal has and lacks, without writing. Returns the report
/// and whether the portal is ready.
pub async fn check(config: &Config) -> Result<(String, bool), Error> {
    let client = client(config)?.ok_or_else(|| {
        Error::Usage("no HubSpot portal configured: set HUBSPOT_TOKEN (and HUBSPOT_BASE_URL for the sandbox)".into())
    })?;
    let portal = Portal::discover(&client).await?;
    let (checks, _) = readiness(config, &portal);
    let ready = checks.iter().all(|c| c.ok);
    let mut t = format!(
        "HubSpot portal check ({} of {} in place)\n",
        checks.iter().filter(|c| c.ok).count(),
        checks.len()
    );
    t.push_str(&render_checks(&checks));
    t.push_str(if ready {
        "ready: `pqlsync run` can sync\n"
    } else {
        "not ready: run `pqlsync hubspot setup` (with --create-pipelines to add the pipeline and stages)\n"
    });
    Ok((t, ready))
}

/// `pqlsync hubspot setup`: create the property group, the properties and (with
/// `create_pipelines`) the deal pipeline and missing stages; idempotent.
pub async fn setup(config: &Config, create_pipelines: bool) -> Result<(String, bool), Error> {
    let client = client(config)?.ok_or_else(|| {
        Error::Usage("no HubSpot portal configured: set HUBSPOT_TOKEN (and HUBSPOT_BASE_URL for the sandbox)".into())
    })?;
    let hs = &config.hubspot;
    let portal = Portal::discover(&client).await?;
    let mut t = String::from("HubSpot setup\n");
    let said = |c: Created| {
        if c == Created::Created {
            "created"
        } else {
            "found  "
        }
    };
    for object in hs.objects.iter().copied() {
        let c = if portal
            .groups
            .get(&object)
            .is_some_and(|g| g.contains(schema::GROUP))
        {
            Created::Existed
        } else {
            portal::create_group(&client, object, &schema::group()).await?
        };
        let _ = writeln!(
            t,
            "  {} property group {}.{}",
            said(c),
            object,
            schema::GROUP
        );
    }
    for (object, property) in schema::properties() {
        if !hs.objects.contains(&object) {
            continue;
        }
        match portal.property(object, &property.name) {
            Some(existing) => {
                let note = if existing.kind != property.kind {
                    format!(
                        " (type {} in the portal, pqlsync writes {})",
                        existing.kind, property.kind
                    )
                } else if property.has_unique_value && !existing.has_unique_value {
                    " (NOT unique: recreate it with unique values, pqlsync matches on it)".into()
                } else {
                    String::new()
                };
                let _ = writeln!(t, "  found   property {object}.{}{note}", property.name);
            }
            None => {
                let c = portal::create_property(&client, object, &property).await?;
                let _ = writeln!(t, "  {} property {object}.{}", said(c), property.name);
            }
        }
    }
    if hs.objects.contains(&ObjectType::Deals) {
        let probability = |stage: &str| match stage {
            "Closed Won" => "1.0",
            "Closed Lost" => "0.0",
            _ if stage.contains("Sales") => "0.4",
            _ => "0.2",
        };
        let stage_input = |i: usize, label: &str| StageInput {
            label: label.to_string(),
            display_order: i as i32,
            metadata: BTreeMap::from([("probability".to_string(), probability(label).to_string())]),
        };
        match portal.pipeline(ObjectType::Deals, &hs.deal_pipeline) {
            Some(p) => {
                let _ = writeln!(t, "  found   deal pipeline \"{}\" (id {})", p.label, p.id);
                for (i, label) in hs.deal_stages.values().enumerate() {
                    if portal::stage(p, label).is_some() {
                        let _ = writeln!(t, "  found   deal stage \"{label}\"");
                    } else if create_pipelines {
                        portal::create_stage(
                            &client,
                            ObjectType::Deals,
                            &p.id,
                            &stage_input(i, label),
                        )
                        .await?;
                        let _ = writeln!(t, "  created deal stage \"{label}\"");
                    } else {
                        let _ = writeln!(
                            t,
                            "  MISSING deal stage \"{label}\" (add it, or rerun with --create-pipelines)"
                        );
                    }
                }
            }
            None if create_pipelines => {
                let input = crate::hubspot::api::PipelineInput {
                    label: hs.deal_pipeline.clone(),
                    display_order: 99,
                    stages: hs
                        .deal_stages
                        .values()
                        .enumerate()
                        .map(|(i, l)| stage_input(i, l))
                        .collect(),
                };
                let created = portal::create_pipeline(&client, ObjectType::Deals, &input).await?;
                let _ = writeln!(
                    t,
                    "  created deal pipeline \"{}\"{} with {} stages",
                    hs.deal_pipeline,
                    created
                        .map(|p| format!(" (id {})", p.id))
                        .unwrap_or_default(),
                    input.stages.len()
                );
            }
            None => {
                let _ = writeln!(
                    t,
                    "  MISSING deal pipeline \"{}\" (rerun with --create-pipelines to create it)",
                    hs.deal_pipeline
                );
            }
        }
    }
    if hs.objects.contains(&ObjectType::Leads) {
        let pipeline = match &hs.lead_pipeline {
            Some(l) => portal.pipeline(ObjectType::Leads, l),
            None => portal.default_pipeline(ObjectType::Leads),
        };
        match pipeline {
            Some(p) => {
                let _ = writeln!(t, "  found   lead pipeline \"{}\" (id {})", p.label, p.id);
                for (i, label) in hs.lead_stages.values().enumerate() {
                    if portal::stage(p, label).is_some() {
                        let _ = writeln!(t, "  found   lead stage \"{label}\"");
                    } else if create_pipelines {
                        let input = StageInput {
                            label: label.clone(),
                            display_order: 10 + i as i32,
                            metadata: BTreeMap::new(),
                        };
                        portal::create_stage(&client, ObjectType::Leads, &p.id, &input).await?;
                        let _ = writeln!(t, "  created lead stage \"{label}\"");
                    } else {
                        let _ = writeln!(
                            t,
                            "  MISSING lead stage \"{label}\" (add it, or rerun with --create-pipelines)"
                        );
                    }
                }
            }
            None => {
                let _ = writeln!(
                    t,
                    "  MISSING lead pipeline: enable leads in HubSpot (Settings > Objects > Leads)"
                );
            }
        }
    }
    let portal = Portal::discover(&client).await?;
    let (checks, _) = readiness(config, &portal);
    let ready = checks.iter().all(|c| c.ok);
    for c in checks.iter().filter(|c| !c.ok) {
        let _ = writeln!(t, "  MISSING {}", c.what);
    }
    t.push_str(if ready {
        "ready: `pqlsync run` can sync\n"
    } else {
        "not ready: see MISSING above\n"
    });
    Ok((t, ready))
}

/// Resolve each configured stage label (or id) of pipeline `p` to its id, with a check line
/// per stage: the same for deal and lead stages.
fn resolve_stages<'a, S: Ord>(
    kind: &str,
    p: &crate::hubspot::api::Pipeline,
    stages: impl Iterator<Item = (S, &'static str, &'a String)>,
    ids: &mut BTreeMap<S, String>,
    checks: &mut Vec<Check>,
) {
    for (stage, name, label) in stages {
        let found = portal::stage(p, label);
        checks.push(Check {
            ok: found.is_some(),
            what: format!(
                "{kind} stage {name} = \"{label}\"{}",
                found.map(|s| format!(" (id {})", s.id)).unwrap_or_default()
            ),
        });
        if let Some(s) = found {
            ids.insert(stage, s.id.clone());
        }
    }
}

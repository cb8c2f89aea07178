//! The HubSpot side of the commands: the sync step of `run` and `plan` (read the contacts,
//! open the portal or the recorder, check the portal, build, plan and run the sync, keep the
//! ledger), and the reports of `hubspot check` and `hubspot setup`. What the portal must hold
//! is `sync::setup`'s to say and `hubspot::setup`'s to check; this file wires them together.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Error;
use crate::config::{Config, RunOptions, Verbosity};
use pqlsync_core::halt::Halt;
use pqlsync_hubspot::portal::{self, Portal};
use pqlsync_hubspot::retry::Backoff;
use pqlsync_hubspot::setup::render_checks;
use pqlsync_hubspot::{self as hubspot, Client, ClientConfig, Counters, ObjectType, Recorder};
use pqlsync_sql::changes::{self, ParquetJournal, RunRecord};
use pqlsync_sql::decision::Decision;
use pqlsync_sql::store::Store;
use pqlsync_sync::config::Target;
use pqlsync_sync::{
    self as sync, Contact, LEDGER_FILE, Ledger, STATE_FILE, SyncReport, SyncState, setup,
};

/// What the sync step produced.
pub struct Synced {
    pub report: SyncReport,
    /// Accounts whose company already had an owner in HubSpot: account → owner.
    pub owners: BTreeMap<String, String>,
    pub plan: Option<String>,
}

/// Association type ids HubSpot documents for the HubSpot-defined "Primary" lead associations;
/// used only to show offline requests. A live sync reads them from the portal.
const OFFLINE_LEAD_CONTACT_TYPE: i64 = 578;
const OFFLINE_LEAD_COMPANY_TYPE: i64 = 580;

/// The HubSpot client `config` asks for (`None` offline); `halt` ends its waits.
pub fn client(config: &Config, halt: &Halt) -> Result<Option<Client>, Error> {
    let hs = &config.hubspot;
    match &hs.target {
        Target::Offline => Ok(None),
        Target::Portal { base_url, token } => Client::new(&ClientConfig {
            base_url: base_url.clone(),
            api: hs.api_version,
            token: token.clone(),
            requests_per_10s: hs.requests_per_10s,
            max_concurrency: hs.max_concurrency,
            timeout: hs.timeout,
            backoff: Backoff {
                max_attempts: hs.max_attempts,
                max_wait: hs.max_retry_wait,
                ..Backoff::default()
            },
            halt: halt.clone(),
        })
        .map(Some)
        .map_err(Error::Client),
    }
}

pub(super) fn counters(report: &mut SyncReport, c: &Counters) {
    report.requests = Counters::get(&c.requests);
    report.write_requests = Counters::get(&c.writes);
    report.retries = Counters::get(&c.retries);
    report.rate_limited = Counters::get(&c.rate_limited);
}

/// What the sync step needs from the portal, checked before the run writes anything: a token
/// HubSpot accepts, a portal ready for pqlsync, a readable sync state and failure ledger. A run
/// that would fail at the HubSpot step fails here instead, with its routing memory, decisions
/// and history untouched.
pub struct Preflight {
    client: Client,
    base_url: String,
    portal: Portal,
    readiness: hubspot::setup::Readiness,
    store: Store,
    state: SyncState,
    warnings: Vec<String>,
    listened: sync::Listened,
}

impl Preflight {
    /// What HubSpot holds for each account, read back before deciding.
    pub fn held(&self) -> BTreeMap<String, pqlsync_rules::route::Held> {
        sync::listen::held(&self.state)
    }
}

/// The portal side of the sync step, checked, with what HubSpot holds now for the records
/// pqlsync manages read back (and, when `persist`, saved to the sync state, so that the
/// `crm.*` tables of this run show it); `None` offline.
pub async fn preflight(
    config: &Config,
    run: &RunOptions,
    persist: bool,
) -> Result<Option<Preflight>, Error> {
    let hs = &config.hubspot;
    let Some(client) = client(config, &run.halt)? else {
        return Ok(None);
    };
    let Target::Portal { base_url, .. } = &hs.target else {
        unreachable!("a client exists only for a portal")
    };
    let portal = Portal::discover(&client).await?;
    let req = setup::requirements(hs, &config.routing.owners.all());
    let readiness = hubspot::setup::readiness(&req, &portal);
    if !readiness.ready() {
        return Err(Error::NotReady(format!(
            "the HubSpot portal at {base_url} is not ready for pqlsync (run `pqlsync hubspot setup`, with --create-pipelines to add the pipeline and stages):\n{}",
            render_checks(&readiness.missing())
        )));
    }
    let store = Store::open(&config.state)?;
    let (mut state, warnings) = portal_state(&store, base_url).await?;
    // Read now so that a damaged ledger stops the run before it writes, not after it synced.
    let _: Option<Ledger> = store.read(LEDGER_FILE).await?;
    let listened = listen(config, run, &client, &readiness, &portal, &mut state).await?;
    if persist {
        store.write(STATE_FILE, &state).await?;
    }
    Ok(Some(Preflight {
        client,
        base_url: base_url.clone(),
        portal,
        readiness,
        store,
        state,
        warnings,
        listened,
    }))
}

/// Read back what HubSpot holds now for the records the state knows (see `sync::listen`).
/// A read stopped by HubSpot (a daily limit, a refused token) stops the run before anything
/// is decided or written.
async fn listen(
    config: &Config,
    run: &RunOptions,
    client: &Client,
    readiness: &hubspot::setup::Readiness,
    portal: &Portal,
    state: &mut SyncState,
) -> Result<sync::Listened, Error> {
    let hs = &config.hubspot;
    let mapping = setup::mapping(hs, readiness, portal);
    let before = Counters::get(&client.counters.requests);
    let mut listened = sync::listen(
        client,
        state,
        &mapping,
        &hs.objects,
        hs.max_concurrency,
        run.as_of,
    )
    .await?;
    listened.requests = Counters::get(&client.counters.requests) - before;
    if let Some(why) = &listened.stopped {
        return Err(Error::NotReady(format!(
            "reading what HubSpot holds now for the records pqlsync manages stopped: {why}; \
             nothing was decided or written, run again once HubSpot answers"
        )));
    }
    crate::logging::stage!(
        run.stages,
        "listen",
        requests = listened.requests,
        records = listened.objects.values().map(|c| c.read).sum::<usize>(),
        changed_in_hubspot = listened
            .objects
            .values()
            .map(|c| c.changed_in_hubspot)
            .sum::<usize>(),
        unread = listened.failures.len(),
        "read back what HubSpot holds now"
    );
    Ok(listened)
}

/// The sync step of `run` (`dry_run`: only the plan): against the portal `preflight` checked,
/// or recorded to files when there is none.
pub async fn sync(
    config: &Config,
    run: &RunOptions,
    (decisions, contacts): (&[Decision], &BTreeMap<String, Vec<Contact>>),
    dry_run: bool,
    preflight: Option<Preflight>,
) -> Result<Synced, Error> {
    let step = Step {
        config,
        run,
        decisions,
        contacts,
        dry_run,
    };
    match preflight {
        None => step.offline().await,
        Some(checked) => step.portal(checked).await,
    }
}

/// One sync step's inputs, shared by its offline and its portal variant.
struct Step<'a> {
    config: &'a Config,
    run: &'a RunOptions,
    decisions: &'a [Decision],
    contacts: &'a BTreeMap<String, Vec<Contact>>,
    dry_run: bool,
}

impl Step<'_> {
    /// The CRM records the decisions imply under `mapping`; the end of the `records` stage.
    fn desired(&self, mapping: &sync::Mapping) -> sync::Desired {
        let desired = sync::build(self.decisions, self.contacts, mapping);
        crate::logging::stage!(
            self.run.stages,
            "records",
            records = desired.records.values().map(Vec::len).sum::<usize>(),
            "built the desired records"
        );
        desired
    }

    fn plan_only(
        &self,
        desired: sync::Desired,
        state: &SyncState,
        mut report: SyncReport,
    ) -> Synced {
        report.refused = desired.refused.clone();
        report.clipped = desired.clipped.clone();
        let plan = sync::plan(desired, state);
        crate::logging::stage!(self.run.stages, "sync_plan", "planned the sync");
        Synced {
            report,
            owners: BTreeMap::new(),
            plan: Some(plan.render(self.run.verbosity >= Verbosity::Verbose)),
        }
    }

    /// No portal: plan, or record the requests a live sync would send.
    async fn offline(&self) -> Result<Synced, Error> {
        let hs = &self.config.hubspot;
        let mapping = setup::offline_mapping(hs, &self.config.routing.owners.all());
        let desired = self.desired(&mapping);
        let mut state = SyncState::default();
        if self.dry_run {
            let report = SyncReport {
                mode: "plan (offline: no portal configured)".into(),
                ..SyncReport::default()
            };
            return Ok(self.plan_only(desired, &state, report));
        }
        let dir = super::out_dir(self.run, &self.config.output_dir).join("hubspot");
        let recorder = Recorder::new(&dir, hs.api_version)
            .map_err(Error::io(format!("cannot create {}", dir.display())))?;
        let options = sync::Options {
            concurrency: 1,
            lead_contact_type: Some(OFFLINE_LEAD_CONTACT_TYPE),
            lead_company_type: Some(OFFLINE_LEAD_COMPANY_TYPE),
            objects: hs.objects.clone(),
            halt: self.run.halt.clone(),
            held_back: Default::default(),
        };
        let journal = self.journal().await?;
        let result = sync::run(
            &recorder,
            &desired,
            &mut state,
            None,
            journal.as_ref().map(|j| j as &dyn sync::Journal),
            &options,
        )
        .await;
        let mut report = self.close_journal(journal.as_ref(), result).await?;
        let (files, requests) = recorder
            .finish()
            .await
            .map_err(Error::io(format!("cannot write {}", dir.display())))?;
        report.mode = format!(
            "offline: no HubSpot portal configured, requests recorded (API {})",
            hs.api_version
        );
        report.requests = requests;
        report.write_requests = requests;
        report.outputs = files.iter().map(|f| f.display().to_string()).collect();
        Ok(Synced {
            report,
            owners: BTreeMap::new(),
            plan: None,
        })
    }

    /// The checked portal: plan or sync, keeping the sync state and the ledger.
    async fn portal(&self, checked: Preflight) -> Result<Synced, Error> {
        let hs = &self.config.hubspot;
        let Preflight {
            client,
            base_url,
            portal,
            readiness,
            store,
            mut state,
            warnings,
            listened,
        } = checked;
        let client = &client;
        let mapping = setup::mapping(hs, &readiness, &portal);
        let desired = self.desired(&mapping);
        let mut report = SyncReport {
            warnings,
            ..SyncReport::default()
        };
        if self.dry_run {
            report.mode = format!("plan against {base_url} (API {})", hs.api_version);
            counters(&mut report, &client.counters);
            report.failures = listened.failures.clone();
            report.listened = Some(listened);
            return Ok(self.plan_only(desired, &state, report));
        }
        let options = sync::Options {
            concurrency: hs.max_concurrency,
            lead_contact_type: portal.association_type(ObjectType::Leads, ObjectType::Contacts),
            lead_company_type: portal.association_type(ObjectType::Leads, ObjectType::Companies),
            objects: hs.objects.clone(),
            halt: self.run.halt.clone(),
            held_back: listened.held_back.clone(),
        };
        let journal = self.journal().await?;
        let result = sync::run(
            client,
            &desired,
            &mut state,
            Some(&store),
            journal.as_ref().map(|j| j as &dyn sync::Journal),
            &options,
        )
        .await;
        let mut synced = self.close_journal(journal.as_ref(), result).await?;
        synced.mode = format!("synced to {base_url} (API {})", hs.api_version);
        // What could not be read back is listed like what could not be written: the ledger
        // keeps it and the run exits 1.
        let mut failures = listened.failures.clone();
        failures.append(&mut synced.failures);
        synced.failures = failures;
        synced.listened = Some(listened);
        synced.warnings.extend(report.warnings);
        counters(&mut synced, &client.counters);
        store
            .write(
                LEDGER_FILE,
                &Ledger {
                    as_of: Some(self.run.as_of),
                    stopped: synced.stopped.clone(),
                    failures: synced.failures.clone(),
                },
            )
            .await?;
        Ok(Synced {
            owners: kept_owners(&portal, &state, self.decisions),
            report: synced,
            plan: None,
        })
    }
}

impl Step<'_> {
    /// This run's change log in the state location (when `[changes]` keeps one), its
    /// `run.json` written first so that a run killed mid-sync still says what it was.
    async fn journal(&self) -> Result<Option<ParquetJournal>, Error> {
        if !self.config.changes.enabled {
            return Ok(None);
        }
        let store = Store::open(&self.config.state)?;
        let journal = ParquetJournal::new(store, &self.run.run_id);
        journal.describe(&self.record(None)).await?;
        Ok(Some(journal))
    }

    fn record(&self, report: Option<&SyncReport>) -> RunRecord {
        let id = &self.run.run_id;
        RunRecord {
            run_id: id.clone(),
            command: "run".into(),
            as_of: self.run.as_of,
            started_at: self.run.started_at,
            finished_at: report.map(|_| chrono::Utc::now()),
            mode: journal_mode(&self.config.hubspot.target),
            entries: 0,
            stopped: report.and_then(|r| r.stopped.clone()),
            reverts: None,
            reverted_by: None,
        }
    }

    /// The sync's outcome with its change log closed: the run's `run.json` says how it ended
    /// (also when the sync failed), and logs past `[changes] retention_days` are removed.
    async fn close_journal(
        &self,
        journal: Option<&ParquetJournal>,
        result: Result<SyncReport, pqlsync_rules::state::StateError>,
    ) -> Result<SyncReport, Error> {
        let Some(journal) = journal else {
            return Ok(result?);
        };
        let mut result = result;
        let record = self.record(result.as_ref().ok());
        close_log(journal, record, result.as_mut()).await?;
        let report = result?;
        let retention = self.config.changes.retention_days;
        for id in changes::prune(journal.store(), chrono::Utc::now(), retention).await? {
            tracing::info!(stage = "sync", run_id = %id, "removed the change log of run {id}, older than {retention} days");
        }
        Ok(report)
    }
}

/// Say in the `run.json` of `journal`'s run how it ended (`record`, plus the log's size and
/// the error that ended it, if one did), and name the log in the run's report. For `run` and
/// `revert` alike.
pub(super) async fn close_log(
    journal: &ParquetJournal,
    mut record: RunRecord,
    result: Result<&mut SyncReport, &mut pqlsync_rules::state::StateError>,
) -> Result<(), Error> {
    record.entries = journal.rows();
    match result {
        Ok(report) => {
            report.run_id = Some(journal.run_id().to_string());
            report.changes = journal.rows();
        }
        Err(e) => {
            record.stopped = Some(e.to_string());
            record.finished_at = Some(chrono::Utc::now());
        }
    }
    Ok(journal.describe(&record).await?)
}

/// What a run's `run.json` calls where it wrote.
pub(super) fn journal_mode(target: &Target) -> String {
    match target {
        Target::Offline => "offline".into(),
        Target::Portal { base_url, .. } => base_url.clone(),
    }
}

/// The sync state for the portal at `base_url`; one kept for another portal is dropped, with
/// a warning, rather than matched against the wrong CRM.
pub(super) async fn portal_state(
    store: &Store,
    base_url: &str,
) -> Result<(SyncState, Vec<String>), Error> {
    let mut state: SyncState = store.read(STATE_FILE).await?.unwrap_or_default();
    // 0: written before the version was kept; 1: today's format.
    pqlsync_rules::state::check_version(store.url(), STATE_FILE, state.version, &[0, 1])?;
    state.version = 1;
    let mut warnings = Vec::new();
    if state.portal.as_deref().is_some_and(|p| p != base_url) {
        warnings.push(format!(
            "the sync state was for {}, not {base_url}: starting afresh (records are matched by their unique properties, so none is duplicated)",
            state.portal.as_deref().unwrap_or("?")
        ));
        state = SyncState::default();
    }
    state.portal = Some(base_url.to_string());
    Ok((state, warnings))
}

/// Owners HubSpot already had for a company, where they differ from routing's: account →
/// owner (email, or `hubspot:ID` for an owner the portal does not list). HubSpot's owner wins,
/// and routing remembers it.
fn kept_owners(
    portal: &Portal,
    state: &SyncState,
    decisions: &[Decision],
) -> BTreeMap<String, String> {
    let by_id: BTreeMap<&String, &String> = portal.owners.iter().map(|(e, id)| (id, e)).collect();
    let mut owners = BTreeMap::new();
    for d in decisions {
        let Some(id) = state
            .get(ObjectType::Companies, &d.account_id)
            .and_then(|c| c.current("hubspot_owner_id"))
            .filter(|id| !id.is_empty())
        else {
            continue;
        };
        let owner = by_id
            .get(id)
            .map_or_else(|| format!("hubspot:{id}"), |e| e.to_string());
        if d.route.owner.as_deref().map(str::to_ascii_lowercase) != Some(owner.to_ascii_lowercase())
        {
            owners.insert(d.account_id.clone(), owner);
        }
    }
    owners
}

/// What `hubspot check` or `hubspot setup` found, and whether the portal is ready.
#[derive(Debug, serde::Serialize)]
pub struct PortalReport {
    pub text: String,
    pub ready: bool,
}

impl std::fmt::Display for PortalReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// What the portal has and lacks, without writing.
pub async fn check_portal(config: &Config, client: &Client) -> Result<PortalReport, Error> {
    let req = setup::requirements(&config.hubspot, &config.routing.owners.all());
    let portal = Portal::discover(client).await?;
    let readiness = hubspot::setup::readiness(&req, &portal);
    let ready = readiness.ready();
    let checks = &readiness.checks;
    let mut t = format!(
        "HubSpot portal check ({} of {} in place)\n",
        checks.iter().filter(|c| c.ok).count(),
        checks.len()
    );
    t.push_str(&render_checks(checks));
    t.push_str(&validation_rules(config, client).await);
    t.push_str(if ready {
        "ready: `pqlsync run` can sync\n"
    } else {
        "not ready: run `pqlsync hubspot setup` (with --create-pipelines to add the pipeline and stages)\n"
    });
    Ok(PortalReport { text: t, ready })
}

/// The portal's validation rules on the properties pqlsync writes, for `hubspot check`. A
/// record that breaks one is refused alone (the sync isolates it, the ledger keeps HubSpot's
/// message, the run exits 1 and retries it next run); knowing the rules up front tells the
/// admin which rule, or which SQL, to change.
async fn validation_rules(config: &Config, client: &Client) -> String {
    let api = client.api();
    let mut t = format!(
        "validation rules on the properties pqlsync writes ({}):\n",
        if api.enforces_validation_rules() {
            format!("API {api} enforces them on every write")
        } else {
            format!("API {api} does not enforce them; 2026-09 does")
        }
    );
    let mut any = false;
    for object in &config.hubspot.objects {
        match portal::validation_rules(client, *object).await {
            Ok(list) => {
                for p in list
                    .iter()
                    .filter(|p| sync::schema::writes(*object, &p.property_name))
                {
                    for rule in &p.property_validation_rules {
                        any = true;
                        let _ = writeln!(
                            t,
                            "  {object}.{} {}",
                            p.property_name,
                            [rule.rule_type.clone(), rule.rule_arguments.join(", ")]
                                .join(" ")
                                .trim_end()
                        );
                    }
                }
            }
            Err(e) => {
                any = true;
                let _ = writeln!(t, "  {object}: cannot tell ({e})");
            }
        }
    }
    if !any {
        t.push_str("  none\n");
    }
    t
}

/// `pqlsync hubspot setup`: create the property group, the properties and (with
/// `create_pipelines`) the deal pipeline and missing stages; idempotent.
pub async fn set_up_portal(
    config: &Config,
    client: &Client,
    create_pipelines: bool,
) -> Result<PortalReport, Error> {
    let req = setup::requirements(&config.hubspot, &config.routing.owners.all());
    let portal = Portal::discover(client).await?;
    let mut t = String::from("HubSpot setup\n");
    t.push_str(&hubspot::setup::set_up(client, &req, &portal, create_pipelines).await?);
    let portal = Portal::discover(client).await?;
    let readiness = hubspot::setup::readiness(&req, &portal);
    for c in readiness.missing() {
        let _ = writeln!(t, "  MISSING {}", c.what);
    }
    let ready = readiness.ready();
    t.push_str(if ready {
        "ready: `pqlsync run` can sync\n"
    } else {
        "not ready: see MISSING above\n"
    });
    Ok(PortalReport { text: t, ready })
}

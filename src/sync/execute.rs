//! Running a sync: read back what the CRM already holds for records new to the state, diff,
//! then write in dependency order — companies, contacts and deals (upserts by unique
//! property), leads (created with their primary contact, as HubSpot requires), tasks, and
//! associations — every phase through the batch driver (batches of 100, several in flight).
//! The state takes a record only when the CRM confirms it and is saved as the run goes, so a
//! run that is killed resumes where it stopped: upserts are idempotent, and leads are found
//! again by their unique property before anything is created twice.
//!
//! The run is the same whatever the `Crm` is: HubSpot, the offline recorder (which hands out
//! placeholder ids), or a test double.

use std::time::Instant;

use super::driver::Driver;
use super::model::Desired;
use super::plan::{Plan, plan};
use super::reads::{read_back, refresh_lifecycle};
use super::report::SyncReport;
use super::state::SyncState;
use super::writes::{self, LeadTypes};
use crate::hubspot::{Crm, ObjectType};
use crate::state::{StateError, Store};

/// How a sync runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Batches in flight at once.
    pub concurrency: usize,
    /// Association type ids for creating leads (to contact, to company), from the portal.
    pub lead_contact_type: Option<i64>,
    pub lead_company_type: Option<i64>,
    /// Object types to write.
    pub objects: Vec<ObjectType>,
}

/// Sync `desired` through `crm`. The state is updated as the CRM confirms writes and saved to
/// `store` (when given) as the run goes and at the end. A `Stop` (daily limit, token) ends the
/// run early with everything confirmed so far saved.
pub async fn run(
    crm: &dyn Crm,
    desired: &Desired,
    state: &mut SyncState,
    store: Option<&Store>,
    options: &Options,
) -> Result<SyncReport, StateError> {
    let started = Instant::now();
    let mut d = Driver::new(crm, state, store, options.concurrency);
    read_back(&mut d, desired, &options.objects).await?;
    // The plan keeps what it takes; leads still read `desired` below.
    let mut the_plan = plan(desired.clone(), d.progress.state);
    if d.stop.is_none() && refresh_lifecycle(&mut d, &the_plan).await? {
        the_plan = plan(desired.clone(), d.progress.state);
    }
    d.save(true).await?;
    write(&mut d, &the_plan, desired, options).await?;
    d.save(true).await?;
    let mut report = d.finish();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The write phases in dependency order, each saving the state when done; a stop skips the
/// phases after it.
async fn write(
    d: &mut Driver<'_>,
    the_plan: &Plan,
    desired: &Desired,
    options: &Options,
) -> Result<(), StateError> {
    let wants = |object| options.objects.contains(&object);
    for object in [
        ObjectType::Companies,
        ObjectType::Contacts,
        ObjectType::Deals,
    ] {
        if d.stop.is_none() && wants(object) {
            writes::upsert(d, object, the_plan.object(object)).await?;
            d.save(true).await?;
        }
    }
    if d.stop.is_none() && wants(ObjectType::Leads) {
        let types = LeadTypes {
            contact: options.lead_contact_type,
            company: options.lead_company_type,
        };
        let leads = the_plan.object(ObjectType::Leads);
        writes::leads(d, leads, &desired.lead_contacts, types).await?;
        d.save(true).await?;
    }
    if d.stop.is_none() && wants(ObjectType::Tasks) {
        writes::upsert(d, ObjectType::Tasks, the_plan.object(ObjectType::Tasks)).await?;
        d.save(true).await?;
    }
    if d.stop.is_none() {
        d.progress.report.associations.unchanged += the_plan.links_existing;
        writes::associate(d, &the_plan.links, &options.objects).await?;
    }
    Ok(())
}

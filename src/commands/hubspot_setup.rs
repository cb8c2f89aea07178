//! `pqlsync hubspot setup [--create-pipelines]`: create what the sync needs in the portal
//! (property group, properties; with `--create-pipelines` the trial deal pipeline and missing
//! stages), idempotently, then check the portal as `hubspot check` does.

use super::Error;
use super::hubspot::{PortalReport, client, set_up_portal};
use crate::config::Config;

pub async fn setup(config: &Config, create_pipelines: bool) -> Result<PortalReport, Error> {
    // Nothing to stop at a safe point: a signal ends the command.
    let client = client(config, &pqlsync_core::halt::Halt::default())?.ok_or(Error::NoPortal)?;
    set_up_portal(config, &client, create_pipelines).await
}

//! `pqlsync hubspot check`: what the portal has and lacks for the sync (unique id properties,
//! the PLG properties, pipelines and stages, the lead association, owners), without writing.
//! Exits 2 when the portal is not ready, after saying what is missing.

use super::hubspot::{PortalReport, check_portal, client};
use super::{Error, Report};
use crate::config::Config;

pub async fn check(config: &Config) -> Result<PortalReport, Error> {
    // Nothing to stop at a safe point: a signal ends the command.
    let client = client(config, &pqlsync_core::halt::Halt::default())?.ok_or(Error::NoPortal)?;
    check_portal(config, &client).await
}

impl Report for PortalReport {
    fn always_print(&self) -> bool {
        !self.ready
    }

    fn verdict(&self) -> Result<(), Error> {
        if self.ready {
            Ok(())
        } else {
            Err(Error::NotReady(
                "the HubSpot portal is not ready for pqlsync (see above)".into(),
            ))
        }
    }
}

//! Object stores for the cluster's processes. The scheduler lists a dataset's files when it
//! plans a query and executors read them, so both must reach every store the job can:
//! `s3://`, `gs://` and `az://` (Ballista's stock binaries wire only S3), with credentials and
//! endpoints from the same `AWS_*`, `GOOGLE_*` and `AZURE_*` environment the job reads. A store
//! is built the first time a bucket is asked for and kept for the process.

use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::ObjectStore;
use url::Url;

/// Stores by `scheme://bucket`, built from the environment on first use.
#[derive(Debug)]
pub struct EnvStores {
    known: DefaultObjectStoreRegistry,
    options: Vec<(String, String)>,
}

impl EnvStores {
    /// With the object-store options of this process's environment.
    pub fn from_env() -> EnvStores {
        let env: Vec<(String, String)> = std::env::vars().collect();
        EnvStores::new(crate::store::options_from_env(&env))
    }

    pub fn new(options: Vec<(String, String)>) -> EnvStores {
        EnvStores {
            known: DefaultObjectStoreRegistry::new(),
            options,
        }
    }
}

impl ObjectStoreRegistry for EnvStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        let options = self.options.iter().map(|(k, v)| (k.as_str(), v.clone()));
        let (store, _path) = object_store::parse_url_opts(url, options).map_err(|e| {
            DataFusionError::Execution(format!(
                "cannot open the object store for {}://{}: {e} (set its credentials in this \
                 process's environment, as for the job)",
                url.scheme(),
                url.authority()
            ))
        })?;
        let store: Arc<dyn ObjectStore> = Arc::from(store);
        let base = Url::parse(&format!("{}://{}", url.scheme(), url.authority()))
            .map_err(|e| DataFusionError::Execution(e.to_string()))?;
        // Two tasks may open the same bucket at once; both stores work, the later is kept.
        self.known.register_store(&base, Arc::clone(&store));
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_each_cloud_scheme_from_options_and_keeps_it() {
        let stores = EnvStores::new(vec![
            ("aws_region".into(), "us-east-1".into()),
            ("aws_access_key_id".into(), "k".into()),
            ("aws_secret_access_key".into(), "s".into()),
            ("google_service_account_key".into(), "{}".into()),
            ("azure_storage_account_name".into(), "acct".into()),
            ("azure_storage_account_key".into(), "a2V5".into()),
        ]);
        for url in [
            "s3://bucket/a/b.parquet",
            "az://container/x",
            "file:///tmp/x",
        ] {
            let url = Url::parse(url).unwrap();
            let first = stores.get_store(&url).unwrap();
            let again = stores.get_store(&url).unwrap();
            assert!(Arc::ptr_eq(&first, &again), "{url}");
        }
        let err = stores
            .get_store(&Url::parse("ftp://host/x").unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("ftp://host"), "{err}");
    }
}

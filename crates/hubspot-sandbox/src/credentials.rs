//! What the token may still do, as a person can change it in HubSpot's settings while a client
//! runs: revoke it (`POST /_sandbox/revoke`), so it fails from some request on with HubSpot's
//! 401, or take scopes from its private app (`POST /_sandbox/scopes`), so the operations that
//! need them answer HubSpot's 403 `MISSING_SCOPES` (`scopes.rs` names what each needs). The
//! guard asks it about every API request that carries the token.

use std::collections::BTreeSet;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// How many more API requests the token works for; `None` while it is not revoked.
    remaining: Option<u64>,
    /// The scopes the token lacks; it has every other one.
    missing: BTreeSet<String>,
}

impl Credentials {
    /// The token works for `after` more API requests, then never again; `None` restores it.
    pub fn revoke_after(&mut self, after: Option<u64>) {
        self.remaining = after;
    }

    /// Whether the token still works for this request, which uses one of those left.
    pub fn admit(&mut self) -> bool {
        match &mut self.remaining {
            None => true,
            Some(0) => false,
            Some(n) => {
                *n -= 1;
                true
            }
        }
    }

    /// The token lacks `scopes` from now on, and has every other scope; answers the set.
    pub fn set_missing(&mut self, scopes: Vec<String>) -> &BTreeSet<String> {
        self.missing = scopes.into_iter().collect();
        &self.missing
    }

    /// Whether the token has none of `accepted`, the scopes an operation takes (any one is
    /// enough), and so is refused it.
    pub fn lacks_all(&self, accepted: &[&str]) -> bool {
        !accepted.is_empty() && accepted.iter().all(|s| self.missing.contains(*s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoked_token_works_for_the_requests_left_then_never() {
        let mut c = Credentials::default();
        assert!(c.admit() && c.admit(), "not revoked: always");
        c.revoke_after(Some(2));
        assert_eq!(
            [c.admit(), c.admit(), c.admit(), c.admit()],
            [true, true, false, false]
        );
        c.revoke_after(Some(0));
        assert!(!c.admit());
        c.revoke_after(None);
        assert!(c.admit());
    }

    #[test]
    fn an_operation_is_refused_only_without_every_scope_it_accepts() {
        let mut c = Credentials::default();
        let set = c.set_missing(vec!["b".into(), "a".into(), "a".into()]);
        assert_eq!(set.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(c.lacks_all(&["a"]));
        assert!(c.lacks_all(&["a", "b"]));
        assert!(!c.lacks_all(&["a", "c"]), "c is enough");
        assert!(!c.lacks_all(&[]), "nothing needed");
        c.set_missing(Vec::new());
        assert!(!c.lacks_all(&["a"]));
    }
}

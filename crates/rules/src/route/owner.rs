//! Owner assignment: keep the owner an account already has; otherwise pick one from the pool
//! for its size by rendezvous (highest-random-weight) hashing. Rendezvous hashing is
//! deterministic across runs and machines, spreads accounts evenly over a pool, and when a rep
//! joins or leaves it moves only that rep's share instead of reshuffling everyone.

use super::{Account, Policy};

/// The owner for `account`: `current` if known, else from the enterprise pool (seats at or above
/// `enterprise_seats`) or the self-serve pool. An empty enterprise pool falls back to self-serve.
pub fn assign_owner(policy: &Policy, account: &Account, current: Option<&str>) -> Option<String> {
    if let Some(owner) = current.filter(|o| !o.is_empty()) {
        return Some(owner.to_string());
    }
    let pool = if account.seats >= policy.enterprise_seats && !policy.owners.enterprise.is_empty() {
        &policy.owners.enterprise
    } else {
        &policy.owners.self_serve
    };
    rendezvous(&account.account_id, pool).map(str::to_string)
}

/// The pool member with the highest hash of (key, member). Pure and stable across releases:
/// FNV-1a with a SplitMix64 finaliser, not std's `DefaultHasher`, whose output may change.
pub fn rendezvous<'a>(key: &str, pool: &'a [String]) -> Option<&'a str> {
    let k = fnv1a(key.as_bytes());
    pool.iter()
        .max_by_key(|member| (mix(k ^ fnv1a(member.as_bytes())), member.as_str()))
        .map(String::as_str)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn pool(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("rep{i}@example.com")).collect()
    }

    #[test]
    fn assignments_are_pinned() {
        // A change here reassigns every unowned account's owner: do not change the hash.
        let p = pool(5);
        let got: Vec<&str> = ["acct_000001", "acct_000002", "acct_000003", "acct_000004"]
            .iter()
            .map(|a| rendezvous(a, &p).unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "rep1@example.com",
                "rep2@example.com",
                "rep4@example.com",
                "rep0@example.com"
            ]
        );
        assert_eq!(rendezvous("x", &[]), None);
    }

    #[test]
    fn balanced_across_the_pool() {
        let p = pool(4);
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for i in 0..20_000 {
            *counts
                .entry(rendezvous(&format!("acct_{i:06}"), &p).unwrap())
                .or_default() += 1;
        }
        for (rep, n) in &counts {
            assert!((4_500..=5_500).contains(n), "{rep} got {n} of 20000");
        }
    }

    #[test]
    fn removing_a_rep_moves_only_their_accounts() {
        let full = pool(5);
        let smaller: Vec<String> = full[..4].to_vec();
        for i in 0..5_000 {
            let key = format!("acct_{i:06}");
            let before = rendezvous(&key, &full).unwrap();
            let after = rendezvous(&key, &smaller).unwrap();
            if before != full[4] {
                assert_eq!(before, after, "{key} moved though its rep stayed");
            }
        }
    }
}

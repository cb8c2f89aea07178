//! The input contract: which columns each dataset must (and may) have, and of what kind.
//! The default shape is Segment's warehouse schema (RudderStack writes the same) and Stripe's
//! Sigma / Data Pipeline tables; `format = "posthog"` reads PostHog's batch-export models
//! instead of Segment's three tables. README's "Input contract" section is written from this
//! file.

use crate::value::Kind;

/// What one dataset must look like.
#[derive(Debug, Clone, Copy)]
pub struct Contract {
    /// Table name under the `raw` schema, e.g. `raw.tracks`.
    pub name: &'static str,
    /// Columns that must exist.
    pub required: &'static [(&'static str, Kind)],
    /// Columns that may exist; absent ones read as null so SQL can rely on them.
    pub optional: &'static [(&'static str, Kind)],
    /// Event-time column used to prune `day=`/`dt=` partitions.
    pub time_column: Option<&'static str>,
}

use Kind::*;

pub const TRACKS: Contract = Contract {
    name: "tracks",
    required: &[
        ("id", Text),
        ("user_id", Text),
        ("event", Text),
        ("timestamp", Timestamp),
        ("context_group_id", Text),
    ],
    optional: &[
        ("anonymous_id", Text),
        ("event_text", Text),
        ("received_at", Timestamp),
    ],
    time_column: Some("timestamp"),
};

pub const IDENTIFIES: Contract = Contract {
    name: "identifies",
    required: &[
        ("user_id", Text),
        ("email", Text),
        ("timestamp", Timestamp),
        ("context_group_id", Text),
    ],
    optional: &[
        ("id", Text),
        ("anonymous_id", Text),
        ("received_at", Timestamp),
    ],
    time_column: Some("timestamp"),
};

pub const GROUPS: Contract = Contract {
    name: "groups",
    required: &[
        ("group_id", Text),
        ("timestamp", Timestamp),
        ("website", Text),
        ("employees", Number),
        ("industry", Text),
    ],
    optional: &[
        ("id", Text),
        ("user_id", Text),
        ("received_at", Timestamp),
        ("name", Text),
        ("plan", Text),
    ],
    // Groups carry account traits whose latest row matters however old it is: never pruned.
    time_column: None,
};

pub const SUBSCRIPTIONS: Contract = Contract {
    name: "subscriptions",
    required: &[
        ("id", Text),
        ("customer_id", Text),
        ("status", Text),
        ("created", Timestamp),
        ("start_date", Timestamp),
        ("trial_start", Timestamp),
        ("trial_end", Timestamp),
        ("canceled_at", Timestamp),
        ("ended_at", Timestamp),
    ],
    optional: &[("quantity", Integer), ("price_id", Text)],
    time_column: None,
};

pub const SUBSCRIPTION_ITEMS: Contract = Contract {
    name: "subscription_items",
    required: &[
        ("subscription_id", Text),
        ("price_unit_amount", Integer),
        ("price_currency", Text),
        ("price_recurring_interval", Text),
        ("quantity", Integer),
    ],
    optional: &[("price_id", Text)],
    time_column: None,
};

pub const CUSTOMERS_METADATA: Contract = Contract {
    name: "customers_metadata",
    required: &[("customer_id", Text), ("key", Text), ("value", Text)],
    optional: &[],
    time_column: None,
};

/// Any per-event dataset (`[sources.events]`): Segment's table for one event.
pub const EVENT: Contract = Contract {
    name: "event",
    required: &[
        ("id", Text),
        ("context_group_id", Text),
        ("timestamp", Timestamp),
    ],
    optional: &[("user_id", Text), ("received_at", Timestamp)],
    time_column: Some("timestamp"),
};

/// `rows_imported`: a per-event dataset the bundled features read, with its row count.
pub const ROWS_IMPORTED: Contract = Contract {
    name: "rows_imported",
    required: &[
        ("id", Text),
        ("context_group_id", Text),
        ("timestamp", Timestamp),
        ("row_count", Number),
    ],
    optional: &[("user_id", Text), ("received_at", Timestamp)],
    time_column: Some("timestamp"),
};

/// PostHog's events model, as its batch exports write it in Parquet
/// (<https://posthog.com/docs/cdp/batch-exports/s3#events-model>). `properties` and
/// `person_properties` are JSON text; PostHog may add columns at any time, and extra columns
/// are read as they come.
pub const POSTHOG_EVENTS: Contract = Contract {
    name: super::config::POSTHOG_EVENTS,
    required: &[
        ("uuid", Text),
        ("event", Text),
        ("distinct_id", Text),
        ("person_id", Text),
        ("properties", Text),
        ("timestamp", Timestamp),
    ],
    optional: &[
        ("person_properties", Text),
        ("created_at", Timestamp),
        ("_inserted_at", Timestamp),
        ("elements_chain", Text),
    ],
    time_column: Some("timestamp"),
};

/// PostHog's persons model (<https://posthog.com/docs/cdp/batch-exports/s3#persons-model>):
/// one row per (team, distinct id) per export, with the person's latest properties. Each
/// export holds the persons that changed, so a distinct id appears once per change; the
/// highest versions win.
pub const POSTHOG_PERSONS: Contract = Contract {
    name: super::config::POSTHOG_PERSONS,
    required: &[
        ("distinct_id", Text),
        ("person_id", Text),
        ("properties", Text),
    ],
    optional: &[
        ("team_id", Integer),
        ("person_version", Integer),
        ("person_distinct_id_version", Integer),
        ("created_at", Timestamp),
        ("_inserted_at", Timestamp),
        ("is_deleted", Boolean),
    ],
    // Persons carry the latest properties however old the row: never pruned.
    time_column: None,
};

/// Datasets the bundled SQL reads that may be left unconfigured; they are registered empty.
pub const OPTIONAL_DATASETS: &[Contract] = &[
    SUBSCRIPTIONS,
    SUBSCRIPTION_ITEMS,
    CUSTOMERS_METADATA,
    ROWS_IMPORTED,
];

/// The contract for a per-event dataset named `event`.
pub fn for_event(event: &str) -> Contract {
    if event == ROWS_IMPORTED.name {
        ROWS_IMPORTED
    } else {
        EVENT
    }
}

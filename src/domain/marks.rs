//! The guard's own marks: the tags it puts on resources and the source name it signs its events
//! and findings with. Defined once here; every other module refers to these.
//!
//! A mark is a hint the guard left for its next look, never an instruction: the guard decides
//! from the live resource, and treats a mark's value as a claim.

/// The source of the guard's EventBridge events (outcomes, recreate intents) and the prefix of
/// its findings' generator ids. Events and findings with it are the guard's own: the decoder
/// ignores its findings, so that filing one never triggers a look.
pub const SOURCE: &str = "sagemaker-guard";

/// The prefix of every tag key the guard owns; users' tags never start with it.
pub const TAG_PREFIX: &str = "sagemaker-guard/";

/// Names the failed controls of a resource whose policy says `tag`.
pub const NONCOMPLIANT_TAG: &str = "sagemaker-guard/noncompliant";
/// The time after which a marked notebook is recreated (the grace period).
pub const RECREATE_AFTER_TAG: &str = "sagemaker-guard/recreate-after";
/// On a recreated notebook: the id of the intent that created it.
pub const RECREATED_AT_TAG: &str = "sagemaker-guard/recreated-at";
/// Remembers that a notebook was running before the guard stopped it to fix it, and when.
pub const RESTART_TAG: &str = "sagemaker-guard/restart";
/// On an old endpoint config once every endpoint moved to its replacement: the new name.
pub const REPLACED_BY_TAG: &str = "sagemaker-guard/replaced-by";

/// The detail-type of a recreate intent's message.
pub const INTENT_DETAIL_TYPE: &str = "Recreate Intent";

/// Every tag the guard puts on resources, for a recreate to leave behind or a test to check.
pub const ALL_TAGS: [&str; 5] = [
    NONCOMPLIANT_TAG,
    RECREATE_AFTER_TAG,
    RECREATED_AT_TAG,
    RESTART_TAG,
    REPLACED_BY_TAG,
];

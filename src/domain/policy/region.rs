//! AWS region codes: which are well formed, which this version knows, and the nearest known one.
//!
//! A region that is well formed but unknown is only a warning: AWS opens regions more often than
//! the guard is released, and a policy naming a new one must keep working.

/// The regions of the commercial, GovCloud, China and European Sovereign Cloud partitions known
/// to this version.
pub const KNOWN: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eusc-de-east-1",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// Whether a code has the shape of a region: three or more lower-case parts joined by `-`, the
/// last a number (`us-east-1`, `us-gov-west-1`).
pub fn is_well_formed(code: &str) -> bool {
    let parts: Vec<&str> = code.split('-').collect();
    parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

pub fn is_known(code: &str) -> bool {
    KNOWN.contains(&code)
}

/// The known region a code is most likely a misspelling of, if one is close.
pub fn nearest(code: &str) -> Option<&'static str> {
    super::spelling::closest(code, KNOWN.iter().copied())
}

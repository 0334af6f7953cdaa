//! The pure core: data in, data out. Nothing here calls AWS, awaits, or reads the clock on its
//! own; the time is passed in. Everything above builds on these types.

pub mod accounts;
pub mod assess;
pub mod catalogue;
pub mod evaluate;
pub mod event;
pub mod execution;
pub mod intent;
pub mod kms_key;
pub mod marks;
pub mod mutation;
pub mod next;
pub mod plan;
pub mod policy;
#[cfg(test)]
mod proptests;
pub mod resource;
#[cfg(test)]
pub(crate) mod testing;

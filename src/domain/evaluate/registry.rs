//! Where a model's containers pull their images from: SageMaker.16 (the primary container) and
//! .19 (the containers of an inference pipeline). A container passes when it pulls from a private
//! registry in the model's VPC; it fails without an `ImageConfig` or with
//! `RepositoryAccessMode` `Platform`, exactly the two cases the rule pages name.

use super::Judgement;
use crate::domain::resource::{ModelContainer, ModelContainers};

/// SageMaker.16: the primary container pulls from a private registry.
///
/// A model without a `PrimaryContainer` is NOT_APPLICABLE: the rule judges "models that use a
/// PrimaryContainer", and a multi-container model's images are .19's to judge.
pub fn primary_container(model: &ModelContainers) -> Judgement {
    if let Some(unread) = neither(model) {
        return unread;
    }
    let Some(primary) = &model.primary else {
        return Judgement::NotApplicable(
            "the model has no PrimaryContainer (SageMaker.19 judges its Containers)".into(),
        );
    };
    match private(primary) {
        Ok(mode) => Judgement::Passed(format!(
            "the PrimaryContainer pulls from a private registry (RepositoryAccessMode {mode})"
        )),
        Err(why) => Judgement::Failed(format!("the PrimaryContainer {why}")),
    }
}

/// SageMaker.19: every container of a multi-container model pulls from a private registry.
///
/// A model without `Containers` is NOT_APPLICABLE: the rule judges "models with multi-container
/// inference pipelines", and a single-container model's image is .16's to judge. The reason names
/// every failing container by its position.
pub fn pipeline_containers(model: &ModelContainers) -> Judgement {
    if let Some(unread) = neither(model) {
        return unread;
    }
    if model.containers.is_empty() {
        return Judgement::NotApplicable(
            "the model has no Containers (SageMaker.16 judges its PrimaryContainer)".into(),
        );
    }
    let failing: Vec<String> = model
        .containers
        .iter()
        .enumerate()
        .filter_map(|(i, c)| private(c).err().map(|why| format!("Containers[{i}] {why}")))
        .collect();
    if failing.is_empty() {
        let n = model.containers.len();
        Judgement::Passed(format!(
            "every container pulls from a private registry ({n} of {n})"
        ))
    } else {
        Judgement::Failed(failing.join("; "))
    }
}

/// A model has a `PrimaryContainer` or `Containers` (`CreateModel` requires one): with neither,
/// the read was incomplete, and a verdict either way would be a guess.
fn neither(model: &ModelContainers) -> Option<Judgement> {
    (model.primary.is_none() && model.containers.is_empty()).then(|| {
        Judgement::Unknown(
            "the model has neither PrimaryContainer nor Containers: its configuration was not \
             fully read"
                .into(),
        )
    })
}

/// The access mode when the container pulls from a private registry; otherwise why not. Only
/// the two cases the rules name fail: any mode but `Platform` (today only `Vpc`) passes.
fn private(container: &ModelContainer) -> Result<&str, String> {
    match container.repository_access_mode.as_deref() {
        None => Err("has no ImageConfig (its image comes from Amazon ECR)".into()),
        Some("Platform") => Err("pulls from Amazon ECR (RepositoryAccessMode Platform)".into()),
        Some(mode) => Ok(mode),
    }
}

#[cfg(test)]
mod tests;

//! Compute targets and experiments: workspace resources (`…/workspaces/{ws}/computes/{name}`,
//! `…/experiments/{name}`). Every workspace also has the built-in `local` target, whose limits
//! come from the server's configuration.

use super::Services;
use super::resources::workspace_id;
use crate::error::{Error, Result};
use casemate_store::ResourceRecord;
use casemate_types::Sensitive;
use casemate_types::names::{validate_child_name, validate_note};
use casemate_types::wire::{
    Compute, ComputeIdentity, CreateComputeRequest, Experiment, RayCompute, RunResources,
};
use serde::{Deserialize, Serialize};

pub const COMPUTES: &str = "computes";
pub const EXPERIMENTS: &str = "experiments";

/// The resource id of the workspace's experiment `name`.
pub fn experiment_resource_id(workspace_id: &str, name: &str) -> String {
    format!("{workspace_id}/{EXPERIMENTS}/{name}")
}
pub const BUILT_IN_LOCAL: &str = "local";
/// What the workspace's identity must be allowed in its vault to read a Ray credential.
const SECRET_GET_ACTION: &str = "vaults/secrets/getSecret/action";
/// The kind of a compute backed by a Ray cluster.
pub const RAY: &str = "ray";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ComputeProperties {
    kind: String,
    max_concurrent_runs: u32,
    max_run_seconds: u64,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    identities: Vec<ComputeIdentity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ray: Option<RayCompute>,
}

/// What the run lifecycle needs of a compute target.
#[derive(Debug, Clone)]
pub struct ComputeTarget {
    /// Names the target's queue: runs on one target share its concurrency limit.
    pub queue: String,
    pub name: String,
    pub kind: String,
    pub max_concurrent_runs: u32,
    pub max_run_seconds: u64,
    /// Whether runs here may get tokens as the compute's identities.
    pub has_identity: bool,
    /// A Ray compute's cluster.
    pub ray: Option<RayCompute>,
}

fn compute_view(record: &ResourceRecord) -> Result<Compute> {
    let properties: ComputeProperties =
        serde_json::from_str(&record.properties).map_err(Error::internal)?;
    Ok(Compute {
        id: record.id.clone(),
        name: record.name.clone(),
        kind: properties.kind,
        max_concurrent_runs: properties.max_concurrent_runs,
        max_run_seconds: properties.max_run_seconds,
        description: properties.description,
        built_in: false,
        identities: properties.identities,
        ray: properties.ray,
        created_at: Some(super::signing::to_time(record.created_at)?),
        created_by: Some(record.created_by.clone()),
    })
}

/// What Ray reserves for an entrypoint: CPUs and GPUs from 0 to 1024, memory a positive number
/// of bytes. Refusals name `prefix.FIELD`.
fn validate_reservations(prefix: &str, resources: &RunResources) -> Result<()> {
    for (field, value) in [
        ("entrypoint_num_cpus", resources.entrypoint_num_cpus),
        ("entrypoint_num_gpus", resources.entrypoint_num_gpus),
    ] {
        if let Some(value) = value
            && !(value.is_finite() && (0.0..=1024.0).contains(&value))
        {
            return Err(Error::invalid(
                format!("{prefix}.{field}"),
                "must be a number from 0 to 1024",
            ));
        }
    }
    if resources.entrypoint_memory == Some(0) {
        return Err(Error::invalid(
            format!("{prefix}.entrypoint_memory"),
            "must be a positive number of bytes",
        ));
    }
    Ok(())
}

/// The compute's Ray settings with a run's own reservations in place of its defaults; a run
/// on a compute that is not ray may not name any.
pub(crate) fn ray_for_run(
    target: &ComputeTarget,
    resources: Option<&RunResources>,
) -> Result<Option<RayCompute>> {
    match (&target.ray, resources) {
        (ray, None) => Ok(ray.clone()),
        (None, Some(_)) => Err(Error::invalid(
            "resources",
            format!(
                "applies only to runs on ray computes; '{}' is a {} compute",
                target.name, target.kind
            ),
        )),
        (Some(ray), Some(resources)) => {
            validate_reservations("resources", resources)?;
            Ok(Some(RayCompute {
                address: ray.address.clone(),
                entrypoint_num_cpus: resources.entrypoint_num_cpus.or(ray.entrypoint_num_cpus),
                entrypoint_num_gpus: resources.entrypoint_num_gpus.or(ray.entrypoint_num_gpus),
                entrypoint_memory: resources.entrypoint_memory.or(ray.entrypoint_memory),
                credential_secret: ray.credential_secret.clone(),
            }))
        }
    }
}

/// A compute's engine settings: a Ray compute names its cluster (and sane reservations); a
/// local one has none.
fn validate_engine(kind: &str, ray: Option<&RayCompute>) -> Result<Option<RayCompute>> {
    match (kind, ray) {
        (RAY, Some(ray)) => {
            let url = url::Url::parse(&ray.address).ok().filter(|u| {
                u.scheme() == "http"
                    && u.host_str().is_some()
                    && u.path() == "/"
                    && u.query().is_none()
                    && u.username().is_empty()
                    && u.password().is_none()
            });
            if url.is_none() {
                return Err(Error::invalid(
                    "ray.address",
                    "must be the Ray dashboard's address, http://HOST:PORT, without a path or credentials (Ray's dashboard speaks plain HTTP: keep it on a private network)",
                ));
            }
            validate_reservations(
                "ray",
                &RunResources {
                    entrypoint_num_cpus: ray.entrypoint_num_cpus,
                    entrypoint_num_gpus: ray.entrypoint_num_gpus,
                    entrypoint_memory: ray.entrypoint_memory,
                },
            )?;
            if let Some(secret) = &ray.credential_secret {
                casemate_types::names::validate_vault_item_name("ray.credential_secret", secret)?;
            }
            Ok(Some(ray.clone()))
        }
        (RAY, None) => Err(Error::invalid(
            "ray",
            "a ray compute needs ray.address, the Ray dashboard's address",
        )),
        (_, Some(_)) => Err(Error::invalid(
            "ray",
            "applies only to computes of kind ray",
        )),
        (_, None) => Ok(None),
    }
}

impl Services {
    /// The Ray cluster of a compute, by its workspace's id and its name (none for local ones,
    /// or a compute since deleted).
    pub(crate) async fn ray_of_compute(
        &self,
        workspace_id: &str,
        name: &str,
    ) -> Result<Option<RayCompute>> {
        let id = format!("{workspace_id}/{COMPUTES}/{name}");
        match self.store.resource(&id).await? {
            Some(record) if record.kind == COMPUTES => Ok(compute_view(&record)?.ray),
            _ => Ok(None),
        }
    }

    /// The credential a Ray compute's dashboard wants, read from the compute's workspace's
    /// vault by the workspace's own identity (as a run reads it, so a removed grant or a
    /// disabled secret stops it the same way). None when the compute names no secret.
    pub(crate) async fn ray_credential(
        &self,
        workspace_id: &str,
        ray: &RayCompute,
    ) -> Result<Option<Sensitive>> {
        let Some(secret) = &ray.credential_secret else {
            return Ok(None);
        };
        let workspace = self
            .store
            .resource(workspace_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("workspace '{workspace_id}'")))?;
        let vault = self
            .workspace_vault(
                &super::resources::resource_group_of(&workspace),
                &workspace.name,
                SECRET_GET_ACTION,
            )
            .await?;
        let value = self.secret_value(&vault, secret).await.map_err(|error| {
            Error::BadGateway(format!(
                "the Ray compute's credential secret '{secret}' could not be read: {error}"
            ))
        })?;
        Ok(Some(value))
    }

    fn built_in_local(&self, workspace: &str) -> Compute {
        Compute {
            id: format!("{workspace}/{COMPUTES}/{BUILT_IN_LOCAL}"),
            name: BUILT_IN_LOCAL.to_owned(),
            kind: BUILT_IN_LOCAL.to_owned(),
            max_concurrent_runs: self.runs.local_max_concurrent_runs,
            max_run_seconds: self.runs.local_max_run_seconds,
            description: Some("built in: child processes on the server's machine".into()),
            built_in: true,
            identities: Vec::new(),
            ray: None,
            created_at: None,
            created_by: None,
        }
    }

    pub async fn create_compute(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
        request: &CreateComputeRequest,
        caller: &super::Caller,
    ) -> Result<Compute> {
        validate_child_name("name", name)?;
        if name.eq_ignore_ascii_case(BUILT_IN_LOCAL) {
            return Err(Error::invalid(
                "name",
                "'local' is the built-in target every workspace has; choose another name",
            ));
        }
        let kind = request.kind.as_deref().unwrap_or(BUILT_IN_LOCAL);
        if !self.runs.executors.contains_key(kind) {
            let known: Vec<&str> = self.runs.executors.keys().copied().collect();
            return Err(Error::invalid(
                "kind",
                format!("must be one of: {}", known.join(", ")),
            ));
        }
        let ray = validate_engine(kind, request.ray.as_ref())?;
        let max_concurrent_runs = request.max_concurrent_runs.unwrap_or(1);
        if !(1..=1024).contains(&max_concurrent_runs) {
            return Err(Error::invalid(
                "max_concurrent_runs",
                "must be between 1 and 1024",
            ));
        }
        let max_run_seconds = request
            .max_run_seconds
            .unwrap_or(self.runs.local_max_run_seconds);
        if !(1..=30 * 86_400).contains(&max_run_seconds) {
            return Err(Error::invalid(
                "max_run_seconds",
                "must be between 1 and 2592000 (30 days)",
            ));
        }
        validate_note("description", request.description.as_deref())?;
        let workspace = self.get_workspace(rg, ws).await?;
        let id = format!("{}/{COMPUTES}/{name}", workspace.id);
        let (identities, system) = self
            .compute_identities(
                caller,
                &id,
                &workspace.container_registry,
                &request.assign_identity,
            )
            .await?;
        let properties = ComputeProperties {
            kind: kind.to_owned(),
            max_concurrent_runs,
            max_run_seconds,
            description: request.description.clone(),
            identities,
            ray,
        };
        let record = ResourceRecord {
            id,
            kind: COMPUTES.to_owned(),
            parent: Some(workspace.id.clone()),
            name: name.to_owned(),
            properties: serde_json::to_string(&properties).map_err(Error::internal)?,
            created_at: self.now_unix(),
            created_by: caller.name.clone(),
        };
        // A system-assigned identity is made with its compute, with the seed's AcrPull on the
        // workspace's registry, or not at all.
        match system {
            Some((principal, grant)) => {
                self.store
                    .provision(&casemate_store::Provisioning {
                        resources: vec![record.clone()],
                        identity: principal,
                        assignments: vec![grant],
                    })
                    .await?
            }
            None => self.store.insert_resource(&record).await?,
        }
        compute_view(&record)
    }

    pub async fn list_computes(&self, rg: &str, ws: &str) -> Result<Vec<Compute>> {
        let workspace = self.get_workspace(rg, ws).await?;
        let mut computes = vec![self.built_in_local(&workspace.id)];
        for record in self.store.resources(COMPUTES, Some(&workspace.id)).await? {
            computes.push(compute_view(&record)?);
        }
        Ok(computes)
    }

    pub async fn get_compute(&self, rg: &str, ws: &str, name: &str) -> Result<Compute> {
        validate_child_name("name", name)?;
        let workspace = self.get_workspace(rg, ws).await?;
        if name.eq_ignore_ascii_case(BUILT_IN_LOCAL) {
            return Ok(self.built_in_local(&workspace.id));
        }
        let record = self
            .store
            .resource(&format!("{}/{COMPUTES}/{name}", workspace.id))
            .await?
            .filter(|r| r.kind == COMPUTES)
            .ok_or_else(|| Error::NotFound(format!("compute '{name}'")))?;
        compute_view(&record)
    }

    pub async fn delete_compute(&self, rg: &str, ws: &str, name: &str) -> Result<()> {
        let compute = self.get_compute(rg, ws, name).await?;
        if compute.built_in {
            return Err(Error::invalid(
                "name",
                "the built-in 'local' target cannot be deleted",
            ));
        }
        // Its system-assigned identity goes with it; user-assigned ones stay.
        let system: Vec<uuid::Uuid> = compute
            .identities
            .iter()
            .filter(|i| i.resource_id.is_none())
            .map(|i| i.principal_id)
            .collect();
        for principal in &system {
            for assignment in self.store.role_assignments_for(*principal).await? {
                self.store.delete_role_assignment(assignment.id).await?;
            }
        }
        self.store.delete_resources(&[compute.id], &system).await?;
        Ok(())
    }

    pub(crate) async fn compute_target(
        &self,
        rg: &str,
        ws: &str,
        name: &str,
    ) -> Result<ComputeTarget> {
        let compute = self
            .get_compute(rg, ws, name)
            .await
            .map_err(|error| match error {
                Error::InvalidInput { rule, .. } => Error::invalid("compute", rule),
                other => other,
            })?;
        Ok(ComputeTarget {
            queue: if compute.built_in {
                BUILT_IN_LOCAL.to_owned()
            } else {
                compute.id.to_ascii_lowercase()
            },
            name: compute.name,
            kind: compute.kind,
            max_concurrent_runs: compute.max_concurrent_runs,
            max_run_seconds: compute.max_run_seconds,
            has_identity: !compute.identities.is_empty(),
            ray: compute.ray,
        })
    }

    /// The resource record of a new experiment in the workspace.
    pub(super) fn experiment_record(
        &self,
        workspace: &str,
        name: &str,
        properties: String,
        creator: &str,
    ) -> ResourceRecord {
        ResourceRecord {
            id: experiment_resource_id(workspace, name),
            kind: EXPERIMENTS.to_owned(),
            parent: Some(workspace.to_owned()),
            name: name.to_owned(),
            properties,
            created_at: self.now_unix(),
            created_by: creator.to_owned(),
        }
    }

    /// Creates the experiment on first use.
    pub(super) async fn ensure_experiment(
        &self,
        workspace: &str,
        name: &str,
        creator: &str,
    ) -> Result<()> {
        let id = experiment_resource_id(workspace, name);
        if self.store.resource(&id).await?.is_some() {
            return Ok(());
        }
        let (properties, _) = self
            .new_experiment_properties(workspace, name, Default::default())
            .await?;
        let record = self.experiment_record(workspace, name, properties, creator);
        match self.store.insert_resource(&record).await {
            Ok(()) | Err(casemate_store::StoreError::Conflict(_)) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    pub async fn list_experiments(&self, rg: &str, ws: &str) -> Result<Vec<Experiment>> {
        let workspace_id = workspace_id(rg, ws);
        self.get_workspace(rg, ws).await?;
        self.store
            .resources(EXPERIMENTS, Some(&workspace_id))
            .await?
            .into_iter()
            .map(|record| {
                Ok(Experiment {
                    id: record.id,
                    name: record.name,
                    created_at: super::signing::to_time(record.created_at)?,
                    created_by: record.created_by,
                })
            })
            .collect()
    }
}

//! A run's base image: the reference it names, checked when it is submitted, and its
//! resolution before it starts, through the compute's identity, to a manifest whose digest and
//! config are verified. Running the command inside the image is a later executor's job; the
//! resolved digest is recorded on the run.

use super::route::{self, Endpoint, RegistryRoute, valid_digest};
use crate::error::{Error, Result};
use crate::identities::service::chosen_identity;
use crate::services::Services;
use casemate_authz::Scope;
use casemate_types::wire::RunImage;
use futures_util::StreamExt;
use uuid::Uuid;

const BASE_IMAGE: &str = "image.base_image";
const PULL_ACTION: &str = "registries/pull/read";
/// The largest image config read while resolving.
const MAX_CONFIG_BYTES: usize = 4 * 1024 * 1024;
const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// What a run pulls before it starts, and as whom.
#[derive(Debug, Clone)]
pub struct RunImagePull {
    pub reference: ImageReference,
    pub principal: Uuid,
    /// The identity, as refusals describe it.
    pub identity: String,
}

/// An image in one of casemate's registries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    route: RegistryRoute,
    reference: String,
}

impl ImageReference {
    /// `[HOST/]RG/REGISTRY/REPOSITORY:TAG` or `…@sha256:DIGEST`; a host, when given, must be
    /// `server_host` (this server: only its registries can be reached).
    pub fn parse(text: &str, server_host: &str) -> Result<Self> {
        let refused = |rule: String| Error::invalid(BASE_IMAGE, rule);
        let shape = "must be [HOST/]RESOURCE_GROUP/REGISTRY/REPOSITORY:TAG or …@sha256:DIGEST";
        let mut rest = text;
        if let Some((first, after)) = text.split_once('/')
            && (first.contains(['.', ':']) || first == "localhost")
        {
            if !first.eq_ignore_ascii_case(server_host) {
                return Err(refused(format!(
                    "names the host '{first}': only this server's registries ({server_host}) can be pulled from"
                )));
            }
            rest = after;
        }
        let (name, reference) = match rest.split_once('@') {
            Some((name, digest)) => (name, digest),
            None => match rest.rsplit_once(':') {
                Some((name, tag)) if !tag.contains('/') => (name, tag),
                _ => (rest, "latest"),
            },
        };
        let route =
            route::parse(&format!("{name}/manifests/{reference}")).map_err(
                |error| match error {
                    Error::InvalidInput { rule, .. } => refused(format!("{shape}: {rule}")),
                    _ => refused(shape.to_owned()),
                },
            )?;
        Ok(Self {
            route,
            reference: reference.to_owned(),
        })
    }

    pub fn registry_id(&self) -> String {
        self.route.registry_id()
    }
}

impl std::fmt::Display for ImageReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let separator = if valid_digest(&self.reference) {
            '@'
        } else {
            ':'
        };
        write!(f, "{}{separator}{}", self.route.name(), self.reference)
    }
}

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(casemate_crypto::sha256(bytes)))
}

/// The manifest's descriptors: an index's manifests (linux/amd64 first) or an image's config.
#[derive(serde::Deserialize)]
struct ManifestDescriptors {
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(serde::Deserialize)]
struct Descriptor {
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(serde::Deserialize)]
struct Platform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
}

impl Services {
    /// Checks a submitted run's image and picks the compute identity that will pull it; the
    /// run is refused (nothing made) when the reference is malformed or the compute has no
    /// such identity.
    pub(crate) async fn run_image(
        &self,
        rg: &str,
        ws: &str,
        compute: &str,
        server_url: &str,
        image: &RunImage,
    ) -> Result<RunImagePull> {
        let host = server_url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let reference = ImageReference::parse(&image.base_image, host)?;
        let compute = self.get_compute(rg, ws, compute).await?;
        let chosen = chosen_identity(&compute, image.client_id, "image.client_id")?;
        let identity = match &chosen.resource_id {
            Some(resource) => format!("compute '{}''s identity {resource}", compute.name),
            None => format!("compute '{}''s system-assigned identity", compute.name),
        };
        Ok(RunImagePull {
            reference,
            principal: chosen.principal_id,
            identity,
        })
    }

    /// Resolves `image` as the identity `principal` (described as `identity` in refusals):
    /// the identity must hold AcrPull on the image's registry; the manifest's digest is checked
    /// against its content (and against the reference, when that is a digest); an index is
    /// followed to its linux/amd64 image; the image's config must be present and match its
    /// digest. Returns the image manifest's digest, or why the run cannot start.
    pub(crate) async fn resolve_image(
        &self,
        image: &ImageReference,
        principal: Uuid,
        identity: &str,
    ) -> std::result::Result<String, String> {
        let scope = Scope::parse(&image.registry_id()).map_err(|e| e.to_string())?;
        match self
            .authorize_principal(principal, PULL_ACTION, &scope)
            .await
        {
            Ok(()) => {}
            Err(Error::Forbidden { .. }) => {
                return Err(format!(
                    "cannot pull image '{image}': {identity} (principal {principal}) holds no {PULL_ACTION} (AcrPull) on {scope}; grant it with `casemate role assignment create --assignee {principal} --role AcrPull --scope {scope}`"
                ));
            }
            Err(other) => return Err(resolution_failed(image, &other)),
        }
        let mut reference = image.reference.clone();
        // An index names its images; one hop reaches the image manifest.
        for _ in 0..2 {
            let route = RegistryRoute {
                endpoint: Endpoint::Manifest(reference.clone()),
                ..image.route.clone()
            };
            let manifest = match self.registry_manifest(&route, &reference).await {
                Ok(manifest) => manifest,
                Err(Error::NotFound(_)) => {
                    return Err(format!(
                        "image '{image}' does not exist: no manifest '{reference}' in {}",
                        image.route.name()
                    ));
                }
                Err(other) => return Err(resolution_failed(image, &other)),
            };
            let actual = digest_of(&manifest.content);
            if actual != manifest.digest || (valid_digest(&reference) && actual != reference) {
                return Err(format!(
                    "image '{image}' failed verification: its manifest's content has digest {actual}, not {}",
                    manifest.digest
                ));
            }
            let descriptors: ManifestDescriptors = serde_json::from_slice(&manifest.content)
                .map_err(|e| format!("image '{image}' has a manifest that is not JSON: {e}"))?;
            if INDEX_TYPES.contains(&manifest.media_type.as_str()) {
                let chosen = descriptors
                    .manifests
                    .iter()
                    .find(|d| {
                        d.platform
                            .as_ref()
                            .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
                    })
                    .or_else(|| descriptors.manifests.first())
                    .ok_or_else(|| format!("image '{image}' is an index of no images"))?;
                reference.clone_from(&chosen.digest);
                continue;
            }
            let config = descriptors
                .config
                .ok_or_else(|| format!("image '{image}' has a manifest without a config"))?;
            self.verify_config(&route, image, &config.digest).await?;
            return Ok(actual);
        }
        Err(format!("image '{image}' is an index of indexes"))
    }

    async fn verify_config(
        &self,
        route: &RegistryRoute,
        image: &ImageReference,
        digest: &str,
    ) -> std::result::Result<(), String> {
        if !valid_digest(digest) {
            return Err(format!(
                "image '{image}' names a config digest that is not sha256"
            ));
        }
        let (size, mut stream) = match self.registry_blob(route, digest).await {
            Ok(found) => found,
            Err(Error::NotFound(_)) => {
                return Err(format!(
                    "image '{image}' is incomplete: its config {digest} is missing"
                ));
            }
            Err(other) => return Err(resolution_failed(image, &other)),
        };
        if size > MAX_CONFIG_BYTES as u64 {
            return Err(format!(
                "image '{image}' has a config of {size} bytes, over the {MAX_CONFIG_BYTES} read"
            ));
        }
        let mut content = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| resolution_failed(image, &Error::internal(e)))?;
            content.extend_from_slice(&chunk);
        }
        let actual = digest_of(&content);
        if actual != digest {
            return Err(format!(
                "image '{image}' failed verification: its config has digest {actual}, not {digest}"
            ));
        }
        Ok(())
    }
}

fn resolution_failed(image: &ImageReference, error: &Error) -> String {
    tracing::warn!(%image, %error, "resolving a run's image failed");
    format!("image '{image}' could not be resolved: the server log has the details")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_or_without_this_host_and_refuse_others_by_field() {
        let host = "127.0.0.1:8443";
        let tagged = ImageReference::parse("team/private/base/py:3.12", host).unwrap();
        assert_eq!(
            tagged.registry_id(),
            "/resourceGroups/team/registries/private"
        );
        assert_eq!(tagged.to_string(), "team/private/base/py:3.12");
        let hosted = ImageReference::parse("127.0.0.1:8443/team/private/py", host).unwrap();
        assert_eq!(hosted.to_string(), "team/private/py:latest");
        let digest = format!("sha256:{}", "b".repeat(64));
        let pinned = ImageReference::parse(&format!("team/private/py@{digest}"), host).unwrap();
        assert_eq!(pinned.to_string(), format!("team/private/py@{digest}"));
        for bad in [
            "docker.io/library/python:3",
            "python:3",
            "team/private",
            "team/private/Py:1",
            "team/private/py:bad tag",
            "team/private/py@sha256:zz",
        ] {
            match ImageReference::parse(bad, host) {
                Err(Error::InvalidInput { field, .. }) => assert_eq!(field, BASE_IMAGE, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}

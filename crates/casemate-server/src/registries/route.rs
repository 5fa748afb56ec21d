//! Where an OCI distribution request goes: `/v2/{rg}/{registry}/{repository}/…` names the
//! registry resource `/resourceGroups/{rg}/registries/{registry}` and a repository in it.

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Tags,
    Manifest(String),
    Blob(String),
    StartUpload,
    Upload(uuid::Uuid),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRoute {
    pub resource_group: String,
    pub registry: String,
    pub repository: String,
    pub endpoint: Endpoint,
}

impl RegistryRoute {
    pub fn registry_id(&self) -> String {
        format!(
            "/resourceGroups/{}/registries/{}",
            self.resource_group, self.registry
        )
    }

    /// The name clients use for the repository: `{rg}/{registry}/{repository}`.
    pub fn name(&self) -> String {
        format!(
            "{}/{}/{}",
            self.resource_group, self.registry, self.repository
        )
    }
}

/// The distribution spec's repository name components: lower-case letters and digits, joined
/// by `.`, `_`, `__` or runs of `-`.
fn valid_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut index = 0;
    while index < bytes.len() {
        if alnum(bytes[index]) {
            index += 1;
            continue;
        }
        let start = index;
        while index < bytes.len() && !alnum(bytes[index]) {
            index += 1;
        }
        let separator = &component[start..index];
        let dashes = separator.bytes().all(|b| b == b'-');
        if !(separator == "." || separator == "_" || separator == "__" || dashes) {
            return false;
        }
    }
    true
}

pub fn valid_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    tag.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Parses what follows `/v2/`. Names that break the spec's rules are NAME_INVALID (400).
pub fn parse(rest: &str) -> Result<RegistryRoute> {
    let rest = rest.trim_start_matches('/');
    let (name, endpoint) = if let Some(name) = rest.strip_suffix("/tags/list") {
        (name, Endpoint::Tags)
    } else if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
        if !(valid_digest(reference) || valid_tag(reference)) {
            return Err(Error::invalid(
                "reference",
                "must be a tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127}) or a sha256 digest",
            ));
        }
        (name, Endpoint::Manifest(reference.to_owned()))
    } else if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        (name, Endpoint::StartUpload)
    } else if let Some((name, id)) = rest.rsplit_once("/blobs/uploads/") {
        let id =
            uuid::Uuid::try_parse(id).map_err(|_| Error::NotFound(format!("upload '{id}'")))?;
        (name, Endpoint::Upload(id))
    } else if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
        if !valid_digest(digest) {
            return Err(Error::invalid(
                "digest",
                "must be sha256: and 64 lower-case hex digits",
            ));
        }
        (name, Endpoint::Blob(digest.to_owned()))
    } else {
        return Err(Error::NotFound(format!("registry endpoint '/v2/{rest}'")));
    };
    let mut parts = name.splitn(3, '/');
    let (Some(resource_group), Some(registry), Some(repository)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::invalid(
            "name",
            "must be RESOURCE_GROUP/REGISTRY/REPOSITORY (a registry of casemate, then the repository in it)",
        ));
    };
    if name.len() > 255 || !repository.split('/').all(valid_component) {
        return Err(Error::invalid(
            "name",
            "repository names are lower-case letters and digits separated by '.', '_', '__', '-' or '/'",
        ));
    }
    casemate_types::names::validate_child_name("name", resource_group)?;
    casemate_types::names::validate_child_name("name", registry)?;
    Ok(RegistryRoute {
        resource_group: resource_group.to_owned(),
        registry: registry.to_owned(),
        repository: repository.to_owned(),
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_endpoints_parse_as_the_spec_shapes_them() {
        let route = parse("team/vision-registry/tools/app/manifests/v1.0").unwrap();
        assert_eq!(
            route.registry_id(),
            "/resourceGroups/team/registries/vision-registry"
        );
        assert_eq!(route.repository, "tools/app");
        assert_eq!(route.endpoint, Endpoint::Manifest("v1.0".into()));
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            parse(&format!("team/r/app/blobs/{digest}"))
                .unwrap()
                .endpoint,
            Endpoint::Blob(digest)
        );
        assert_eq!(
            parse("team/r/app/blobs/uploads/").unwrap().endpoint,
            Endpoint::StartUpload
        );
        assert_eq!(
            parse("team/r/app/tags/list").unwrap().endpoint,
            Endpoint::Tags
        );
        assert!(parse("team/r/App/tags/list").is_err());
        assert!(parse("team/r/tags/list").is_err());
        assert!(parse("team/r/app/blobs/sha256:zz").is_err());
        assert!(parse("team/r/a--b__c.d/tags/list").is_ok());
        assert!(parse("team/r/a___b/tags/list").is_err());
    }
}

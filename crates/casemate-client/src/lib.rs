//! A typed HTTP client for casemate. TLS is verified by pinning the server certificate's
//! SHA-256 fingerprint (as the CLI records it at login), or not at all for plain-HTTP loopback servers.

mod identities;
mod monitoring;
mod pinning;
mod registries;
mod runs;
mod webservices;

pub use pinning::{normalize_fingerprint, probe_fingerprint};
pub use runs::archive_directory;

use casemate_types::wire::*;
use casemate_types::{ErrorBody, Sensitive};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body.
    #[error("{status} {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        retry_after: Option<u64>,
    },
    #[error("server URL: {0}")]
    Url(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error("could not reach the server: {0}")]
    Transport(String),
    #[error("unexpected response ({status}): {detail}")]
    Decode { status: u16, detail: String },
}

impl ClientError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Decode { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

pub type ClientResult<T> = Result<T, ClientError>;

/// An error with all its causes, so a refused certificate is named rather than hidden behind "Connect".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Where secret calls go: a vault directly (data actions), or a workspace (its identity's vault).
#[derive(Debug, Clone, Copy)]
pub enum SecretScope<'a> {
    Vault {
        resource_group: &'a str,
        vault: &'a str,
    },
    Workspace {
        resource_group: &'a str,
        workspace: &'a str,
    },
}

impl<'a> SecretScope<'a> {
    fn base(&self) -> [&'a str; 4] {
        match *self {
            SecretScope::Vault {
                resource_group,
                vault,
            } => ["resourceGroups", resource_group, "vaults", vault],
            SecretScope::Workspace {
                resource_group,
                workspace,
            } => ["resourceGroups", resource_group, "workspaces", workspace],
        }
    }

    fn with<'b>(&self, tail: &[&'b str]) -> Vec<&'b str>
    where
        'a: 'b,
    {
        self.base()
            .into_iter()
            .chain(tail.iter().copied())
            .collect()
    }
}

/// `resourceGroups/{rg}/vaults/{vault}/…`: the path of every vault-only call.
fn vault_path<'a>(resource_group: &'a str, vault: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    SecretScope::Vault {
        resource_group,
        vault,
    }
    .with(tail)
}

#[derive(Clone)]
enum Auth {
    Bearer(Sensitive),
    Basic { username: String, secret: Sensitive },
}

/// A response as it came, for callers (and tests) that need the raw status, headers and body.
pub struct RawResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// The body may hold tokens or secret values, so `Debug` shows only its length.
impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawResponse")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl RawResponse {
    pub fn error(&self) -> Option<ErrorBody> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    auth: Option<Auth>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// `fingerprint` is required for `https://` URLs and ignored for `http://`.
    pub fn new(base_url: &str, fingerprint: Option<&str>) -> ClientResult<Self> {
        let base = Url::parse(base_url).map_err(|e| ClientError::Url(e.to_string()))?;
        let pinned = match base.scheme() {
            "https" => Some(fingerprint.ok_or_else(|| {
                ClientError::Tls("an https URL needs a pinned certificate fingerprint".into())
            })?),
            "http" => None,
            other => {
                return Err(ClientError::Url(format!(
                    "scheme must be https or http, not {other}"
                )));
            }
        };
        // Redirects are not followed: an API answer is never a redirect, and following one could
        // carry credentials elsewhere.
        let http = reqwest::Client::builder()
            .user_agent(concat!("casemate-client/", env!("CARGO_PKG_VERSION")))
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .tls_backend_preconfigured(pinning::pinned_config(pinned)?)
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Self {
            http,
            base,
            auth: None,
        })
    }

    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    pub fn with_bearer(&self, token: Sensitive) -> Self {
        Self {
            auth: Some(Auth::Bearer(token)),
            ..self.clone()
        }
    }

    pub fn with_basic(&self, username: &str, secret: Sensitive) -> Self {
        Self {
            auth: Some(Auth::Basic {
                username: username.to_owned(),
                secret,
            }),
            ..self.clone()
        }
    }

    fn url(&self, segments: &[&str]) -> ClientResult<Url> {
        let mut url = self.base.clone();
        {
            let mut path = url
                .path_segments_mut()
                .map_err(|_| ClientError::Url("base URL cannot have a path".into()))?;
            path.pop_if_empty();
            for segment in segments {
                path.push(segment);
            }
        }
        Ok(url)
    }

    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, url);
        match &self.auth {
            Some(Auth::Bearer(token)) => builder.bearer_auth(token.expose()),
            Some(Auth::Basic { username, secret }) => {
                builder.basic_auth(username, Some(secret.expose()))
            }
            None => builder,
        }
    }

    async fn send(builder: reqwest::RequestBuilder) -> ClientResult<RawResponse> {
        let response = builder
            .send()
            .await
            .map_err(|e| ClientError::Transport(error_chain(&e)))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| ClientError::Transport(e.to_string()))?
            .to_vec();
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    fn decode<T: DeserializeOwned>(response: RawResponse) -> ClientResult<T> {
        Self::check(&response)?;
        serde_json::from_slice(&response.body).map_err(|e| ClientError::Decode {
            status: response.status,
            detail: casemate_types::error::without_value(&e.to_string()),
        })
    }

    fn check(response: &RawResponse) -> ClientResult<()> {
        if (200..300).contains(&response.status) {
            return Ok(());
        }
        let retry_after = response.header("retry-after").and_then(|v| v.parse().ok());
        match response.error() {
            Some(body) => Err(ClientError::Api {
                status: response.status,
                code: body.error.code,
                message: body.error.message,
                retry_after,
            }),
            None => Err(ClientError::Decode {
                status: response.status,
                detail: String::from_utf8_lossy(&response.body)
                    .chars()
                    .take(300)
                    .collect(),
            }),
        }
    }

    async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> ClientResult<T> {
        Self::decode(Self::send(self.request(Method::GET, self.url(segments)?)).await?)
    }

    async fn get_query<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> ClientResult<T> {
        Self::decode(Self::send(self.request(Method::GET, self.url(segments)?).query(query)).await?)
    }

    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
        body: &B,
    ) -> ClientResult<T> {
        Self::decode(
            Self::send(
                self.request(method, self.url(segments)?)
                    .query(query)
                    .json(body),
            )
            .await?,
        )
    }

    async fn delete_query(&self, segments: &[&str], query: &[(&str, &str)]) -> ClientResult<()> {
        Self::check(
            &Self::send(
                self.request(Method::DELETE, self.url(segments)?)
                    .query(query),
            )
            .await?,
        )
    }

    async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        segments: &[&str],
        body: &B,
    ) -> ClientResult<T> {
        Self::decode(Self::send(self.request(Method::POST, self.url(segments)?).json(body)).await?)
    }

    async fn post_empty<T: DeserializeOwned>(&self, segments: &[&str]) -> ClientResult<T> {
        Self::decode(Self::send(self.request(Method::POST, self.url(segments)?)).await?)
    }

    async fn no_content(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&serde_json::Value>,
    ) -> ClientResult<()> {
        let mut builder = self.request(method, self.url(segments)?);
        if let Some(body) = body {
            builder = builder.json(body);
        }
        Self::check(&Self::send(builder).await?)
    }

    /// Any request with any headers, answered as it came. `path` is joined to the base URL as written.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> ClientResult<RawResponse> {
        let method =
            Method::from_bytes(method.as_bytes()).map_err(|e| ClientError::Url(e.to_string()))?;
        let url = self
            .base
            .join(path)
            .map_err(|e| ClientError::Url(e.to_string()))?;
        let mut builder = self.request(method, url).body(body);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        Self::send(builder).await
    }

    pub async fn health(&self) -> ClientResult<Health> {
        self.get(&["health"]).await
    }

    pub async fn token(&self, request: &TokenRequest) -> ClientResult<TokenResponse> {
        let builder = self
            .request(Method::POST, self.url(&["oauth2", "token"])?)
            .form(request);
        Self::decode(Self::send(builder).await?)
    }

    /// Begins a device sign-in at the server's OpenID provider (RFC 8628); poll with
    /// `TokenRequest::device_code`.
    pub async fn begin_device_sign_in(&self) -> ClientResult<DeviceAuthorizationResponse> {
        self.post_empty(&["console", "sso", "device"]).await
    }

    pub async fn userinfo(&self) -> ClientResult<UserInfo> {
        self.get(&["oauth2", "userinfo"]).await
    }

    pub async fn logout(&self) -> ClientResult<()> {
        self.no_content(Method::POST, &["oauth2", "logout"], None)
            .await
    }

    pub async fn public_keys(&self) -> ClientResult<PublicKeySet> {
        self.get(&[".well-known", "casemate-keys"]).await
    }

    pub async fn rotate_signing_key(&self) -> ClientResult<PublicKeySet> {
        self.post_empty(&["signing-keys", "rotate"]).await
    }

    pub async fn create_user(&self, request: &CreateUserRequest) -> ClientResult<User> {
        self.post(&["users"], request).await
    }

    pub async fn list_users(&self) -> ClientResult<Vec<User>> {
        self.get(&["users"]).await
    }

    pub async fn get_user(&self, user: &str) -> ClientResult<User> {
        self.get(&["users", user]).await
    }

    pub async fn delete_user(&self, user: &str) -> ClientResult<()> {
        self.no_content(Method::DELETE, &["users", user], None)
            .await
    }

    pub async fn disable_user(&self, user: &str) -> ClientResult<User> {
        self.post_empty(&["users", user, "disable"]).await
    }

    pub async fn enable_user(&self, user: &str) -> ClientResult<User> {
        self.post_empty(&["users", user, "enable"]).await
    }

    pub async fn reset_user_mfa(&self, user: &str) -> ClientResult<()> {
        self.no_content(Method::DELETE, &["users", user, "mfa"], None)
            .await
    }

    pub async fn create_group(&self, request: &CreateGroupRequest) -> ClientResult<Group> {
        self.post(&["groups"], request).await
    }

    pub async fn list_groups(&self) -> ClientResult<Vec<Group>> {
        self.get(&["groups"]).await
    }

    pub async fn get_group(&self, group: &str) -> ClientResult<Group> {
        self.get(&["groups", group]).await
    }

    pub async fn delete_group(&self, group: &str) -> ClientResult<()> {
        self.no_content(Method::DELETE, &["groups", group], None)
            .await
    }

    pub async fn group_members(&self, group: &str) -> ClientResult<Vec<GroupMember>> {
        self.get(&["groups", group, "members"]).await
    }

    pub async fn add_group_member(&self, group: &str, member: &str) -> ClientResult<()> {
        self.no_content(Method::PUT, &["groups", group, "members", member], None)
            .await
    }

    pub async fn remove_group_member(&self, group: &str, member: &str) -> ClientResult<()> {
        self.no_content(Method::DELETE, &["groups", group, "members", member], None)
            .await
    }

    /// Links a subject of the server's OpenID provider to `user`.
    pub async fn link_sso_identity(&self, user: &str, subject: &str) -> ClientResult<()> {
        let body = serde_json::json!({ "subject": subject });
        self.no_content(Method::PUT, &["users", user, "sso-identity"], Some(&body))
            .await
    }

    pub async fn begin_totp(&self) -> ClientResult<TotpEnrollment> {
        self.post_empty(&["me", "mfa", "totp"]).await
    }

    pub async fn confirm_totp(&self, code: Sensitive) -> ClientResult<()> {
        let body = serde_json::json!({ "code": code.expose() });
        self.no_content(Method::POST, &["me", "mfa", "totp", "confirm"], Some(&body))
            .await
    }

    pub async fn create_service_principal(
        &self,
        request: &CreateServicePrincipalRequest,
    ) -> ClientResult<ServicePrincipal> {
        self.post(&["service-principals"], request).await
    }

    pub async fn list_service_principals(&self) -> ClientResult<Vec<ServicePrincipal>> {
        self.get(&["service-principals"]).await
    }

    pub async fn get_service_principal(&self, sp: &str) -> ClientResult<ServicePrincipal> {
        self.get(&["service-principals", sp]).await
    }

    pub async fn delete_service_principal(&self, sp: &str) -> ClientResult<()> {
        self.no_content(Method::DELETE, &["service-principals", sp], None)
            .await
    }

    pub async fn add_client_secret(
        &self,
        sp: &str,
        request: &AddClientSecretRequest,
    ) -> ClientResult<ClientSecretCreated> {
        self.post(&["service-principals", sp, "secrets"], request)
            .await
    }

    pub async fn remove_client_secret(&self, sp: &str, secret_id: Uuid) -> ClientResult<()> {
        let id = secret_id.to_string();
        self.no_content(
            Method::DELETE,
            &["service-principals", sp, "secrets", &id],
            None,
        )
        .await
    }

    pub async fn create_pat(&self, request: &CreatePatRequest) -> ClientResult<PatCreated> {
        self.post(&["me", "tokens"], request).await
    }

    pub async fn list_pats(&self) -> ClientResult<Vec<PersonalAccessToken>> {
        self.get(&["me", "tokens"]).await
    }

    pub async fn revoke_pat(&self, token_id: Uuid) -> ClientResult<()> {
        let id = token_id.to_string();
        self.no_content(Method::DELETE, &["me", "tokens", &id], None)
            .await
    }

    pub async fn list_resource_groups(&self) -> ClientResult<Vec<ResourceGroup>> {
        self.get(&["resourceGroups"]).await
    }

    pub async fn create_resource_group(&self, name: &str) -> ClientResult<ResourceGroup> {
        self.send_json(
            Method::PUT,
            &["resourceGroups", name],
            &[],
            &serde_json::json!({}),
        )
        .await
    }

    pub async fn get_resource_group(&self, name: &str) -> ClientResult<ResourceGroup> {
        self.get(&["resourceGroups", name]).await
    }

    pub async fn delete_resource_group(&self, name: &str) -> ClientResult<()> {
        self.no_content(Method::DELETE, &["resourceGroups", name], None)
            .await
    }

    pub async fn list_workspaces(&self, rg: &str) -> ClientResult<Vec<Workspace>> {
        self.get(&["resourceGroups", rg, "workspaces"]).await
    }

    pub async fn create_workspace(
        &self,
        rg: &str,
        ws: &str,
        request: &CreateWorkspaceRequest,
    ) -> ClientResult<Workspace> {
        self.send_json(
            Method::PUT,
            &["resourceGroups", rg, "workspaces", ws],
            &[],
            request,
        )
        .await
    }

    pub async fn get_workspace(&self, rg: &str, ws: &str) -> ClientResult<Workspace> {
        self.get(&["resourceGroups", rg, "workspaces", ws]).await
    }

    pub async fn update_workspace(
        &self,
        rg: &str,
        ws: &str,
        request: &UpdateWorkspaceRequest,
    ) -> ClientResult<Workspace> {
        self.send_json(
            Method::PATCH,
            &["resourceGroups", rg, "workspaces", ws],
            &[],
            request,
        )
        .await
    }

    pub async fn delete_workspace(&self, rg: &str, ws: &str) -> ClientResult<()> {
        self.no_content(
            Method::DELETE,
            &["resourceGroups", rg, "workspaces", ws],
            None,
        )
        .await
    }

    pub async fn resync_keys(&self, rg: &str, ws: &str) -> ClientResult<ResyncReport> {
        self.post_empty(&["resourceGroups", rg, "workspaces", ws, "resynckeys"])
            .await
    }

    /// Moves the workspace's data keys to the newest version of its key.
    pub async fn rewrap_workspace(&self, rg: &str, ws: &str) -> ClientResult<RewrapReport> {
        self.post_empty(&["resourceGroups", rg, "workspaces", ws, "rewrap"])
            .await
    }

    fn artifact_url(&self, rg: &str, ws: &str, path: &str) -> ClientResult<Url> {
        let mut segments = vec!["resourceGroups", rg, "workspaces", ws, "artifacts"];
        segments.extend(path.split('/'));
        self.url(&segments)
    }

    pub async fn put_artifact(
        &self,
        rg: &str,
        ws: &str,
        path: &str,
        content: Vec<u8>,
    ) -> ClientResult<Artifact> {
        let url = self.artifact_url(rg, ws, path)?;
        Self::decode(Self::send(self.request(Method::PUT, url).body(content)).await?)
    }

    pub async fn get_artifact(&self, rg: &str, ws: &str, path: &str) -> ClientResult<Vec<u8>> {
        let url = self.artifact_url(rg, ws, path)?;
        let response = Self::send(self.request(Method::GET, url)).await?;
        Self::check(&response)?;
        Ok(response.body)
    }

    pub async fn list_artifacts(&self, rg: &str, ws: &str) -> ClientResult<Vec<Artifact>> {
        self.get(&["resourceGroups", rg, "workspaces", ws, "artifacts"])
            .await
    }

    pub async fn create_role_assignment(
        &self,
        scope: &str,
        request: &CreateRoleAssignmentRequest,
    ) -> ClientResult<RoleAssignment> {
        self.send_json(
            Method::POST,
            &["roleAssignments"],
            &[("scope", scope)],
            request,
        )
        .await
    }

    pub async fn list_role_assignments(
        &self,
        scope: &str,
        assignee: Option<&str>,
        role: Option<&str>,
        include_inherited: bool,
    ) -> ClientResult<Vec<RoleAssignment>> {
        let mut query = vec![("scope", scope)];
        if let Some(assignee) = assignee {
            query.push(("assignee", assignee));
        }
        if let Some(role) = role {
            query.push(("role", role));
        }
        if include_inherited {
            query.push(("includeInherited", "true"));
        }
        self.get_query(&["roleAssignments"], &query).await
    }

    pub async fn delete_role_assignment(&self, scope: &str, id: Uuid) -> ClientResult<()> {
        let id = id.to_string();
        self.delete_query(&["roleAssignments", &id], &[("scope", scope)])
            .await
    }

    pub async fn list_role_definitions(&self) -> ClientResult<Vec<RoleDefinitionDocument>> {
        self.get(&["roleDefinitions"]).await
    }

    pub async fn get_role_definition(&self, name: &str) -> ClientResult<RoleDefinitionDocument> {
        self.get(&["roleDefinitions", name]).await
    }

    pub async fn create_role_definition(
        &self,
        document: &RoleDefinitionDocument,
    ) -> ClientResult<RoleDefinitionDocument> {
        self.post(&["roleDefinitions"], document).await
    }

    pub async fn update_role_definition(
        &self,
        name: &str,
        document: &RoleDefinitionDocument,
    ) -> ClientResult<RoleDefinitionDocument> {
        self.send_json(Method::PUT, &["roleDefinitions", name], &[], document)
            .await
    }

    pub async fn delete_role_definition(&self, name: &str) -> ClientResult<()> {
        self.no_content(Method::DELETE, &["roleDefinitions", name], None)
            .await
    }

    /// Whether `principal` (or, with `None`, the caller) may perform `action` at `scope`.
    pub async fn check_permission(
        &self,
        principal: Option<&str>,
        action: &str,
        scope: &str,
    ) -> ClientResult<PermissionCheck> {
        let query = [("scope", scope), ("action", action)];
        match principal {
            Some(principal) => {
                self.get_query(&["principals", principal, "permissions", "check"], &query)
                    .await
            }
            None => self.get_query(&["permissions", "check"], &query).await,
        }
    }

    pub async fn list_permissions(
        &self,
        principal: Option<&str>,
        scope: &str,
    ) -> ClientResult<Permissions> {
        let query = [("scope", scope)];
        match principal {
            Some(principal) => {
                self.get_query(&["principals", principal, "permissions"], &query)
                    .await
            }
            None => self.get_query(&["permissions"], &query).await,
        }
    }

    /// `query` holds the `GET /activityLog` parameters (`scope` is required).
    pub async fn list_activity(&self, query: &[(&str, &str)]) -> ClientResult<ActivityPage> {
        self.get_query(&["activityLog"], query).await
    }

    pub async fn verify_activity(&self) -> ClientResult<VerifyReport> {
        self.post_empty(&["activityLog", "verify"]).await
    }

    pub async fn set_secret(
        &self,
        scope: SecretScope<'_>,
        name: &str,
        request: &SetSecretRequest,
    ) -> ClientResult<SecretItem> {
        self.send_json(Method::PUT, &scope.with(&["secrets", name]), &[], request)
            .await
    }

    pub async fn get_secret(
        &self,
        scope: SecretScope<'_>,
        name: &str,
    ) -> ClientResult<SecretBundle> {
        self.get(&scope.with(&["secrets", name])).await
    }

    pub async fn list_secrets(&self, scope: SecretScope<'_>) -> ClientResult<Vec<SecretItem>> {
        self.get(&scope.with(&["secrets"])).await
    }

    pub async fn delete_secret(
        &self,
        scope: SecretScope<'_>,
        name: &str,
    ) -> ClientResult<DeletedSecret> {
        Self::decode(
            Self::send(self.request(Method::DELETE, self.url(&scope.with(&["secrets", name]))?))
                .await?,
        )
    }

    pub async fn get_secrets(
        &self,
        scope: SecretScope<'_>,
        names: &[String],
    ) -> ClientResult<SecretValues> {
        self.post(
            &scope.with(&["batchGetSecrets"]),
            &SecretNames {
                names: names.to_vec(),
            },
        )
        .await
    }

    pub async fn set_secrets(
        &self,
        scope: SecretScope<'_>,
        secrets: &std::collections::BTreeMap<String, Sensitive>,
    ) -> ClientResult<Vec<SecretItem>> {
        self.post(
            &scope.with(&["batchSetSecrets"]),
            &SetSecretsRequest {
                secrets: secrets.clone(),
            },
        )
        .await
    }

    pub async fn delete_secrets(
        &self,
        resource_group: &str,
        workspace: &str,
        names: &[String],
    ) -> ClientResult<Vec<DeletedSecret>> {
        self.post(
            &[
                "resourceGroups",
                resource_group,
                "workspaces",
                workspace,
                "batchDeleteSecrets",
            ],
            &SecretNames {
                names: names.to_vec(),
            },
        )
        .await
    }

    pub async fn secret_versions(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
    ) -> ClientResult<Vec<SecretItem>> {
        self.get(&vault_path(
            resource_group,
            vault,
            &["secrets", name, "versions"],
        ))
        .await
    }

    pub async fn get_secret_version(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
        version: &str,
    ) -> ClientResult<SecretBundle> {
        self.get(&vault_path(
            resource_group,
            vault,
            &["secrets", name, "versions", version],
        ))
        .await
    }

    pub async fn update_secret(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
        request: &UpdateSecretRequest,
    ) -> ClientResult<SecretItem> {
        self.send_json(
            Method::PATCH,
            &vault_path(resource_group, vault, &["secrets", name]),
            &[],
            request,
        )
        .await
    }

    pub async fn list_deleted_secrets(
        &self,
        resource_group: &str,
        vault: &str,
    ) -> ClientResult<Vec<DeletedSecret>> {
        self.get(&vault_path(resource_group, vault, &["deletedsecrets"]))
            .await
    }

    pub async fn recover_secret(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
    ) -> ClientResult<SecretItem> {
        self.post_empty(&vault_path(
            resource_group,
            vault,
            &["deletedsecrets", name, "recover"],
        ))
        .await
    }

    pub async fn purge_secret(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
    ) -> ClientResult<()> {
        self.no_content(
            Method::DELETE,
            &vault_path(resource_group, vault, &["deletedsecrets", name]),
            None,
        )
        .await
    }

    pub async fn create_key(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
    ) -> ClientResult<VaultKey> {
        self.send_json(
            Method::PUT,
            &vault_path(resource_group, vault, &["keys", name]),
            &[],
            &CreateKeyRequest::default(),
        )
        .await
    }

    pub async fn get_key(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
    ) -> ClientResult<VaultKey> {
        self.get(&vault_path(resource_group, vault, &["keys", name]))
            .await
    }

    pub async fn list_keys(
        &self,
        resource_group: &str,
        vault: &str,
    ) -> ClientResult<Vec<VaultKey>> {
        self.get(&vault_path(resource_group, vault, &["keys"]))
            .await
    }

    pub async fn rotate_key(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
    ) -> ClientResult<VaultKey> {
        self.post_empty(&vault_path(
            resource_group,
            vault,
            &["keys", name, "rotate"],
        ))
        .await
    }

    /// Enables or disables the key, or with `version` one version of it.
    pub async fn set_key_enabled(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
        version: Option<&str>,
        enabled: bool,
    ) -> ClientResult<VaultKey> {
        let mut segments = vault_path(resource_group, vault, &["keys", name]);
        segments.extend(version);
        self.send_json(Method::PATCH, &segments, &[], &UpdateKeyRequest { enabled })
            .await
    }

    pub async fn wrap_key(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
        value: Sensitive,
    ) -> ClientResult<KeyOperationResult> {
        self.post(
            &vault_path(resource_group, vault, &["keys", name, "wrapkey"]),
            &KeyOperationRequest { value },
        )
        .await
    }

    pub async fn unwrap_key(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
        version: &str,
        value: Sensitive,
    ) -> ClientResult<KeyOperationResult> {
        self.post(
            &vault_path(resource_group, vault, &["keys", name, version, "unwrapkey"]),
            &KeyOperationRequest { value },
        )
        .await
    }

    pub async fn delete_key(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
    ) -> ClientResult<DeletedKey> {
        Self::decode(
            Self::send(self.request(
                Method::DELETE,
                self.url(&vault_path(resource_group, vault, &["keys", name]))?,
            ))
            .await?,
        )
    }

    pub async fn list_deleted_keys(
        &self,
        resource_group: &str,
        vault: &str,
    ) -> ClientResult<Vec<DeletedKey>> {
        self.get(&vault_path(resource_group, vault, &["deletedkeys"]))
            .await
    }

    pub async fn recover_key(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
    ) -> ClientResult<VaultKey> {
        self.post_empty(&vault_path(
            resource_group,
            vault,
            &["deletedkeys", name, "recover"],
        ))
        .await
    }

    pub async fn purge_key(
        &self,
        resource_group: &str,
        vault: &str,
        name: &str,
    ) -> ClientResult<()> {
        self.no_content(
            Method::DELETE,
            &vault_path(resource_group, vault, &["deletedkeys", name]),
            None,
        )
        .await
    }

    pub async fn update_vault(
        &self,
        resource_group: &str,
        vault: &str,
        request: &UpdateVaultRequest,
    ) -> ClientResult<VaultProperties> {
        self.send_json(
            Method::PATCH,
            &vault_path(resource_group, vault, &[]),
            &[],
            request,
        )
        .await
    }
}

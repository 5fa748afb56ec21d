//! The route-to-action table. Every route the server serves has exactly one row here; the gate
//! refuses (fail closed) any matched route without one, and a test compares this table with the
//! router's OpenAPI description in both directions.

/// What a route demands of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential needed (public keys, health, the console's files, beginning a single
    /// sign-on). Not in the activity log.
    Public,
    /// Any signed-in principal acting on itself, logged as `operation`. `enrollment` admits tokens
    /// that may only enrol a second factor.
    SignedIn {
        operation: &'static str,
        enrollment: bool,
    },
    /// The caller must hold `action` at `scope`: a template whose `{param}`s come from the path,
    /// or [`SCOPE_FROM_QUERY`] for a scope given as the `scope` query parameter.
    Action {
        action: &'static str,
        scope: &'static str,
    },
    /// Signing in (a password, a client secret, a refresh token, a provider's answer): no
    /// credential needed, and each answer is in the activity log as `operation`, by the
    /// principal signed in, or unauthenticated when refused.
    SignIn { operation: &'static str },
    /// A web service's scoring route: admitted by the service's own key or token (never a
    /// general access token), recorded in its scoring log; refusals in the activity log too.
    Scoring,
    /// The OCI distribution API: `registries/pull/read` (GET, HEAD) or `registries/push/write`
    /// at the registry its path names (`/v2/{rg}/{registry}/…`).
    Registry,
}

/// A scope template meaning "the `scope` query parameter".
pub const SCOPE_FROM_QUERY: &str = "?scope";
/// A scope template meaning "the registry a `/v2/` path names".
pub const SCOPE_FROM_REGISTRY_PATH: &str = "?registry";

#[derive(Debug, Clone, Copy)]
pub struct RouteRule {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const fn public(method: &'static str, path: &'static str) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::Public,
    }
}

const fn sign_in(method: &'static str, path: &'static str, operation: &'static str) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::SignIn { operation },
    }
}

const fn signed_in(method: &'static str, path: &'static str, operation: &'static str) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::SignedIn {
            operation,
            enrollment: false,
        },
    }
}

const fn enrolling(method: &'static str, path: &'static str, operation: &'static str) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::SignedIn {
            operation,
            enrollment: true,
        },
    }
}

const fn action(
    method: &'static str,
    path: &'static str,
    action: &'static str,
    scope: &'static str,
) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::Action { action, scope },
    }
}

const RG: &str = "/resourceGroups/{rg}";
const WS: &str = "/resourceGroups/{rg}/workspaces/{ws}";
const EXPERIMENT: &str = "/resourceGroups/{rg}/workspaces/{ws}/experiments/{experiment}";
const COMPUTE: &str = "/resourceGroups/{rg}/workspaces/{ws}/computes/{name}";
const VAULT: &str = "/resourceGroups/{rg}/vaults/{vault}";
const SECRET: &str = "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}";
const KEY: &str = "/resourceGroups/{rg}/vaults/{vault}/keys/{name}";
const IDENTITY: &str = "/resourceGroups/{rg}/identities/{name}";
const REGISTRY: &str = "/resourceGroups/{rg}/registries/{name}";
const SERVICE: &str = "/resourceGroups/{rg}/workspaces/{ws}/services/{name}";

const fn registry(method: &'static str, path: &'static str) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::Registry,
    }
}

const fn scoring(path: &'static str) -> RouteRule {
    RouteRule {
        method: "POST",
        path,
        access: Access::Scoring,
    }
}

pub const ROUTES: &[RouteRule] = &[
    public("GET", "/health"),
    public("GET", "/"),
    public("GET", "/console/{file}"),
    sign_in("POST", "/console/session", "console/session/action"),
    sign_in(
        "POST",
        "/console/session/refresh",
        "console/session/refresh/action",
    ),
    public("GET", "/console/sign-in-options"),
    // Single sign-on: the provider's answer, checked against the state this server issued.
    public("GET", "/console/sso/start"),
    sign_in(
        "GET",
        "/console/sso/callback",
        "console/sso/callback/action",
    ),
    // Begins a device sign-in at the provider; what it gives opens nothing until the user has
    // signed in there.
    public("POST", "/console/sso/device"),
    enrolling("GET", "/console/session", "console/session/read"),
    enrolling("DELETE", "/console/session", "console/session/delete"),
    public("GET", "/openapi.json"),
    public("GET", "/.well-known/casemate-keys"),
    sign_in("POST", "/oauth2/token", "oauth2/token/action"),
    // The registry token flow's realm: it authenticates the Basic credentials it is given, as
    // `/oauth2/token` does.
    sign_in(
        "GET",
        "/oauth2/registry-token",
        "oauth2/registry-token/action",
    ),
    enrolling("GET", "/oauth2/userinfo", "oauth2/userinfo/read"),
    enrolling("POST", "/oauth2/logout", "oauth2/logout/action"),
    enrolling("POST", "/me/mfa/totp", "me/mfa/write"),
    enrolling("POST", "/me/mfa/totp/confirm", "me/mfa/confirm/action"),
    signed_in("POST", "/me/tokens", "me/tokens/write"),
    signed_in("GET", "/me/tokens", "me/tokens/read"),
    signed_in("DELETE", "/me/tokens/{token_id}", "me/tokens/delete"),
    action("POST", "/users", "principals/users/write", "/"),
    action("GET", "/users", "principals/users/read", "/"),
    action("GET", "/users/{user}", "principals/users/read", "/"),
    action("DELETE", "/users/{user}", "principals/users/delete", "/"),
    action(
        "POST",
        "/users/{user}/disable",
        "principals/users/write",
        "/",
    ),
    action(
        "POST",
        "/users/{user}/enable",
        "principals/users/write",
        "/",
    ),
    action("DELETE", "/users/{user}/mfa", "principals/users/write", "/"),
    action("POST", "/groups", "principals/groups/write", "/"),
    action("GET", "/groups", "principals/groups/read", "/"),
    action("GET", "/groups/{group}", "principals/groups/read", "/"),
    action("DELETE", "/groups/{group}", "principals/groups/delete", "/"),
    action(
        "GET",
        "/groups/{group}/members",
        "principals/groups/read",
        "/",
    ),
    action(
        "PUT",
        "/groups/{group}/members/{member}",
        "principals/groups/write",
        "/",
    ),
    action(
        "DELETE",
        "/groups/{group}/members/{member}",
        "principals/groups/write",
        "/",
    ),
    action(
        "PUT",
        "/users/{user}/sso-identity",
        "principals/users/write",
        "/",
    ),
    action(
        "POST",
        "/service-principals",
        "principals/servicePrincipals/write",
        "/",
    ),
    action(
        "GET",
        "/service-principals",
        "principals/servicePrincipals/read",
        "/",
    ),
    action(
        "GET",
        "/service-principals/{sp}",
        "principals/servicePrincipals/read",
        "/",
    ),
    action(
        "DELETE",
        "/service-principals/{sp}",
        "principals/servicePrincipals/delete",
        "/",
    ),
    action(
        "POST",
        "/service-principals/{sp}/secrets",
        "principals/servicePrincipals/secrets/write",
        "/",
    ),
    action(
        "DELETE",
        "/service-principals/{sp}/secrets/{secret_id}",
        "principals/servicePrincipals/secrets/delete",
        "/",
    ),
    action(
        "POST",
        "/signing-keys/rotate",
        "signingKeys/rotate/action",
        "/",
    ),
    action("GET", "/resourceGroups", "resourceGroups/read", "/"),
    action("PUT", "/resourceGroups/{rg}", "resourceGroups/write", RG),
    action("GET", "/resourceGroups/{rg}", "resourceGroups/read", RG),
    action(
        "DELETE",
        "/resourceGroups/{rg}",
        "resourceGroups/delete",
        RG,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces",
        "workspaces/read",
        RG,
    ),
    // Creating a workspace is decided on the resource group (Owner or Contributor there).
    action(
        "PUT",
        "/resourceGroups/{rg}/workspaces/{ws}",
        "workspaces/write",
        RG,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}",
        "workspaces/read",
        WS,
    ),
    action(
        "PATCH",
        "/resourceGroups/{rg}/workspaces/{ws}",
        "workspaces/write",
        WS,
    ),
    action(
        "DELETE",
        "/resourceGroups/{rg}/workspaces/{ws}",
        "workspaces/delete",
        WS,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/resynckeys",
        "workspaces/resynckeys/action",
        WS,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/rewrap",
        "workspaces/write",
        WS,
    ),
    // Workspace artifacts, sealed under the workspace's data key.
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/artifacts",
        "workspaces/metadata/artifacts/read",
        WS,
    ),
    action(
        "PUT",
        "/resourceGroups/{rg}/workspaces/{ws}/artifacts/{*path}",
        "workspaces/metadata/artifacts/write",
        WS,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/artifacts/{*path}",
        "workspaces/metadata/artifacts/read",
        WS,
    ),
    // Runs: snapshots are uploaded to submit; a run's token writes metrics, tags and outputs.
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/snapshots",
        "workspaces/experiments/runs/submit/action",
        WS,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/snapshots/{snapshot}",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/experiments",
        "workspaces/experiments/read",
        WS,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/experiments/{experiment}/runs",
        "workspaces/experiments/runs/submit/action",
        EXPERIMENT,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/runs",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "DELETE",
        "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}",
        "workspaces/experiments/runs/delete",
        WS,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/cancel",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/logs",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/metrics",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/metrics",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "PATCH",
        "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/tags",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "PUT",
        "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/outputs/{*path}",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/computes",
        "workspaces/computes/read",
        WS,
    ),
    action(
        "PUT",
        "/resourceGroups/{rg}/workspaces/{ws}/computes/{name}",
        "workspaces/computes/write",
        COMPUTE,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/computes/{name}",
        "workspaces/computes/read",
        COMPUTE,
    ),
    action(
        "DELETE",
        "/resourceGroups/{rg}/workspaces/{ws}/computes/{name}",
        "workspaces/computes/delete",
        COMPUTE,
    ),
    action(
        "POST",
        "/roleAssignments",
        "roleAssignments/write",
        SCOPE_FROM_QUERY,
    ),
    action(
        "GET",
        "/roleAssignments",
        "roleAssignments/read",
        SCOPE_FROM_QUERY,
    ),
    action(
        "DELETE",
        "/roleAssignments/{assignment_id}",
        "roleAssignments/delete",
        SCOPE_FROM_QUERY,
    ),
    signed_in("GET", "/roleDefinitions", "roleDefinitions/read"),
    signed_in("GET", "/roleDefinitions/{name}", "roleDefinitions/read"),
    action("POST", "/roleDefinitions", "roleDefinitions/write", "/"),
    action(
        "PUT",
        "/roleDefinitions/{name}",
        "roleDefinitions/write",
        "/",
    ),
    action(
        "DELETE",
        "/roleDefinitions/{name}",
        "roleDefinitions/delete",
        "/",
    ),
    signed_in("GET", "/permissions/check", "permissions/check/read"),
    signed_in("GET", "/permissions", "permissions/read"),
    action(
        "GET",
        "/principals/{principal}/permissions/check",
        "roleAssignments/read",
        SCOPE_FROM_QUERY,
    ),
    action(
        "GET",
        "/principals/{principal}/permissions",
        "roleAssignments/read",
        SCOPE_FROM_QUERY,
    ),
    action("GET", "/activityLog", "activityLog/read", SCOPE_FROM_QUERY),
    action(
        "POST",
        "/activityLog/verify",
        "activityLog/verify/action",
        "/",
    ),
    // Monitoring: the Prometheus scrape of the installation, and a workspace's own metrics.
    action("GET", "/metrics", "metrics/read", "/"),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/metrics",
        "workspaces/metrics/read",
        WS,
    ),
    // Container registries (OCI distribution): the root needs a signed-in caller, the rest
    // the registry's pull or push action, by method.
    signed_in("GET", "/v2/", "registries/v2/read"),
    // One list across registries, each filtered to those the caller may pull from.
    signed_in("GET", "/v2/_catalog", "registries/catalog/read"),
    registry("GET", "/v2/{*rest}"),
    registry("POST", "/v2/{*rest}"),
    registry("PUT", "/v2/{*rest}"),
    registry("PATCH", "/v2/{*rest}"),
    registry("DELETE", "/v2/{*rest}"),
    // Container registries as resources; the admin user's passwords are an action, not a read.
    action(
        "GET",
        "/resourceGroups/{rg}/registries",
        "registries/read",
        RG,
    ),
    action(
        "PUT",
        "/resourceGroups/{rg}/registries/{name}",
        "registries/write",
        RG,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/registries/{name}",
        "registries/read",
        REGISTRY,
    ),
    action(
        "PATCH",
        "/resourceGroups/{rg}/registries/{name}",
        "registries/write",
        REGISTRY,
    ),
    action(
        "DELETE",
        "/resourceGroups/{rg}/registries/{name}",
        "registries/delete",
        REGISTRY,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/registries/{name}/listCredentials",
        "registries/listCredentials/action",
        REGISTRY,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/registries/{name}/regenerateCredential",
        "registries/regenerateCredential/action",
        REGISTRY,
    ),
    // User-assigned managed identities; a run's token as its compute's identity.
    action(
        "GET",
        "/resourceGroups/{rg}/identities",
        "identities/read",
        RG,
    ),
    // Creating an identity is decided on the resource group, as a workspace is.
    action(
        "PUT",
        "/resourceGroups/{rg}/identities/{name}",
        "identities/write",
        RG,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/identities/{name}",
        "identities/read",
        IDENTITY,
    ),
    action(
        "DELETE",
        "/resourceGroups/{rg}/identities/{name}",
        "identities/delete",
        IDENTITY,
    ),
    // Any run token may ask; the service hands out only its own compute's identities.
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/runs/{run}/identityToken",
        "workspaces/experiments/runs/read",
        WS,
    ),
    // Web services: deploying is Owner/Contributor, scoring needs the service's key or token.
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/services",
        "workspaces/services/read",
        WS,
    ),
    action(
        "PUT",
        "/resourceGroups/{rg}/workspaces/{ws}/services/{name}",
        "workspaces/services/write",
        SERVICE,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/services/{name}",
        "workspaces/services/read",
        SERVICE,
    ),
    action(
        "PATCH",
        "/resourceGroups/{rg}/workspaces/{ws}/services/{name}",
        "workspaces/services/write",
        SERVICE,
    ),
    action(
        "DELETE",
        "/resourceGroups/{rg}/workspaces/{ws}/services/{name}",
        "workspaces/services/delete",
        SERVICE,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/services/{name}/listkeys",
        "workspaces/services/listkeys/action",
        SERVICE,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/services/{name}/regenerateKeys",
        "workspaces/services/write",
        SERVICE,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/services/{name}/token",
        "workspaces/services/score/action",
        SERVICE,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/services/{name}/logs",
        "workspaces/services/read",
        SERVICE,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/services/{name}/console",
        "workspaces/services/read",
        SERVICE,
    ),
    scoring("/resourceGroups/{rg}/workspaces/{ws}/services/{name}/score"),
    scoring("/resourceGroups/{rg}/workspaces/{ws}/services/{name}/invocations"),
    // Vault secrets, authorized by data actions on the vault or the secret.
    action(
        "GET",
        "/resourceGroups/{rg}/vaults/{vault}/secrets",
        "vaults/secrets/readMetadata/action",
        VAULT,
    ),
    action(
        "PUT",
        "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}",
        "vaults/secrets/setSecret/action",
        SECRET,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}",
        "vaults/secrets/getSecret/action",
        SECRET,
    ),
    action(
        "PATCH",
        "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}",
        "vaults/secrets/setSecret/action",
        SECRET,
    ),
    action(
        "DELETE",
        "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}",
        "vaults/secrets/delete",
        SECRET,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}/versions",
        "vaults/secrets/readMetadata/action",
        SECRET,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/vaults/{vault}/secrets/{name}/versions/{version}",
        "vaults/secrets/getSecret/action",
        SECRET,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/vaults/{vault}/deletedsecrets",
        "vaults/secrets/readMetadata/action",
        VAULT,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/vaults/{vault}/deletedsecrets/{name}/recover",
        "vaults/secrets/recover/action",
        SECRET,
    ),
    action(
        "DELETE",
        "/resourceGroups/{rg}/vaults/{vault}/deletedsecrets/{name}",
        "vaults/secrets/purge/action",
        SECRET,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/vaults/{vault}/batchGetSecrets",
        "vaults/secrets/getSecret/action",
        VAULT,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/vaults/{vault}/batchSetSecrets",
        "vaults/secrets/setSecret/action",
        VAULT,
    ),
    // Workspace secrets: the caller's workspace actions here; the workspace identity's vault grants in the service.
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/secrets",
        "workspaces/metadata/secrets/read",
        WS,
    ),
    action(
        "PUT",
        "/resourceGroups/{rg}/workspaces/{ws}/secrets/{name}",
        "workspaces/metadata/secrets/write",
        WS,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/workspaces/{ws}/secrets/{name}",
        "workspaces/metadata/secrets/read",
        WS,
    ),
    action(
        "DELETE",
        "/resourceGroups/{rg}/workspaces/{ws}/secrets/{name}",
        "workspaces/metadata/secrets/delete",
        WS,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/batchGetSecrets",
        "workspaces/metadata/secrets/read",
        WS,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/batchSetSecrets",
        "workspaces/metadata/secrets/write",
        WS,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/workspaces/{ws}/batchDeleteSecrets",
        "workspaces/metadata/secrets/delete",
        WS,
    ),
    // Vault keys (customer-managed keys), authorized by data actions.
    action(
        "GET",
        "/resourceGroups/{rg}/vaults/{vault}/keys",
        "vaults/keys/read",
        VAULT,
    ),
    action(
        "PUT",
        "/resourceGroups/{rg}/vaults/{vault}/keys/{name}",
        "vaults/keys/create/action",
        KEY,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/vaults/{vault}/keys/{name}",
        "vaults/keys/read",
        KEY,
    ),
    action(
        "PATCH",
        "/resourceGroups/{rg}/vaults/{vault}/keys/{name}",
        "vaults/keys/update/action",
        KEY,
    ),
    action(
        "DELETE",
        "/resourceGroups/{rg}/vaults/{vault}/keys/{name}",
        "vaults/keys/delete",
        KEY,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/vaults/{vault}/keys/{name}/rotate",
        "vaults/keys/rotate/action",
        KEY,
    ),
    action(
        "PATCH",
        "/resourceGroups/{rg}/vaults/{vault}/keys/{name}/{version}",
        "vaults/keys/update/action",
        KEY,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/vaults/{vault}/keys/{name}/wrapkey",
        "vaults/keys/wrap/action",
        KEY,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/vaults/{vault}/keys/{name}/{version}/unwrapkey",
        "vaults/keys/unwrap/action",
        KEY,
    ),
    action(
        "GET",
        "/resourceGroups/{rg}/vaults/{vault}/deletedkeys",
        "vaults/keys/read",
        VAULT,
    ),
    action(
        "POST",
        "/resourceGroups/{rg}/vaults/{vault}/deletedkeys/{name}/recover",
        "vaults/keys/recover/action",
        KEY,
    ),
    action(
        "DELETE",
        "/resourceGroups/{rg}/vaults/{vault}/deletedkeys/{name}",
        "vaults/keys/purge/action",
        KEY,
    ),
    action(
        "PATCH",
        "/resourceGroups/{rg}/vaults/{vault}",
        "vaults/write",
        VAULT,
    ),
    // The MLflow-compatible API, per workspace.
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/get-by-name",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/create",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/get",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/search",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/delete",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/restore",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/set-experiment-tag",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/delete-experiment-tag",
        "workspaces/experiments/runs/write",
        WS,
    ),
    // MLflow: changes after creation, run inputs and outputs, the capability probe.
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/experiments/update",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/log-inputs",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/outputs",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/log-model",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "PATCH",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/update",
        "workspaces/models/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/rename",
        "workspaces/models/write",
        WS,
    ),
    action(
        "DELETE",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/delete",
        "workspaces/models/delete",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/set-tag",
        "workspaces/models/write",
        WS,
    ),
    action(
        "DELETE",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/delete-tag",
        "workspaces/models/write",
        WS,
    ),
    action(
        "PATCH",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/update",
        "workspaces/models/write",
        WS,
    ),
    action(
        "DELETE",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/delete",
        "workspaces/models/delete",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/set-tag",
        "workspaces/models/write",
        WS,
    ),
    action(
        "DELETE",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/delete-tag",
        "workspaces/models/write",
        WS,
    ),
    action(
        "DELETE",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/{model_id}/tags/{tag_key}",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/{model_id}/params",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "DELETE",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/{model_id}",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/3.0/mlflow/server-info",
        "workspaces/experiments/runs/read",
        WS,
    ),
    // Every other MLflow API path answers NOT_IMPLEMENTED naming the feature; reading is
    // enough to be told, and nothing is done.
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/{*rest}",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/{*rest}",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "PUT",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/{*rest}",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "PATCH",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/{*rest}",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "DELETE",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/{*rest}",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/create",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/update",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/delete",
        "workspaces/experiments/runs/delete",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/restore",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/log-metric",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/log-parameter",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/log-batch",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/set-tag",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/delete-tag",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/get",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/runs/search",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/metrics/get-history",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/create",
        "workspaces/models/write",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/get",
        "workspaces/models/read",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/search",
        "workspaces/models/read",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/get-latest-versions",
        "workspaces/models/read",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/alias",
        "workspaces/models/write",
        WS,
    ),
    action(
        "DELETE",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/alias",
        "workspaces/models/delete",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/registered-models/alias",
        "workspaces/models/read",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/create",
        "workspaces/models/write",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/get",
        "workspaces/models/read",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/search",
        "workspaces/models/read",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/get-download-uri",
        "workspaces/models/read",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/model-versions/transition-stage",
        "workspaces/models/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/{model_id}",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "PATCH",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/{model_id}",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "PATCH",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/{model_id}/tags",
        "workspaces/experiments/runs/write",
        WS,
    ),
    action(
        "POST",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow/logged-models/search",
        "workspaces/experiments/runs/read",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow-artifacts/artifacts",
        "workspaces/metadata/artifacts/read",
        WS,
    ),
    action(
        "PUT",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow-artifacts/artifacts/{*path}",
        "workspaces/metadata/artifacts/write",
        WS,
    ),
    action(
        "GET",
        "/mlflow/resourceGroups/{rg}/workspaces/{ws}/api/2.0/mlflow-artifacts/artifacts/{*path}",
        "workspaces/metadata/artifacts/read",
        WS,
    ),
];

/// The row for a method and route template, found by hash: the gate asks on every request.
pub fn lookup(method: &str, path: &str) -> Option<&'static RouteRule> {
    static INDEX: std::sync::LazyLock<
        std::collections::HashMap<(&'static str, &'static str), &'static RouteRule>,
    > = std::sync::LazyLock::new(|| {
        ROUTES
            .iter()
            .map(|rule| ((rule.method, rule.path), rule))
            .collect()
    });
    // HEAD is answered by the GET route, so it needs what GET needs.
    let method = if method == "HEAD" { "GET" } else { method };
    INDEX.get(&(method, path)).copied()
}

/// Fills a scope template's `{param}`s with the request's path parameters.
pub fn resolve_scope(template: &str, params: &[(&str, &str)]) -> Option<String> {
    let mut scope = template.to_owned();
    for (name, value) in params {
        scope = scope.replace(&format!("{{{name}}}"), value);
    }
    (!scope.contains('{')).then_some(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_appears_once() {
        for (i, rule) in ROUTES.iter().enumerate() {
            assert!(
                !ROUTES[i + 1..]
                    .iter()
                    .any(|other| other.method == rule.method && other.path == rule.path),
                "{} {} appears twice",
                rule.method,
                rule.path
            );
        }
    }

    #[test]
    fn every_action_in_the_table_is_catalogued() {
        for rule in ROUTES {
            if let Access::Action { action, .. } = rule.access {
                let known = casemate_authz::catalogue::lookup(action);
                assert!(
                    known.is_some(),
                    "{} {}: {action} is not catalogued",
                    rule.method,
                    rule.path
                );
            }
        }
    }

    #[test]
    fn scopes_fill_from_path_parameters() {
        assert_eq!(
            resolve_scope(
                "/resourceGroups/{rg}/workspaces/{ws}",
                &[("rg", "a"), ("ws", "b")]
            )
            .as_deref(),
            Some("/resourceGroups/a/workspaces/b")
        );
        assert_eq!(resolve_scope("/resourceGroups/{rg}", &[]), None);
    }
}

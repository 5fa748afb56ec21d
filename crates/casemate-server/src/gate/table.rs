//! The route-to-action table. Every route the server serves has exactly one row here; the gate
//! refuses (fail closed) any matched route without one, and a test compares this table with the
//! router's OpenAPI description in both directions.

/// What a route demands of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credential needed (sign-in itself, public keys, health).
    Public,
    /// Any signed-in principal acting on itself. `enrollment` admits tokens that may only enrol MFA.
    SignedIn { enrollment: bool },
    /// The caller must hold `action` at the scope made by filling `scope`'s `{param}`s from the path.
    Action {
        action: &'static str,
        scope: &'static str,
    },
}

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

const fn signed_in(method: &'static str, path: &'static str) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::SignedIn { enrollment: false },
    }
}

const fn enrolling(method: &'static str, path: &'static str) -> RouteRule {
    RouteRule {
        method,
        path,
        access: Access::SignedIn { enrollment: true },
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

pub const ROUTES: &[RouteRule] = &[
    public("GET", "/health"),
    public("GET", "/openapi.json"),
    public("GET", "/.well-known/casemate-keys"),
    public("POST", "/oauth2/token"),
    enrolling("GET", "/oauth2/userinfo"),
    enrolling("POST", "/oauth2/logout"),
    enrolling("POST", "/me/mfa/totp"),
    enrolling("POST", "/me/mfa/totp/confirm"),
    signed_in("POST", "/me/tokens"),
    signed_in("GET", "/me/tokens"),
    signed_in("DELETE", "/me/tokens/{token_id}"),
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
];

pub fn lookup(method: &str, path: &str) -> Option<&'static RouteRule> {
    ROUTES
        .iter()
        .find(|rule| rule.method == method && rule.path == path)
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

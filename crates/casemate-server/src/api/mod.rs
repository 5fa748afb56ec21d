//! The HTTP API: handlers, the router, and the error table. Every route goes through the gate.

mod artifacts;
mod auth;
pub(crate) mod errors;
mod groups;
mod keys;
mod me;
mod mlflow;
mod principals;
mod rbac;
mod resources;
mod runs;
mod vault;

use crate::console;
use crate::error::Error;
use crate::gate;
use crate::identities;
use crate::monitoring;
use crate::registries;
use crate::services::Services;
use crate::sso;
use crate::webservices;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use std::sync::Arc;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub type ApiResult<T> = Result<T, Error>;

#[derive(OpenApi)]
#[openapi(info(
    title = "casemate",
    description = "Self-hosted, security-first ML workspace server"
))]
struct ApiDoc;

/// Every route, with its OpenAPI description. The gate is not yet applied.
pub fn routes() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::health))
        .routes(routes!(console::api::page))
        .routes(routes!(console::api::file))
        .routes(routes!(
            console::api::sign_in,
            console::api::show,
            console::api::sign_out
        ))
        .routes(routes!(console::api::refresh))
        .routes(routes!(console::api::sign_in_options))
        .routes(routes!(sso::api::start))
        .routes(routes!(sso::api::device))
        .routes(routes!(sso::api::callback))
        .routes(routes!(auth::openapi))
        .routes(routes!(auth::public_keys))
        .routes(routes!(auth::token))
        .routes(routes!(auth::userinfo))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::rotate_signing_key))
        .routes(routes!(me::begin_totp))
        .routes(routes!(me::confirm_totp))
        .routes(routes!(me::create_pat, me::list_pats))
        .routes(routes!(me::revoke_pat))
        .routes(routes!(principals::create_user, principals::list_users))
        .routes(routes!(principals::get_user, principals::delete_user))
        .routes(routes!(principals::disable_user))
        .routes(routes!(principals::enable_user))
        .routes(routes!(principals::reset_user_mfa))
        .routes(routes!(sso::api::link))
        .routes(routes!(groups::create, groups::list))
        .routes(routes!(groups::show, groups::delete))
        .routes(routes!(groups::members))
        .routes(routes!(groups::add_member, groups::remove_member))
        .routes(routes!(
            principals::create_service_principal,
            principals::list_service_principals
        ))
        .routes(routes!(
            principals::get_service_principal,
            principals::delete_service_principal
        ))
        .routes(routes!(principals::add_client_secret))
        .routes(routes!(principals::remove_client_secret))
        .routes(routes!(resources::list_groups))
        .routes(routes!(
            resources::create_group,
            resources::get_group,
            resources::delete_group
        ))
        .routes(routes!(resources::list_workspaces))
        .routes(routes!(
            resources::create_workspace,
            resources::get_workspace,
            resources::update_workspace,
            resources::delete_workspace
        ))
        .routes(routes!(resources::resync_keys))
        .routes(routes!(rbac::create_assignment, rbac::list_assignments))
        .routes(routes!(rbac::delete_assignment))
        .routes(routes!(rbac::list_definitions, rbac::create_definition))
        .routes(routes!(
            rbac::get_definition,
            rbac::update_definition,
            rbac::delete_definition
        ))
        .routes(routes!(rbac::check_own))
        .routes(routes!(rbac::list_own))
        .routes(routes!(rbac::check_other))
        .routes(routes!(rbac::list_other))
        .routes(routes!(rbac::list_activity))
        .routes(routes!(rbac::verify_activity))
        .routes(routes!(monitoring::api::scrape))
        .routes(routes!(monitoring::api::workspace_metrics))
        .routes(routes!(registries::api::base))
        .routes(routes!(registries::api::catalog))
        .routes(routes!(registries::token::registry_token))
        .routes(routes!(
            registries::api::get,
            registries::api::post,
            registries::api::put,
            registries::api::patch,
            registries::api::delete
        ))
        .routes(routes!(registries::resource_api::list))
        .routes(routes!(
            registries::resource_api::create,
            registries::resource_api::show,
            registries::resource_api::update,
            registries::resource_api::delete
        ))
        .routes(routes!(registries::resource_api::list_credentials))
        .routes(routes!(registries::resource_api::regenerate_credential))
        .routes(routes!(identities::api::list))
        .routes(routes!(
            identities::api::create,
            identities::api::show,
            identities::api::delete
        ))
        .routes(routes!(identities::api::run_token))
        .routes(routes!(webservices::api::list))
        .routes(routes!(
            webservices::api::create,
            webservices::api::show,
            webservices::api::update,
            webservices::api::delete
        ))
        .routes(routes!(webservices::api::list_keys))
        .routes(routes!(webservices::api::regenerate_key))
        .routes(routes!(webservices::api::token))
        .routes(routes!(webservices::api::logs))
        .routes(routes!(webservices::api::console))
        .routes(routes!(webservices::api::score))
        .routes(routes!(webservices::api::invocations))
        .routes(routes!(vault::update_vault))
        .routes(routes!(vault::list))
        .routes(routes!(
            vault::set,
            vault::get,
            vault::update,
            vault::delete
        ))
        .routes(routes!(vault::versions))
        .routes(routes!(vault::get_version))
        .routes(routes!(vault::list_deleted))
        .routes(routes!(vault::recover))
        .routes(routes!(vault::purge))
        .routes(routes!(vault::batch_get))
        .routes(routes!(vault::batch_set))
        .routes(routes!(vault::ws_list))
        .routes(routes!(vault::ws_set, vault::ws_get, vault::ws_delete))
        .routes(routes!(vault::ws_batch_get))
        .routes(routes!(vault::ws_batch_set))
        .routes(routes!(vault::ws_batch_delete))
        .routes(routes!(keys::list))
        .routes(routes!(keys::create, keys::get, keys::update, keys::delete))
        .routes(routes!(keys::rotate))
        .routes(routes!(keys::update_version))
        .routes(routes!(keys::wrap))
        .routes(routes!(keys::unwrap))
        .routes(routes!(keys::list_deleted))
        .routes(routes!(keys::recover))
        .routes(routes!(keys::purge))
        .routes(routes!(artifacts::list))
        .routes(routes!(artifacts::put, artifacts::get))
        .routes(routes!(artifacts::rewrap))
        .routes(routes!(runs::upload_snapshot))
        .routes(routes!(runs::get_snapshot))
        .routes(routes!(runs::list_experiments))
        .routes(routes!(runs::submit))
        .routes(routes!(runs::list_runs))
        .routes(routes!(runs::get_run, runs::delete_run))
        .routes(routes!(runs::cancel_run))
        .routes(routes!(runs::run_logs))
        .routes(routes!(runs::log_metrics, runs::run_metrics))
        .routes(routes!(runs::set_tags))
        .routes(routes!(runs::put_output))
        .routes(routes!(runs::list_computes))
        .routes(routes!(
            runs::create_compute,
            runs::get_compute,
            runs::delete_compute
        ))
        .routes(routes!(mlflow::experiment_by_name))
        .routes(routes!(mlflow::create_experiment))
        .routes(routes!(mlflow::get_experiment))
        .routes(routes!(mlflow::search_experiments))
        .routes(routes!(mlflow::delete_experiment))
        .routes(routes!(mlflow::restore_experiment))
        .routes(routes!(mlflow::set_experiment_tag))
        .routes(routes!(mlflow::delete_experiment_tag))
        .routes(routes!(mlflow::create_run))
        .routes(routes!(mlflow::update_run))
        .routes(routes!(mlflow::delete_run))
        .routes(routes!(mlflow::restore_run))
        .routes(routes!(mlflow::log_metric))
        .routes(routes!(mlflow::log_param))
        .routes(routes!(mlflow::log_batch))
        .routes(routes!(mlflow::set_tag))
        .routes(routes!(mlflow::delete_tag))
        .routes(routes!(mlflow::get_run))
        .routes(routes!(mlflow::search_runs))
        .routes(routes!(mlflow::metric_history))
        .routes(routes!(mlflow::registry::create_registered_model))
        .routes(routes!(mlflow::registry::get_registered_model))
        .routes(routes!(mlflow::registry::search_registered_models))
        .routes(routes!(mlflow::registry::latest_versions))
        .routes(routes!(
            mlflow::registry::set_alias,
            mlflow::registry::delete_alias,
            mlflow::registry::version_by_alias
        ))
        .routes(routes!(mlflow::registry::create_model_version))
        .routes(routes!(mlflow::registry::get_model_version))
        .routes(routes!(mlflow::registry::search_model_versions))
        .routes(routes!(mlflow::registry::download_uri))
        .routes(routes!(mlflow::registry::transition_stage))
        .routes(routes!(mlflow::create_logged_model))
        .routes(routes!(
            mlflow::get_logged_model,
            mlflow::finalize_logged_model,
            mlflow::changes::delete_logged_model
        ))
        .routes(routes!(mlflow::set_logged_model_tags))
        .routes(routes!(mlflow::search_logged_models))
        .routes(routes!(mlflow::changes::update_experiment))
        .routes(routes!(mlflow::changes::log_inputs))
        .routes(routes!(mlflow::changes::log_outputs))
        .routes(routes!(mlflow::changes::log_model))
        .routes(routes!(mlflow::changes::update_registered_model))
        .routes(routes!(mlflow::changes::rename_registered_model))
        .routes(routes!(mlflow::changes::delete_registered_model))
        .routes(routes!(mlflow::changes::set_registered_model_tag))
        .routes(routes!(mlflow::changes::delete_registered_model_tag))
        .routes(routes!(mlflow::changes::update_model_version))
        .routes(routes!(mlflow::changes::delete_model_version))
        .routes(routes!(mlflow::changes::set_model_version_tag))
        .routes(routes!(mlflow::changes::delete_model_version_tag))
        .routes(routes!(mlflow::changes::delete_logged_model_tag))
        .routes(routes!(mlflow::changes::log_logged_model_params))
        .routes(routes!(mlflow::changes::server_info))
        .routes(routes!(
            mlflow::changes::unsupported_get,
            mlflow::changes::unsupported_post,
            mlflow::changes::unsupported_put,
            mlflow::changes::unsupported_patch,
            mlflow::changes::unsupported_delete
        ))
        .routes(routes!(mlflow::list_artifacts))
        .routes(routes!(mlflow::upload_artifact, mlflow::download_artifact))
}

/// The whole application: routes behind the gate, the request context around everything.
pub fn app(services: Arc<Services>, max_body_bytes: usize) -> Router {
    let (router, document) = routes().split_for_parts();
    gate_router(router, services, max_body_bytes, document)
}

/// Applies the gate to `router`. Separate so tests can show the gate refusing a route the table lacks.
pub fn gate_router(
    router: Router<Arc<Services>>,
    services: Arc<Services>,
    max_body_bytes: usize,
    document: utoipa::openapi::OpenApi,
) -> Router {
    router
        .route_layer(axum::middleware::from_fn_with_state(
            services.clone(),
            gate::gate,
        ))
        .fallback(auth::not_found)
        .method_not_allowed_fallback(auth::method_not_allowed)
        .layer(axum::middleware::from_fn(
            mlflow::errors::mlflow_error_shape,
        ))
        .layer(axum::middleware::from_fn_with_state(
            services.clone(),
            registries::errors::oci_error_shape,
        ))
        .layer(axum::Extension(Arc::new(document)))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            gate::RequestContext {
                body_limit: max_body_bytes,
                metrics: services.metrics.clone(),
                clock: services.clock.clone(),
            },
            gate::request_context,
        ))
        .with_state(services)
}

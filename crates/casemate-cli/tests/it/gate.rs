//! The gate: the route table covers the router, unlisted routes are refused, request ids flow.

use crate::raw_error;
use axum::body::Body;
use axum::http::Request;
use casemate_server::api;
use casemate_server::gate::{ROUTES, table};
use casemate_testkit::TestServer;
use tower::ServiceExt;

#[test]
fn every_route_is_in_the_action_table_and_every_row_is_routed() {
    let (_router, document) = api::routes().split_for_parts();
    let mut routed = Vec::new();
    for (path, item) in &document.paths.paths {
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
            ("HEAD", item.head.is_some()),
        ];
        for (method, present) in methods {
            if present {
                assert!(
                    table::lookup(method, path).is_some(),
                    "{method} {path} is routed but has no row in the action table"
                );
                routed.push((method, path.clone()));
            }
        }
    }
    for rule in ROUTES {
        assert!(
            routed
                .iter()
                .any(|(m, p)| *m == rule.method && p == rule.path),
            "{} {} is in the action table but not routed",
            rule.method,
            rule.path
        );
    }
    assert_eq!(routed.len(), ROUTES.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gate_refuses_a_route_missing_from_the_table() {
    let server = TestServer::start().await;
    let (router, document) = api::routes().split_for_parts();
    let router = router.route(
        "/unlisted",
        axum::routing::get(|| async { "the handler ran" }),
    );
    let app = api::gate_router(router, server.server.services.clone(), 1 << 20, document);
    let response = app
        .oneshot(Request::get("/unlisted").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("InternalError"), "{text}");
    assert!(!text.contains("the handler ran"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_routes_and_methods_get_json_errors() {
    let server = TestServer::start().await;
    let client = server.anonymous();
    let response = client
        .raw("GET", "/no/such/route", &[], vec![])
        .await
        .unwrap();
    raw_error(&response, 404, "NotFound");
    let response = client.raw("PUT", "/users", &[], vec![]).await.unwrap();
    raw_error(&response, 405, "MethodNotAllowed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_are_echoed_when_well_formed_and_made_otherwise() {
    let server = TestServer::start().await;
    let client = server.anonymous();
    let echoed = client
        .raw(
            "GET",
            "/health",
            &[("x-request-id", "trace-abc.123")],
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(echoed.header("x-request-id"), Some("trace-abc.123"));
    let replaced = client
        .raw("GET", "/health", &[("x-request-id", "bad id!")], vec![])
        .await
        .unwrap();
    let made = replaced.header("x-request-id").unwrap();
    // Made ids are version 7 UUIDs of the server's clock, so the activity log's index on them
    // grows at its end.
    let made = uuid::Uuid::try_parse(made).unwrap();
    assert_eq!(made.get_version_num(), 7, "not a version 7 UUID: {made}");
    server.clock.advance(time::Duration::days(400));
    let later = client.raw("GET", "/health", &[], vec![]).await.unwrap();
    let later = uuid::Uuid::try_parse(later.header("x-request-id").unwrap()).unwrap();
    let (made_at, _) = made.get_timestamp().unwrap().to_unix();
    let (later_at, _) = later.get_timestamp().unwrap().to_unix();
    assert!(
        (400 * 86_400..=400 * 86_400 + 5).contains(&(later_at - made_at)),
        "ids follow the server's clock, {made_at} then {later_at}"
    );
    let denied = client.raw("GET", "/users", &[], vec![]).await.unwrap();
    raw_error(&denied, 401, "Unauthenticated");
    assert!(
        denied.header("x-request-id").is_some(),
        "errors carry the request id too"
    );
    server.stop().await;
}

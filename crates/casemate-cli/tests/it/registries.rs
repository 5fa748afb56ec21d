//! The container registry through the real server with a real OCI client (Debian's skopeo):
//! push with AcrPush, pull with AcrPull, refused without; digests verified; a tampered blob is
//! refused; the spec's error shape.

use crate::mlflow::workspaces;
use casemate_testkit::TestServer;
use casemate_types::wire::CreatePatRequest;
use std::path::Path;

const REGISTRY: &str = "/resourceGroups/team/registries/vision-registry";

/// Inside a run: HEAD the image's manifest in two registries with the compute identity's token.
const PULL_AS_IDENTITY: &str = r#"
import os, ssl, urllib.error, urllib.request
from casemate import Run

token = Run.get_context().get_identity_token(resource="registries")
context = ssl.create_default_context(cafile=os.environ["CASEMATE_CA_CERT"])
for registry in ["vision-registry", "audio-registry"]:
    url = os.environ["CASEMATE_ENDPOINT"] + f"/v2/team/{registry}/tools/app/manifests/v1"
    request = urllib.request.Request(url, method="HEAD", headers={"Authorization": "Bearer " + token})
    try:
        print(registry, urllib.request.urlopen(request, context=context).status)
    except urllib.error.HTTPError as error:
        print(registry, error.code)
"#;

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    digest.as_ref().iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// An OCI image layout with one layer, as a build tool leaves it.
pub(crate) fn image_layout(dir: &Path, layer: &[u8]) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let hex = sha256_hex(bytes);
        std::fs::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let (layer_digest, layer_size) = put(layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "config": {}
    })
    .to_string();
    let (config_digest, config_size) = put(config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size}]
    })
    .to_string();
    let (manifest_digest, manifest_size) = put(manifest.as_bytes());
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest, "size": manifest_size,
            "annotations": {"org.opencontainers.image.ref.name": "v1"}
        }]
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
}

pub(crate) async fn skopeo(args: &[&str]) -> std::process::Output {
    tokio::process::Command::new("skopeo")
        .args(args)
        .output()
        .await
        .expect("skopeo is not installed: `apt-get install skopeo` (.ci/run does this)")
}

/// A personal access token of a new user holding `role` at `scope`.
pub(crate) async fn pat_at(server: &TestServer, name: &str, role: &str, scope: &str) -> String {
    let client = server.user_with_role(name, role, scope).await;
    client
        .create_pat(&CreatePatRequest {
            name: "registry".into(),
            expires_in_days: None,
        })
        .await
        .unwrap()
        .token
        .expose()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn skopeo_pushes_with_acr_push_and_pulls_with_acr_pull_only() {
    let server = TestServer::start().await;
    let admin = workspaces(&server).await;
    let certs = tempfile::tempdir().unwrap();
    std::fs::copy(server.cert_path(), certs.path().join("casemate.crt")).unwrap();
    let cert_dir = certs.path().to_str().unwrap().to_owned();
    let host = server.url.trim_start_matches("https://").to_owned();
    let image = format!("docker://{host}/team/vision-registry/tools/app:v1");

    let source = tempfile::tempdir().unwrap();
    let layer = b"pretend this is a tar of the image's files".repeat(1000);
    image_layout(source.path(), &layer);
    let layout = format!("oci:{}:v1", source.path().display());

    let pusher = pat_at(&server, "pusher", "AcrPush", REGISTRY).await;
    let puller = pat_at(&server, "puller", "AcrPull", REGISTRY).await;
    let outsider = {
        let client = server.new_user("outsider").await;
        client
            .create_pat(&CreatePatRequest {
                name: "registry".into(),
                expires_in_days: None,
            })
            .await
            .unwrap()
            .token
            .expose()
            .to_owned()
    };

    // A puller may not push.
    let refused = skopeo(&[
        "copy",
        "--dest-cert-dir",
        &cert_dir,
        "--dest-creds",
        &format!("puller:{puller}"),
        &layout,
        &image,
    ])
    .await;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("denied") || stderr.contains("403"),
        "{stderr}"
    );

    let pushed = skopeo(&[
        "copy",
        "--dest-cert-dir",
        &cert_dir,
        "--dest-creds",
        &format!("pusher:{pusher}"),
        &layout,
        &image,
    ])
    .await;
    assert!(
        pushed.status.success(),
        "{}",
        String::from_utf8_lossy(&pushed.stderr)
    );

    // The puller pulls what was pushed, byte for byte.
    let out = tempfile::tempdir().unwrap();
    let target = format!("oci:{}:v1", out.path().display());
    let pulled = skopeo(&[
        "copy",
        "--src-cert-dir",
        &cert_dir,
        "--src-creds",
        &format!("puller:{puller}"),
        &image,
        &target,
    ])
    .await;
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    // skopeo compresses an uncompressed layer on push: the pulled layer, unzipped, is ours.
    let unzipped = std::process::Command::new("python3")
        .args([
            "-c",
            "import gzip, pathlib, sys\nfor p in pathlib.Path(sys.argv[1]).glob('blobs/sha256/*'):\n    b = p.read_bytes()\n    if b[:2] == bytes([0x1f, 0x8b]): sys.stdout.buffer.write(gzip.decompress(b))",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(
        unzipped.stdout,
        layer,
        "{}",
        String::from_utf8_lossy(&unzipped.stderr)
    );
    let listed = skopeo(&[
        "list-tags",
        "--cert-dir",
        &cert_dir,
        "--creds",
        &format!("puller:{puller}"),
        &format!("docker://{host}/team/vision-registry/tools/app"),
    ])
    .await;
    let tags: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap_or_default();
    assert_eq!(
        tags["Tags"],
        serde_json::json!(["v1"]),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );

    // Someone with no grant on the registry is refused, in the spec's error shape.
    let anonymous_pull = skopeo(&[
        "inspect",
        "--cert-dir",
        &cert_dir,
        "--creds",
        &format!("outsider:{outsider}"),
        &image,
    ])
    .await;
    assert!(!anonymous_pull.status.success());
    let anonymous = server.anonymous();
    let answer = anonymous
        .raw(
            "GET",
            "/v2/team/vision-registry/tools/app/manifests/v1",
            &[],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 401);
    let challenge = answer.headers["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    let realm = format!("{}/oauth2/registry-token", server.url);
    assert_eq!(
        challenge,
        format!(
            "Bearer realm=\"{realm}\",service=\"casemate\",scope=\"repository:team/vision-registry/tools/app:pull\""
        )
    );
    // The realm trades a personal access token for a registry token, which the API takes.
    let traded = anonymous
        .with_basic("puller", casemate_types::Sensitive::new(puller.clone()))
        .raw("GET", "/oauth2/registry-token?service=casemate&scope=repository:team/vision-registry/tools/app:pull", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(
        traded.status,
        200,
        "{}",
        String::from_utf8_lossy(&traded.body)
    );
    let traded: serde_json::Value = serde_json::from_slice(&traded.body).unwrap();
    let token = traded["token"].as_str().unwrap().to_owned();
    let with_token = anonymous
        .raw(
            "HEAD",
            "/v2/team/vision-registry/tools/app/manifests/v1",
            &[("authorization", &format!("Bearer {token}"))],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(with_token.status, 200);
    let wrong = anonymous
        .with_basic(
            "puller",
            casemate_types::Sensitive::new(format!("{puller}x")),
        )
        .raw("GET", "/oauth2/registry-token", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(wrong.status, 401);
    let errors: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(errors["errors"][0]["code"], "UNAUTHORIZED");
    let outsider_client =
        anonymous.with_basic("outsider", casemate_types::Sensitive::new(outsider.clone()));
    let answer = outsider_client
        .raw(
            "GET",
            "/v2/team/vision-registry/tools/app/manifests/v1",
            &[],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 403);
    let errors: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(errors["errors"][0]["code"], "DENIED");

    // An upload whose content does not match its digest is refused and leaves nothing.
    let pusher_client =
        anonymous.with_basic("pusher", casemate_types::Sensitive::new(pusher.clone()));
    let wrong = format!("sha256:{}", sha256_hex(b"something else"));
    let answer = pusher_client
        .raw(
            "POST",
            &format!("/v2/team/vision-registry/tools/app/blobs/uploads/?digest={wrong}"),
            &[],
            b"the real bytes".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 400);
    let errors: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(errors["errors"][0]["code"], "DIGEST_INVALID");
    let answer = pusher_client
        .raw(
            "HEAD",
            &format!("/v2/team/vision-registry/tools/app/blobs/{wrong}"),
            &[],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status, 404);

    // A run on a compute with a system-assigned identity pulls as that identity, which holds
    // AcrPull on its workspace's registry only.
    admin
        .create_compute(
            "team",
            "vision",
            "builder",
            &casemate_types::wire::CreateComputeRequest {
                assign_identity: vec!["[system]".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let code = crate::runs::snapshot(&admin, "vision", &[("pull.py", PULL_AS_IDENTITY)]).await;
    let run = admin
        .submit_run(
            "team",
            "vision",
            "pull",
            &casemate_types::wire::SubmitRunRequest {
                resources: None,
                image: None,
                snapshot_id: code.id.clone(),
                command: "python3 pull.py".into(),
                compute: Some("builder".into()),
                time_limit_seconds: None,
                environment: Default::default(),
            },
        )
        .await
        .unwrap();
    let ended = crate::runs::wait_final(&admin, &run).await;
    let log = crate::runs::log_text(&admin, &run).await;
    assert_eq!(
        ended.status,
        casemate_types::wire::RunStatus::Completed,
        "{log}"
    );
    assert!(log.contains("vision-registry 200"), "{log}");
    assert!(log.contains("audio-registry 403"), "{log}");

    // A blob altered at rest is refused, not served.
    let puller_client =
        anonymous.with_basic("puller", casemate_types::Sensitive::new(puller.clone()));
    let manifest = puller_client
        .raw(
            "GET",
            "/v2/team/vision-registry/tools/app/manifests/v1",
            &[],
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(manifest.status, 200);
    assert_eq!(
        manifest.headers["docker-content-digest"].to_str().unwrap(),
        format!("sha256:{}", sha256_hex(&manifest.body))
    );
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.body).unwrap();
    let layer_digest = manifest["layers"][0]["digest"].as_str().unwrap().to_owned();
    let stored = server
        .blob_names()
        .await
        .into_iter()
        .find(|name| name.ends_with(layer_digest.trim_start_matches("sha256:")))
        .expect("the layer is stored under its digest");
    let mut sealed = server.read_blob(&stored).await;
    let middle = sealed.len() / 2;
    sealed[middle] ^= 0x01;
    server.write_blob(&stored, sealed).await;
    let again = tempfile::tempdir().unwrap();
    let target = format!("oci:{}:v1", again.path().display());
    let tampered = skopeo(&[
        "copy",
        "--src-cert-dir",
        &cert_dir,
        "--src-creds",
        &format!("puller:{puller}"),
        &image,
        &target,
    ])
    .await;
    assert!(!tampered.status.success(), "a tampered layer was served");

    // Pushes and pulls are in the activity log under the registry's actions.
    let page = admin
        .list_activity(&[
            ("scope", REGISTRY),
            ("operation", "registries/push/write"),
            ("outcome", "Succeeded"),
        ])
        .await
        .unwrap();
    assert!(!page.entries.is_empty());
    assert!(page.entries.iter().all(|e| e.caller_name == "pusher"));
}

/// The distribution spec's conformance checks, written from the spec (the Go suite needs its
/// sources from GitHub, which CI cannot reach): push (monolithic, chunked, mount), pull,
/// content discovery (tags with pagination) and content management (deletes).
#[tokio::test(flavor = "multi_thread")]
async fn the_registry_passes_the_specs_push_pull_discovery_and_management_checks() {
    let server = TestServer::start().await;
    workspaces(&server).await;
    let pusher = pat_at(&server, "pusher", "AcrPush", REGISTRY).await;
    let client = server
        .anonymous()
        .with_basic("pusher", casemate_types::Sensitive::new(pusher));
    let repo = "/v2/team/vision-registry/conformance";
    let send = |method: &'static str,
                path: String,
                headers: Vec<(&'static str, String)>,
                body: Vec<u8>| {
        let client = client.clone();
        async move {
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            client.raw(method, &path, &headers, body).await.unwrap()
        }
    };
    let header = |response: &casemate_client::RawResponse, name: &str| {
        response.headers[name].to_str().unwrap().to_owned()
    };
    let code = |response: &casemate_client::RawResponse| {
        serde_json::from_slice::<serde_json::Value>(&response.body).unwrap()["errors"][0]["code"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // The root answers a signed-in caller.
    assert_eq!(send("GET", "/v2/".into(), vec![], vec![]).await.status, 200);

    // Push a blob monolithically (POST with ?digest=).
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let config_digest = format!("sha256:{}", sha256_hex(&config));
    let pushed = send(
        "POST",
        format!("{repo}/blobs/uploads/?digest={config_digest}"),
        vec![],
        config.clone(),
    )
    .await;
    assert_eq!(pushed.status, 201);
    assert_eq!(
        header(&pushed, "location"),
        format!("{repo}/blobs/{config_digest}")
    );

    // Push a blob in chunks: POST opens a session, PATCHes append, PUT ?digest= closes it.
    let layer: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let layer_digest = format!("sha256:{}", sha256_hex(&layer));
    let opened = send("POST", format!("{repo}/blobs/uploads/"), vec![], vec![]).await;
    assert_eq!(opened.status, 202);
    let mut location = header(&opened, "location");
    for (index, chunk) in layer.chunks(64 * 1024).enumerate() {
        let start = index * 64 * 1024;
        let range = format!("{start}-{}", start + chunk.len() - 1);
        let sent = send(
            "PATCH",
            location.clone(),
            vec![
                ("content-range", range.clone()),
                ("content-type", "application/octet-stream".into()),
            ],
            chunk.to_vec(),
        )
        .await;
        assert_eq!(sent.status, 202, "{}", String::from_utf8_lossy(&sent.body));
        assert_eq!(
            header(&sent, "range"),
            format!("0-{}", start + chunk.len() - 1)
        );
        location = header(&sent, "location");
    }
    let status = send("GET", location.clone(), vec![], vec![]).await;
    assert_eq!(
        (status.status, header(&status, "range")),
        (204, format!("0-{}", layer.len() - 1))
    );
    let closed = send(
        "PUT",
        format!("{location}?digest={layer_digest}"),
        vec![],
        vec![],
    )
    .await;
    assert_eq!(
        closed.status,
        201,
        "{}",
        String::from_utf8_lossy(&closed.body)
    );
    assert_eq!(header(&closed, "docker-content-digest"), layer_digest);

    // A session closed with the wrong digest stores nothing; its id is gone.
    let opened = send("POST", format!("{repo}/blobs/uploads/"), vec![], vec![]).await;
    let stray = header(&opened, "location");
    let wrong = send(
        "PUT",
        format!("{stray}?digest={config_digest}"),
        vec![],
        b"not the config".to_vec(),
    )
    .await;
    assert_eq!(
        (wrong.status, code(&wrong)),
        (400, "DIGEST_INVALID".to_owned())
    );
    let gone = send("GET", stray, vec![], vec![]).await;
    assert_eq!(
        (gone.status, code(&gone)),
        (404, "BLOB_UPLOAD_UNKNOWN".to_owned())
    );

    // Pull the blobs back: HEAD gives the size and digest, GET the bytes.
    let head = send(
        "HEAD",
        format!("{repo}/blobs/{layer_digest}"),
        vec![],
        vec![],
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(header(&head, "content-length"), layer.len().to_string());
    let got = send(
        "GET",
        format!("{repo}/blobs/{layer_digest}"),
        vec![],
        vec![],
    )
    .await;
    assert_eq!((got.status, got.body.clone()), (200, layer.clone()));
    let unknown = format!("sha256:{}", "0".repeat(64));
    let missing = send("GET", format!("{repo}/blobs/{unknown}"), vec![], vec![]).await;
    assert_eq!(
        (missing.status, code(&missing)),
        (404, "BLOB_UNKNOWN".to_owned())
    );

    // A manifest naming a blob the repository does not hold is refused.
    let manifest_of = |layer: &str| {
        serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 1}]
        })
        .to_string()
        .into_bytes()
    };
    let oci = (
        "content-type",
        "application/vnd.oci.image.manifest.v1+json".to_owned(),
    );
    let refused = send(
        "PUT",
        format!("{repo}/manifests/v1"),
        vec![oci.clone()],
        manifest_of(&unknown),
    )
    .await;
    assert_eq!(
        (refused.status, code(&refused)),
        (400, "MANIFEST_BLOB_UNKNOWN".to_owned())
    );

    // Push a manifest by tag, pull it by tag and by digest.
    let manifest = manifest_of(&layer_digest);
    let manifest_digest = format!("sha256:{}", sha256_hex(&manifest));
    let put = send(
        "PUT",
        format!("{repo}/manifests/v1"),
        vec![oci.clone()],
        manifest.clone(),
    )
    .await;
    assert_eq!(put.status, 201, "{}", String::from_utf8_lossy(&put.body));
    assert_eq!(header(&put, "docker-content-digest"), manifest_digest);
    for reference in ["v1", manifest_digest.as_str()] {
        let got = send(
            "GET",
            format!("{repo}/manifests/{reference}"),
            vec![],
            vec![],
        )
        .await;
        assert_eq!((got.status, got.body.clone()), (200, manifest.clone()));
        assert_eq!(header(&got, "content-type"), oci.1);
        assert_eq!(header(&got, "docker-content-digest"), manifest_digest);
    }
    let by_wrong_digest = send(
        "PUT",
        format!("{repo}/manifests/{unknown}"),
        vec![oci.clone()],
        manifest.clone(),
    )
    .await;
    assert_eq!(
        (by_wrong_digest.status, code(&by_wrong_digest)),
        (400, "DIGEST_INVALID".to_owned())
    );
    let bad_tag = send("GET", format!("{repo}/manifests/-bad"), vec![], vec![]).await;
    assert_eq!(bad_tag.status, 400);

    // Content discovery: tags, in order, paginated with n and last.
    for tag in ["v2", "a0", "latest"] {
        let put = send(
            "PUT",
            format!("{repo}/manifests/{tag}"),
            vec![oci.clone()],
            manifest.clone(),
        )
        .await;
        assert_eq!(put.status, 201);
    }
    let tags = |response: &casemate_client::RawResponse| {
        serde_json::from_slice::<serde_json::Value>(&response.body).unwrap()
    };
    let all = send("GET", format!("{repo}/tags/list"), vec![], vec![]).await;
    assert_eq!(
        tags(&all),
        serde_json::json!({"name": "team/vision-registry/conformance", "tags": ["a0", "latest", "v1", "v2"]})
    );
    let page = send(
        "GET",
        format!("{repo}/tags/list?n=2&last=a0"),
        vec![],
        vec![],
    )
    .await;
    assert_eq!(tags(&page)["tags"], serde_json::json!(["latest", "v1"]));

    // Mount a blob into another repository of the registry.
    let other = "/v2/team/vision-registry/mounted";
    let mounted = send(
        "POST",
        format!("{other}/blobs/uploads/?mount={layer_digest}&from=conformance"),
        vec![],
        vec![],
    )
    .await;
    assert_eq!(mounted.status, 201);
    assert_eq!(
        send(
            "HEAD",
            format!("{other}/blobs/{layer_digest}"),
            vec![],
            vec![]
        )
        .await
        .status,
        200
    );

    // Content management: delete a tag, then the manifest (its other tags go with it), a blob.
    assert_eq!(
        send("DELETE", format!("{repo}/manifests/v2"), vec![], vec![])
            .await
            .status,
        202
    );
    let untagged = send("GET", format!("{repo}/manifests/v2"), vec![], vec![]).await;
    assert_eq!(
        (untagged.status, code(&untagged)),
        (404, "MANIFEST_UNKNOWN".to_owned())
    );
    assert_eq!(
        send(
            "DELETE",
            format!("{repo}/manifests/{manifest_digest}"),
            vec![],
            vec![]
        )
        .await
        .status,
        202
    );
    let all = send("GET", format!("{repo}/tags/list"), vec![], vec![]).await;
    assert_eq!(tags(&all)["tags"], serde_json::json!([]));
    assert_eq!(
        send(
            "DELETE",
            format!("{repo}/blobs/{layer_digest}"),
            vec![],
            vec![]
        )
        .await
        .status,
        202
    );
    assert_eq!(
        send(
            "HEAD",
            format!("{repo}/blobs/{layer_digest}"),
            vec![],
            vec![]
        )
        .await
        .status,
        404
    );
    // The mounted copy is still there: the content stays while a repository holds it.
    let still = send(
        "GET",
        format!("{other}/blobs/{layer_digest}"),
        vec![],
        vec![],
    )
    .await;
    assert_eq!((still.status, still.body.len()), (200, layer.len()));

    // The catalog lists the repositories of the registries the caller may pull from.
    let catalog = send("GET", "/v2/_catalog".into(), vec![], vec![]).await;
    assert_eq!(
        tags(&catalog),
        serde_json::json!({"repositories": ["team/vision-registry/conformance", "team/vision-registry/mounted"]})
    );
    let page = send(
        "GET",
        "/v2/_catalog?n=1&last=team/vision-registry/conformance".into(),
        vec![],
        vec![],
    )
    .await;
    assert_eq!(
        tags(&page)["repositories"],
        serde_json::json!(["team/vision-registry/mounted"])
    );
    let outsider = server.new_user("outsider").await;
    let theirs = outsider
        .raw("GET", "/v2/_catalog", &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(tags(&theirs), serde_json::json!({"repositories": []}));

    // A name that breaks the spec's rule is NAME_INVALID.
    let invalid = send(
        "GET",
        "/v2/team/vision-registry/Upper/tags/list".into(),
        vec![],
        vec![],
    )
    .await;
    assert_eq!(
        (invalid.status, code(&invalid)),
        (400, "NAME_INVALID".to_owned())
    );
}

/// A crash (here, a restart) in the middle of a chunked upload leaves nothing on disk: the
/// session is unknown to the next process and the client starts again.
#[tokio::test(flavor = "multi_thread")]
async fn an_upload_left_unfinished_by_a_stopped_server_is_discarded_when_it_starts() {
    let server = TestServer::start().await;
    workspaces(&server).await;
    let pusher = pat_at(&server, "pusher", "AcrPush", REGISTRY).await;
    let repo = "/v2/team/vision-registry/restarted";
    let client = server
        .anonymous()
        .with_basic("pusher", casemate_types::Sensitive::new(pusher.clone()));
    let opened = client
        .raw("POST", &format!("{repo}/blobs/uploads/"), &[], Vec::new())
        .await
        .unwrap();
    assert_eq!(opened.status, 202);
    let location = opened.headers["location"].to_str().unwrap().to_owned();
    let sent = client
        .raw(
            "PATCH",
            &location,
            &[("content-range", "0-9999")],
            vec![7u8; 10_000],
        )
        .await
        .unwrap();
    assert_eq!(sent.status, 202);
    let uploads = server.home().join("registry-uploads");
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 1);

    let server = server
        .restart(casemate_server::config::ConfigLayer::default())
        .await;
    assert_eq!(std::fs::read_dir(&uploads).unwrap().count(), 0);
    let client = server
        .anonymous()
        .with_basic("pusher", casemate_types::Sensitive::new(pusher));
    let status = client.raw("GET", &location, &[], Vec::new()).await.unwrap();
    assert_eq!(status.status, 404);
    let body: serde_json::Value = serde_json::from_slice(&status.body).unwrap();
    assert_eq!(body["errors"][0]["code"], "BLOB_UPLOAD_UNKNOWN");
}

//! `casemate service`: deploy registered model versions as web services, manage their keys and
//! tokens, score, and read the scoring log.

use crate::commands::signed_in;
use crate::output::{OutputFormat, emit, record, table};
use crate::run_cmd::{WorkspaceArgs, upload};
use anyhow::Context;
use casemate_types::wire::{CreateServiceRequest, ServiceModel, UpdateServiceRequest, WebService};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ServiceCommand {
    /// Deploy model versions (`--model NAME:VERSION`, repeatable) as a web service and wait until
    /// it answers. Without `--entry-script`, the model is served as an MLflow pyfunc model.
    Create {
        name: String,
        #[command(flatten)]
        at: WorkspaceArgs,
        #[arg(long = "model", required = true)]
        models: Vec<String>,
        /// `key` (primary and secondary keys) or `token` (short-lived tokens).
        #[arg(long, default_value = "key")]
        auth_mode: String,
        /// A score.py-style script with init() and run(raw_data), inside --source-dir.
        #[arg(long)]
        entry_script: Option<String>,
        /// The directory holding the entry script (uploaded as a snapshot).
        #[arg(long)]
        source_dir: Option<PathBuf>,
        /// The Python interpreter for the scoring process (a venv with mlflow, say).
        #[arg(long)]
        python: Option<String>,
        #[arg(long)]
        compute: Option<String>,
        #[arg(long)]
        max_request_bytes: Option<u64>,
        #[arg(long)]
        token_lifetime_seconds: Option<u64>,
    },
    List {
        #[command(flatten)]
        at: WorkspaceArgs,
    },
    Show {
        name: String,
        #[command(flatten)]
        at: WorkspaceArgs,
    },
    /// A rolling update: the new process answers before the old one stops.
    Update {
        name: String,
        #[command(flatten)]
        at: WorkspaceArgs,
        #[arg(long = "model")]
        models: Vec<String>,
        #[arg(long)]
        entry_script: Option<String>,
        #[arg(long)]
        source_dir: Option<PathBuf>,
        #[arg(long)]
        python: Option<String>,
        #[arg(long)]
        max_request_bytes: Option<u64>,
        #[arg(long)]
        token_lifetime_seconds: Option<u64>,
    },
    Delete {
        name: String,
        #[command(flatten)]
        at: WorkspaceArgs,
    },
    /// The service's keys (key auth).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// A short-lived scoring token (token auth).
    Token {
        name: String,
        #[command(flatten)]
        at: WorkspaceArgs,
    },
    /// The scoring log (one line per request), or with --console the scoring process's output.
    Logs {
        name: String,
        #[command(flatten)]
        at: WorkspaceArgs,
        /// How far back, as 30m, 24h or 7d.
        #[arg(long, default_value = "24h")]
        since: String,
        #[arg(long)]
        console: bool,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    List {
        name: String,
        #[command(flatten)]
        at: WorkspaceArgs,
    },
    /// Replaces one key; the old one is refused from the next request on.
    Regenerate {
        name: String,
        #[command(flatten)]
        at: WorkspaceArgs,
        /// primary or secondary.
        #[arg(long = "key")]
        key: String,
    },
}

fn parse_models(models: &[String]) -> anyhow::Result<Vec<ServiceModel>> {
    models
        .iter()
        .map(|text| {
            let (name, version) = text
                .rsplit_once(':')
                .with_context(|| format!("--model {text}: write NAME:VERSION, e.g. iris:3"))?;
            let version = version
                .parse()
                .with_context(|| format!("--model {text}: the version must be a whole number"))?;
            Ok(ServiceModel {
                name: name.to_owned(),
                version,
            })
        })
        .collect()
}

fn print_service(format: OutputFormat, service: &WebService) -> anyhow::Result<()> {
    emit(format, service, |s| {
        let models: Vec<String> = s
            .models
            .iter()
            .map(|m| format!("{}:{}", m.name, m.version))
            .collect();
        record(&[
            ("name", s.name.clone()),
            ("kind", s.kind.clone()),
            ("models", models.join(", ")),
            ("auth mode", s.auth_mode.clone()),
            ("state", s.state.clone()),
            ("reason", s.state_reason.clone().unwrap_or_default()),
            ("restarts", s.restarts.to_string()),
            ("python", s.python.clone()),
            ("compute", format!("{} ({})", s.compute, s.compute_type)),
            ("scoring uri", s.scoring_uri.clone()),
        ]);
    })
}

pub async fn service(command: ServiceCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        ServiceCommand::Create {
            name,
            at,
            models,
            auth_mode,
            entry_script,
            source_dir,
            python,
            compute,
            max_request_bytes,
            token_lifetime_seconds,
        } => {
            let snapshot_id = match &source_dir {
                Some(directory) => Some(upload(&client, &at, directory).await?),
                None => None,
            };
            let request = CreateServiceRequest {
                models: parse_models(&models)?,
                entry_script,
                snapshot_id,
                auth_mode,
                python,
                compute,
                max_request_bytes,
                token_lifetime_seconds,
            };
            let created = client
                .create_service(&at.resource_group, &at.workspace, &name, &request)
                .await?;
            print_service(format, &created)?;
            if created.state != "Healthy" {
                anyhow::bail!(
                    "service {name} did not start: {}",
                    created
                        .state_reason
                        .unwrap_or_else(|| created.state.clone())
                );
            }
            Ok(())
        }
        ServiceCommand::List { at } => {
            let services = client
                .list_services(&at.resource_group, &at.workspace)
                .await?;
            emit(format, &services, |list| {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|s| {
                        vec![
                            s.name.clone(),
                            s.kind.clone(),
                            s.auth_mode.clone(),
                            s.state.clone(),
                            s.restarts.to_string(),
                        ]
                    })
                    .collect();
                table(&["NAME", "KIND", "AUTH", "STATE", "RESTARTS"], &rows);
            })
        }
        ServiceCommand::Show { name, at } => {
            let found = client
                .get_service(&at.resource_group, &at.workspace, &name)
                .await?;
            print_service(format, &found)
        }
        ServiceCommand::Update {
            name,
            at,
            models,
            entry_script,
            source_dir,
            python,
            max_request_bytes,
            token_lifetime_seconds,
        } => {
            let snapshot_id = match &source_dir {
                Some(directory) => Some(upload(&client, &at, directory).await?),
                None => None,
            };
            let request = UpdateServiceRequest {
                models: (!models.is_empty())
                    .then(|| parse_models(&models))
                    .transpose()?,
                entry_script,
                snapshot_id,
                python,
                max_request_bytes,
                token_lifetime_seconds,
            };
            let updated = client
                .update_service(&at.resource_group, &at.workspace, &name, &request)
                .await?;
            print_service(format, &updated)
        }
        ServiceCommand::Delete { name, at } => {
            client
                .delete_service(&at.resource_group, &at.workspace, &name)
                .await?;
            eprintln!("service {name} deleted");
            Ok(())
        }
        ServiceCommand::Keys { command } => {
            let keys = match command {
                KeysCommand::List { name, at } => {
                    client
                        .list_service_keys(&at.resource_group, &at.workspace, &name)
                        .await?
                }
                KeysCommand::Regenerate { name, at, key } => {
                    client
                        .regenerate_service_key(&at.resource_group, &at.workspace, &name, &key)
                        .await?
                }
            };
            emit(format, &keys, |k| {
                record(&[
                    ("primary key", k.primary_key.expose().to_owned()),
                    ("secondary key", k.secondary_key.expose().to_owned()),
                ]);
            })
        }
        ServiceCommand::Token { name, at } => {
            let token = client
                .service_token(&at.resource_group, &at.workspace, &name)
                .await?;
            emit(format, &token, |t| {
                record(&[
                    ("access token", t.access_token.expose().to_owned()),
                    ("expires on", t.expires_on.to_string()),
                    ("refresh after", t.refresh_after.to_string()),
                ]);
            })
        }
        ServiceCommand::Logs {
            name,
            at,
            since,
            console,
        } => {
            if console {
                let console = client
                    .service_console(&at.resource_group, &at.workspace, &name)
                    .await?;
                return emit(format, &console, |c| print!("{}", c.text));
            }
            let log = client
                .scoring_log(&at.resource_group, &at.workspace, &name, Some(&since))
                .await?;
            emit(format, &log, |l| {
                let rows: Vec<Vec<String>> = l
                    .entries
                    .iter()
                    .map(|e| {
                        vec![
                            e.time.to_string(),
                            e.method.clone(),
                            e.url.clone(),
                            e.status.to_string(),
                            e.request_id.clone(),
                            format!("{:.2}", e.model_us as f64 / 1000.0),
                            format!("{:.2}", e.overhead_us as f64 / 1000.0),
                            e.credential.clone(),
                            e.client_address.clone(),
                            e.compute_type.clone(),
                            e.user_agent.clone(),
                        ]
                    })
                    .collect();
                table(
                    &[
                        "TIME",
                        "METHOD",
                        "URL",
                        "STATUS",
                        "REQUEST ID",
                        "MODEL MS",
                        "OVERHEAD MS",
                        "CREDENTIAL",
                        "CLIENT",
                        "COMPUTE",
                        "USER AGENT",
                    ],
                    &rows,
                );
            })
        }
    }
}

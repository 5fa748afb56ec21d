//! `casemate secret`: the vault's secrets, through a workspace (`-g RG -w WS`) or a vault
//! (`--vault /resourceGroups/RG/vaults/V`). No flag puts a value on the command line.

use crate::commands::signed_in;
use crate::input::{self, Stdin};
use crate::output::{self, OutputFormat, emit, record, table};
use anyhow::{Context, bail};
use casemate_client::{Client, SecretScope};
use casemate_types::wire::*;
use clap::{Args, Subcommand};

#[derive(Args, Clone)]
pub(crate) struct Target {
    #[arg(short = 'g', long = "resource-group", requires = "workspace")]
    resource_group: Option<String>,
    #[arg(
        short = 'w',
        long = "workspace",
        requires = "resource_group",
        conflicts_with = "vault"
    )]
    workspace: Option<String>,
    /// Vault resource id: /resourceGroups/RG/vaults/NAME
    #[arg(long)]
    vault: Option<String>,
}

enum Resolved {
    Workspace { rg: String, ws: String },
    Vault { rg: String, vault: String },
}

impl Resolved {
    fn scope(&self) -> SecretScope<'_> {
        match self {
            Resolved::Workspace { rg, ws } => SecretScope::Workspace {
                resource_group: rg,
                workspace: ws,
            },
            Resolved::Vault { rg, vault } => SecretScope::Vault {
                resource_group: rg,
                vault,
            },
        }
    }
}

fn parse_vault_id(id: &str) -> anyhow::Result<(String, String)> {
    let parts: Vec<&str> = id.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["resourceGroups", rg, "vaults", vault] => Ok(((*rg).to_owned(), (*vault).to_owned())),
        _ => bail!("--vault '{id}' is not of the form /resourceGroups/RG/vaults/NAME"),
    }
}

impl Target {
    fn resolve(&self) -> anyhow::Result<Resolved> {
        match (&self.resource_group, &self.workspace, &self.vault) {
            (Some(rg), Some(ws), None) => Ok(Resolved::Workspace {
                rg: rg.clone(),
                ws: ws.clone(),
            }),
            (None, None, Some(vault)) => {
                let (rg, vault) = parse_vault_id(vault)?;
                Ok(Resolved::Vault { rg, vault })
            }
            _ => bail!(
                "name the secrets' home: -g RG -w WORKSPACE, or --vault /resourceGroups/RG/vaults/NAME"
            ),
        }
    }

    /// The vault itself, for operations only vaults have (versions, recovery, attributes).
    pub(crate) async fn vault(&self, client: &Client) -> anyhow::Result<(String, String)> {
        match self.resolve()? {
            Resolved::Vault { rg, vault } => Ok((rg, vault)),
            Resolved::Workspace { rg, ws } => {
                parse_vault_id(&client.get_workspace(&rg, &ws).await?.key_vault)
            }
        }
    }
}

#[derive(Subcommand)]
pub enum SecretCommand {
    /// Set a secret (adds a version if the name exists).
    Set {
        name: String,
        #[command(flatten)]
        target: Target,
        /// Read the value from standard input (one line).
        #[arg(long, conflicts_with = "value_env")]
        value_stdin: bool,
        /// Read the value from this environment variable.
        #[arg(long)]
        value_env: Option<String>,
        #[arg(long)]
        content_type: Option<String>,
    },
    /// Print a secret's value.
    Get {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Secret names and attributes, never values.
    List {
        #[command(flatten)]
        target: Target,
    },
    /// Soft-delete a secret (recoverable until purged).
    Delete {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    ListDeleted {
        #[command(flatten)]
        target: Target,
    },
    Recover {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    Purge {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Change the latest version's attributes.
    SetAttributes {
        name: String,
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        enabled: Option<bool>,
        /// RFC 3339.
        #[arg(long)]
        expires: Option<String>,
        /// RFC 3339.
        #[arg(long)]
        not_before: Option<String>,
        #[arg(long)]
        content_type: Option<String>,
    },
}

fn parse_time(flag: &str, value: &Option<String>) -> anyhow::Result<Option<time::OffsetDateTime>> {
    value
        .as_deref()
        .map(|v| {
            time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
                .with_context(|| format!("--{flag} '{v}' is not an RFC 3339 time"))
        })
        .transpose()
}

fn item_rows(items: &[SecretItem]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|i| {
            vec![
                i.name.clone(),
                i.attributes.enabled.to_string(),
                i.attributes
                    .expires
                    .map(|t| output::time(&t))
                    .unwrap_or_default(),
                i.version.clone(),
            ]
        })
        .collect()
}

pub async fn secret(command: SecretCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        SecretCommand::Set {
            name,
            target,
            value_stdin,
            value_env,
            content_type,
        } => {
            let value = match (value_stdin, value_env) {
                (true, _) => Stdin::new().secret_line("secret value")?,
                (false, Some(variable)) => input::from_env(&variable)?,
                (false, None) => input::prompt_secret(&format!("Value for {name}"))?,
            };
            let resolved = target.resolve()?;
            let request = SetSecretRequest {
                content_type,
                ..SetSecretRequest::value(value)
            };
            let item = client.set_secret(resolved.scope(), &name, &request).await?;
            emit(format, &item, |i| {
                record(&[
                    ("name", i.name.clone()),
                    ("version", i.version.clone()),
                    ("id", i.id.clone()),
                ])
            })
        }
        SecretCommand::Get { name, target } => {
            let resolved = target.resolve()?;
            let bundle = client.get_secret(resolved.scope(), &name).await?;
            emit(format, &bundle, |b| println!("{}", b.value.expose()))
        }
        SecretCommand::List { target } => {
            let resolved = target.resolve()?;
            let items = client.list_secrets(resolved.scope()).await?;
            emit(format, &items, |items| {
                table(
                    &["NAME", "ENABLED", "EXPIRES", "VERSION"],
                    &item_rows(items),
                )
            })
        }
        SecretCommand::Delete { name, target } => {
            let resolved = target.resolve()?;
            let deleted = client.delete_secret(resolved.scope(), &name).await?;
            emit(format, &deleted, |d| {
                println!(
                    "Deleted {}; recoverable until {}.",
                    d.name,
                    output::time(&d.scheduled_purge)
                )
            })
        }
        SecretCommand::ListDeleted { target } => {
            let (rg, vault) = target.vault(&client).await?;
            let deleted = client.list_deleted_secrets(&rg, &vault).await?;
            emit(format, &deleted, |list| {
                output::deleted_table(
                    list.iter()
                        .map(|d| (d.name.as_str(), &d.deleted, &d.scheduled_purge)),
                )
            })
        }
        SecretCommand::Recover { name, target } => {
            let (rg, vault) = target.vault(&client).await?;
            let item = client.recover_secret(&rg, &vault, &name).await?;
            emit(format, &item, |i| println!("Recovered {}.", i.name))
        }
        SecretCommand::Purge { name, target } => {
            let (rg, vault) = target.vault(&client).await?;
            client.purge_secret(&rg, &vault, &name).await?;
            println!("Purged {name}.");
            Ok(())
        }
        SecretCommand::SetAttributes {
            name,
            target,
            enabled,
            expires,
            not_before,
            content_type,
        } => {
            let (rg, vault) = target.vault(&client).await?;
            let request = UpdateSecretRequest {
                enabled,
                expires: parse_time("expires", &expires)?,
                not_before: parse_time("not-before", &not_before)?,
                content_type,
                tags: None,
            };
            let item = client.update_secret(&rg, &vault, &name, &request).await?;
            emit(format, &item, |items| {
                table(
                    &["NAME", "ENABLED", "EXPIRES", "VERSION"],
                    &item_rows(std::slice::from_ref(items)),
                )
            })
        }
    }
}

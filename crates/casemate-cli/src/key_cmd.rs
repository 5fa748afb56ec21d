//! `casemate key`: the vault's keys (customer-managed keys), through a workspace's vault
//! (`-g RG -w WS`) or a vault (`--vault /resourceGroups/RG/vaults/V`).

use crate::commands::signed_in;
use crate::output::{self, OutputFormat, emit, record, table};
use crate::secret_cmd::Target;
use casemate_types::wire::VaultKey;
use clap::Subcommand;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create an AES-256 key with its first version.
    Create {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    List {
        #[command(flatten)]
        target: Target,
    },
    /// A key and its versions.
    Show {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Add a version; new wraps use it from the next request on.
    Rotate {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Refuse every use of the key (or of one version) from the next request on.
    Disable {
        name: String,
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        version: Option<String>,
    },
    Enable {
        name: String,
        #[command(flatten)]
        target: Target,
        #[arg(long)]
        version: Option<String>,
    },
    /// Soft-delete a key (recoverable until purged).
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
}

fn print_key(format: OutputFormat, key: &VaultKey) -> anyhow::Result<()> {
    emit(format, key, |k| {
        record(&[
            ("name", k.name.clone()),
            ("kid", k.kid.clone()),
            ("enabled", k.enabled.to_string()),
            ("created", output::time(&k.created)),
        ]);
        let rows: Vec<Vec<String>> = k
            .versions
            .iter()
            .map(|v| {
                vec![
                    v.version.clone(),
                    v.enabled.to_string(),
                    output::time(&v.created),
                ]
            })
            .collect();
        println!();
        table(&["VERSION", "ENABLED", "CREATED"], &rows);
    })
}

pub async fn key(command: KeyCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        KeyCommand::Create { name, target } => {
            let (rg, vault) = target.vault(&client).await?;
            let key = client.create_key(&rg, &vault, &name).await?;
            print_key(format, &key)
        }
        KeyCommand::List { target } => {
            let (rg, vault) = target.vault(&client).await?;
            let keys = client.list_keys(&rg, &vault).await?;
            emit(format, &keys, |keys| {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.name.clone(),
                            k.enabled.to_string(),
                            k.versions.len().to_string(),
                            k.kid.clone(),
                        ]
                    })
                    .collect();
                table(&["NAME", "ENABLED", "VERSIONS", "CURRENT KID"], &rows);
            })
        }
        KeyCommand::Show { name, target } => {
            let (rg, vault) = target.vault(&client).await?;
            print_key(format, &client.get_key(&rg, &vault, &name).await?)
        }
        KeyCommand::Rotate { name, target } => {
            let (rg, vault) = target.vault(&client).await?;
            print_key(format, &client.rotate_key(&rg, &vault, &name).await?)
        }
        KeyCommand::Disable {
            name,
            target,
            version,
        } => {
            let (rg, vault) = target.vault(&client).await?;
            let key = client
                .set_key_enabled(&rg, &vault, &name, version.as_deref(), false)
                .await?;
            print_key(format, &key)
        }
        KeyCommand::Enable {
            name,
            target,
            version,
        } => {
            let (rg, vault) = target.vault(&client).await?;
            let key = client
                .set_key_enabled(&rg, &vault, &name, version.as_deref(), true)
                .await?;
            print_key(format, &key)
        }
        KeyCommand::Delete { name, target } => {
            let (rg, vault) = target.vault(&client).await?;
            let deleted = client.delete_key(&rg, &vault, &name).await?;
            emit(format, &deleted, |d| {
                record(&[
                    ("name", d.name.clone()),
                    ("deleted", output::time(&d.deleted)),
                    ("scheduled_purge", output::time(&d.scheduled_purge)),
                ])
            })
        }
        KeyCommand::ListDeleted { target } => {
            let (rg, vault) = target.vault(&client).await?;
            let deleted = client.list_deleted_keys(&rg, &vault).await?;
            emit(format, &deleted, |list| {
                output::deleted_table(
                    list.iter()
                        .map(|d| (d.name.as_str(), &d.deleted, &d.scheduled_purge)),
                )
            })
        }
        KeyCommand::Recover { name, target } => {
            let (rg, vault) = target.vault(&client).await?;
            print_key(format, &client.recover_key(&rg, &vault, &name).await?)
        }
        KeyCommand::Purge { name, target } => {
            let (rg, vault) = target.vault(&client).await?;
            client.purge_key(&rg, &vault, &name).await?;
            eprintln!("Purged key '{name}'.");
            Ok(())
        }
    }
}

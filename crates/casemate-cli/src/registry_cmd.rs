//! `casemate registry`: container registries as resources, and their admin user.

use crate::commands::signed_in;
use crate::output::{OutputFormat, emit, record, table};
use casemate_types::wire::{
    CreateRegistryRequest, Registry, RegistryCredentials, UpdateRegistryRequest,
};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum RegistryCommand {
    /// Create a registry of its own (a private registry outside any workspace).
    Create {
        name: String,
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
        #[arg(long)]
        description: Option<String>,
        /// Enable the admin user (off by default; prefer role assignments).
        #[arg(long = "admin-enabled", default_value_t = false, action = clap::ArgAction::Set)]
        admin_enabled: bool,
    },
    List {
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
    },
    Show {
        name: String,
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
    },
    /// Turn the admin user on or off, or change the description.
    Update {
        name: String,
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
        #[arg(long = "admin-enabled", action = clap::ArgAction::Set)]
        admin_enabled: Option<bool>,
        #[arg(long)]
        description: Option<String>,
    },
    Delete {
        name: String,
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
    },
    /// The admin user's name and passwords.
    Credential {
        #[command(subcommand)]
        command: CredentialCommand,
    },
}

#[derive(Subcommand)]
pub enum CredentialCommand {
    Show {
        name: String,
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
    },
    /// Replace one password: `password` or `password2`.
    Renew {
        name: String,
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
        #[arg(long = "password-name", default_value = "password")]
        password_name: String,
    },
}

fn print_registry(format: OutputFormat, registry: &Registry) -> anyhow::Result<()> {
    emit(format, registry, |r| {
        record(&[
            ("id", r.id.clone()),
            ("login path", r.login_path.clone()),
            ("admin user enabled", r.admin_user_enabled.to_string()),
            ("workspace", r.workspace.clone().unwrap_or_default()),
            ("description", r.description.clone().unwrap_or_default()),
        ]);
    })
}

fn print_credentials(
    format: OutputFormat,
    credentials: &RegistryCredentials,
) -> anyhow::Result<()> {
    emit(format, credentials, |c| {
        let mut fields = vec![("username", c.username.clone())];
        for password in &c.passwords {
            fields.push((password.name.as_str(), password.value.expose().to_owned()));
        }
        record(&fields);
    })
}

pub async fn registry(command: RegistryCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        RegistryCommand::Create {
            name,
            resource_group,
            description,
            admin_enabled,
        } => {
            let request = CreateRegistryRequest {
                description,
                admin_user_enabled: admin_enabled,
            };
            let created = client
                .create_registry(&resource_group, &name, &request)
                .await?;
            print_registry(format, &created)
        }
        RegistryCommand::List { resource_group } => {
            let registries = client.list_registries(&resource_group).await?;
            emit(format, &registries, |list| {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|r| {
                        vec![
                            r.name.clone(),
                            r.login_path.clone(),
                            r.admin_user_enabled.to_string(),
                            r.workspace.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                table(&["NAME", "LOGIN PATH", "ADMIN", "WORKSPACE"], &rows);
            })
        }
        RegistryCommand::Show {
            name,
            resource_group,
        } => print_registry(format, &client.get_registry(&resource_group, &name).await?),
        RegistryCommand::Update {
            name,
            resource_group,
            admin_enabled,
            description,
        } => {
            let request = UpdateRegistryRequest {
                admin_user_enabled: admin_enabled,
                description,
            };
            let updated = client
                .update_registry(&resource_group, &name, &request)
                .await?;
            print_registry(format, &updated)
        }
        RegistryCommand::Delete {
            name,
            resource_group,
        } => {
            client.delete_registry(&resource_group, &name).await?;
            eprintln!("registry {name} deleted");
            Ok(())
        }
        RegistryCommand::Credential { command } => {
            let credentials = match command {
                CredentialCommand::Show {
                    name,
                    resource_group,
                } => {
                    client
                        .list_registry_credentials(&resource_group, &name)
                        .await?
                }
                CredentialCommand::Renew {
                    name,
                    resource_group,
                    password_name,
                } => {
                    client
                        .regenerate_registry_credential(&resource_group, &name, &password_name)
                        .await?
                }
            };
            print_credentials(format, &credentials)
        }
    }
}

//! `casemate identity`: user-assigned managed identities, and the identities of a compute.

use crate::commands::signed_in;
use crate::output::{OutputFormat, emit, record, table};
use casemate_types::wire::{ComputeIdentity, CreateIdentityRequest, Identity};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Create a user-assigned identity (grant it roles with `casemate role assignment create
    /// --assignee PRINCIPAL_ID`).
    Create {
        name: String,
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
        #[arg(long)]
        description: Option<String>,
    },
    List {
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
    },
    /// Show a user-assigned identity, or with --compute the identities of a compute.
    Show {
        /// The identity's name (without --compute).
        name: Option<String>,
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
        #[arg(short = 'w', long = "workspace", requires = "compute")]
        workspace: Option<String>,
        #[arg(long, requires = "workspace")]
        compute: Option<String>,
    },
    Delete {
        name: String,
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
    },
}

fn print_identity(format: OutputFormat, identity: &Identity) -> anyhow::Result<()> {
    emit(format, identity, |i| {
        record(&[
            ("id", i.id.clone()),
            ("principal id", i.principal_id.to_string()),
            ("client id", i.client_id.to_string()),
            ("description", i.description.clone().unwrap_or_default()),
        ]);
    })
}

fn identity_rows(identities: &[ComputeIdentity]) {
    let rows: Vec<Vec<String>> = identities
        .iter()
        .map(|i| {
            vec![
                i.kind.clone(),
                i.principal_id.to_string(),
                i.client_id.to_string(),
                i.resource_id.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(&["KIND", "PRINCIPAL ID", "CLIENT ID", "RESOURCE"], &rows);
}

pub async fn identity(command: IdentityCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        IdentityCommand::Create {
            name,
            resource_group,
            description,
        } => {
            let created = client
                .create_identity(
                    &resource_group,
                    &name,
                    &CreateIdentityRequest { description },
                )
                .await?;
            print_identity(format, &created)
        }
        IdentityCommand::List { resource_group } => {
            let identities = client.list_identities(&resource_group).await?;
            emit(format, &identities, |list| {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|i| {
                        vec![
                            i.name.clone(),
                            i.principal_id.to_string(),
                            i.client_id.to_string(),
                        ]
                    })
                    .collect();
                table(&["NAME", "PRINCIPAL ID", "CLIENT ID"], &rows);
            })
        }
        IdentityCommand::Show {
            name,
            resource_group,
            workspace,
            compute,
        } => match (name, workspace, compute) {
            (None, Some(workspace), Some(compute)) => {
                let found = client
                    .get_compute(&resource_group, &workspace, &compute)
                    .await?;
                emit(format, &found.identities, |list| identity_rows(list))
            }
            (Some(name), None, None) => {
                let found = client.get_identity(&resource_group, &name).await?;
                print_identity(format, &found)
            }
            _ => anyhow::bail!("name an identity, or a compute with -w WORKSPACE --compute NAME"),
        },
        IdentityCommand::Delete {
            name,
            resource_group,
        } => {
            client.delete_identity(&resource_group, &name).await?;
            eprintln!("identity {name} deleted");
            Ok(())
        }
    }
}

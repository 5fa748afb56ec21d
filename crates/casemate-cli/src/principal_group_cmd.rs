//! `casemate principal-group`: groups of principals, whose role assignments hold for their members.

use crate::commands::signed_in;
use crate::output::{self, OutputFormat, emit, record, table};
use casemate_types::wire::{CreateGroupRequest, Group};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum PrincipalGroupCommand {
    /// Create a group. Named as the provider's group claim names one, it gets its members from
    /// single sign-on.
    Create {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    List,
    Show {
        group: String,
    },
    /// Delete a group: its members lose what it was assigned.
    Delete {
        group: String,
    },
    /// List a group's members, and whether single sign-on put each there.
    Members {
        group: String,
    },
    /// Add a user or service principal.
    AddMember {
        group: String,
        member: String,
    },
    RemoveMember {
        group: String,
        member: String,
    },
}

fn print_group(format: OutputFormat, group: &Group) -> anyhow::Result<()> {
    emit(format, group, |g| {
        record(&[
            ("name", g.name.clone()),
            ("display name", g.display_name.clone()),
            ("object id", g.object_id.to_string()),
            ("created", output::time(&g.created_at)),
        ]);
    })
}

pub async fn principal_group(
    command: PrincipalGroupCommand,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        PrincipalGroupCommand::Create { name, display_name } => {
            let created = client
                .create_group(&CreateGroupRequest { name, display_name })
                .await?;
            print_group(format, &created)
        }
        PrincipalGroupCommand::List => {
            let groups = client.list_groups().await?;
            emit(format, &groups, |groups| {
                let rows: Vec<Vec<String>> = groups
                    .iter()
                    .map(|g| {
                        vec![
                            g.name.clone(),
                            g.display_name.clone(),
                            g.object_id.to_string(),
                        ]
                    })
                    .collect();
                table(&["NAME", "DISPLAY NAME", "OBJECT ID"], &rows);
            })
        }
        PrincipalGroupCommand::Show { group } => {
            print_group(format, &client.get_group(&group).await?)
        }
        PrincipalGroupCommand::Delete { group } => {
            client.delete_group(&group).await?;
            eprintln!("group {group} deleted");
            Ok(())
        }
        PrincipalGroupCommand::Members { group } => {
            let members = client.group_members(&group).await?;
            emit(format, &members, |members| {
                let rows: Vec<Vec<String>> = members
                    .iter()
                    .map(|m| {
                        let source = if m.from_sso {
                            "single sign-on"
                        } else {
                            "administrator"
                        };
                        vec![
                            m.name.clone(),
                            m.kind.clone(),
                            source.into(),
                            m.object_id.to_string(),
                        ]
                    })
                    .collect();
                table(&["NAME", "KIND", "ADDED BY", "OBJECT ID"], &rows);
            })
        }
        PrincipalGroupCommand::AddMember { group, member } => {
            client.add_group_member(&group, &member).await?;
            eprintln!("{member} is a member of {group}");
            Ok(())
        }
        PrincipalGroupCommand::RemoveMember { group, member } => {
            client.remove_group_member(&group, &member).await?;
            eprintln!("{member} is no longer a member of {group}");
            Ok(())
        }
    }
}

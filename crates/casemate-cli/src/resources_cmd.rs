//! `group`, `workspace`, `role`, `auth` and `activity` subcommands, in the shapes of
//! `az group`, `az ml workspace`, `az role` and `az monitor activity-log`.

use crate::commands::signed_in;
use crate::output::{self, OutputFormat, emit, record, table};
use anyhow::Context;
use casemate_types::wire::*;
use clap::Subcommand;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Subcommand)]
pub enum GroupCommand {
    Create {
        name: String,
    },
    List,
    Show {
        name: String,
    },
    /// Delete an empty resource group.
    Delete {
        name: String,
    },
}

fn print_group(format: OutputFormat, group: &ResourceGroup) -> anyhow::Result<()> {
    emit(format, group, |g| {
        record(&[
            ("id", g.id.clone()),
            ("created_at", output::time(&g.created_at)),
            ("created_by", g.created_by.clone()),
        ])
    })
}

pub async fn group(command: GroupCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        GroupCommand::Create { name } => {
            print_group(format, &client.create_resource_group(&name).await?)
        }
        GroupCommand::Show { name } => {
            print_group(format, &client.get_resource_group(&name).await?)
        }
        GroupCommand::List => {
            let groups = client.list_resource_groups().await?;
            emit(format, &groups, |groups| {
                let rows: Vec<Vec<String>> = groups
                    .iter()
                    .map(|g| vec![g.name.clone(), g.created_by.clone()])
                    .collect();
                table(&["NAME", "CREATED BY"], &rows);
            })
        }
        GroupCommand::Delete { name } => {
            client.delete_resource_group(&name).await?;
            println!("Deleted resource group {name}.");
            Ok(())
        }
    }
}

fn parse_tags(tags: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    tags.iter()
        .map(|tag| {
            tag.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .with_context(|| format!("--tag '{tag}' is not NAME=VALUE"))
        })
        .collect()
}

#[derive(Subcommand)]
pub enum WorkspaceCommand {
    /// Create a workspace with its vault, storage, registry, monitoring sink and identity.
    Create {
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// NAME=VALUE; repeatable.
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// High business impact: scratch wiped between runs, run environments not recorded.
        #[arg(long)]
        hbi: bool,
        #[arg(long, requires = "cmk_key_uri")]
        cmk_keyvault: Option<String>,
        #[arg(long, requires = "cmk_keyvault")]
        cmk_key_uri: Option<String>,
        /// Attach this existing vault (resource id) instead of creating one.
        #[arg(long)]
        key_vault: Option<String>,
        /// Attach this existing registry (resource id) instead of creating one.
        #[arg(long)]
        container_registry: Option<String>,
        #[arg(long)]
        registry_admin: bool,
        #[arg(long)]
        primary_user_assigned_identity: Option<String>,
    },
    List {
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
    },
    Show {
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
        name: String,
    },
    /// Change the description or tags.
    Update {
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
        name: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long = "tag")]
        tags: Vec<String>,
    },
    Delete {
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
        name: String,
    },
    /// Restore the workspace identity's grants if any were removed.
    Resynckeys {
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
        name: String,
    },
    /// Re-wrap the workspace's data keys under the newest version of its key (blobs untouched).
    Rewrap {
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
        name: String,
    },
    /// Counts over time: runs by status, model registrations, deployments.
    Metrics {
        #[arg(short = 'g', long = "resource-group")]
        resource_group: String,
        name: String,
        /// How far back, as 30m, 24h or 7d.
        #[arg(long, default_value = "24h")]
        since: String,
        /// The width of each bucket, in the same form (default: the window in 24 buckets).
        #[arg(long)]
        interval: Option<String>,
    },
}

fn print_workspace(format: OutputFormat, workspace: &Workspace) -> anyhow::Result<()> {
    emit(format, workspace, |w| {
        record(&[
            ("id", w.id.clone()),
            ("description", w.description.clone()),
            ("hbi_workspace", w.hbi_workspace.to_string()),
            ("key_vault", w.key_vault.clone()),
            ("storage", w.storage.clone()),
            ("container_registry", w.container_registry.clone()),
            ("monitoring", w.monitoring.clone()),
            (
                "identity",
                format!("{} ({})", w.identity.principal_id, w.identity.kind),
            ),
            (
                "cmk_key_uri",
                w.resource_cmk_uri.clone().unwrap_or_default(),
            ),
            ("created_at", output::time(&w.created_at)),
        ])
    })
}

pub async fn workspace(command: WorkspaceCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        WorkspaceCommand::Create {
            resource_group,
            name,
            description,
            tags,
            hbi,
            cmk_keyvault,
            cmk_key_uri,
            key_vault,
            container_registry,
            registry_admin,
            primary_user_assigned_identity,
        } => {
            let request = CreateWorkspaceRequest {
                description,
                tags: parse_tags(&tags)?,
                hbi_workspace: hbi,
                cmk_keyvault,
                resource_cmk_uri: cmk_key_uri,
                key_vault,
                container_registry,
                registry_admin_enabled: registry_admin,
                primary_user_assigned_identity,
            };
            print_workspace(
                format,
                &client
                    .create_workspace(&resource_group, &name, &request)
                    .await?,
            )
        }
        WorkspaceCommand::List { resource_group } => {
            let workspaces = client.list_workspaces(&resource_group).await?;
            emit(format, &workspaces, |list| {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|w| {
                        vec![
                            w.name.clone(),
                            w.hbi_workspace.to_string(),
                            w.description.clone(),
                        ]
                    })
                    .collect();
                table(&["NAME", "HBI", "DESCRIPTION"], &rows);
            })
        }
        WorkspaceCommand::Show {
            resource_group,
            name,
        } => print_workspace(format, &client.get_workspace(&resource_group, &name).await?),
        WorkspaceCommand::Update {
            resource_group,
            name,
            description,
            tags,
        } => {
            let request = UpdateWorkspaceRequest {
                description,
                tags: (!tags.is_empty()).then(|| parse_tags(&tags)).transpose()?,
                ..Default::default()
            };
            print_workspace(
                format,
                &client
                    .update_workspace(&resource_group, &name, &request)
                    .await?,
            )
        }
        WorkspaceCommand::Delete {
            resource_group,
            name,
        } => {
            client.delete_workspace(&resource_group, &name).await?;
            println!("Deleted workspace {name}.");
            Ok(())
        }
        WorkspaceCommand::Resynckeys {
            resource_group,
            name,
        } => {
            let report = client.resync_keys(&resource_group, &name).await?;
            emit(format, &report, |report| {
                if report.restored.is_empty() {
                    println!("All of the workspace identity's grants are in place.");
                }
                for assignment in &report.restored {
                    println!("Restored {} at {}", assignment.role, assignment.scope);
                }
            })
        }
        WorkspaceCommand::Metrics {
            resource_group,
            name,
            since,
            interval,
        } => {
            let metrics = client
                .workspace_metrics(&resource_group, &name, Some(&since), interval.as_deref())
                .await?;
            emit(
                format,
                &metrics,
                crate::metrics_cmd::print_workspace_metrics,
            )
        }
        WorkspaceCommand::Rewrap {
            resource_group,
            name,
        } => {
            let report = client.rewrap_workspace(&resource_group, &name).await?;
            emit(format, &report, |r| {
                record(&[
                    ("data_keys", r.data_keys.to_string()),
                    ("rewrapped", r.rewrapped.to_string()),
                    ("wrapping_key", r.wrapping_key.clone()),
                ])
            })
        }
    }
}

#[derive(Subcommand)]
pub enum RoleCommand {
    Assignment {
        #[command(subcommand)]
        command: AssignmentCommand,
    },
    Definition {
        #[command(subcommand)]
        command: DefinitionCommand,
    },
}

#[derive(Subcommand)]
pub enum AssignmentCommand {
    Create {
        /// User or service principal name, object id, or client id.
        #[arg(long)]
        assignee: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        scope: String,
    },
    List {
        #[arg(long, default_value = "/")]
        scope: String,
        #[arg(long)]
        assignee: Option<String>,
        #[arg(long)]
        role: Option<String>,
        /// Include assignments above the scope that apply to it.
        #[arg(long)]
        include_inherited: bool,
    },
    Delete {
        id: Uuid,
        /// The scope the assignment was made at (or one above it).
        #[arg(long)]
        scope: String,
    },
}

#[derive(Subcommand)]
pub enum DefinitionCommand {
    /// Create a custom role from a JSON file in the cloud platform's shape.
    Create {
        #[arg(long)]
        role_definition: std::path::PathBuf,
    },
    List {
        /// Only custom roles.
        #[arg(long)]
        custom_role_only: bool,
    },
    Show {
        name: String,
    },
    Update {
        #[arg(long)]
        role_definition: std::path::PathBuf,
    },
    Delete {
        name: String,
    },
}

fn read_definition(path: &std::path::Path) -> anyhow::Result<RoleDefinitionDocument> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a role definition", path.display()))
}

fn assignment_rows(assignments: &[RoleAssignment]) -> Vec<Vec<String>> {
    assignments
        .iter()
        .map(|a| {
            vec![
                a.id.to_string(),
                a.principal_name.clone(),
                a.role.clone(),
                a.scope.clone(),
            ]
        })
        .collect()
}

pub async fn role(command: RoleCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        RoleCommand::Assignment { command } => match command {
            AssignmentCommand::Create {
                assignee,
                role,
                scope,
            } => {
                let created = client
                    .create_role_assignment(&scope, &CreateRoleAssignmentRequest { assignee, role })
                    .await?;
                emit(format, &created, |a| {
                    table(
                        &["ID", "PRINCIPAL", "ROLE", "SCOPE"],
                        &assignment_rows(std::slice::from_ref(a)),
                    )
                })
            }
            AssignmentCommand::List {
                scope,
                assignee,
                role,
                include_inherited,
            } => {
                let list = client
                    .list_role_assignments(
                        &scope,
                        assignee.as_deref(),
                        role.as_deref(),
                        include_inherited,
                    )
                    .await?;
                emit(format, &list, |list| {
                    table(
                        &["ID", "PRINCIPAL", "ROLE", "SCOPE"],
                        &assignment_rows(list),
                    )
                })
            }
            AssignmentCommand::Delete { id, scope } => {
                client.delete_role_assignment(&scope, id).await?;
                println!("Deleted role assignment {id}.");
                Ok(())
            }
        },
        RoleCommand::Definition { command } => match command {
            DefinitionCommand::Create { role_definition } => {
                let created = client
                    .create_role_definition(&read_definition(&role_definition)?)
                    .await?;
                output::json(&created)
            }
            DefinitionCommand::Update { role_definition } => {
                let document = read_definition(&role_definition)?;
                output::json(
                    &client
                        .update_role_definition(&document.name, &document)
                        .await?,
                )
            }
            DefinitionCommand::List { custom_role_only } => {
                let mut roles = client.list_role_definitions().await?;
                roles.retain(|r| !custom_role_only || r.is_custom == Some(true));
                emit(format, &roles, |roles| {
                    let rows: Vec<Vec<String>> = roles
                        .iter()
                        .map(|r| {
                            vec![
                                r.name.clone(),
                                r.is_custom.unwrap_or(false).to_string(),
                                r.description.clone(),
                            ]
                        })
                        .collect();
                    table(&["NAME", "CUSTOM", "DESCRIPTION"], &rows);
                })
            }
            DefinitionCommand::Show { name } => {
                output::json(&client.get_role_definition(&name).await?)
            }
            DefinitionCommand::Delete { name } => {
                client.delete_role_definition(&name).await?;
                println!("Deleted role {name}.");
                Ok(())
            }
        },
    }
}

#[derive(Subcommand)]
pub enum AuthCommand {
    /// May the principal (default: you) perform ACTION at SCOPE? Which assignments grant it?
    Check {
        #[arg(long)]
        action: String,
        #[arg(long)]
        scope: String,
        #[arg(long)]
        principal: Option<String>,
    },
    /// Every action the principal (default: you) holds at SCOPE.
    ListPermissions {
        #[arg(long)]
        scope: String,
        #[arg(long)]
        principal: Option<String>,
    },
}

pub async fn auth(command: AuthCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        AuthCommand::Check {
            action,
            scope,
            principal,
        } => {
            let check = client
                .check_permission(principal.as_deref(), &action, &scope)
                .await?;
            emit(format, &check, |c| {
                println!(
                    "{}: {} at {}",
                    if c.allowed { "allowed" } else { "denied" },
                    c.action,
                    c.scope
                );
                for a in &c.granted_by {
                    println!("  granted by {} at {} ({})", a.role, a.scope, a.id);
                }
            })
        }
        AuthCommand::ListPermissions { scope, principal } => {
            let permissions = client
                .list_permissions(principal.as_deref(), &scope)
                .await?;
            emit(format, &permissions, |p| {
                for action in &p.actions {
                    println!("{action}");
                }
                for action in &p.data_actions {
                    println!("{action} (data)");
                }
            })
        }
    }
}

#[derive(Subcommand)]
pub enum ActivityCommand {
    /// Activity records at a scope and below, oldest first.
    List {
        #[arg(long, default_value = "/")]
        scope: String,
        /// RFC 3339 start time (inclusive).
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339 end time (exclusive).
        #[arg(long)]
        to: Option<String>,
        /// Caller name or object id.
        #[arg(long)]
        caller: Option<String>,
        #[arg(long)]
        operation: Option<String>,
        /// Started, Succeeded, Failed or Denied.
        #[arg(long)]
        outcome: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        page: Option<String>,
    },
    /// Check the hash chain; report the first record altered, removed or reordered.
    Verify,
}

pub async fn activity(command: ActivityCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        ActivityCommand::List {
            scope,
            from,
            to,
            caller,
            operation,
            outcome,
            limit,
            page,
        } => {
            let limit = limit.map(|l| l.to_string());
            let mut query = vec![("scope", scope.as_str())];
            for (name, value) in [
                ("from", &from),
                ("to", &to),
                ("caller", &caller),
                ("operation", &operation),
                ("outcome", &outcome),
                ("limit", &limit),
                ("page", &page),
            ] {
                if let Some(value) = value {
                    query.push((name, value.as_str()));
                }
            }
            let page = client.list_activity(&query).await?;
            emit(format, &page, |page| {
                let rows: Vec<Vec<String>> = page
                    .entries
                    .iter()
                    .map(|e| {
                        vec![
                            output::time(&e.time),
                            e.caller_name.clone(),
                            e.operation.clone(),
                            e.outcome.clone(),
                            e.status.to_string(),
                            e.resource_id.clone(),
                        ]
                    })
                    .collect();
                table(
                    &[
                        "TIME",
                        "CALLER",
                        "OPERATION",
                        "OUTCOME",
                        "STATUS",
                        "RESOURCE",
                    ],
                    &rows,
                );
                if let Some(next) = &page.next_page {
                    println!("(more: --page {next})");
                }
            })
        }
        ActivityCommand::Verify => {
            let report = client.verify_activity().await?;
            emit(format, &report, |r| match &r.first_problem {
                None => println!("intact: {} records verified", r.records_checked),
                Some(problem) => println!("TAMPERED: record {}: {}", problem.seq, problem.problem),
            })?;
            if !report.intact {
                anyhow::bail!("the activity log failed verification");
            }
            Ok(())
        }
    }
}

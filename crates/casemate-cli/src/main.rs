//! `casemate`: the server and its command-line client in one binary.

mod commands;
mod identity_cmd;
mod input;
mod key_cmd;
mod metrics_cmd;
mod output;
mod principal_group_cmd;
mod profile;
mod registry_cmd;
mod resources_cmd;
mod run_cmd;
mod secret_cmd;
mod server_cmd;
mod service_cmd;
mod sso_login;

use clap::{Parser, Subcommand};
use output::OutputFormat;

// glibc's allocator keeps freed memory in per-thread arenas, and raises its threshold for
// returning large blocks to the system after the first one: every argon2 hash (19 MiB) then
// stays resident. mimalloc hands such memory back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "casemate",
    version,
    about = "Self-hosted, security-first machine-learning workspace server"
)]
struct Cli {
    /// How to print results.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Table, env = "CASEMATE_OUTPUT")]
    output: OutputFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server (zero configuration: data under ./.casemate or $CASEMATE_HOME).
    Server(server_cmd::ServerArgs),
    /// Sign in to a server and remember it (pinning its TLS certificate).
    Login(commands::LoginArgs),
    /// Sign out: end the session on the server and forget the stored tokens.
    Logout,
    /// Manage users (needs Owner at `/`), or your own second factor.
    User {
        #[command(subcommand)]
        command: commands::UserCommand,
    },
    /// Manage groups of principals and their members (needs Owner at `/`); assign roles to a
    /// group like to any principal. (`casemate group` is resource groups.)
    PrincipalGroup {
        #[command(subcommand)]
        command: principal_group_cmd::PrincipalGroupCommand,
    },
    /// Manage service principals and their client secrets (needs Owner at `/`).
    Sp {
        #[command(subcommand)]
        command: commands::SpCommand,
    },
    /// Manage your personal access tokens.
    Pat {
        #[command(subcommand)]
        command: commands::PatCommand,
    },
    /// Resource groups.
    Group {
        #[command(subcommand)]
        command: resources_cmd::GroupCommand,
    },
    /// Workspaces and their associated resources.
    Workspace {
        #[command(subcommand)]
        command: resources_cmd::WorkspaceCommand,
    },
    /// Role assignments and role definitions.
    Role {
        #[command(subcommand)]
        command: resources_cmd::RoleCommand,
    },
    /// Effective access: check an action, list permissions.
    Auth {
        #[command(subcommand)]
        command: resources_cmd::AuthCommand,
    },
    /// The activity log: list and verify.
    Activity {
        #[command(subcommand)]
        command: resources_cmd::ActivityCommand,
    },
    /// Vault secrets, through a workspace or a vault.
    Secret {
        #[command(subcommand)]
        command: secret_cmd::SecretCommand,
    },
    /// Vault keys (customer-managed keys), through a workspace or a vault.
    Key {
        #[command(subcommand)]
        command: key_cmd::KeyCommand,
    },
    /// Training runs: submit, follow, cancel, read logs and metrics.
    Run {
        #[command(subcommand)]
        command: run_cmd::RunCommand,
    },
    /// Experiments (made on first submission).
    Experiment {
        #[command(subcommand)]
        command: run_cmd::ExperimentCommand,
    },
    /// Compute targets (every workspace also has the built-in `local`).
    Compute {
        #[command(subcommand)]
        command: run_cmd::ComputeCommand,
    },
    /// Managed identities: user-assigned ones, and a compute's.
    Identity {
        #[command(subcommand)]
        command: identity_cmd::IdentityCommand,
    },
    /// Container registries: standalone ones, and their admin user.
    Registry {
        #[command(subcommand)]
        command: registry_cmd::RegistryCommand,
    },
    /// Web services: deploy registered models as scoring endpoints with key or token auth.
    Service {
        #[command(subcommand)]
        command: service_cmd::ServiceCommand,
    },
    /// Inspect the stored access token.
    Token {
        #[command(subcommand)]
        command: commands::TokenCommand,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Server(args) => server_cmd::run(args).await,
            Command::Login(args) => commands::login(args, cli.output).await,
            Command::Logout => commands::logout().await,
            Command::User { command } => commands::user(command, cli.output).await,
            Command::Sp { command } => commands::sp(command, cli.output).await,
            Command::PrincipalGroup { command } => {
                principal_group_cmd::principal_group(command, cli.output).await
            }
            Command::Pat { command } => commands::pat(command, cli.output).await,
            Command::Token { command } => commands::token(command, cli.output).await,
            Command::Secret { command } => secret_cmd::secret(command, cli.output).await,
            Command::Key { command } => key_cmd::key(command, cli.output).await,
            Command::Run { command } => run_cmd::run(command, cli.output).await,
            Command::Experiment { command } => run_cmd::experiment(command, cli.output).await,
            Command::Compute { command } => run_cmd::compute(command, cli.output).await,
            Command::Identity { command } => identity_cmd::identity(command, cli.output).await,
            Command::Registry { command } => registry_cmd::registry(command, cli.output).await,
            Command::Service { command } => service_cmd::service(command, cli.output).await,
            Command::Group { command } => resources_cmd::group(command, cli.output).await,
            Command::Workspace { command } => resources_cmd::workspace(command, cli.output).await,
            Command::Role { command } => resources_cmd::role(command, cli.output).await,
            Command::Auth { command } => resources_cmd::auth(command, cli.output).await,
            Command::Activity { command } => resources_cmd::activity(command, cli.output).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

//! Client subcommands.

use crate::input::{self, Stdin};
use crate::output::{self, OutputFormat, emit, record, table};
use crate::profile::Profile;
use anyhow::{Context, bail};
use casemate_client::{Client, ClientError, normalize_fingerprint, probe_fingerprint};
use casemate_types::wire::*;
use clap::{Args, Subcommand};
use uuid::Uuid;

#[derive(Args)]
pub struct LoginArgs {
    /// Server URL, e.g. https://127.0.0.1:8443
    url: String,
    /// User name (prompted when absent).
    #[arg(long, conflicts_with = "service_principal")]
    username: Option<String>,
    /// Sign in through the server's OpenID provider, in a browser on this machine.
    #[arg(long, conflicts_with_all = ["username", "password_stdin", "service_principal"])]
    sso: bool,
    /// With --sso: sign in on any device with a code (RFC 8628's device flow), for machines
    /// without a browser. The server's provider must offer the flow.
    #[arg(long, requires = "sso")]
    device: bool,
    /// Read the password (and then, if asked for, the TOTP code) from standard input, one per line.
    #[arg(long)]
    password_stdin: bool,
    /// Sign in as a service principal with the client-credentials grant.
    #[arg(long, requires = "client_id")]
    service_principal: bool,
    #[arg(long)]
    client_id: Option<String>,
    /// Environment variable holding the client secret.
    #[arg(long, conflicts_with = "secret_stdin")]
    secret_env: Option<String>,
    /// Read the client secret from standard input.
    #[arg(long)]
    secret_stdin: bool,
    /// Trust the certificate the server presents now, without asking (scripts; compare the printed fingerprint).
    #[arg(long)]
    accept_fingerprint: bool,
    /// Trust only a certificate with this SHA-256 fingerprint.
    #[arg(long, conflicts_with = "accept_fingerprint")]
    fingerprint: Option<String>,
}

async fn pin_certificate(args: &LoginArgs) -> anyhow::Result<Option<String>> {
    if !args.url.starts_with("https://") {
        return Ok(None);
    }
    let presented = probe_fingerprint(&args.url).await?;
    eprintln!("Server certificate SHA-256 fingerprint: {presented}");
    let presented_normal = normalize_fingerprint(&presented).context("server fingerprint")?;
    if let Some(expected) = &args.fingerprint {
        let expected = normalize_fingerprint(expected)
            .with_context(|| format!("--fingerprint '{expected}' is not 64 hex digits"))?;
        if expected != presented_normal {
            bail!(
                "the server's certificate does not have the fingerprint given with --fingerprint; not signing in"
            );
        }
        return Ok(Some(presented_normal));
    }
    let known = Profile::load()
        .ok()
        .filter(|profile| profile.server == args.url)
        .and_then(|profile| profile.fingerprint);
    if known.as_deref() == Some(presented_normal.as_str()) || args.accept_fingerprint {
        return Ok(Some(presented_normal));
    }
    if known.is_some() {
        eprintln!(
            "WARNING: this is NOT the certificate pinned for {} at the last login.",
            args.url
        );
    }
    let answer =
        input::prompt_line("Compare it with what the server printed at start. Trust it? [y/N]")
            .context("pass --accept-fingerprint or --fingerprint in scripts")?;
    if !matches!(answer.as_str(), "y" | "Y" | "yes") {
        bail!("certificate not trusted; not signing in");
    }
    Ok(Some(presented_normal))
}

pub async fn login(args: LoginArgs, format: OutputFormat) -> anyhow::Result<()> {
    let fingerprint = pin_certificate(&args).await?;
    let client = Client::new(&args.url, fingerprint.as_deref())?;
    let mut stdin = Stdin::new();
    let (principal, token) = if args.sso {
        let token = if args.device {
            crate::sso_login::sign_in_with_device(&client).await?
        } else {
            crate::sso_login::sign_in(&client, &args.url).await?
        };
        let info = client
            .clone()
            .with_bearer(token.access_token.clone())
            .userinfo()
            .await?;
        (info.name, token)
    } else if args.service_principal {
        let client_id = args.client_id.clone().context("--client-id is required")?;
        let secret = match (&args.secret_env, args.secret_stdin) {
            (Some(variable), _) => input::from_env(variable)?,
            (None, true) => stdin.secret_line("client secret")?,
            (None, false) => input::prompt_secret("Client secret")?,
        };
        let token = client
            .token(&TokenRequest::client_credentials(&client_id, secret))
            .await?;
        (client_id, token)
    } else {
        let username = match &args.username {
            Some(name) => name.clone(),
            None => input::prompt_line("User name")?,
        };
        let password = if args.password_stdin {
            stdin.secret_line("password")?
        } else {
            input::prompt_secret("Password")?
        };
        let token = match client
            .token(&TokenRequest::password(&username, password.clone(), None))
            .await
        {
            Err(ClientError::Api { code, .. }) if code == "MfaRequired" => {
                let code = if args.password_stdin {
                    stdin.secret_line("TOTP code")?
                } else {
                    input::prompt_secret("TOTP code")?
                };
                client
                    .token(&TokenRequest::password(&username, password, Some(code)))
                    .await?
            }
            other => other?,
        };
        (username, token)
    };
    let scope = token.scope;
    let profile = Profile::from_token(&args.url, fingerprint, &principal, token);
    profile.save()?;
    let info = profile
        .anonymous_client()?
        .with_bearer(profile.access_token.clone())
        .userinfo()
        .await?;
    emit(format, &info, |info| {
        println!(
            "Logged in to {} as {} ({}).",
            args.url,
            info.name,
            info.kind.as_str()
        );
    })?;
    if scope == TokenScope::MfaEnrollment {
        eprintln!(
            "A second factor is required here: run `casemate user mfa enable`, then log in again."
        );
    }
    Ok(())
}

pub async fn logout() -> anyhow::Result<()> {
    let mut profile = Profile::load()?;
    let outcome = match profile.client().await {
        Ok(client) => client.logout().await.map_err(anyhow::Error::from),
        Err(error) => Err(error),
    };
    Profile::remove()?;
    match outcome {
        Ok(()) => println!("Signed out of {}.", profile.server),
        Err(error) => {
            eprintln!("Forgot the local tokens; the server did not confirm the sign-out: {error:#}")
        }
    }
    Ok(())
}

pub async fn signed_in() -> anyhow::Result<Client> {
    Profile::load()?.client().await
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is prompted for, or read from standard input.
    Create {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    List,
    Show {
        user: String,
    },
    /// Disable a user: its sessions end at once.
    Disable {
        user: String,
    },
    Enable {
        user: String,
    },
    Delete {
        user: String,
    },
    /// Link a subject of the server's OpenID provider (its `sub` claim) to a user: signing in
    /// through single sign-on as that subject signs in as the user.
    LinkSso {
        user: String,
        #[arg(long)]
        subject: String,
    },
    /// Your own second factor, or (reset) another user's.
    Mfa {
        #[command(subcommand)]
        command: MfaCommand,
    },
}

#[derive(Subcommand)]
pub enum MfaCommand {
    /// Enrol a TOTP authenticator for yourself.
    Enable {
        /// Read the confirmation code from standard input.
        #[arg(long)]
        code_stdin: bool,
    },
    /// Remove a user's second factor (e.g. a lost phone).
    Reset { user: String },
}

fn user_row(user: &User) -> Vec<String> {
    vec![
        user.name.clone(),
        user.display_name.clone(),
        user.enabled.to_string(),
        user.mfa_enabled.to_string(),
        user.object_id.to_string(),
    ]
}

fn print_user(format: OutputFormat, user: &User) -> anyhow::Result<()> {
    emit(format, user, |user| {
        record(&[
            ("name", user.name.clone()),
            ("display_name", user.display_name.clone()),
            ("object_id", user.object_id.to_string()),
            ("enabled", user.enabled.to_string()),
            ("mfa_enabled", user.mfa_enabled.to_string()),
            ("created_at", output::time(&user.created_at)),
        ])
    })
}

pub async fn user(command: UserCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        UserCommand::Create {
            name,
            display_name,
            password_stdin,
        } => {
            let password = if password_stdin {
                Stdin::new().secret_line("password")?
            } else {
                let first = input::prompt_secret(&format!("Password for {name}"))?;
                let again = input::prompt_secret("Repeat the password")?;
                if first.expose() != again.expose() {
                    bail!("the passwords differ");
                }
                first
            };
            let user = client
                .create_user(&CreateUserRequest {
                    name,
                    display_name,
                    password,
                })
                .await?;
            print_user(format, &user)
        }
        UserCommand::List => {
            let users = client.list_users().await?;
            emit(format, &users, |users| {
                let rows: Vec<Vec<String>> = users.iter().map(user_row).collect();
                table(
                    &["NAME", "DISPLAY NAME", "ENABLED", "MFA", "OBJECT ID"],
                    &rows,
                );
            })
        }
        UserCommand::Show { user } => print_user(format, &client.get_user(&user).await?),
        UserCommand::Disable { user } => print_user(format, &client.disable_user(&user).await?),
        UserCommand::Enable { user } => print_user(format, &client.enable_user(&user).await?),
        UserCommand::Delete { user } => {
            client.delete_user(&user).await?;
            println!("Deleted user {user}.");
            Ok(())
        }
        UserCommand::Mfa {
            command: MfaCommand::Enable { code_stdin },
        } => {
            let enrollment = client.begin_totp().await?;
            // The shared secret goes to the terminal only, for the authenticator app.
            eprintln!("Add this to your authenticator app:");
            eprintln!("  {}", enrollment.otpauth_uri.expose());
            eprintln!(
                "  (secret for manual entry: {})",
                enrollment.secret.expose()
            );
            let code = if code_stdin {
                Stdin::new().secret_line("TOTP code")?
            } else {
                input::prompt_secret("Code shown by the app")?
            };
            client.confirm_totp(code).await?;
            println!("Second factor enrolled. Sign in again with `casemate login`.");
            Ok(())
        }
        UserCommand::LinkSso { user, subject } => {
            client.link_sso_identity(&user, &subject).await?;
            println!("Signing in through single sign-on as {subject} now signs in as {user}.");
            Ok(())
        }
        UserCommand::Mfa {
            command: MfaCommand::Reset { user },
        } => {
            client.reset_user_mfa(&user).await?;
            println!("Removed the second factor of {user}.");
            Ok(())
        }
    }
}

#[derive(Subcommand)]
pub enum SpCommand {
    Create {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
    },
    List,
    Show {
        sp: String,
    },
    Delete {
        sp: String,
    },
    /// Client secrets: add (shown once) and remove. Several may be valid at once, for rotation.
    Secret {
        #[command(subcommand)]
        command: SecretCommand,
    },
}

#[derive(Subcommand)]
pub enum SecretCommand {
    Add {
        sp: String,
        #[arg(long)]
        expires_in_days: Option<u32>,
        #[arg(long)]
        description: Option<String>,
    },
    Remove {
        sp: String,
        secret_id: Uuid,
    },
}

fn print_sp(format: OutputFormat, sp: &ServicePrincipal) -> anyhow::Result<()> {
    emit(format, sp, |sp| {
        record(&[
            ("name", sp.name.clone()),
            ("display_name", sp.display_name.clone()),
            ("object_id", sp.object_id.to_string()),
            ("client_id", sp.client_id.to_string()),
            ("enabled", sp.enabled.to_string()),
            ("created_at", output::time(&sp.created_at)),
        ]);
        if !sp.secrets.is_empty() {
            println!();
            let rows: Vec<Vec<String>> = sp
                .secrets
                .iter()
                .map(|s| {
                    vec![
                        s.secret_id.to_string(),
                        s.hint.clone(),
                        output::time(&s.expires_at),
                    ]
                })
                .collect();
            table(&["SECRET ID", "HINT", "EXPIRES"], &rows);
        }
    })
}

pub async fn sp(command: SpCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        SpCommand::Create { name, display_name } => {
            let sp = client
                .create_service_principal(&CreateServicePrincipalRequest { name, display_name })
                .await?;
            print_sp(format, &sp)
        }
        SpCommand::List => {
            let sps = client.list_service_principals().await?;
            emit(format, &sps, |sps| {
                let rows: Vec<Vec<String>> = sps
                    .iter()
                    .map(|sp| {
                        vec![
                            sp.name.clone(),
                            sp.client_id.to_string(),
                            sp.secrets.len().to_string(),
                            sp.enabled.to_string(),
                        ]
                    })
                    .collect();
                table(&["NAME", "CLIENT ID", "SECRETS", "ENABLED"], &rows);
            })
        }
        SpCommand::Show { sp } => print_sp(format, &client.get_service_principal(&sp).await?),
        SpCommand::Delete { sp } => {
            client.delete_service_principal(&sp).await?;
            println!("Deleted service principal {sp}.");
            Ok(())
        }
        SpCommand::Secret {
            command:
                SecretCommand::Add {
                    sp,
                    expires_in_days,
                    description,
                },
        } => {
            let created = client
                .add_client_secret(
                    &sp,
                    &AddClientSecretRequest {
                        expires_in_days,
                        description,
                    },
                )
                .await?;
            emit(format, &created, |created| {
                record(&[
                    ("client_id", created.client_id.to_string()),
                    ("secret_id", created.info.secret_id.to_string()),
                    ("expires_at", output::time(&created.info.expires_at)),
                    ("secret", created.secret.expose().to_owned()),
                ]);
            })?;
            eprintln!(
                "Store the secret now: casemate keeps only its hash and cannot show it again."
            );
            Ok(())
        }
        SpCommand::Secret {
            command: SecretCommand::Remove { sp, secret_id },
        } => {
            client.remove_client_secret(&sp, secret_id).await?;
            println!("Removed secret {secret_id}.");
            Ok(())
        }
    }
}

#[derive(Subcommand)]
pub enum PatCommand {
    /// Create a personal access token (shown once), for clients that only speak Basic or bearer auth.
    Create {
        name: String,
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    List,
    Revoke {
        token_id: Uuid,
    },
}

pub async fn pat(command: PatCommand, format: OutputFormat) -> anyhow::Result<()> {
    let client = signed_in().await?;
    match command {
        PatCommand::Create {
            name,
            expires_in_days,
        } => {
            let created = client
                .create_pat(&CreatePatRequest {
                    name,
                    expires_in_days,
                })
                .await?;
            emit(format, &created, |created| {
                record(&[
                    ("token_id", created.info.token_id.to_string()),
                    ("name", created.info.name.clone()),
                    ("expires_at", output::time(&created.info.expires_at)),
                    ("token", created.token.expose().to_owned()),
                ]);
            })?;
            eprintln!(
                "Store the token now: casemate keeps only its hash and cannot show it again."
            );
            Ok(())
        }
        PatCommand::List => {
            let tokens = client.list_pats().await?;
            emit(format, &tokens, |tokens| {
                let rows: Vec<Vec<String>> = tokens
                    .iter()
                    .map(|t| {
                        vec![
                            t.token_id.to_string(),
                            t.name.clone(),
                            output::time(&t.expires_at),
                            t.revoked.to_string(),
                        ]
                    })
                    .collect();
                table(&["TOKEN ID", "NAME", "EXPIRES", "REVOKED"], &rows);
            })
        }
        PatCommand::Revoke { token_id } => {
            client.revoke_pat(token_id).await?;
            println!("Revoked {token_id}.");
            Ok(())
        }
    }
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Show who the stored token belongs to, its claims and expiry (the token itself only with --raw).
    Show {
        #[arg(long)]
        raw: bool,
    },
}

pub async fn token(command: TokenCommand, format: OutputFormat) -> anyhow::Result<()> {
    let TokenCommand::Show { raw } = command;
    let mut profile = Profile::load()?;
    let client = profile.client().await?;
    if raw {
        println!("{}", profile.access_token.expose());
        return Ok(());
    }
    let info = client.userinfo().await?;
    emit(format, &info, |info| {
        record(&[
            ("server", profile.server.clone()),
            ("name", info.name.clone()),
            ("object_id", info.object_id.to_string()),
            ("kind", info.kind.as_str().to_owned()),
            ("token_type", info.token.token_type.clone()),
            ("issued_at", output::time(&info.token.issued_at)),
            ("expires_at", output::time(&info.token.expires_at)),
            ("key_id", info.token.key_id.clone().unwrap_or_default()),
            (
                "session_id",
                info.token
                    .session_id
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            ),
        ])
    })
}

//! The command line: `serve`, `migrate`, `projections rebuild|status`,
//! `history`, `admin grant-role`.

use aggregates::user::Role;
use clap::builder::PossibleValuesParser;
use clap::{Parser, Subcommand, ValueEnum};
use projections::Projector;

use crate::config::Config;
use crate::startup::{connect, Application};
use crate::store::{on_either, Database};

#[derive(Debug, Parser)]
#[command(
    name = "identity",
    version,
    about = "Event-sourced identity service",
    after_help = "Every command reads the server's IDENTITY_* settings (the same database); \
                  `identity serve --help` lists them. Logs go to stderr, command output to stdout."
)]
pub struct Cli {
    /// What to do; `serve` when none is given (so `cargo run` serves).
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (migrates and catches projections up first).
    #[command(after_help = crate::config::settings::help())]
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Inspect or rebuild projections.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Print one account's event history from the event store (recorded as
    /// a read by `cli`).
    History {
        /// The user id or email address of the account.
        user: String,
        /// RFC 3339 time: only events recorded up to then, plus the account
        /// as it stood then.
        #[arg(long, value_parser = parse_as_of)]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
        /// How to print it: `table` for people, `json` for programs (one
        /// document on stdout, so it pipes into `jq`).
        #[arg(long, value_enum, default_value_t = crate::history::cli::Format::Table)]
        format: crate::history::cli::Format,
    },
    /// The JWT signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// OAuth clients: services calling /oauth/introspect with HTTP basic
    /// auth, and applications signing people in through /oauth/authorize.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Operator actions that need no API token (bootstrap the first admin).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Grant a role to the account with this email.
    GrantRole {
        /// The email address of the account.
        #[arg(long)]
        email: String,
        /// The role to grant.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key now: published at once, signing after
    /// IDENTITY_SIGNING_KEY_PUBLISH_AHEAD_SECS; the key it replaces stays
    /// published until the tokens it signed have expired. Running servers
    /// pick it up within seconds. Prints `{"kid", "activates_at"}`.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client; prints `{"client_id", "client_secret"}`, the
    /// secret this once (only its hash is kept).
    Add {
        /// 1 to 64 letters, digits, `.`, `_` or `-`.
        client_id: String,
        /// Where /oauth/authorize may send a browser back (exact; repeat
        /// for several): https, http to a loopback host, or an app's own
        /// reverse-domain scheme. None: the client signs nobody in.
        #[arg(long = "redirect-uri", value_parser = parse_redirect_uri)]
        redirect_uris: Vec<crate::oauth_clients::RedirectUri>,
    },
    /// Print the registered clients as JSON (never their secrets).
    List,
    /// Remove a client: its credentials stop working at once.
    Remove { client_id: String },
}

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Empty these projections' read models and rebuild them from position
    /// zero, together (one read of the log for all); `all` names every one.
    Rebuild {
        /// Projections to rebuild, or `all`.
        #[arg(required = true, num_args = 1.., value_parser = projection_names())]
        names: Vec<String>,
    },
    /// Show each projection's checkpoint, and for a stalled one the event
    /// it could not apply and the error.
    Status,
}

pub async fn run(cli: Cli, config: Config) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Application::build(config).await?.run_until_stopped().await,
        Command::Migrate => {
            let db = connect(&config).await?;
            db.migrate().await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Projections { command } => {
            let db = connect(&config).await?;
            db.migrate().await?;
            match command {
                ProjectionsCommand::Rebuild { names } => rebuild_all(db, &names).await,
                ProjectionsCommand::Status => status(db).await,
            }
        }
        Command::History {
            user,
            as_of,
            format,
        } => {
            let db = connect(&config).await?;
            db.migrate().await?;
            crate::history::cli::run(db, &user, as_of, format).await
        }
        Command::Keys {
            command: KeysCommand::Rotate,
        } => {
            let db = connect(&config).await?;
            db.migrate().await?;
            rotate_keys(&db, &config).await
        }
        Command::Clients { command } => {
            let db = connect(&config).await?;
            db.migrate().await?;
            clients(&db, command).await
        }
        Command::Admin {
            command: AdminCommand::GrantRole { email, role },
        } => {
            let db = connect(&config).await?;
            db.migrate().await?;
            crate::bootstrap::grant_role(db, &email, role.0).await
        }
    }
}

fn parse_redirect_uri(raw: &str) -> Result<crate::oauth_clients::RedirectUri, String> {
    crate::oauth_clients::RedirectUri::parse(raw)
}

/// `identity clients ...`: one JSON document on stdout.
async fn clients(db: &Database, command: ClientsCommand) -> anyhow::Result<()> {
    let printed = match command {
        ClientsCommand::Add {
            client_id,
            redirect_uris,
        } => {
            let id =
                crate::oauth_clients::ClientId::parse(&client_id).map_err(anyhow::Error::msg)?;
            let secret = crate::oauth_clients::register(db, &id, &redirect_uris)
                .await?
                .ok_or_else(|| anyhow::anyhow!("client {client_id:?} is already registered"))?;
            let uris: Vec<&str> = redirect_uris.iter().map(|u| u.as_str()).collect();
            serde_json::json!({ "client_id": client_id, "client_secret": secret, "redirect_uris": uris })
        }
        ClientsCommand::List => serde_json::to_value(db.clients().await?)?,
        ClientsCommand::Remove { client_id } => {
            if !db.remove_client(&client_id).await? {
                anyhow::bail!("client {client_id:?} is not registered");
            }
            serde_json::json!({ "removed": client_id })
        }
    };
    println!("{printed}");
    Ok(())
}

/// A role on the command line: the domain's [`Role`], listed by `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleArg(pub Role);

impl ValueEnum for RoleArg {
    fn value_variants<'a>() -> &'a [Self] {
        const VARIANTS: [RoleArg; Role::ALL.len()] = {
            let mut out = [RoleArg(Role::User); Role::ALL.len()];
            let mut i = 0;
            while i < out.len() {
                out[i] = RoleArg(Role::ALL[i]);
                i += 1;
            }
            out
        };
        &VARIANTS
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.as_str()))
    }
}

/// Every projection's name, and `all`.
fn projection_names() -> PossibleValuesParser {
    let names = projections::all()
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>();
    PossibleValuesParser::new(names.into_iter().chain(["all"]))
}

fn parse_as_of(raw: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    crate::history::parse_time(raw).ok_or_else(|| format!("{raw:?} is not an RFC 3339 time"))
}

/// Rebuilds the named projection; safe while instances serve (they take
/// turns on the projection's lock).
pub async fn rebuild(db: Database, name: &str) -> anyhow::Result<()> {
    rebuild_all(db, &[name.to_owned()]).await
}

/// Rebuilds the named projections (`all`: every one) together, sharing one
/// read of the log per batch.
pub async fn rebuild_all(db: Database, names: &[String]) -> anyhow::Result<()> {
    let every = projections::all();
    let chosen = if names.iter().any(|n| n == "all") {
        every
    } else {
        let mut chosen = Vec::with_capacity(names.len());
        for name in names {
            let projection = every
                .iter()
                .find(|p| p.name() == name)
                .ok_or_else(|| projections::ProjectionError::Unknown(name.clone()))?;
            chosen.push(projection.clone());
        }
        chosen
    };
    let started = std::time::Instant::now();
    let applied = Projector::new(db.projection_store(), chosen)
        .await?
        .rebuild()
        .await?;
    tracing::info!(
        projections = ?names,
        events = applied,
        seconds = started.elapsed().as_secs_f64(),
        "projections rebuilt"
    );
    Ok(())
}

async fn status(db: Database) -> anyhow::Result<()> {
    let report = projection_status(&db).await?;
    // The report is the command's output, not a log line.
    let stdout = serde_json::to_string_pretty(&report)?;
    std::io::Write::write_all(&mut std::io::stdout(), format!("{stdout}\n").as_bytes())?;
    Ok(())
}

/// What `identity projections status` prints: each projection's
/// checkpoint, and for a stalled one (`"state": "stalled"`) the event it
/// could not apply and the error.
pub async fn projection_status(db: &Database) -> anyhow::Result<Vec<serde_json::Value>> {
    let rows: Vec<(String, i64, chrono::DateTime<chrono::Utc>)> = on_either!(db, pool => {
        sqlx::query_as("SELECT name, position, updated_at FROM projection_checkpoints ORDER BY name")
            .fetch_all(pool)
            .await
    })?;
    let stalled = db.stalled().await?;
    let report: Vec<_> = rows
        .into_iter()
        .map(|(name, position, updated_at)| {
            let failure = stalled.iter().find(|f| f.name == name);
            serde_json::json!({
                "name": name,
                "position": position,
                "updated_at": updated_at,
                "state": if failure.is_some() { "stalled" } else { "running" },
                "failure": failure,
            })
        })
        .collect();
    Ok(report)
}

/// `keys rotate`: a new key now, whatever the newest key's age.
async fn rotate_keys(db: &crate::store::Database, config: &Config) -> anyhow::Result<()> {
    use crate::auth::secret::KeyPurpose;
    let secret = match &config.secret_hex {
        Some(hex) => crate::auth::ServerSecret::from_hex(hex)?,
        None => crate::auth::ServerSecret::load_or_create(&config.data_dir)?,
    };
    let seal = secret.derive(KeyPurpose::SigningKeySeal);
    let policy = config.rotation_policy();
    let rotated = crate::auth::keys::KeyRing::rotate(db, &seal, policy, true).await?;
    let (kid, activates_at) = rotated.ok_or_else(|| anyhow::anyhow!("no key was added"))?;
    let out = serde_json::json!({ "kid": kid, "activates_at": activates_at });
    println!("{out}");
    Ok(())
}

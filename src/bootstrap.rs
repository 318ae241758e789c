//! `identity admin grant-role`: give an account a role straight through the
//! event store, for bootstrapping the first admin before any admin token
//! exists. The event names `cli` as its actor.

use std::sync::Arc;

use aggregates::user::Role;
use aggregates::{User, UserCommand};
use anyhow::{anyhow, Context};
use chrono::Utc;

use crate::store::{Actor, Database, Metadata, Repository};

/// Grants `role` to the account with `email`; says so on stdout (the
/// command's output), and records nothing when the account has it already.
pub async fn grant_role(db: Database, email: &str, role: Role) -> anyhow::Result<()> {
    let email = aggregates::values::Email::parse(email).map_err(|e| anyhow!("{e}"))?;
    let user_id = db
        .user_id_by_email(email.as_str())
        .await?
        .ok_or_else(|| anyhow!("no account with email {email}"))?;
    let users: Repository<User> = Repository::new(db, Arc::default());
    let (user, _) = users.load(&user_id.to_string()).await?;
    if user.roles.contains(&role) {
        let role = role.as_str();
        println!("{email} already has the role {role}; nothing recorded");
        return Ok(());
    }
    let metadata = Metadata {
        actor: Some(Actor::Cli),
        ..Metadata::default()
    };
    let command = UserCommand::GrantRole {
        role,
        by: Actor::Cli.to_string(),
        at: Utc::now(),
    };
    users
        .execute(&user_id.to_string(), command, &metadata)
        .await
        .map_err(|e| anyhow!("{e}"))
        .context("granting the role failed")?;
    tracing::info!(%user_id, role = role.as_str(), "role granted");
    println!("granted the role {} to {email}", role.as_str());
    Ok(())
}

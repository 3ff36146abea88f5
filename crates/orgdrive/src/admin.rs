//! `orgdrive admin ...`: provisioning without prompts, straight in the data
//! dir (safe while a server runs on it). Prints the same JSON as the admin API.

use std::path::{Path, PathBuf};

use anyhow::Context;

use clap::{Args, Subcommand};
use orgdrive_core::{Drive, NewApp, NewDept, NewOrg, NewUser, Scope};
use orgdrive_server::wire::{AdminApp, AdminDept, AdminOrg, AdminUser, List, Success};
use serde::Serialize;

#[derive(Args)]
pub struct AdminArgs {
    /// Data directory of the server to provision.
    #[arg(long, env = "ORGDRIVE_DATA_DIR", default_value = "./orgdrive-data", global = true)]
    data_dir: PathBuf,
    /// Metadata store: `sqlite` (DATA_DIR/meta.sqlite) or the postgres:// URL
    /// the servers share.
    #[arg(long, env = "ORGDRIVE_META", hide_env_values = true, default_value = "sqlite",
          value_parser = crate::store::parse_meta, global = true)]
    meta: crate::store::MetaLocation,
    /// The servers' signing key (needed with a PostgreSQL store; else
    /// DATA_DIR/signing.key).
    #[arg(
        long,
        env = "ORGDRIVE_SIGNING_KEY",
        hide_env_values = true,
        allow_hyphen_values = true,
        global = true
    )]
    signing_key: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Organizations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Apps of an organization.
    #[command(subcommand)]
    App(AppCommand),
    /// Users of an organization.
    #[command(subcommand)]
    User(UserCommand),
    /// Departments of an organization.
    #[command(subcommand)]
    Dept(DeptCommand),
    /// Members of a department.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Returns a running server to its seed (`POST /admin/v1/reset`; the
    /// server must allow resets: --allow-reset or --ephemeral).
    Reset {
        /// The server's admin API, e.g. http://127.0.0.1:8080.
        #[arg(long, env = "ORGDRIVE_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The admin token; else DATA_DIR/admin.token.
        #[arg(
            long,
            env = "ORGDRIVE_ADMIN_TOKEN",
            hide_env_values = true,
            allow_hyphen_values = true
        )]
        admin_token: Option<String>,
        /// Only this org (parallel test workers each own one).
        #[arg(long)]
        corp_id: Option<String>,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    Create {
        #[arg(long)]
        name: String,
        /// Storage capacity in bytes (default: unlimited).
        #[arg(long)]
        capacity: Option<i64>,
        /// A chosen corpId (default: generated).
        #[arg(long)]
        corp_id: Option<String>,
    },
    List,
    Delete {
        corp_id: String,
    },
}

#[derive(Subcommand)]
enum AppCommand {
    Create {
        #[arg(long)]
        corp_id: String,
        #[arg(long)]
        name: String,
        /// A granted scope, e.g. Storage.Space.Write (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Grant every storage scope.
        #[arg(long)]
        all_scopes: bool,
        #[arg(long)]
        app_key: Option<String>,
        #[arg(long)]
        app_secret: Option<String>,
    },
    List {
        #[arg(long)]
        corp_id: String,
    },
    Delete {
        #[arg(long)]
        corp_id: String,
        app_id: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    Create {
        #[arg(long)]
        corp_id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        org_admin: bool,
        #[arg(long)]
        union_id: Option<String>,
        #[arg(long)]
        user_id: Option<String>,
    },
    List {
        #[arg(long)]
        corp_id: String,
    },
    Delete {
        #[arg(long)]
        corp_id: String,
        union_id: String,
    },
    /// Sets the user's console password, read from standard input (never
    /// from the command line, which other users can see); `--clear`
    /// removes it. The user's console sessions end.
    Passwd {
        #[arg(long)]
        corp_id: String,
        union_id: String,
        /// Remove the password instead: the user can no longer sign in.
        #[arg(long)]
        clear: bool,
    },
}

#[derive(Subcommand)]
enum DeptCommand {
    Create {
        #[arg(long)]
        corp_id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        parent_id: Option<String>,
        /// A chosen deptId (default: generated).
        #[arg(long)]
        dept_id: Option<String>,
    },
    List {
        #[arg(long)]
        corp_id: String,
    },
    Delete {
        #[arg(long)]
        corp_id: String,
        dept_id: String,
    },
}

#[derive(Subcommand)]
enum MemberCommand {
    Add {
        #[arg(long)]
        corp_id: String,
        #[arg(long)]
        dept_id: String,
        union_id: String,
    },
    List {
        #[arg(long)]
        corp_id: String,
        #[arg(long)]
        dept_id: String,
    },
    Remove {
        #[arg(long)]
        corp_id: String,
        #[arg(long)]
        dept_id: String,
        union_id: String,
    },
}

fn print(value: impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

const OK: Success = Success { success: true };

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    if let AdminCommand::Reset { server, admin_token, corp_id } = &args.command {
        return reset(&args.data_dir, server, admin_token.as_deref(), corp_id.as_deref()).await;
    }
    let opened = crate::store::open(
        &args.data_dir,
        crate::store::OpenOptions {
            meta: args.meta.clone(),
            signing_key: args.signing_key.clone(),
            ..Default::default()
        },
    )
    .await?;
    let result = execute(&opened.drive, args.command).await;
    opened.drive.close().await;
    result
}

async fn execute(drive: &Drive, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Org(OrgCommand::Create { name, capacity, corp_id }) => {
            print(AdminOrg::from(drive.create_org(NewOrg { name, capacity, corp_id }).await?))
        }
        AdminCommand::Org(OrgCommand::List) => {
            print(List::<AdminOrg>::of(drive.list_orgs().await?))
        }
        AdminCommand::Org(OrgCommand::Delete { corp_id }) => {
            drive.delete_org(&corp_id).await?;
            print(OK)
        }
        AdminCommand::App(AppCommand::Create {
            corp_id,
            name,
            mut scopes,
            all_scopes,
            app_key,
            app_secret,
        }) => {
            if all_scopes {
                scopes = Scope::ALL.iter().map(|s| s.as_str().to_string()).collect();
            }
            let created =
                drive.create_app(&corp_id, NewApp { name, scopes, app_key, app_secret }).await?;
            let mut wire = AdminApp::from(created.app);
            wire.app_secret = Some(created.app_secret);
            print(wire)
        }
        AdminCommand::App(AppCommand::List { corp_id }) => {
            print(List::<AdminApp>::of(drive.list_apps(&corp_id).await?))
        }
        AdminCommand::App(AppCommand::Delete { corp_id, app_id }) => {
            drive.delete_app(&corp_id, &app_id).await?;
            print(OK)
        }
        AdminCommand::User(UserCommand::Create { corp_id, name, org_admin, union_id, user_id }) => {
            let input = NewUser { name, org_admin, union_id, user_id };
            print(AdminUser::from(drive.create_user(&corp_id, input).await?))
        }
        AdminCommand::User(UserCommand::List { corp_id }) => {
            print(List::<AdminUser>::of(drive.list_users(&corp_id).await?))
        }
        AdminCommand::User(UserCommand::Delete { corp_id, union_id }) => {
            drive.delete_user(&corp_id, &union_id).await?;
            print(OK)
        }
        AdminCommand::User(UserCommand::Passwd { corp_id, union_id, clear }) => {
            let password = if clear { None } else { Some(read_password()?) };
            drive.set_console_password(&corp_id, &union_id, password.as_deref()).await?;
            print(OK)
        }
        AdminCommand::Dept(DeptCommand::Create { corp_id, name, parent_id, dept_id }) => {
            print(AdminDept::from(
                drive.create_dept(&corp_id, NewDept { name, parent_id, dept_id }).await?,
            ))
        }
        AdminCommand::Dept(DeptCommand::List { corp_id }) => {
            print(List::<AdminDept>::of(drive.list_depts(&corp_id).await?))
        }
        AdminCommand::Dept(DeptCommand::Delete { corp_id, dept_id }) => {
            drive.delete_dept(&corp_id, &dept_id).await?;
            print(OK)
        }
        AdminCommand::Member(MemberCommand::Add { corp_id, dept_id, union_id }) => {
            drive.add_dept_member(&corp_id, &dept_id, &union_id).await?;
            print(OK)
        }
        AdminCommand::Member(MemberCommand::List { corp_id, dept_id }) => {
            print(List::<AdminUser>::of(drive.list_dept_members(&corp_id, &dept_id).await?))
        }
        AdminCommand::Member(MemberCommand::Remove { corp_id, dept_id, union_id }) => {
            drive.remove_dept_member(&corp_id, &dept_id, &union_id).await?;
            print(OK)
        }
        // Sent to the running server by run(), never done on the data dir.
        AdminCommand::Reset { .. } => anyhow::bail!("a reset is the running server's to do"),
    }
}

/// The password: asked for without echo at a terminal, else the first line
/// of standard input (without its line end).
fn read_password() -> anyhow::Result<String> {
    use std::io::{BufRead, IsTerminal};
    if std::io::stdin().is_terminal() {
        return Ok(rpassword::prompt_password("console password: ")?);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `admin reset`: asks the running server to reset (it holds the seed and
/// the caches a reset must clear); prints its answer.
async fn reset(
    data_dir: &Path,
    server: &str,
    admin_token: Option<&str>,
    corp_id: Option<&str>,
) -> anyhow::Result<()> {
    let token = match admin_token {
        Some(token) => token.trim().to_string(),
        None => {
            let path = data_dir.join("admin.token");
            std::fs::read_to_string(&path)
                .with_context(|| format!("reading the admin token from {}", path.display()))?
                .trim()
                .to_string()
        }
    };
    if let Some(corp_id) = corp_id {
        // A path segment of its own: `..` or `/` would name another route.
        anyhow::ensure!(
            !corp_id.is_empty()
                && corp_id.len() <= 64
                && corp_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
            "--corp-id must be 1 to 64 of A-Z a-z 0-9 _ -"
        );
    }
    let base = server.trim_end_matches('/');
    let url = match corp_id {
        Some(corp_id) => format!("{base}/admin/v1/orgs/{corp_id}/reset"),
        None => format!("{base}/admin/v1/reset"),
    };
    let answer = reqwest::Client::new()
        .post(&url)
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = answer.status();
    let text = answer.text().await.with_context(|| format!("POST {url}"))?;
    anyhow::ensure!(status.is_success(), "the server refused the reset ({status}): {text}");
    print(serde_json::from_str::<serde_json::Value>(&text).with_context(|| format!("POST {url}"))?)
}

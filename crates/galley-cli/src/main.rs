//! The `galley` command line: `galley server` and client subcommands per domain.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use galley_cli::client::deployments::{self, DeploymentArgs};
use galley_cli::client::models::{self, AliasAction};
use galley_cli::client::{self, Client, RunListArgs};
use galley_cli::server::{shutdown_signal, Server, ServerConfig};
use galley_store::SqliteSync;

#[derive(Parser)]
#[command(
    name = "galley",
    version,
    about = "Galley: an internal AI platform in one binary"
)]
struct Cli {
    /// The server client subcommands talk to.
    #[arg(
        long,
        global = true,
        env = "GALLEY_URL",
        default_value = "http://127.0.0.1:5000"
    )]
    url: String,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Durability {
    /// fsync on every commit: acknowledged writes survive power loss.
    Full,
    /// fsync at checkpoints: acknowledged writes survive a process crash.
    Normal,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Galley server.
    Server {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 5000)]
        port: u16,
        #[arg(long, env = "GALLEY_DATA_DIR", default_value = "./galley-data")]
        data_dir: PathBuf,
        /// Metadata database: sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data dir).
        #[arg(long, env = "GALLEY_DATABASE_URL")]
        database_url: Option<String>,
        /// Artifact store root: a folder, file:// URL or s3://BUCKET[/PREFIX], S3 configured by the
        /// standard AWS_* variables such as AWS_ENDPOINT_URL (default: <data-dir>/artifacts).
        #[arg(long, env = "GALLEY_ARTIFACT_ROOT")]
        artifact_root: Option<String>,
        /// SQLite durability.
        #[arg(long, value_enum, default_value_t = Durability::Full)]
        sqlite_sync: Durability,
    },
    /// Experiments.
    #[command(subcommand)]
    Experiments(ExperimentsCommand),
    /// Runs.
    #[command(subcommand)]
    Runs(RunsCommand),
    /// Registered models: versions, aliases, model cards and lineage.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Deployments: serve registry versions, change them without downtime, roll back.
    #[command(subcommand)]
    Deployments(DeploymentsCommand),
}

/// Settings shared by `deployments create` and `deployments update`.
#[derive(clap::Args)]
struct DeploymentFlags {
    /// Serve this version.
    #[arg(long, conflicts_with = "alias")]
    version: Option<i64>,
    /// Serve the version this alias points at (resolved now and on each update).
    #[arg(long)]
    alias: Option<String>,
    /// A fixed number of in-process replicas (worker slots).
    #[arg(long)]
    replicas: Option<u32>,
    /// Autoscale between --min-replicas and --max-replicas by queue depth.
    #[arg(long)]
    min_replicas: Option<u32>,
    #[arg(long)]
    max_replicas: Option<u32>,
    #[arg(long)]
    max_batch_size: Option<u32>,
    #[arg(long)]
    max_batch_delay_ms: Option<u32>,
    /// Requests waiting per version before new ones get 429.
    #[arg(long)]
    max_queue: Option<u32>,
    /// Send PERCENT of requests to VERSION: VERSION:PERCENT, or off.
    #[arg(long)]
    canary: Option<String>,
    /// Copy PERCENT of requests to VERSION and record its answers: VERSION:PERCENT, or off.
    #[arg(long)]
    shadow: Option<String>,
    #[arg(long)]
    json: bool,
}

impl DeploymentFlags {
    fn args(&self, model: Option<String>) -> DeploymentArgs {
        DeploymentArgs {
            model,
            version: self.version,
            alias: self.alias.clone(),
            replicas: self.replicas,
            min_replicas: self.min_replicas,
            max_replicas: self.max_replicas,
            max_batch_size: self.max_batch_size,
            max_batch_delay_ms: self.max_batch_delay_ms,
            max_queue: self.max_queue,
            canary: self.canary.clone(),
            shadow: self.shadow.clone(),
        }
    }
}

#[derive(Subcommand)]
enum DeploymentsCommand {
    /// Deploy a registered model version: `create NAME --model MODEL (--version N | --alias A)`.
    Create {
        name: String,
        #[arg(long)]
        model: String,
        #[command(flatten)]
        flags: DeploymentFlags,
    },
    /// List deployments.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show a deployment with its loaded versions, replicas and queues.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Change a deployment; the serving version keeps answering until the new one is warm.
    Update {
        name: String,
        #[command(flatten)]
        flags: DeploymentFlags,
    },
    /// Serve the version that served before the last change.
    Rollback {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a deployment and unload its versions.
    Delete { name: String },
}

#[derive(Subcommand)]
enum ExperimentsCommand {
    /// List experiments.
    List {
        /// active, deleted or all.
        #[arg(long, default_value = "active")]
        view: String,
        #[arg(long)]
        json: bool,
    },
    /// Show one experiment, by id or name.
    Show {
        experiment: String,
        #[arg(long)]
        json: bool,
    },
    /// Create an experiment and print its id.
    Create { name: String },
    /// Delete an experiment (and its runs).
    Delete { experiment_id: String },
}

#[derive(Subcommand)]
enum RunsCommand {
    /// Search runs with MLflow's filter grammar.
    List {
        /// Experiment ids to search (repeatable).
        #[arg(long = "experiment", short = 'e', default_value = "0")]
        experiments: Vec<String>,
        /// e.g. "metrics.acc > 0.9 AND params.model = 'rf'"
        #[arg(long)]
        filter: Option<String>,
        /// e.g. "metrics.acc DESC" (repeatable).
        #[arg(long)]
        order_by: Vec<String>,
        #[arg(long, default_value_t = 100)]
        max_results: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show one run with its params, latest metrics and tags.
    Show {
        run_id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// List registered models.
    List {
        /// e.g. "name LIKE 'fraud%'"
        #[arg(long)]
        filter: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one registered model with its aliases and latest versions.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List a model's versions, newest first.
    Versions {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Print the version an alias points at; point it at VERSION; or delete it.
    Alias {
        name: String,
        alias: String,
        /// Point the alias at this version.
        #[arg(conflicts_with = "delete")]
        version: Option<String>,
        #[arg(long)]
        delete: bool,
    },
    /// Print a version's model card as markdown; --set FILE replaces it with a JSON card first.
    Card {
        name: String,
        version: String,
        /// A JSON card: {"intended_use", "limitations", "training_data", "owners": [], "markdown"}; - for stdin.
        #[arg(long)]
        set: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print where a version came from: run, parameters, metrics, datasets, experiment.
    Lineage {
        name: String,
        version: String,
        #[arg(long)]
        json: bool,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GALLEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn view_type(view: &str) -> anyhow::Result<&'static str> {
    Ok(match view {
        "active" => "ACTIVE_ONLY",
        "deleted" => "DELETED_ONLY",
        "all" => "ALL",
        other => anyhow::bail!("unknown view '{other}': use active, deleted or all"),
    })
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let client = Client::new(&cli.url);
    match cli.command {
        Command::Server {
            host,
            port,
            data_dir,
            database_url,
            artifact_root,
            sqlite_sync,
        } => {
            let config = ServerConfig {
                host,
                port,
                data_dir,
                database_url,
                artifact_root,
                sqlite_sync: match sqlite_sync {
                    Durability::Full => SqliteSync::Full,
                    Durability::Normal => SqliteSync::Normal,
                },
            };
            Server::build(&config).await?.run(shutdown_signal()).await
        }
        Command::Experiments(command) => match command {
            ExperimentsCommand::List { view, json } => {
                client::experiments_list(&client, view_type(&view)?, json).await
            }
            ExperimentsCommand::Show { experiment, json } => {
                client::experiment_show(&client, &experiment, json).await
            }
            ExperimentsCommand::Create { name } => client::experiment_create(&client, &name).await,
            ExperimentsCommand::Delete { experiment_id } => {
                client::experiment_delete(&client, &experiment_id).await
            }
        },
        Command::Runs(command) => match command {
            RunsCommand::List {
                experiments,
                filter,
                order_by,
                max_results,
                json,
            } => {
                let args = RunListArgs {
                    experiment_ids: &experiments,
                    filter: filter.as_deref(),
                    order_by: &order_by,
                    max_results,
                };
                client::runs_list(&client, args, json).await
            }
            RunsCommand::Show { run_id, json } => client::run_show(&client, &run_id, json).await,
        },
        Command::Models(command) => match command {
            ModelsCommand::List { filter, json } => {
                models::list(&client, filter.as_deref(), json).await
            }
            ModelsCommand::Show { name, json } => models::show(&client, &name, json).await,
            ModelsCommand::Versions { name, json } => models::versions(&client, &name, json).await,
            ModelsCommand::Alias {
                name,
                alias,
                version,
                delete,
            } => {
                let action = match (&version, delete) {
                    (_, true) => AliasAction::Delete,
                    (Some(version), false) => AliasAction::Set(version),
                    (None, false) => AliasAction::Show,
                };
                models::alias(&client, &name, &alias, action).await
            }
            ModelsCommand::Card {
                name,
                version,
                set,
                json,
            } => models::card(&client, &name, &version, set.as_deref(), json).await,
            ModelsCommand::Lineage {
                name,
                version,
                json,
            } => models::lineage(&client, &name, &version, json).await,
        },
        Command::Deployments(command) => match command {
            DeploymentsCommand::Create { name, model, flags } => {
                deployments::create(&client, &name, &flags.args(Some(model)), flags.json).await
            }
            DeploymentsCommand::List { json } => deployments::list(&client, json).await,
            DeploymentsCommand::Show { name, json } => {
                deployments::show(&client, &name, json).await
            }
            DeploymentsCommand::Update { name, flags } => {
                deployments::update(&client, &name, &flags.args(None), flags.json).await
            }
            DeploymentsCommand::Rollback { name, json } => {
                deployments::rollback(&client, &name, json).await
            }
            DeploymentsCommand::Delete { name } => deployments::delete(&client, &name).await,
        },
    }
}

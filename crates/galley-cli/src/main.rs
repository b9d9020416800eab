//! The `galley` command line: `galley server` and client subcommands per domain.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use galley_cli::client::deployments::{self, DeploymentArgs};
use galley_cli::client::features;
use galley_cli::client::jobs;
use galley_cli::client::models::{self, AliasAction};
use galley_cli::client::monitoring::{
    self, LabelsSource, ReferenceArgs, ReferenceSource, RuleArgs,
};
use galley_cli::client::{self, Client, RunListArgs};
use galley_cli::server::{shutdown_signal, Server, ServerConfig};
use galley_cli::{monitor, sim};
use galley_monitoring::validation::parse_window;
use galley_monitoring_runtime::{DeliverySettings, WriterSettings};
use galley_store::SqliteSync;

/// mimalloc rather than glibc's malloc: request handling allocates many small, short-lived
/// values from several threads (see docs/benchmarks.md, the feature store's online reads).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        /// Write logged predictions to a file at least this often (seconds).
        #[arg(long, default_value_t = 10.0)]
        prediction_flush_seconds: f64,
        /// Evaluate every monitored deployment this often (e.g. 1h, 30m), or `off`.
        #[arg(long, default_value = "1h")]
        evaluation_interval: String,
        /// Run the job scheduler this often (seconds) when no submission wakes it sooner.
        #[arg(long, default_value_t = 1.0)]
        scheduler_interval_seconds: f64,
        /// A Ray cluster's dashboard URL (e.g. http://127.0.0.1:8265) for jobs with `--executor ray`.
        #[arg(long, env = "GALLEY_RAY_ADDRESS")]
        ray_address: Option<String>,
        /// The Kubernetes API through `kubectl proxy` (http://127.0.0.1:8001) for jobs with
        /// `--executor kubernetes`; needs --kubernetes-image.
        #[arg(long, env = "GALLEY_KUBERNETES_API", requires = "kubernetes_image")]
        kubernetes_api: Option<String>,
        #[arg(long, env = "GALLEY_KUBERNETES_NAMESPACE", default_value = "default")]
        kubernetes_namespace: String,
        /// The container image jobs run in (a job's GALLEY_IMAGE env var overrides it).
        #[arg(long, env = "GALLEY_KUBERNETES_IMAGE")]
        kubernetes_image: Option<String>,
        /// Online features in Redis (redis://HOST:PORT[/DB]) instead of the embedded store in the data dir.
        #[arg(long, env = "GALLEY_ONLINE_STORE")]
        online_store: Option<String>,
        /// Materialize every online feature view incrementally this often (e.g. 1h, 15m), or `off`.
        #[arg(long, default_value = "off")]
        materialize_interval: String,
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
    /// Monitoring: drift between files, reference profiles, labels, evaluations and reports.
    #[command(subcommand)]
    Monitor(MonitorCommand),
    /// Jobs: run commands on the compute layer with team queues and quotas.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Team queues: quotas, usage, and applying a queues file.
    #[command(subcommand)]
    Queues(QueuesCommand),
    /// The feature store: definitions, training sets, materialization.
    #[command(subcommand)]
    Features(FeaturesCommand),
    /// Replay a job trace through the scheduling core on a virtual clock (no server needed).
    Sim(SimArgs),
}

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
struct SimArgs {
    #[command(subcommand)]
    command: Option<SimCommand>,
    /// A trace CSV: job_id,user,team,submit_time,duration,gpu_num,cpu_num (Helios' `vc` works too).
    #[arg(long)]
    trace: Option<PathBuf>,
    /// fifo (Kueue StrictFIFO with borrowing) or galley; default: the queues file's policy.
    #[arg(long)]
    policy: Option<String>,
    /// A queues file for teams, quotas, policy and nodes; default: one cohort, quota split evenly.
    #[arg(long)]
    queues: Option<PathBuf>,
    /// Nodes of 8 GPUs when no queues file declares nodes.
    #[arg(long, default_value_t = 32)]
    nodes: usize,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum SimCommand {
    /// Write a synthetic trace with the Helios/Philly duration and GPU-count mix.
    Generate {
        #[arg(long, default_value_t = 5000)]
        jobs: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 4)]
        teams: usize,
        /// Offered load relative to the cluster's GPUs.
        #[arg(long, default_value_t = 1.0)]
        load: f64,
        /// GPUs in the cluster the load is sized for.
        #[arg(long, default_value_t = 256)]
        gpus: u32,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Submit a job: `submit [flags] -- CMD ARGS...`; prints the job id (the job with --json).
    Submit(Box<jobs::SubmitArgs>),
    /// List jobs, newest first.
    List {
        #[arg(long)]
        team: Option<String>,
        #[arg(long)]
        queue: Option<String>,
        /// Comma-separated states (pending, admitted, running, succeeded, failed, cancelled).
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// A job, why it waits or how it ended, and its events.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// A replica's output; -f follows it until the job ends.
    Logs {
        id: String,
        #[arg(short, long)]
        follow: bool,
        #[arg(long, default_value_t = 0)]
        replica: u32,
    },
    Cancel {
        id: String,
    },
    /// Wait until the job ends; exit 0 only if it succeeded.
    Wait {
        id: String,
    },
}

#[derive(Subcommand)]
enum QueuesCommand {
    /// Queues with used/nominal quota and job counts.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A queue and its pending and running jobs, with why each waits.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Apply a queues file (YAML): shows the changes, then applies them (all or nothing).
    Apply {
        file: PathBuf,
        /// Show the changes without applying them.
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum FeaturesCommand {
    /// Apply a definitions file (YAML): shows the plan, then applies it (all or nothing).
    Apply {
        file: PathBuf,
        /// Show the plan without applying it.
        #[arg(long)]
        dry_run: bool,
        /// Apply changes that break readers (features removed or retyped, views deleted).
        #[arg(long)]
        force: bool,
        #[arg(long)]
        json: bool,
    },
    /// Feature views and services.
    List {
        #[arg(long)]
        json: bool,
    },
    /// A feature view (schema, materializations, statistics, freshness), service, entity or source.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// A point-in-time-correct training set for an entity dataframe (CSV or Parquet).
    GetHistorical {
        #[arg(long)]
        entity_df: PathBuf,
        /// Comma-separated VIEW:FEATURE references (VIEW alone for all its features).
        #[arg(
            long,
            conflicts_with = "feature_service",
            required_unless_present = "feature_service"
        )]
        features: Option<String>,
        #[arg(long)]
        feature_service: Option<String>,
        /// Name columns VIEW__FEATURE.
        #[arg(long)]
        full_feature_names: bool,
        /// The entity dataframe's event time column.
        #[arg(long, default_value = "event_timestamp")]
        timestamp_column: String,
        /// Ignore feature rows created after each entity row's time (no backfill leakage).
        #[arg(long)]
        created_cutoff: bool,
        /// Where to write the training set: .csv or .parquet.
        #[arg(long)]
        output: PathBuf,
    },
    /// Write the latest row per entity to the online store: in [--start, --end), or since each
    /// view's last materialization when --start is not given.
    Materialize {
        /// RFC 3339 (2024-05-01T00:00:00Z).
        #[arg(long)]
        start: Option<String>,
        /// RFC 3339; default now.
        #[arg(long)]
        end: Option<String>,
        /// Comma-separated feature views; default every online view.
        #[arg(long, value_delimiter = ',')]
        views: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum MonitorCommand {
    /// Compare two CSV or Parquet files with Evidently's default drift tests (no server needed).
    Drift {
        #[arg(long)]
        reference: PathBuf,
        #[arg(long)]
        current: PathBuf,
        /// Compare only these columns (comma-separated; default: every reference column).
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// Use another test for a column: COLUMN=TEST (ks, chisquare, z, wasserstein,
        /// jensenshannon, psi, psi_reference_deciles). Repeatable.
        #[arg(long = "test")]
        tests: Vec<String>,
        /// Another threshold for a column: COLUMN=VALUE. Repeatable.
        #[arg(long = "threshold")]
        thresholds: Vec<String>,
        /// Dataset drift when at least this share of columns drifted (default 0.5).
        #[arg(long)]
        drift_share: Option<f64>,
        #[arg(long)]
        json: bool,
        /// Also write a self-contained HTML report here.
        #[arg(long)]
        html: Option<PathBuf>,
        /// Exit non-zero when the dataset drifted (for CI checks).
        #[arg(long)]
        fail_on_drift: bool,
    },
    /// Profile reference data for a model version: a local file, or a run's artifact.
    Reference {
        model: String,
        version: String,
        #[arg(long, conflicts_with_all = ["run_id", "path"])]
        file: Option<PathBuf>,
        #[arg(long, requires = "path")]
        run_id: Option<String>,
        /// The artifact's path within the run.
        #[arg(long, requires = "run_id")]
        path: Option<String>,
        /// The column holding the ground truth (not a feature).
        #[arg(long)]
        target: Option<String>,
        /// The column holding the model's predictions (not a feature), for prediction drift.
        #[arg(long)]
        prediction: Option<String>,
        /// classification or regression (default: from the target's values).
        #[arg(long)]
        task: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Send ground truth for answered requests, by request id.
    Labels {
        deployment: String,
        /// A CSV or Parquet file with request_id, label and optionally row columns.
        #[arg(long, conflicts_with_all = ["request_id", "label"])]
        file: Option<PathBuf>,
        #[arg(long, requires = "label")]
        request_id: Option<String>,
        #[arg(long, default_value_t = 0)]
        row: i64,
        #[arg(long, requires = "request_id")]
        label: Option<String>,
    },
    /// Evaluate a window of logged predictions now and store the results.
    Evaluate {
        deployment: String,
        #[arg(long, default_value = "1h")]
        window: String,
        #[arg(long)]
        json: bool,
    },
    /// A window's drift report, as a table, JSON or an HTML page.
    Report {
        deployment: String,
        #[arg(long, default_value = "24h")]
        window: String,
        /// Write the report as a self-contained HTML page to this file.
        #[arg(long)]
        html: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Stored evaluation results as a time series.
    Results {
        deployment: String,
        #[arg(long)]
        metric: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Alert rules on evaluation results, and the alerts they fired.
    #[command(subcommand)]
    Alerts(AlertsCommand),
}

#[derive(Subcommand)]
enum AlertsCommand {
    /// Add a rule, e.g. `add DEPLOYMENT --metric drift_share --above 0.5 --webhook URL`.
    Add {
        deployment: String,
        /// drift_share, dataset_drift, drift_score, prediction_drift_score, accuracy, f1, rmse, ...
        #[arg(long)]
        metric: String,
        /// Fire when the value is at or above this.
        #[arg(long, conflicts_with = "below", required_unless_present = "below")]
        above: Option<f64>,
        /// Fire when the value is at or below this.
        #[arg(long)]
        below: Option<f64>,
        /// Only this column (per-column metrics); default: any column.
        #[arg(long)]
        column: Option<String>,
        #[arg(long, default_value = "1h")]
        window: String,
        /// info, warning or critical.
        #[arg(long, default_value = "warning")]
        severity: String,
        /// POST each alert here as JSON (retried with backoff).
        #[arg(long)]
        webhook: Option<String>,
        /// A job spec file (JSON, as `POST /api/v1/jobs` takes) to submit when the rule fires.
        #[arg(long)]
        retrain_job: Option<PathBuf>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        deployment: String,
        #[arg(long)]
        json: bool,
    },
    Delete {
        deployment: String,
        id: String,
    },
    /// Alerts fired, newest first.
    Events {
        deployment: String,
        #[arg(long)]
        json: bool,
    },
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
    /// Share of answered requests (0 to 1) logged for monitoring; default 1.
    #[arg(long)]
    log_sample_rate: Option<f64>,
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
            log_sample_rate: self.log_sample_rate,
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

/// A length of time as the server's schedule flags take it (`1h`, `30m`), or `off`.
fn interval_or_off(text: &str) -> anyhow::Result<Option<std::time::Duration>> {
    Ok(match text {
        "off" => None,
        length => Some(std::time::Duration::from_millis(
            parse_window(length)? as u64
        )),
    })
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
            prediction_flush_seconds,
            evaluation_interval,
            scheduler_interval_seconds,
            ray_address,
            kubernetes_api,
            kubernetes_namespace,
            kubernetes_image,
            online_store,
            materialize_interval,
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
                prediction_log: WriterSettings {
                    flush_interval: std::time::Duration::try_from_secs_f64(
                        prediction_flush_seconds,
                    )
                    .ok()
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        anyhow::anyhow!("--prediction-flush-seconds must be a positive number")
                    })?,
                    ..WriterSettings::default()
                },
                evaluation_interval: interval_or_off(&evaluation_interval)?,
                alert_delivery: DeliverySettings::default(),
                scheduler_interval: std::time::Duration::try_from_secs_f64(
                    scheduler_interval_seconds,
                )
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    anyhow::anyhow!("--scheduler-interval-seconds must be a positive number")
                })?,
                ray_address,
                kubernetes: kubernetes_api.map(|api| {
                    galley_compute_runtime::KubernetesSettings::new(
                        &api,
                        &kubernetes_namespace,
                        kubernetes_image.as_deref().unwrap_or_default(),
                    )
                }),
                online_store,
                materialize_interval: interval_or_off(&materialize_interval)?,
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
        Command::Monitor(command) => run_monitor(&client, command).await,
        Command::Jobs(command) => run_jobs(&client, command).await,
        Command::Sim(args) => run_sim(args),
        Command::Queues(command) => match command {
            QueuesCommand::List { json } => jobs::queues_list(&client, json).await,
            QueuesCommand::Show { name, json } => jobs::queue_show(&client, &name, json).await,
            QueuesCommand::Apply {
                file,
                dry_run,
                json,
            } => jobs::queues_apply(&client, &file, dry_run, json).await,
        },
        Command::Features(command) => match command {
            FeaturesCommand::Apply {
                file,
                dry_run,
                force,
                json,
            } => features::apply(&client, &file, dry_run, force, json).await,
            FeaturesCommand::List { json } => features::list(&client, json).await,
            FeaturesCommand::Show { name, json } => features::show(&client, &name, json).await,
            FeaturesCommand::GetHistorical {
                entity_df,
                features: references,
                feature_service,
                full_feature_names,
                timestamp_column,
                created_cutoff,
                output,
            } => {
                let args = features::HistoricalArgs {
                    entity_df,
                    features: references,
                    feature_service,
                    full_feature_names,
                    timestamp_column,
                    created_cutoff,
                    output,
                };
                features::get_historical(&client, args).await
            }
            FeaturesCommand::Materialize {
                start,
                end,
                views,
                json,
            } => features::materialize(&client, views, start, end, json).await,
        },
    }
}

fn run_sim(args: SimArgs) -> anyhow::Result<()> {
    match args.command {
        Some(SimCommand::Generate {
            jobs,
            seed,
            teams,
            load,
            gpus,
            out,
        }) => {
            let options = galley_compute::sim::GenerateOptions {
                seed,
                jobs,
                teams,
                load,
                cluster_gpus: u64::from(gpus),
                ..Default::default()
            };
            sim::write_generated(&out, &options)
        }
        None => {
            let trace = args.trace.ok_or_else(|| {
                anyhow::anyhow!("--trace FILE is required (or use `sim generate`)")
            })?;
            sim::replay(
                &trace,
                args.policy.as_deref(),
                args.queues.as_deref(),
                args.nodes,
                args.json,
            )
        }
    }
}

async fn run_jobs(client: &Client, command: JobsCommand) -> anyhow::Result<()> {
    match command {
        JobsCommand::Submit(args) => jobs::submit(client, *args).await,
        JobsCommand::List {
            team,
            queue,
            state,
            json,
        } => {
            let filters: Vec<(&str, String)> = [("team", team), ("queue", queue), ("state", state)]
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect();
            jobs::list(client, &filters, json).await
        }
        JobsCommand::Show { id, json } => jobs::show(client, &id, json).await,
        JobsCommand::Logs {
            id,
            follow,
            replica,
        } => jobs::logs(client, &id, replica, follow).await,
        JobsCommand::Cancel { id } => jobs::cancel(client, &id).await,
        JobsCommand::Wait { id } => jobs::wait(client, &id).await,
    }
}

async fn run_monitor(client: &Client, command: MonitorCommand) -> anyhow::Result<()> {
    match command {
        MonitorCommand::Drift {
            reference,
            current,
            columns,
            tests,
            thresholds,
            drift_share,
            json,
            html,
            fail_on_drift,
        } => {
            let args = monitor::DriftArgs {
                reference,
                current,
                columns,
                tests,
                thresholds,
                drift_share,
                json,
                html,
            };
            if monitor::drift(&args)? && fail_on_drift {
                anyhow::bail!("dataset drift detected");
            }
            Ok(())
        }
        MonitorCommand::Reference {
            model,
            version,
            file,
            run_id,
            path,
            target,
            prediction,
            task,
            json,
        } => {
            let source = match (&file, &run_id, &path) {
                (Some(file), None, None) => ReferenceSource::File(file),
                (None, Some(run_id), Some(path)) => ReferenceSource::RunArtifact { run_id, path },
                _ => anyhow::bail!("give either --file, or --run-id with --path"),
            };
            let args = ReferenceArgs {
                source,
                target: target.as_deref(),
                prediction: prediction.as_deref(),
                task: task.as_deref(),
            };
            monitoring::reference(client, &model, &version, args, json).await
        }
        MonitorCommand::Labels {
            deployment,
            file,
            request_id,
            row,
            label,
        } => {
            let source = match (&file, &request_id, &label) {
                (Some(file), None, None) => LabelsSource::File(file),
                (None, Some(request_id), Some(label)) => LabelsSource::One {
                    request_id,
                    row,
                    label,
                },
                _ => anyhow::bail!("give either --file, or --request-id with --label"),
            };
            monitoring::labels(client, &deployment, source).await
        }
        MonitorCommand::Evaluate {
            deployment,
            window,
            json,
        } => monitoring::evaluate(client, &deployment, &window, json).await,
        MonitorCommand::Report {
            deployment,
            window,
            html,
            json,
        } => monitoring::report(client, &deployment, &window, html.as_deref(), json).await,
        MonitorCommand::Results {
            deployment,
            metric,
            json,
        } => monitoring::results(client, &deployment, metric.as_deref(), json).await,
        MonitorCommand::Alerts(command) => match command {
            AlertsCommand::Add {
                deployment,
                metric,
                above,
                below,
                column,
                window,
                severity,
                webhook,
                retrain_job,
                name,
                json,
            } => {
                let retrain_job = retrain_job
                    .map(|path| -> anyhow::Result<serde_json::Value> {
                        let text = std::fs::read_to_string(&path)
                            .with_context(|| format!("cannot read {}", path.display()))?;
                        serde_json::from_str(&text)
                            .with_context(|| format!("{} is not a JSON job spec", path.display()))
                    })
                    .transpose()?;
                let (comparison, threshold) = match (above, below) {
                    (Some(t), None) => ("above", t),
                    (None, Some(t)) => ("below", t),
                    _ => anyhow::bail!("give exactly one of --above or --below"),
                };
                let args = RuleArgs {
                    metric: &metric,
                    column: column.as_deref(),
                    comparison,
                    threshold,
                    window: &window,
                    severity: &severity,
                    webhook: webhook.as_deref(),
                    retrain_job,
                    name: name.as_deref(),
                };
                monitoring::alert_add(client, &deployment, args, json).await
            }
            AlertsCommand::List { deployment, json } => {
                monitoring::alert_list(client, &deployment, json).await
            }
            AlertsCommand::Delete { deployment, id } => {
                monitoring::alert_delete(client, &deployment, &id).await
            }
            AlertsCommand::Events { deployment, json } => {
                monitoring::alert_events(client, &deployment, json).await
            }
        },
    }
}

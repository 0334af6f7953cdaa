//! The command line: parses arguments, hands off to the library, maps outcomes to exit codes.
//!
//! Exit codes (a contract): 0 nothing FAILED, 1 something FAILED, 2 a usage, policy or input
//! error, 3 something could not be evaluated (e.g. AWS errors).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::domain::catalogue;
use crate::domain::event;
use crate::domain::policy::{self, Policy};
use audit::Progress;

pub mod audit;
pub mod report;
pub mod table;

const EXIT_USAGE: u8 = 2;

/// Keeps Amazon SageMaker resources compliant with the AWS Security Hub controls SageMaker.1 to
/// SageMaker.8.
///
/// AWS endpoint, region and credentials come from the standard AWS configuration
/// (AWS_ENDPOINT_URL, AWS_REGION, AWS_PROFILE, ...), so the same binary talks to AWS or to a local
/// emulator.
///
/// Exit codes: 0 nothing FAILED, 1 something FAILED, 2 usage, policy or input error, 3 something
/// could not be evaluated (e.g. AWS errors). With --apply, FAILED is counted once the fixes were
/// made.
#[derive(Debug, Parser)]
#[command(name = "sagemaker-guard", version, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Log format on stderr. The level comes from RUST_LOG (default: warn).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "SAGEMAKER_GUARD_LOG_FORMAT"
    )]
    pub log_format: LogFormat,

    /// How long one attempt of an AWS call may take before it is abandoned (and retried as the
    /// SDK's retry settings allow); connecting may take at most 5 s of it, a call four attempts'
    /// worth in all. The queue's long poll always gets its 20 s and 10 s more.
    #[arg(
        long,
        global = true,
        default_value = "30s",
        value_parser = positive_duration,
        env = "SAGEMAKER_GUARD_AWS_ATTEMPT_TIMEOUT"
    )]
    pub aws_attempt_timeout: std::time::Duration,
}

/// A duration such as `30s` or `2m`, more than zero.
fn positive_duration(s: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("must be more than zero".into()),
        Err(e) => Err(format!("{e}: write it like 30s or 2m")),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the control catalogue: SageMaker.1 to SageMaker.8, what each judges and how it can be fixed.
    Controls {
        /// A table for people, JSON, or the Markdown of docs/controls.md.
        #[arg(long, value_enum, default_value = "table")]
        output: CatalogueOutput,
    },
    /// Check policy files, or print the policy JSON Schema.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Sweep every resource in scope and report, per resource and control, the verdict and what the
    /// policy would do. Read-only unless --apply; with --apply, carry the plans out as the policy
    /// allows, then say what was done to each resource and count the verdicts after it.
    Audit {
        /// The policy file.
        #[arg(long, env = "SAGEMAKER_GUARD_POLICY")]
        policy: PathBuf,
        /// A region to sweep (repeatable). Default: the policy's spec.scope.regions, else the
        /// region of the AWS configuration.
        #[arg(long = "region", value_name = "REGION")]
        regions: Vec<String>,
        /// A table for people, or the JSON report (a contract: docs/audit.md).
        #[arg(long, value_enum, default_value = "table")]
        output: ReportOutput,
        /// How many resources are read at once per region.
        #[arg(long, default_value_t = 16, env = "SAGEMAKER_GUARD_CONCURRENCY")]
        concurrency: usize,
        #[command(flatten)]
        apply: ApplyArgs,
    },
    /// Run the reconciler: consume EventBridge events from SQS, resync periodically, judge every
    /// resource named, plan, and carry out what the policy allows: findings, tags, in-place
    /// notebook fixes, stop-and-recreate of notebooks (after a grace period, unless just
    /// created) and replacement endpoint configs. Nothing changes while the policy (or
    /// --dry-run) says dry-run.
    Run(RunArgs),
    /// Read one SQS message body (an EventBridge event), find the resources it names, read them
    /// live and print their verdicts and plan as JSON. Read-only unless --apply; with --apply,
    /// carry the plans out as `audit --apply` does.
    Evaluate {
        /// The policy file.
        #[arg(long, env = "SAGEMAKER_GUARD_POLICY")]
        policy: PathBuf,
        /// The event: a file, or - for standard input.
        #[arg(long, value_name = "FILE|-")]
        event: String,
        #[command(flatten)]
        apply: ApplyArgs,
    },
    /// Print the least-privilege IAM policy (JSON) the guard needs to carry out a policy.
    IamPolicy {
        /// The policy file.
        #[arg(long, env = "SAGEMAKER_GUARD_POLICY")]
        policy: PathBuf,
    },
}

/// A one-off fix from `audit` or `evaluate`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// Carry the plans out, and wait for each resource to settle (a grace period or a user's stop
    /// is not waited for: the service carries on). Dry-run in the policy or a control still wins:
    /// then nothing changes.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: stop waiting for notebooks to settle after this long; a recreate not
    /// finished by then is finished by the service from its intent.
    #[arg(long, default_value = "20m", value_parser = humantime::parse_duration)]
    pub apply_timeout: std::time::Duration,
    /// With --apply: how often a notebook in a transition is read again.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub poll_interval: std::time::Duration,
    /// With --apply: the SQS queue (the `run` service's) where a notebook's configuration is
    /// stored before it is deleted for a recreate, so that the service finishes the recreate if
    /// this command dies. Without it, no notebook is recreated. The message stays on the queue
    /// after the recreate: the service reads it, finds nothing left to do and drops it.
    #[arg(long, env = "SAGEMAKER_GUARD_INTENT_QUEUE_URL")]
    pub intent_queue_url: Option<String>,
    /// With --apply: the KMS HMAC key (HMAC_256; an id, alias or ARN) that signs recreate
    /// intents; the service must be given the same key to finish them. Without it, no notebook is
    /// recreated.
    #[arg(long, env = "SAGEMAKER_GUARD_INTENT_KEY_ID")]
    pub intent_key_id: Option<String>,
}

impl ApplyArgs {
    fn options(&self, concurrency: usize) -> Option<audit::ApplyOptions> {
        self.apply.then_some(audit::ApplyOptions {
            timeout: self.apply_timeout,
            poll: self.poll_interval,
            concurrency,
            intent_queue_url: self.intent_queue_url.clone(),
            intent_key_id: self.intent_key_id.clone(),
        })
    }
}

/// The flags of `run`; each can also come from its environment variable.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The policy file. SIGHUP reloads it; an invalid new policy is refused and the old one kept.
    #[arg(long, env = "SAGEMAKER_GUARD_POLICY")]
    pub policy: PathBuf,
    /// The SQS queue EventBridge delivers SageMaker and Security Hub events to.
    #[arg(long, env = "SAGEMAKER_GUARD_QUEUE_URL")]
    pub queue_url: String,
    /// Plan and log only, whatever the policy says.
    #[arg(long, env = "SAGEMAKER_GUARD_DRY_RUN")]
    pub dry_run: bool,
    /// How often every resource in scope is looked at, events or not.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration, env = "SAGEMAKER_GUARD_RESYNC_INTERVAL")]
    pub resync_interval: std::time::Duration,
    /// Skip the sweep at start.
    #[arg(long, env = "SAGEMAKER_GUARD_NO_INITIAL_RESYNC")]
    pub no_initial_resync: bool,
    /// Reconciles at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..), env = "SAGEMAKER_GUARD_CONCURRENCY")]
    pub concurrency: u16,
    /// Address of /healthz, /readyz and /metrics (port 0: any free port, logged at start).
    #[arg(long, default_value = "0.0.0.0:9464", env = "SAGEMAKER_GUARD_LISTEN")]
    pub listen: std::net::SocketAddr,
    /// How long reconciles in progress may finish after SIGTERM before their messages are
    /// made visible again for another replica.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration, env = "SAGEMAKER_GUARD_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: std::time::Duration,
    /// Where messages that cannot be decoded go. Default: the queue's redrive target.
    #[arg(long, env = "SAGEMAKER_GUARD_DEAD_LETTER_QUEUE_URL")]
    pub dead_letter_queue_url: Option<String>,
    /// How soon a resource in a transition (a stop, an update, a delete, a create) is looked at
    /// again.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration, env = "SAGEMAKER_GUARD_SETTLE_INTERVAL")]
    pub settle_interval: std::time::Duration,
    /// The KMS HMAC key (HMAC_256; an id, alias or ARN) that signs recreate intents and checks
    /// those received: an intent without its valid MAC is dead-lettered (reason
    /// `intent-signature`). Without it, no notebook is recreated; every other fix works.
    #[arg(long, env = "SAGEMAKER_GUARD_INTENT_KEY_ID")]
    pub intent_key_id: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Check policy files; every problem is reported with file, line, column and a hint.
    Validate {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the JSON Schema (draft-07) of policy files, for editors.
    Schema,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CatalogueOutput {
    Table,
    Json,
    Markdown,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportOutput {
    Table,
    Json,
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    crate::aws::config::set_attempt_timeout(cli.aws_attempt_timeout);
    run(cli.command)
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colours only for a person at a terminal: a file or a log collector gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(command: Command) -> ExitCode {
    match command {
        Command::Controls { output } => {
            match output {
                CatalogueOutput::Table => print!("{}", table::catalogue_table()),
                CatalogueOutput::Markdown => print!("{}", catalogue::to_markdown()),
                CatalogueOutput::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&catalogue::CATALOGUE)
                        .expect("the catalogue is JSON")
                ),
            }
            ExitCode::SUCCESS
        }
        Command::Policy {
            command: PolicyCommand::Schema,
        } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&policy::document::schema())
                    .expect("a schema is JSON")
            );
            ExitCode::SUCCESS
        }
        Command::Policy {
            command: PolicyCommand::Validate { files },
        } => validate(&files),
        Command::Audit {
            policy,
            regions,
            output,
            concurrency,
            apply,
        } => {
            let Some(policy) = load_policy(&policy) else {
                return ExitCode::from(EXIT_USAGE);
            };
            let apply = apply.options(concurrency);
            runtime().block_on(audit_command(policy, regions, output, concurrency, apply))
        }
        Command::IamPolicy { policy } => {
            let Some(policy) = load_policy(&policy) else {
                return ExitCode::from(EXIT_USAGE);
            };
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::aws::iam::iam_policy(&policy))
                    .expect("a policy is JSON")
            );
            ExitCode::SUCCESS
        }
        Command::Run(args) => {
            let cfg = crate::service::run::RunConfig {
                policy: args.policy,
                queue_url: args.queue_url,
                dry_run: args.dry_run,
                resync_interval: args.resync_interval,
                initial_resync: !args.no_initial_resync,
                concurrency: usize::from(args.concurrency),
                listen: args.listen,
                shutdown_timeout: args.shutdown_timeout,
                dead_letter_queue_url: args.dead_letter_queue_url,
                settle_interval: args.settle_interval,
                intent_key_id: args.intent_key_id,
            };
            match runtime().block_on(crate::service::run::run(cfg)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(e.exit_code())
                }
            }
        }
        Command::Evaluate {
            policy,
            event,
            apply,
        } => {
            let Some(policy) = load_policy(&policy) else {
                return ExitCode::from(EXIT_USAGE);
            };
            runtime().block_on(evaluate_command(policy, &event, apply.options(1)))
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The SDK's futures are large, a look nests several of them, and a debug build's frames
        // are larger still: 8 MiB per worker instead of tokio's 2 leaves ample room.
        .thread_stack_size(8 * 1024 * 1024)
        .build()
        .expect("the tokio runtime starts")
}

fn load_policy(path: &std::path::Path) -> Option<Policy> {
    match policy::load_file(path) {
        Ok(p) => Some(p),
        Err(errors) => {
            eprintln!("{errors}");
            None
        }
    }
}

fn validate(files: &[PathBuf]) -> ExitCode {
    let mut ok = true;
    for f in files {
        match policy::load_file(f) {
            Ok(p) => {
                let enabled: Vec<String> = p
                    .controls
                    .iter()
                    .map(|(id, s)| format!("{id}={}", s.action.as_str()))
                    .collect();
                println!(
                    "{}: ok: policy `{}`{}, {}",
                    f.display(),
                    p.name,
                    if p.dry_run { " (dry-run)" } else { "" },
                    if enabled.is_empty() {
                        "every control off".to_string()
                    } else {
                        enabled.join(" ")
                    }
                );
            }
            Err(errors) => {
                ok = false;
                eprintln!("{errors}");
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_USAGE)
    }
}

/// The region of the AWS configuration (AWS_REGION, profile), if any.
async fn configured_region() -> Option<String> {
    aws_config::meta::region::RegionProviderChain::default_provider()
        .region()
        .await
        .map(|r| r.to_string())
}

struct Bar(ProgressBar);

impl Progress for Bar {
    fn add_total(&self, n: u64) {
        self.0.inc_length(n);
    }
    fn advance(&self) {
        self.0.inc(1);
    }
}

async fn audit_command(
    policy: Policy,
    mut regions: Vec<String>,
    output: ReportOutput,
    concurrency: usize,
    apply: Option<audit::ApplyOptions>,
) -> ExitCode {
    if regions.is_empty() {
        regions = policy.scope.regions.clone();
    }
    if regions.is_empty() {
        match configured_region().await {
            Some(r) => regions.push(r),
            None => {
                eprintln!("error: no region to sweep: pass --region, set spec.scope.regions, or set AWS_REGION");
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    if let Some(r) = regions.iter().find(|r| !policy.scope.includes_region(r)) {
        eprintln!(
            "error: region {r} is outside the policy's scope ({})",
            policy.scope.regions.join(", ")
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} reading {pos}/{len} resources {wide_bar} {elapsed}",
            )
            .expect("a valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let report = audit::sweep(
        &policy,
        &regions,
        concurrency,
        &Bar(bar.clone()),
        apply.as_ref(),
    )
    .await;
    bar.finish_and_clear();
    match output {
        ReportOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("the report is JSON")
        ),
        ReportOutput::Table => print!("{}", report.to_table()),
    }
    ExitCode::from(report.exit_code() as u8)
}

async fn evaluate_command(
    policy: Policy,
    source: &str,
    apply: Option<audit::ApplyOptions>,
) -> ExitCode {
    let body = if source == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s).map(|_| s)
    } else {
        std::fs::read_to_string(source)
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read the event from {source}: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let decoded = match event::decode(&body) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {source}: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let Some(region) = configured_region()
        .await
        .or_else(|| policy.scope.regions.first().cloned())
    else {
        eprintln!("error: no region: set AWS_REGION (used for events that name none)");
        return ExitCode::from(EXIT_USAGE);
    };
    let report = audit::evaluate_event(&policy, decoded, &region, apply.as_ref()).await;
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("the report is JSON")
    );
    ExitCode::from(report.exit_code() as u8)
}

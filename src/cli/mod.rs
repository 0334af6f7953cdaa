//! The command line: parses arguments, hands off to the library, maps outcomes to exit codes.
//!
//! Exit codes (a contract): 0 nothing FAILED, 1 something FAILED, 2 a usage, policy or input
//! error, 3 something could not be evaluated (e.g. AWS errors).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::aws::iam::{Deployment, IntentKeyId, Queue};
use crate::domain::catalogue;
use crate::domain::event;
use crate::domain::policy::{self, Policy};
use audit::Progress;

pub mod audit;
pub mod logs;
pub mod report;
pub mod table;

const EXIT_USAGE: u8 = 2;

/// Keeps Amazon SageMaker resources compliant with the AWS Security Hub controls SageMaker.1 to
/// SageMaker.25.
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

    /// Log format on stderr: `text` for people, `json` (one object per line) for collectors. The
    /// level comes from RUST_LOG (default: `run` logs what it does at info, every other command
    /// only warnings). Text has colours only on a terminal, and never with NO_COLOR set.
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

/// The value of a boolean flag's environment variable, as people write them in deployment
/// files: 1/0, true/false, yes/no, on/off (also y/n, t/f) in any case; empty is false, as if unset.
fn boolish(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" | "y" | "t" => Ok(true),
        "0" | "false" | "no" | "off" | "n" | "f" | "" => Ok(false),
        _ => Err("write 1 or 0, true or false, yes or no, on or off".to_string()),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the control catalogue: every control the guard enforces, what each judges and how it can be fixed.
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
        #[command(flatten)]
        org: OrgArgs,
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
        #[command(flatten)]
        org: OrgArgs,
    },
    /// Print the least-privilege IAM policy (JSON) the guard needs to carry out a policy.
    ///
    /// Each permission is granted on the resources it is used on: SageMaker calls on the ARN
    /// pattern of each resource type they touch (the list calls, which IAM cannot scope, on
    /// "*"), iam:PassRole only towards SageMaker, findings on the account's default Security Hub
    /// product, outcome events on the policy's bus, the queues and the intent key on their ARNs.
    /// What the flags below do not name stays a wildcard, and a note on stderr says so.
    IamPolicy(Box<IamPolicyArgs>),
    /// Ask a running `run` whether it is healthy (GET /healthz): exit 0 when it answers 200,
    /// else 1 with the reason. For container health checks in images without an HTTP client
    /// (the distroless image; ECS's `healthCheck`).
    Healthcheck {
        /// The URL to ask.
        #[arg(long, default_value = "http://127.0.0.1:9464/healthz")]
        url: String,
        /// How long to wait for the answer.
        #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
}

/// The flags of `iam-policy`: the policy, and where the guard runs, to narrow each statement.
#[derive(Debug, clap::Args)]
pub struct IamPolicyArgs {
    /// The policy file.
    #[arg(long, env = "SAGEMAKER_GUARD_POLICY")]
    pub policy: PathBuf,
    /// The partition of every ARN.
    #[arg(long, default_value = "aws", value_parser = partition)]
    pub partition: String,
    /// An account the guard acts in (repeatable). Default: any.
    #[arg(long = "account", value_name = "ACCOUNT", value_parser = account)]
    pub accounts: Vec<String>,
    /// A region the guard acts in (repeatable). Default: any.
    #[arg(long = "region", value_name = "REGION", value_parser = region)]
    pub regions: Vec<String>,
    /// The queue `run` reads and recreate intents are stored on (`run --queue-url`). Default:
    /// any queue.
    #[arg(long, env = "SAGEMAKER_GUARD_QUEUE_URL", value_name = "URL", value_parser = queue_url)]
    pub queue_url: Option<Queue>,
    /// The same queue by its ARN; it wins over --queue-url.
    #[arg(long, value_name = "ARN", value_parser = queue_arn)]
    pub queue_arn: Option<Queue>,
    /// Where undecodable messages go (`run --dead-letter-queue-url`, or the queue's redrive
    /// target). Default: any queue of the queue's account and region.
    #[arg(long, env = "SAGEMAKER_GUARD_DEAD_LETTER_QUEUE_URL", value_name = "URL", value_parser = queue_url)]
    pub dead_letter_queue_url: Option<Queue>,
    /// The same dead-letter queue by its ARN; it wins over --dead-letter-queue-url.
    #[arg(long, value_name = "ARN", value_parser = queue_arn)]
    pub dead_letter_queue_arn: Option<Queue>,
    /// The KMS key that signs recreate intents (`run --intent-key-id`): its ARN (best: exactly
    /// that key), its id, an alias (alias/NAME) or an alias ARN (any key with that alias). Used
    /// only when the policy recreates notebooks. Default: any key.
    #[arg(long, env = "SAGEMAKER_GUARD_INTENT_KEY_ID", value_name = "KEY", value_parser = IntentKeyId::parse)]
    pub intent_key_id: Option<IntentKeyId>,
    /// The DynamoDB table replicas share (`run --state-table`): adds its statement, on that
    /// table.
    #[arg(long, env = "SAGEMAKER_GUARD_STATE_TABLE", value_name = "TABLE")]
    pub state_table: Option<String>,
    /// The role the guard assumes in member accounts (`run --member-role`; {partition} and
    /// {account_id} are filled in): adds sts:AssumeRole on it, in any account.
    #[arg(long, value_name = "TEMPLATE")]
    pub member_role: Option<String>,
    /// Only member roles in this AWS Organization (o-...): the member-role statement gets an
    /// aws:ResourceOrgID condition.
    #[arg(long, value_name = "ID", requires = "member_role", value_parser = organization_id)]
    pub organization_id: Option<String>,
    /// Print the policy of the role the guard assumes in a member account instead: reading and
    /// fixing SageMaker, passing roles to it, and findings. The queues, the intent key, the
    /// state table, outcome events and the member roles are the central role's.
    #[arg(long, conflicts_with_all = ["member_role", "queue_url", "queue_arn", "dead_letter_queue_url", "dead_letter_queue_arn", "intent_key_id", "state_table"])]
    pub member: bool,
}

/// An AWS Organizations id: `o-` and 10 to 32 lower-case letters or digits.
fn organization_id(s: &str) -> Result<String, String> {
    let rest = s.strip_prefix("o-").unwrap_or("");
    if (10..=32).contains(&rest.len())
        && rest
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not an organization id: o- and 10 to 32 lower-case letters or digits"
        ))
    }
}

impl IamPolicyArgs {
    fn deployment(&self) -> Deployment {
        Deployment {
            partition: self.partition.clone(),
            accounts: self.accounts.clone(),
            regions: self.regions.clone(),
            queue: self.queue_arn.clone().or_else(|| self.queue_url.clone()),
            dead_letter_queue: self
                .dead_letter_queue_arn
                .clone()
                .or_else(|| self.dead_letter_queue_url.clone()),
            intent_key: self.intent_key_id.clone(),
            state_table: self.state_table.clone(),
            member_role: self.member_role.clone(),
            organization_id: self.organization_id.clone(),
            member_only: self.member,
        }
    }
}

fn partition(s: &str) -> Result<String, String> {
    crate::aws::iam::is_partition(s)
        .then(|| s.to_string())
        .ok_or_else(|| "not a partition: aws, aws-cn or aws-us-gov".into())
}

fn account(s: &str) -> Result<String, String> {
    crate::aws::iam::is_account(s)
        .then(|| s.to_string())
        .ok_or_else(|| "not an account id: 12 digits".into())
}

fn region(s: &str) -> Result<String, String> {
    crate::aws::iam::is_region(s)
        .then(|| s.to_string())
        .ok_or_else(|| "not a region: write it like us-east-1".into())
}

fn queue_url(s: &str) -> Result<Queue, String> {
    Queue::from_url(s)
}

fn queue_arn(s: &str) -> Result<Queue, String> {
    Queue::from_arn(s)
}

/// The accounts of an organization, reached by assuming a role in each.
#[derive(Debug, Clone, clap::Args)]
pub struct OrgArgs {
    /// The accounts to act in, each through its role: a c7n-org `accounts.yml` (`accounts:` with
    /// account_id, name, regions, role, external_id). The policy's scope still decides where
    /// the guard may act. Without it, only the account of the guard's own credentials.
    #[arg(long, value_name = "FILE", env = "SAGEMAKER_GUARD_ACCOUNTS")]
    pub accounts: Option<PathBuf>,
    /// The role assumed in an account that names none; {partition} and {account_id} are
    /// filled in.
    #[arg(
        long,
        value_name = "TEMPLATE",
        default_value = crate::domain::accounts::DEFAULT_ROLE_TEMPLATE,
        env = "SAGEMAKER_GUARD_MEMBER_ROLE"
    )]
    pub member_role: String,
}

impl OrgArgs {
    /// Where the guard may act: its own account, or every account of the list. A list that
    /// cannot be read or is malformed is a usage error.
    pub async fn reach(&self, policy: &Policy) -> Result<crate::aws::accounts::Reach, String> {
        let base = crate::aws::config::load(None).await;
        crate::aws::accounts::Reach::load(
            base,
            self.accounts.as_deref(),
            &self.member_role,
            policy.organization.as_ref(),
        )
        .await
    }
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
    /// The policy file. SIGHUP, or a change of its contents (read every 5 s), reloads it; an
    /// invalid new policy is refused and the old one kept.
    #[arg(long, env = "SAGEMAKER_GUARD_POLICY")]
    pub policy: PathBuf,
    /// The SQS queue EventBridge delivers SageMaker and Security Hub events to.
    #[arg(long, env = "SAGEMAKER_GUARD_QUEUE_URL")]
    pub queue_url: String,
    /// Plan and log only, whatever the policy says.
    #[arg(long, env = "SAGEMAKER_GUARD_DRY_RUN", action = clap::ArgAction::SetTrue, value_parser = boolish)]
    pub dry_run: bool,
    /// How often every resource in scope is looked at, events or not.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration, env = "SAGEMAKER_GUARD_RESYNC_INTERVAL")]
    pub resync_interval: std::time::Duration,
    /// Skip the sweep at start.
    #[arg(long, env = "SAGEMAKER_GUARD_NO_INITIAL_RESYNC", action = clap::ArgAction::SetTrue, value_parser = boolish)]
    pub no_initial_resync: bool,
    /// Reconciles at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..), env = "SAGEMAKER_GUARD_CONCURRENCY")]
    pub concurrency: u16,
    /// Reconciles at once in one account and region, whose SageMaker API rate limits they share;
    /// the accounts and regions with work waiting take turns, so one large account never starves
    /// the others.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..), env = "SAGEMAKER_GUARD_CONCURRENCY_PER_ACCOUNT_REGION")]
    pub concurrency_per_account_region: u16,
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
    #[command(flatten)]
    pub org: OrgArgs,
    /// A DynamoDB table (partition key `pk`, a string; TTL attribute `expires`) that replicas
    /// share: the blast radius and the pacing counted across all of them, and a lease per
    /// resource so that two never change one resource at once. Without it,
    /// maxRemediationsPerHour and mutationsPerSecond hold per process, so N replicas allow N
    /// times the limit.
    #[arg(long, value_name = "TABLE", env = "SAGEMAKER_GUARD_STATE_TABLE")]
    pub state_table: Option<String>,
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
    // The service tells what it does; a one-off command prints its report and only warns.
    let default_level = match cli.command {
        Command::Run(_) => "warn,sagemaker_guard=info",
        _ => "warn",
    };
    init_logging(cli.log_format, default_level);
    crate::aws::config::set_attempt_timeout(cli.aws_attempt_timeout);
    run(cli.command)
}

fn init_logging(format: LogFormat, default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    // Colours only for a person at a terminal: a file or a log collector gets plain text.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(logs::JsonLines)
            .init(),
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
            org,
        } => {
            let Some(policy) = load_policy(&policy) else {
                return ExitCode::from(EXIT_USAGE);
            };
            let apply = apply.options(concurrency);
            runtime().block_on(audit_command(
                policy,
                regions,
                output,
                concurrency,
                apply,
                org,
            ))
        }
        Command::Healthcheck { url, timeout } => {
            match runtime().block_on(crate::service::http::check(&url, timeout)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {url}: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::IamPolicy(args) => {
            let Some(policy) = load_policy(&args.policy) else {
                return ExitCode::from(EXIT_USAGE);
            };
            let deployment = args.deployment();
            println!(
                "{}",
                serde_json::to_string_pretty(&crate::aws::iam::iam_policy(&policy, &deployment))
                    .expect("a policy is JSON")
            );
            for note in crate::aws::iam::notes(&policy, &deployment) {
                eprintln!("note: {note}");
            }
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
                concurrency_per_target: usize::from(args.concurrency_per_account_region),
                listen: args.listen,
                shutdown_timeout: args.shutdown_timeout,
                dead_letter_queue_url: args.dead_letter_queue_url,
                settle_interval: args.settle_interval,
                intent_key_id: args.intent_key_id,
                accounts: args.org.accounts,
                member_role: args.org.member_role,
                state_table: args.state_table,
            };
            match runtime().block_on(crate::service::run::run(cfg)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    match &e {
                        // Each of a policy's problems says `error:` itself.
                        crate::service::run::RunError::Policy(errors) => eprintln!("{errors}"),
                        e => eprintln!("error: {e}"),
                    }
                    ExitCode::from(e.exit_code())
                }
            }
        }
        Command::Evaluate {
            policy,
            event,
            apply,
            org,
        } => {
            let Some(policy) = load_policy(&policy) else {
                return ExitCode::from(EXIT_USAGE);
            };
            runtime().block_on(evaluate_command(policy, &event, apply.options(1), org))
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
        Ok(p) => {
            for w in p.warnings_at(jiff::Timestamp::now()) {
                eprintln!("{w}");
            }
            Some(p)
        }
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
                for w in p.warnings_at(jiff::Timestamp::now()) {
                    eprintln!("{w}");
                }
                print!("{}", validated(&f.display().to_string(), &p));
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

/// What `policy validate` says of a valid policy: its name, and each control's action, marked
/// `(dry-run)` when the policy's or the control's own dryRun keeps it from changing anything.
fn validated(file: &str, p: &Policy) -> String {
    let mut out = format!("{file}: ok: policy `{}`", p.name);
    if p.dry_run {
        out.push_str(", dry-run (spec.dryRun): nothing is changed");
    }
    out.push('\n');
    for id in catalogue::ControlId::ALL {
        let action = match p.control(id) {
            None => "off".to_string(),
            Some(c) if p.dry_run || c.dry_run => format!("{} (dry-run)", c.action.as_str()),
            Some(c) => c.action.as_str().to_string(),
        };
        out.push_str(&format!("  {:<12} {action}\n", id.as_str()));
    }
    out
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
    org: OrgArgs,
) -> ExitCode {
    let reach = match org.reach(&policy).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
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
        &reach,
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
    org: OrgArgs,
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
    let reach = match org.reach(&policy).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let report = audit::evaluate_event(&policy, decoded, &region, apply.as_ref(), &reach).await;
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("the report is JSON")
    );
    ExitCode::from(report.exit_code() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boolean_environment_values_mean_what_people_mean() {
        for v in ["1", "true", "TRUE", "yes", "on", "y", "t", " On "] {
            assert_eq!(boolish(v), Ok(true), "{v}");
        }
        for v in ["0", "false", "False", "no", "off", "n", "f", ""] {
            assert_eq!(boolish(v), Ok(false), "{v}");
        }
        assert!(boolish("maybe").is_err());
    }

    #[test]
    fn a_boolean_flag_given_on_the_command_line_is_true() {
        let run = |extra: &[&str]| {
            let args = [
                "sagemaker-guard",
                "run",
                "--policy",
                "p",
                "--queue-url",
                "q",
            ];
            match Cli::try_parse_from(args.iter().chain(extra))
                .unwrap()
                .command
            {
                Command::Run(a) => (a.dry_run, a.no_initial_resync),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(run(&["--dry-run", "--no-initial-resync"]), (true, true));
    }
}

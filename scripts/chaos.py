"""The Python half of scripts/chaos: the chaos run of issue 11, item 7. Uses boto3 from the
emulator's venv (tests/emulator/requirements.txt) and the standard library; every request goes
to the emulator on the loopback interface.

  chaos.py --emulator URL --binary PATH --work DIR [--seed N] [--duration S] [--converge S]
           [--replicas R] [--kill-every S] [--failpoint-odds P] [--throttle-rate X]
           [--error-rate Y] [--limit L] [--json FILE]

What it does, in order (docs/reliability.md says why):

 1. Sets up an organization on the emulator: a central account (the guard's queue, dead-letter
    queue, DynamoDB state table and KMS HMAC intent key, in us-east-1) and three member accounts
    with the guard's member role, trusting the central account with an external id; an
    accounts.yml; a policy that remediates SageMaker.1, .2, .3, .4 and .8 and tags .5, with an
    exemption tag, a 90 s grace period and maxRemediationsPerHour L (default 5).
 2. Seeds each member account and region (us-east-1, eu-west-1) with notebooks, an endpoint
    config (with its endpoint) and a model, noncompliant at random (random.Random(seed)), one
    account more crowded than the limit allows. Transitions take 0.5 to 1 s per account.
 3. Starts R replicas of `sagemaker-guard run` (default 3) on the one queue and state table, all
    at first with SAGEMAKER_GUARD_FAILPOINT=after-delete, and sends a CloudTrail event for each
    resource; injects throttling and 5xx into the member accounts' SageMaker calls and the
    central account's SQS, DynamoDB and KMS calls.
 4. For --duration seconds: SIGKILLs a random replica every --kill-every seconds (jittered) and
    restarts it; SIGKILLs any replica whose log says it reached the failpoint (a recreate's
    delete done, its create not) and restarts it, with the failpoint again with odds P; sends
    state-change events as notebooks end transitions, duplicates now and then, poison messages,
    creates a new noncompliant notebook per account, and exempts a notebook scheduled for a
    recreate.
 5. Turns the faults off, stops killing (replicas in failpoint mode are replaced), and waits up
    to --converge seconds for every resource to settle and the queue to empty.
 6. Checks, prints a table and the figures, and exits 1 if any check failed (2 on a usage or
    set-up error).
"""
import argparse
import base64
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field

CENTRAL = "300000000000"
MEMBERS = ["310000000001", "310000000002", "310000000003"]
REGIONS = ["us-east-1", "eu-west-1"]
HOME = "us-east-1"
EXTERNAL_ID = "chaos-run"
ROLE_NAME = "SageMakerGuardMember"
EXEMPT_TAG = "sagemaker-guard/exempt"
RESTART_TAG = "sagemaker-guard/restart"
RECREATED_TAG = "sagemaker-guard/recreated-at"
RECREATE_AFTER_TAG = "sagemaker-guard/recreate-after"
MARK_TAG = "sagemaker-guard/noncompliant"
REPLACED_TAG = "sagemaker-guard/replaced-by"
REPLACEMENT_SUFFIX = "-guard-ha"
SUPPORTED_PLATFORM = "notebook-al2023-v1"
FORGED_NOTEBOOK = "nb-backdoor"
GRACE_S = 90
SETTLE_INTERVAL = "1s"
RESYNC_INTERVAL = "30s"
VISIBILITY_TIMEOUT = 20
MAX_RECEIVE_COUNT = 10


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def now():
    return time.time()


# --- AWS clients and the emulator's control API ---------------------------------------------------

_local = threading.local()
_make_lock = threading.Lock()
URL = None


def client(service, account, region=HOME):
    """One boto3 client per thread, service, account and region. Retries generously: the faults
    this run injects hit the driver's own calls in the same accounts."""
    import boto3
    from botocore.config import Config

    key = (service, account, region)
    if not hasattr(_local, "clients"):
        _local.clients = {}
    if key not in _local.clients:
        with _make_lock:
            if not hasattr(_local, "session"):
                _local.session = boto3.session.Session()
            _local.clients[key] = _local.session.client(
                service, endpoint_url=URL, region_name=region,
                aws_access_key_id=account, aws_secret_access_key="x",
                config=Config(retries={"total_max_attempts": 15, "mode": "standard"},
                              connect_timeout=5, read_timeout=30),
            )
    return _local.clients[key]


def emulator(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{URL}/sg-emulator/{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


# --- the fleet to seed ----------------------------------------------------------------------------

@dataclass(eq=False)
class Notebook:
    account: str
    region: str
    name: str
    profile: str            # ok, inplace, recreate, grace, exempt
    params: dict            # CreateNotebookInstance's parameters
    tags: dict
    running: bool
    transition: float = 0.0
    first_event: float = 0.0
    compliant_at: float = 0.0
    late: bool = False      # created during the chaos, not at the start

    @property
    def needs_recreate(self):
        return (self.params.get("DirectInternetAccess") != "Disabled"
                or not self.params.get("SubnetId"))

    @property
    def needs_inplace(self):
        return (self.params.get("RootAccess") != "Disabled"
                or self.params.get("PlatformIdentifier") != SUPPORTED_PLATFORM)

    @property
    def remediable(self):
        return self.profile != "exempt" and (self.needs_recreate or self.needs_inplace)

    def fix_kind(self):
        if not self.remediable:
            return None
        if self.needs_recreate:
            return "recreate after grace period" if self.profile == "grace" else "recreate"
        return "in place"

    def floor(self):
        """The sum of the transitions its fix waits for (and the grace period)."""
        t = self.transition
        kind = self.fix_kind()
        if kind == "in place":
            return 3 * t if self.running else t             # stop, update, start / update
        if kind == "recreate":
            return 3 * t                                    # stop, delete, create / delete, create, stop
        if kind == "recreate after grace period":
            return GRACE_S + 3 * t
        return 0.0


@dataclass(eq=False)
class EndpointConfig:
    account: str
    region: str
    name: str
    endpoint: str
    model: str
    instances: int
    transition: float = 0.0
    first_event: float = 0.0
    compliant_at: float = 0.0

    @property
    def remediable(self):
        return self.instances < 2

    def fix_kind(self):
        return "endpoint config replaced" if self.remediable else None

    def floor(self):
        return self.transition if self.remediable else 0.0   # UpdateEndpoint


@dataclass(eq=False)
class Model:
    account: str
    region: str
    name: str
    isolation: bool
    first_event: float = 0.0
    compliant_at: float = 0.0

    remediable = False

    def fix_kind(self):
        return None if self.isolation else "marked (tag)"

    def floor(self):
        return 0.0


# Per account: the notebook profiles at the start. The first account is crowded: more fixes
# than maxRemediationsPerHour (5) allows, so some are deferred by the blast radius.
PROFILES = {
    0: ["ok", "exempt", "inplace", "inplace", "inplace", "recreate", "recreate", "grace"],
    1: ["ok", "ok", "ok", "exempt", "inplace", "inplace", "recreate", "grace"],
    2: ["ok", "ok", "ok", "exempt", "inplace", "inplace", "recreate", "grace"],
}
# Per account and region: the endpoint config's initial instance count (1 fails SageMaker.4).
ENDPOINT_INSTANCES = {0: [1, 2], 1: [2, 1], 2: [2, 2]}
# The notebooks created during the chaos, one per account.
LATE_PROFILES = ["inplace", "recreate", "recreate"]
INSTANCE_TYPES = ["ml.t3.medium", "ml.t3.large", "ml.t3.xlarge", "ml.m5.xlarge"]


def role_arn(account):
    return f"arn:aws:iam::{account}:role/chaos-notebook"


def seed_subnet(account, region):
    return f"subnet-0seed{account[-1]}{REGIONS.index(region)}"


def policy_network(account, region):
    return (f"subnet-0guard{account[-1]}{REGIONS.index(region)}",
            [f"sg-0guard{account[-1]}{REGIONS.index(region)}"])


def notebook_params(rng, account, region, name, profile):
    """CreateNotebookInstance's parameters for a profile, the rest at random."""
    p = {
        "NotebookInstanceName": name,
        "InstanceType": rng.choice(INSTANCE_TYPES),
        "RoleArn": role_arn(account),
        "VolumeSizeInGB": rng.choice([5, 10, 20, 50]),
        "SubnetId": seed_subnet(account, region),
        "SecurityGroupIds": [f"sg-0seed{rng.randrange(16 ** 6):06x}"],
        "DirectInternetAccess": "Disabled",
        "RootAccess": "Disabled",
        "PlatformIdentifier": SUPPORTED_PLATFORM,
    }
    if rng.random() < 0.5:
        p["LifecycleConfigName"] = "chaos-lc"
    if rng.random() < 0.3:
        p["KmsKeyId"] = f"arn:aws:kms:{region}:{account}:key/chaos-{rng.randrange(1000):03d}"
    if profile == "inplace" or profile == "exempt":
        which = rng.choice(["root", "platform", "both"])
        if which in ("root", "both"):
            p["RootAccess"] = "Enabled"
        if which in ("platform", "both"):
            p["PlatformIdentifier"] = "notebook-al2-v3"
    if profile in ("recreate", "grace") or (profile == "exempt" and rng.random() < 0.5):
        which = rng.choice(["internet", "subnet", "both"])
        if which in ("subnet", "both"):
            p.pop("SubnetId")
            p.pop("SecurityGroupIds")
            p["DirectInternetAccess"] = "Enabled"   # AWS needs a subnet for Disabled
        if which == "internet":
            p["DirectInternetAccess"] = "Enabled"
        if rng.random() < 0.5:
            p["RootAccess"] = "Enabled"             # rides along with the recreate
    return p


def notebook_tags(rng, name, profile):
    tags = {"owner": rng.choice(["team-a", "team-b", "team-c"]),
            "cost-center": str(rng.randrange(1000, 9999)), "chaos/name": name}
    if profile == "exempt":
        tags[EXEMPT_TAG] = "true"
    return tags


def plan_fleet(rng, transitions):
    notebooks, configs, models = [], [], []
    for ai, account in enumerate(MEMBERS):
        profiles = list(PROFILES[ai])
        rng.shuffle(profiles)
        for i, profile in enumerate(profiles):
            region = REGIONS[i % 2]
            name = f"nb-{ai + 1}{i % 2}-{i:02d}"
            notebooks.append(Notebook(
                account, region, name, profile, notebook_params(rng, account, region, name, profile),
                notebook_tags(rng, name, profile), running=rng.random() < 0.7,
                transition=transitions[account]))
        for ri, region in enumerate(REGIONS):
            model = f"model-{ai + 1}{ri}"
            models.append(Model(account, region, model, isolation=rng.random() < 0.5))
            configs.append(EndpointConfig(account, region, f"epc-{ai + 1}{ri}", f"ep-{ai + 1}{ri}", model,
                                          ENDPOINT_INSTANCES[ai][ri], transition=transitions[account]))
    return notebooks, configs, models


def late_notebooks(rng, transitions):
    out = []
    for ai, account in enumerate(MEMBERS):
        region = rng.choice(REGIONS)
        name = f"nb-{ai + 1}{REGIONS.index(region)}-late"
        profile = LATE_PROFILES[ai]
        out.append(Notebook(account, region, name, profile, notebook_params(rng, account, region, name, profile),
                            notebook_tags(rng, name, profile), running=True, transition=transitions[account],
                            late=True))
    return out


# --- set-up ---------------------------------------------------------------------------------------

def setup_central(work):
    sqs = client("sqs", CENTRAL)
    dlq_url = sqs.create_queue(QueueName="chaos-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName="chaos", Attributes={
        "VisibilityTimeout": str(VISIBILITY_TIMEOUT),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}),
    })["QueueUrl"]
    ddb = client("dynamodb", CENTRAL)
    ddb.create_table(TableName="chaos-state", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    ddb.update_time_to_live(TableName="chaos-state",
                            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"})
    key = client("kms", CENTRAL).create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC",
                                            Description="sagemaker-guard chaos intents")["KeyMetadata"]["Arn"]
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{CENTRAL}:root"}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}]})
    for account in MEMBERS:
        client("iam", account).create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=trust)
    with open(os.path.join(work, "accounts.yml"), "w") as f:
        f.write("accounts:\n")
        for i, account in enumerate(MEMBERS):
            f.write(f'- account_id: "{account}"\n  name: chaos-member-{i + 1}\n'
                    f"  regions: [{', '.join(REGIONS)}]\n"
                    f"  role: arn:aws:iam::{account}:role/{ROLE_NAME}\n  external_id: {EXTERNAL_ID}\n")
    return queue_url, dlq_url, "chaos-state", key


def write_policy(work, limit):
    networks = []
    for account in MEMBERS:
        for region in REGIONS:
            subnet, sgs = policy_network(account, region)
            networks.append(f'      - {{account: "{account}", region: {region}, subnetId: {subnet}, '
                            f"securityGroupIds: [{', '.join(sgs)}]}}")
    text = f"""apiVersion: sagemaker-guard/v1
kind: GuardPolicy
metadata:
  name: chaos
spec:
  dryRun: false
  defaultAction: "off"
  scope:
    accounts: [{', '.join(f'"{a}"' for a in MEMBERS)}]
    regions: [{', '.join(REGIONS)}]
  exemptions:
    - name: opt-out-tag
      reason: owner opted out with the {EXEMPT_TAG} tag
      resourceTags: {{{EXEMPT_TAG}: "true"}}
  remediation:
    networks:
{chr(10).join(networks)}
    notebook:
      freshWindow: 30m
      gracePeriod: {GRACE_S}s
      onlyWhenStopped: false
    endpointConfig:
      minInstanceCount: 2
    maxRemediationsPerHour: {limit}
    mutationsPerSecond: 5
  controls:
    SageMaker.1: {{action: remediate}}
    SageMaker.2: {{action: remediate}}
    SageMaker.3: {{action: remediate}}
    SageMaker.4: {{action: remediate}}
    SageMaker.5: {{action: tag}}
    SageMaker.8: {{action: remediate}}
"""
    path = os.path.join(work, "policy.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def create_notebook(nb):
    sm = client("sagemaker", nb.account, nb.region)
    sm.create_notebook_instance(**nb.params, Tags=[{"Key": k, "Value": v} for k, v in nb.tags.items()])


def seed(notebooks, configs, models):
    for account in MEMBERS:
        for region in REGIONS:
            client("sagemaker", account, region).create_notebook_instance_lifecycle_config(
                NotebookInstanceLifecycleConfigName="chaos-lc",
                OnStart=[{"Content": base64.b64encode(b"#!/bin/bash\necho chaos\n").decode()}])
    for nb in notebooks:
        create_notebook(nb)
        if not nb.running:
            client("sagemaker", nb.account, nb.region).stop_notebook_instance(NotebookInstanceName=nb.name)
        if nb.profile == "grace":  # older than freshWindow: scheduled first, recreated after the grace period
            emulator("POST", "notebook-creation-time", {"account": nb.account, "region": nb.region,
                                                        "name": nb.name, "creationTime": int(now()) - 7200})
    for m in models:
        client("sagemaker", m.account, m.region).create_model(
            ModelName=m.name, ExecutionRoleArn=role_arn(m.account),
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/chaos:latest"},
            EnableNetworkIsolation=m.isolation, Tags=[{"Key": "owner", "Value": "team-a"}])
    for c in configs:
        sm = client("sagemaker", c.account, c.region)
        sm.create_endpoint_config(
            EndpointConfigName=c.name,
            ProductionVariants=[{"VariantName": "main", "ModelName": c.model, "InstanceType": "ml.m5.large",
                                 "InitialInstanceCount": c.instances}],
            Tags=[{"Key": "owner", "Value": "team-b"}, {"Key": "chaos/name", "Value": c.name}])
        sm.create_endpoint(EndpointName=c.endpoint, EndpointConfigName=c.name)


# --- events ---------------------------------------------------------------------------------------

def cloudtrail(account, region, event_name, params):
    return json.dumps({
        "version": "0", "id": f"chaos-{random.randrange(1 << 60):x}", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.sagemaker", "account": account, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region, "resources": [],
        "detail": {"eventSource": "sagemaker.amazonaws.com", "eventName": event_name, "awsRegion": region,
                   "recipientAccountId": account, "requestParameters": params, "responseElements": None},
    })


def state_change(account, region, name, status):
    return json.dumps({
        "version": "0", "id": f"chaos-{random.randrange(1 << 60):x}",
        "detail-type": "SageMaker Notebook Instance State Change", "source": "aws.sagemaker",
        "account": account, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": region,
        "resources": [f"arn:aws:sagemaker:{region}:{account}:notebook-instance/{name.lower()}"],
        "detail": {"NotebookInstanceName": name, "NotebookInstanceStatus": status},
    })


def first_event(r):
    if isinstance(r, Notebook):
        return cloudtrail(r.account, r.region, "CreateNotebookInstance", {"notebookInstanceName": r.name})
    if isinstance(r, EndpointConfig):
        return cloudtrail(r.account, r.region, "CreateEndpointConfig", {"endpointConfigName": r.name})
    return cloudtrail(r.account, r.region, "CreateModel", {"modelName": r.name})


def poison_messages():
    """(reason the guard must give, body): each must end in the dead-letter queue, nothing else."""
    a, b = MEMBERS[0], MEMBERS[1]
    disagree = json.loads(cloudtrail(a, HOME, "UpdateNotebookInstance", {"notebookInstanceName": "nb-poison"}))
    disagree["detail"]["recipientAccountId"] = b
    no_resource = json.loads(cloudtrail(a, HOME, "UpdateNotebookInstance", {}))
    # A recreate intent as the guard writes one, but not signed by it: whoever may send to the
    # queue must not make the guard create a notebook (with a role of their choice).
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    arn = f"arn:aws:sagemaker:{HOME}:{a}:notebook-instance/{FORGED_NOTEBOOK}"
    role = f"arn:aws:iam::{a}:role/attacker"
    forged = {"version": "0", "id": "forged", "source": "sagemaker-guard", "detail-type": "Recreate Intent",
              "account": a, "region": HOME, "time": stamp, "resources": [arn],
              "detail": {"id": stamp, "name": FORGED_NOTEBOOK, "arn": arn, "account": a, "region": HOME,
                         "captured": {"instanceType": "ml.t3.medium", "roleArn": role, "creationTime": 1},
                         "fixes": [], "spec": {"InstanceType": "ml.t3.medium", "RoleArn": role},
                         "tags": {RECREATED_TAG: stamp}, "wasRunning": True, "controls": ["SageMaker.1"],
                         "policy": "chaos"}}
    return [
        ("malformed-json", '{"detail-type": "AWS API Call via CloudTrail", chaos'),
        ("not-an-event", json.dumps({"chaos": "not an EventBridge event", "n": 1})),
        ("no-resource", json.dumps(no_resource)),
        ("accounts-disagree", json.dumps(disagree)),
        ("intent-signature", json.dumps(forged)),
    ]


class Sender:
    """Sends to the guard's queue and counts what it sent."""

    def __init__(self, queue_url):
        self.queue_url = queue_url
        self.sent = Counter()
        self.lock = threading.Lock()

    def send(self, body, kind):
        client("sqs", CENTRAL).send_message(QueueUrl=self.queue_url, MessageBody=body)
        with self.lock:
            self.sent[kind] += 1


# --- replicas -------------------------------------------------------------------------------------

class Replica:
    def __init__(self, slot):
        self.slot = slot
        self.proc = None
        self.failpoint = False
        self.log_path = None
        self.log_pos = 0
        self.incarnation = 0


class Fleet:
    """R replicas of `run` with the same flags; each incarnation logs to its own file."""

    def __init__(self, args, work, queue_url, table, key, policy, rng):
        self.args, self.work, self.rng = args, work, rng
        self.replicas = [Replica(i) for i in range(args.replicas)]
        self.cmd = [args.binary, "--log-format", "json", "run", "--policy", policy, "--queue-url", queue_url,
                    "--accounts", os.path.join(work, "accounts.yml"), "--state-table", table,
                    "--intent-key-id", key, "--listen", "127.0.0.1:0", "--settle-interval", SETTLE_INTERVAL,
                    "--resync-interval", RESYNC_INTERVAL, "--concurrency", "8", "--aws-attempt-timeout", "5s",
                    "--shutdown-timeout", "10s"]
        self.env = guard_env()
        self.logs = []
        self.kills = Counter()        # why: random, failpoint, calm
        self.starts = 0
        self.failpoint_hits = []      # (time, slot, log line fields)
        self.crashes = []             # exits nobody asked for

    def start(self, r, failpoint):
        r.incarnation += 1
        r.failpoint = failpoint
        r.log_path = os.path.join(self.work, f"replica-{r.slot}-{r.incarnation}.log")
        r.log_pos = 0
        self.logs.append(r.log_path)
        env = dict(self.env)
        if failpoint:
            env["SAGEMAKER_GUARD_FAILPOINT"] = self.args.failpoint
        with open(r.log_path, "w") as f:
            r.proc = subprocess.Popen(self.cmd, env=env, stdout=subprocess.DEVNULL, stderr=f)
        self.starts += 1

    def kill(self, r, why):
        if r.proc and r.proc.poll() is None:
            r.proc.send_signal(signal.SIGKILL)
            r.proc.wait()
            self.kills[why] += 1
        r.proc = None

    def new_lines(self, r):
        try:
            with open(r.log_path) as f:
                f.seek(r.log_pos)
                text = f.read()
        except FileNotFoundError:
            return []
        end = text.rfind("\n") + 1
        r.log_pos += len(text[:end].encode())
        return text[:end].splitlines()

    def watch(self):
        """SIGKILLs a replica stalled at the failpoint; restarts any that died on its own."""
        for r in self.replicas:
            if r.proc is None:
                continue
            if r.proc.poll() is not None:
                self.crashes.append((now(), r.slot, r.proc.returncode, r.log_path))
                log(f"    replica {r.slot} exited by itself with status {r.proc.returncode}: restarted")
                self.start(r, False)
                continue
            for line in self.new_lines(r):
                if "failpoint reached" not in line:
                    continue
                try:
                    fields = json.loads(line)
                except ValueError:
                    fields = {}
                self.kill(r, "failpoint")
                self.failpoint_hits.append((now(), r.slot, fields))
                log(f"    replica {r.slot} stalled after a recreate's delete: SIGKILL, restart")
                self.start(r, self.rng.random() < self.args.failpoint_odds)
                break

    def stop_all(self):
        """SIGTERM, as an orchestrator stops a replica: each must exit 0."""
        statuses = []
        for r in self.replicas:
            if r.proc and r.proc.poll() is None:
                r.proc.send_signal(signal.SIGTERM)
        for r in self.replicas:
            if r.proc:
                try:
                    statuses.append(r.proc.wait(timeout=40))
                except subprocess.TimeoutExpired:
                    r.proc.kill()
                    statuses.append("hung")
        return statuses


def guard_env():
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and not k.startswith("SAGEMAKER_GUARD_")}
    env.update(AWS_ENDPOINT_URL=URL, AWS_REGION=HOME, AWS_ACCESS_KEY_ID=CENTRAL, AWS_SECRET_ACCESS_KEY="x",
               AWS_EC2_METADATA_DISABLED="true", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               AWS_CONFIG_FILE="/dev/null", RUST_LOG="warn,sagemaker_guard=info", NO_COLOR="1")
    return env


# --- watching the resources -----------------------------------------------------------------------

class Observer(threading.Thread):
    """Plays SageMaker's state-change events (a notebook's status changed: one event, as
    EventBridge delivers them) and notes when each resource that needed a fix is first seen
    compliant and settled, by its own reads."""

    def __init__(self, sender, notebooks, configs, models):
        super().__init__(daemon=True)
        self.sender = sender
        self.notebooks, self.configs, self.models = notebooks, configs, models
        self.statuses = {}
        self.stop = threading.Event()
        self.errors = Counter()

    def run(self):
        while not self.stop.is_set():
            try:
                self.look()
            except Exception as e:  # keep watching; the final checks read again
                self.errors[type(e).__name__] += 1
            self.stop.wait(0.5)

    def look(self):
        by_place = defaultdict(list)
        for nb in list(self.notebooks):
            by_place[(nb.account, nb.region)].append(nb)
        for (account, region), nbs in by_place.items():
            sm = client("sagemaker", account, region)
            live = {}
            for page in sm.get_paginator("list_notebook_instances").paginate():
                for s in page["NotebookInstances"]:
                    live[s["NotebookInstanceName"]] = s["NotebookInstanceStatus"]
            for nb in nbs:
                status = live.get(nb.name, "<none>")
                key = (account, region, nb.name)
                if key in self.statuses and self.statuses[key] != status and status != "<none>":
                    self.sender.send(state_change(account, region, nb.name, status), "state-change")
                self.statuses[key] = status
                if nb.remediable and not nb.compliant_at and status in ("InService", "Stopped"):
                    d = describe_notebook(nb)
                    if d and not notebook_problems(nb, d):
                        nb.compliant_at = now()
        for c in self.configs:
            if c.remediable and not c.compliant_at:
                e = client("sagemaker", c.account, c.region).describe_endpoint(EndpointName=c.endpoint)
                if e["EndpointConfigName"] == c.name + REPLACEMENT_SUFFIX and e["EndpointStatus"] == "InService":
                    c.compliant_at = now()
        for m in self.models:
            if not m.isolation and not m.compliant_at:
                if MARK_TAG in tags_of(m.account, m.region, model_arn(m)):
                    m.compliant_at = now()


def model_arn(m):
    return f"arn:aws:sagemaker:{m.region}:{m.account}:model/{m.name}"


def tags_of(account, region, arn):
    sm = client("sagemaker", account, region)
    tags, token = {}, None
    while True:
        page = sm.list_tags(ResourceArn=arn, **({"NextToken": token} if token else {}))
        tags.update({t["Key"]: t["Value"] for t in page["Tags"]})
        token = page.get("NextToken")
        if not token:
            return tags


def describe_notebook(nb):
    """DescribeNotebookInstance with its tags, or None when there is no notebook of that name."""
    from botocore.exceptions import ClientError

    sm = client("sagemaker", nb.account, nb.region)
    try:
        d = sm.describe_notebook_instance(NotebookInstanceName=nb.name)
    except ClientError as e:
        if "RecordNotFound" in str(e) or "does not exist" in str(e):
            return None
        raise
    try:
        d["Tags"] = tags_of(nb.account, nb.region, d["NotebookInstanceArn"])
    except ClientError:  # deleted in between
        return None
    return d


def notebook_problems(nb, d, exempt_ok=False):
    """What is wrong with a live notebook, judged here (independently of the guard): its
    compliance once fixed, and everything the fix must have kept. [] when all is well."""
    problems = []
    tags = d.get("Tags", {})
    exempt = tags.get(EXEMPT_TAG) == "true"
    p = nb.params
    if not exempt:
        if d.get("DirectInternetAccess") != "Disabled":
            problems.append("DirectInternetAccess is not Disabled")
        if not d.get("SubnetId"):
            problems.append("no subnet")
        if d.get("RootAccess") != "Disabled":
            problems.append("RootAccess is not Disabled")
        if d.get("PlatformIdentifier") != SUPPORTED_PLATFORM:
            problems.append(f"platform {d.get('PlatformIdentifier')}")
    want_status = "InService" if nb.running else "Stopped"
    if d["NotebookInstanceStatus"] != want_status:
        problems.append(f"{d['NotebookInstanceStatus']}, was {want_status}")
    if RESTART_TAG in tags:
        problems.append(f"still tagged {RESTART_TAG}")
    # What every fix keeps.
    for k, live in (("InstanceType", "InstanceType"), ("RoleArn", "RoleArn"), ("VolumeSizeInGB", "VolumeSizeInGB"),
                    ("LifecycleConfigName", "NotebookInstanceLifecycleConfigName"), ("KmsKeyId", "KmsKeyId")):
        if d.get(live) != p.get(k):
            problems.append(f"{k} {d.get(live)!r}, seeded {p.get(k)!r}")
    if p.get("SubnetId"):
        if d.get("SubnetId") != p["SubnetId"] or sorted(d.get("SecurityGroups", [])) != sorted(p["SecurityGroupIds"]):
            problems.append(f"network {d.get('SubnetId')}/{d.get('SecurityGroups')}, seeded "
                            f"{p['SubnetId']}/{p['SecurityGroupIds']}")
    elif not exempt:
        subnet, sgs = policy_network(nb.account, nb.region)
        if d.get("SubnetId") != subnet or sorted(d.get("SecurityGroups", [])) != sorted(sgs):
            problems.append(f"network {d.get('SubnetId')}/{d.get('SecurityGroups')}, the policy's {subnet}/{sgs}")
    if exempt or not nb.needs_inplace:  # settings no fix was due to change
        for k in ("RootAccess", "PlatformIdentifier"):
            if d.get(k) != p.get(k):
                problems.append(f"{k} {d.get(k)!r}, seeded {p.get(k)!r}")
    for k, v in nb.tags.items():
        if tags.get(k) != v:
            problems.append(f"tag {k}={tags.get(k)!r}, seeded {v!r}")
    return problems


# --- the emulator's mutation log: fixes per account and hour ----------------------------------------

def guard_key(access_key):
    """The guard acts in member accounts with its role's session keys; this run's own calls are
    signed with 12-digit keys (the emulator's account selector)."""
    return not (access_key and access_key.isdigit() and len(access_key) == 12)


def resource_of(m):
    req = m.get("request") or {}
    action = m["action"]
    if "NotebookInstanceName" in req:
        return ("notebook", req["NotebookInstanceName"].lower())
    if action in ("CreateEndpointConfig", "UpdateEndpoint") and "EndpointConfigName" in req:
        return ("endpoint-config", req["EndpointConfigName"].removesuffix(REPLACEMENT_SUFFIX).lower())
    for k, v in req.items():
        if k.endswith("Name") and isinstance(v, str):
            return (k, v.lower())
    return ("arn", (req.get("ResourceArn") or "").lower())


# The one change each fix makes exactly once, whatever crashes and retries: an in-place fix's
# update, a recreate's delete, SageMaker.4's replacement config.
CORE_CHANGES = ("UpdateNotebookInstance", "DeleteNotebookInstance", "CreateEndpointConfig")


def fixes_started(mutations):
    """Each fix the guard started, from the emulator's log of SageMaker changes: the guard's
    first change (tags aside; any outcome, even a throttled attempt) to a resource since this run
    created or changed it, and then every further successful core change (CORE_CHANGES) beyond
    one: a fix resumed after a crash, or finished from a recreate intent, makes more changes but
    only one core change, while a second fix of the same resource (say an in-place fix, then a
    recreate) makes a second. Returns [(time, account, region, resource, action)]."""
    started, open_, cores = [], set(), Counter()
    for m in mutations:
        key = (m["account"], m["region"], resource_of(m))
        if m["action"] in ("AddTags", "DeleteTags"):
            continue
        if not guard_key(m["accessKeyId"]):
            open_.discard(key)
            cores[key] = 0
            continue
        if key not in open_:
            open_.add(key)
            started.append((m["time"], m["account"], m["region"], key[2], m["action"]))
        if m["action"] in CORE_CHANGES and m["status"] == 200:
            cores[key] += 1
            if cores[key] > 1:
                started.append((m["time"], m["account"], m["region"], key[2], m["action"]))
    return started


def crash_recreates(hits, mutations, notebooks, verdicts):
    """For each replica SIGKILLed at the after-delete failpoint: the notebook whose delete it had
    just made (the guard's last successful DeleteNotebookInstance before the kill, not yet
    claimed), and whether another process created it again (a create signed by another role
    session: each process assumes the member role for itself) and it is there now, recreated.
    Returns [(time, notebook, why not, ok)]."""
    out, claimed = [], set()
    deletes = [m for m in mutations if m["action"] == "DeleteNotebookInstance" and m["status"] == 200
               and guard_key(m["accessKeyId"])]
    for t, _, _ in hits:
        before = [m for m in deletes if m["time"] <= t and id(m) not in claimed]
        if not before:
            out.append((t, "?", "no delete found before the kill", False))
            continue
        d = before[-1]
        claimed.add(id(d))
        name = d["request"]["NotebookInstanceName"]
        creates = [m for m in mutations if m["action"] == "CreateNotebookInstance" and m["status"] == 200
                   and m["time"] > t and m["account"] == d["account"] and m["region"] == d["region"]
                   and m["request"].get("NotebookInstanceName", "").lower() == name.lower()]
        nb = next((nb for nb in notebooks if (nb.account, nb.region, nb.name.lower())
                   == (d["account"], d["region"], name.lower())), None)
        state = verdicts.get(nb, ("?", False, "not seeded"))
        if not creates:
            out.append((t, name, "nobody", False))
        elif creates[0]["accessKeyId"] == d["accessKeyId"]:
            out.append((t, name, "the same process?", False))
        elif not (state[1] and state[2] == "recreated"):
            out.append((t, name, f"another, but it is {state[0]}: {state[2]}", False))
        else:
            out.append((t, name, "", True))
    return out


def per_account_hour(started):
    out = Counter()
    for t, account, _, _, _ in started:
        out[(account, time.strftime("%Y-%m-%dT%H", time.gmtime(t)))] += 1
    return out


# --- the replicas' logs -----------------------------------------------------------------------------

def read_logs(paths):
    """Every JSON line of every incarnation's log."""
    lines = []
    for path in paths:
        try:
            with open(path) as f:
                for line in f:
                    try:
                        lines.append(json.loads(line))
                    except ValueError:
                        lines.append({"unparsed": line.rstrip()[:500]})
        except FileNotFoundError:
            pass
    return lines


def last_reconciles(lines):
    """(account, region, kind, name lower) -> the last `reconciled` line for it (by timestamp)."""
    last = {}
    for v in lines:
        f = v.get("fields", {})
        if f.get("message") != "reconciled":
            continue
        key = (f.get("account"), f.get("region"), f.get("kind"), str(f.get("resource", "")).lower())
        if key not in last or v.get("timestamp", "") >= last[key].get("timestamp", ""):
            last[key] = v
    return last


def execution_result(v):
    e = v.get("fields", {}).get("execution")
    if isinstance(e, str):
        try:
            e = json.loads(e)
        except ValueError:
            return None
    return e.get("result") if isinstance(e, dict) else None


# --- queues ----------------------------------------------------------------------------------------

def queue_counts(url):
    a = client("sqs", CENTRAL).get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed"])["Attributes"]
    return (int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"]),
            int(a["ApproximateNumberOfMessagesDelayed"]))


def drain(url):
    sqs = client("sqs", CENTRAL)
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                  AttributeNames=["All"], VisibilityTimeout=300, WaitTimeSeconds=1).get("Messages", [])
        if not got:
            return out
        out.extend(got)


# --- the end checks -------------------------------------------------------------------------------

def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    i = min(len(xs) - 1, max(0, int(round(q * (len(xs) - 1)))))
    return xs[i]


class Verdicts:
    def __init__(self):
        self.rows = []

    def add(self, name, ok, detail):
        self.rows.append((name, ok, detail))

    @property
    def ok(self):
        return all(ok for _, ok, _ in self.rows)


def classify(args, notebooks, configs, models, lines, started, table_budget):
    """Each seeded resource: (state, ok, why), judged by this run's own reads; the guard's logs
    and the blast radius explain a resource still failing."""
    hour = time.strftime("%Y-%m-%dT%H", time.gmtime())
    used = per_account_hour(started)
    last = last_reconciles(lines)
    out = {}

    def deferred(account, region, kind, name):
        v = last.get((account, region, kind, name.lower()))
        if v is None or execution_result(v) != "rate-limited":
            return None
        mine = used[(account, hour)]
        table = table_budget.get((account, hour), 0)
        if mine >= args.limit or table >= args.limit:
            leak = (f" (NOTE: {table - mine} budget admitted without a change made: a replica killed between "
                    "taking the budget and its first change?)" if table > mine else "")
            return (f"rate-limited ({v.get('timestamp', '')[11:19]}): {mine} fixes started in {account} this "
                    f"hour by the emulator's log, {table} by the state table's budget; limit {args.limit}{leak}")
        return None

    for nb in notebooks:
        d = describe_notebook(nb)
        if d is None:
            out[nb] = ("LOST", False, "no notebook of this name")
            continue
        exempt = d["Tags"].get(EXEMPT_TAG) == "true"
        problems = notebook_problems(nb, d)
        recreated = RECREATED_TAG in d["Tags"]
        if exempt:
            changed = [s for s in started if s[1] == nb.account and s[3] == ("notebook", nb.name.lower())]
            if d["Tags"].get(RECREATE_AFTER_TAG):
                out[nb] = ("exempt", False, f"still tagged {RECREATE_AFTER_TAG}")
            elif problems:
                out[nb] = ("exempt", False, "; ".join(problems))
            elif changed and nb.profile == "exempt":
                out[nb] = ("exempt", False, f"changed by the guard: {changed}")
            else:
                out[nb] = ("exempt", True, "exemption tag" + (" (added during the run)" if nb.profile != "exempt"
                                                              else ""))
            continue
        if not problems:
            if nb.needs_recreate and not recreated:
                out[nb] = ("compliant", False, f"fixed without {RECREATED_TAG}?")
            else:
                out[nb] = ("compliant", True, ("recreated" if recreated else
                                               "fixed in place" if nb.needs_inplace else "as seeded"))
            continue
        why = deferred(nb.account, nb.region, "NotebookInstance", nb.name)
        if why is None and d["Tags"].get(RECREATE_AFTER_TAG):
            due = d["Tags"][RECREATE_AFTER_TAG]
            why = None if time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) >= due[:19] else f"grace period until {due}"
        kept = [p for p in problems if not any(p.startswith(s) for s in (
            "DirectInternetAccess", "no subnet", "RootAccess is not", "platform", "network"))]
        if why and not kept:
            out[nb] = ("deferred", True, why)
        else:
            out[nb] = ("FAILING", False, "; ".join(problems))
    for c in configs:
        sm = client("sagemaker", c.account, c.region)
        e = sm.describe_endpoint(EndpointName=c.endpoint)
        if not c.remediable:
            ok = e["EndpointConfigName"] == c.name
            out[c] = ("compliant", ok, "as seeded" if ok else f"endpoint moved to {e['EndpointConfigName']}")
            continue
        arn = sm.describe_endpoint_config(EndpointConfigName=c.name)["EndpointConfigArn"]
        tags = tags_of(c.account, c.region, arn)
        if e["EndpointConfigName"] == c.name + REPLACEMENT_SUFFIX and e["EndpointStatus"] == "InService":
            new = sm.describe_endpoint_config(EndpointConfigName=c.name + REPLACEMENT_SUFFIX)
            counts = [v["InitialInstanceCount"] for v in new["ProductionVariants"]]
            new_tags = tags_of(c.account, c.region, new["EndpointConfigArn"])
            missing = {k: v for k, v in (("owner", "team-b"), ("chaos/name", c.name)) if new_tags.get(k) != v}
            ok = tags.get(REPLACED_TAG) == c.name + REPLACEMENT_SUFFIX and min(counts) >= 2 and not missing
            out[c] = ("replaced", ok, f"endpoint on {c.name}{REPLACEMENT_SUFFIX} (instances {counts}); old one "
                      f"tagged {REPLACED_TAG}={tags.get(REPLACED_TAG)}" + (f"; tags lost {missing}" if missing else ""))
            continue
        why = deferred(c.account, c.region, "EndpointConfig", c.name)
        out[c] = ("deferred", True, why) if why else ("FAILING", False, f"endpoint on {e['EndpointConfigName']}, "
                                                                          f"{e['EndpointStatus']}")
    for m in models:
        tags = tags_of(m.account, m.region, model_arn(m))
        if m.isolation:
            ok = MARK_TAG not in tags
            out[m] = ("compliant", ok, "network isolation" if ok else f"marked {tags.get(MARK_TAG)}")
        else:
            ok = "SageMaker.5" in tags.get(MARK_TAG, "")
            out[m] = ("marked", ok, f"{MARK_TAG}={tags.get(MARK_TAG)} (SageMaker.5 is `tag`: models are immutable)")
    return out


def audit(args, work, policy):
    """The guard's own sweep, read-only, as a second opinion on every resource."""
    env = guard_env()
    env["RUST_LOG"] = "warn"
    p = subprocess.run([args.binary, "audit", "--policy", policy, "--accounts", os.path.join(work, "accounts.yml"),
                        "--output", "json"], env=env, capture_output=True, text=True, timeout=300)
    with open(os.path.join(work, "audit.json"), "w") as f:
        f.write(p.stdout)
    try:
        return p.returncode, json.loads(p.stdout), p.stderr
    except ValueError:
        return p.returncode, None, p.stderr


def table_budget():
    """The state table's budget counters: (account, hour) -> fixes admitted, the guard's count."""
    ddb = client("dynamodb", CENTRAL)
    out = {}
    for page in ddb.get_paginator("scan").paginate(TableName="chaos-state"):
        for item in page["Items"]:
            pk = item["pk"]["S"]
            if pk.startswith("budget#"):  # budget#<account>#<hours since the epoch>, `used`
                _, account, hour = pk.split("#", 2)
                hour = time.strftime("%Y-%m-%dT%H", time.gmtime(int(hour) * 3600))
                out[(account, hour)] = int(item.get("used", {}).get("N", "0"))
    return out


# --- main -----------------------------------------------------------------------------------------

def main():
    global URL
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emulator", required=True)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=180)
    ap.add_argument("--converge", type=float, default=180)
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--kill-every", type=float, default=5)
    ap.add_argument("--failpoint-odds", type=float, default=0.3)
    ap.add_argument("--failpoint", default="after-delete", choices=["after-delete", "before-delete"])
    ap.add_argument("--throttle-rate", type=float, default=0.1)
    ap.add_argument("--error-rate", type=float, default=0.05)
    ap.add_argument("--limit", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    URL = args.emulator
    rng = random.Random(args.seed)
    random.seed(args.seed)
    t_setup = now()

    transitions = {a: round(rng.uniform(0.5, 1.0), 2) for a in MEMBERS}
    log(f"==> seed {args.seed}: central account {CENTRAL}, members {', '.join(MEMBERS)}, regions {', '.join(REGIONS)}")
    queue_url, dlq_url, table, key = setup_central(args.work)
    policy = write_policy(args.work, args.limit)
    v = subprocess.run([args.binary, "policy", "validate", policy], capture_output=True, text=True)
    if v.returncode != 0:
        log(v.stdout + v.stderr)
        return 2
    notebooks, configs, models = plan_fleet(rng, transitions)
    late = late_notebooks(rng, transitions)
    seed(notebooks, configs, models)
    for account, t in transitions.items():
        emulator("POST", "config", {"account": account, "transitionSeconds": t})
    log(f"    {len(notebooks)} notebooks, {len(configs)} endpoint configs, {len(models)} models; "
        f"transitions {', '.join(f'{a}: {t} s' for a, t in transitions.items())}")
    emulator("POST", "calls/reset")

    def faults(on):
        for i, account in enumerate(MEMBERS):
            emulator("POST", "faults", {"account": account, **({"throttleRate": args.throttle_rate,
                                                               "errorRate": args.error_rate,
                                                               "seed": args.seed * 10 + i} if on else {})})
        emulator("POST", "faults", {"account": CENTRAL, **({"throttleRate": args.throttle_rate / 2,
                                                           "errorRate": args.error_rate / 2,
                                                           "services": ["sqs", "dynamodb", "kms"],
                                                           "seed": args.seed * 10 + 9} if on else {})})

    sender = Sender(queue_url)
    fleet = Fleet(args, args.work, queue_url, table, key, policy, rng)
    observer = Observer(sender, notebooks, configs, models)
    poison = poison_messages()
    exempted = []
    status = 0
    try:
        faults(True)
        log(f"==> {args.replicas} replicas of `run`"
            + (", all with the after-delete failpoint" if args.failpoint_odds > 0 else "")
            + f"; faults: throttling {args.throttle_rate}, 5xx {args.error_rate} (SageMaker); half that on the "
            "central SQS, DynamoDB, KMS")
        for r in fleet.replicas:
            fleet.start(r, args.failpoint_odds > 0)
        t0 = now()
        for r in notebooks + configs + models:
            r.first_event = now()
            sender.send(first_event(r), "cloudtrail")
        observer.start()

        # The chaos.
        end = t0 + args.duration
        next_kill = t0 + args.kill_every * rng.uniform(0.5, 1.5)
        poison_at = sorted(t0 + rng.uniform(0.1, 0.8) * args.duration for _ in poison)
        late_at = t0 + 0.2 * args.duration
        noise_at = t0 + 3
        pending_restart = []
        late_done = False
        while now() < end:
            fleet.watch()
            t = now()
            for item in list(pending_restart):
                if t >= item[0]:
                    pending_restart.remove(item)
                    fleet.start(item[1], rng.random() < args.failpoint_odds)
            if args.kill_every and t >= next_kill:
                r = rng.choice([r for r in fleet.replicas if r not in [p[1] for p in pending_restart]])
                fleet.kill(r, "random")
                pending_restart.append((t + rng.uniform(0, 1.5), r))
                next_kill = t + args.kill_every * rng.uniform(0.5, 1.5)
            if poison_at and t >= poison_at[0]:
                poison_at.pop(0)
                sender.send(poison[len(poison) - len(poison_at) - 1][1], "poison")
            if not late_done and t >= late_at:
                late_done = True
                for nb in late:
                    create_notebook(nb)
                    nb.first_event = now()
                    sender.send(first_event(nb), "cloudtrail")
                notebooks.extend(late)
                log(f"    created {', '.join(nb.name for nb in late)} (noncompliant) during the chaos")
            if not exempted and t >= t0 + 15:
                # An owner opts a notebook out while its recreate is scheduled: the schedule must
                # be cancelled, nothing recreated.
                for nb in notebooks:
                    if nb.profile == "grace" and nb.account == MEMBERS[1]:
                        d = describe_notebook(nb)
                        if d and RECREATE_AFTER_TAG in d["Tags"]:
                            client("sagemaker", nb.account, nb.region).add_tags(
                                ResourceArn=d["NotebookInstanceArn"], Tags=[{"Key": EXEMPT_TAG, "Value": "true"}])
                            sender.send(cloudtrail(nb.account, nb.region, "AddTags",
                                                   {"resourceArn": d["NotebookInstanceArn"]}), "cloudtrail")
                            exempted.append(nb)
                            log(f"    {nb.name} was scheduled for a recreate ({d['Tags'][RECREATE_AFTER_TAG]}): "
                                f"its owner exempts it")
            if t >= noise_at:
                noise_at = t + rng.uniform(1, 4)
                r = rng.choice(notebooks + configs + models)
                sender.send(first_event(r), "duplicate")
            time.sleep(0.2)
        for _, r in pending_restart:
            fleet.start(r, False)

        # Calm: no faults, no kills; failpoint replicas replaced by plain ones.
        faults(False)
        for r in fleet.replicas:
            if r.failpoint:
                fleet.kill(r, "calm")
                fleet.start(r, False)
        t_calm = now()
        log(f"==> chaos over after {t_calm - t0:.0f} s: {sum(fleet.kills.values())} SIGKILLs; faults off, "
            f"waiting up to {args.converge:.0f} s to converge")
        converged = None
        deadline = t_calm + args.converge
        while now() < deadline:
            fleet.watch()
            time.sleep(2)
            if int(now() - t_calm) % 10 > 1:
                continue
            counts = queue_counts(queue_url)
            lines = read_logs(fleet.logs)
            mutations = emulator("GET", "mutations")["mutations"]
            verdicts = classify(args, notebooks, configs, models, lines, fixes_started(mutations), table_budget())
            bad = [f"{getattr(r, 'name')}: {s} {why}" for r, (s, ok, why) in verdicts.items() if not ok]
            log(f"    {now() - t_calm:5.0f} s: queue {counts} (visible, in flight, delayed); "
                f"{len(bad)} resources not settled" + (f", e.g. {bad[0]}" if bad else ""))
            if not bad and counts == (0, 0, 0):
                converged = now()
                break
        observer.stop.set()
        observer.join(timeout=10)

        # The checks.
        lines = read_logs(fleet.logs)
        mutations = emulator("GET", "mutations")["mutations"]
        with open(os.path.join(args.work, "mutations.json"), "w") as f:
            json.dump(mutations, f)
        started = fixes_started(mutations)
        budget = table_budget()
        verdicts = classify(args, notebooks, configs, models, lines, started, budget)
        counts = queue_counts(queue_url)
        audit_status, report, audit_err = audit(args, args.work, policy)
        exits = fleet.stop_all()
        counts_after = queue_counts(queue_url)
        dead = drain(dlq_url)
        calls = emulator("GET", "calls")
        status = report_and_check(args, locals())
    finally:
        observer.stop.set()
        for r in fleet.replicas:
            if r.proc and r.proc.poll() is None:
                r.proc.kill()
                r.proc.wait()
    log(f"==> {'all checks passed' if status == 0 else 'FAILED'} in {now() - t_setup:.0f} s; logs in {args.work}")
    return status


def report_and_check(args, s):
    """Prints the table of resources, the checks and the figures; returns the exit status."""
    notebooks, configs, models = s["notebooks"], s["configs"], s["models"]
    verdicts, started, budget, fleet = s["verdicts"], s["started"], s["budget"], s["fleet"]
    checks = Verdicts()

    print("\nResources at the end (this run's own reads; the guard's audit beside):")
    arn_status = defaultdict(dict)
    if s["report"]:
        for r in s["report"]["results"]:
            arn_status[(r["account"], r["region"], r["resourceName"].lower())][r["control"]] = r["status"]
    print(f"  {'account':12} {'region':9} {'resource':18} {'seeded':9} {'state':10} {'audit':38} why")
    for r, (state, ok, why) in sorted(verdicts.items(), key=lambda kv: (kv[0].account, kv[0].region, kv[0].name)):
        seeded = getattr(r, "profile", None) or ("ec " + str(r.instances) if isinstance(r, EndpointConfig)
                                                  else "isolated" if r.isolation else "open")
        a = arn_status.get((r.account, r.region, r.name.lower()), {})
        audit_txt = ",".join(f"{c[10:]}:{st[:4]}" for c, st in sorted(a.items()))
        print(f"  {r.account:12} {r.region:9} {r.name:18} {seeded:9} {state + ('' if ok else ' ✗'):10} "
              f"{audit_txt:38} {why}")

    states = Counter(state for state, _, _ in verdicts.values())
    bad = [(r.name, state, why) for r, (state, ok, why) in verdicts.items() if not ok]
    checks.add("every resource compliant, exempt, replaced, marked or legitimately deferred", not bad,
               ", ".join(f"{k} {v}" for k, v in sorted(states.items())) + (f"; not: {bad}" if bad else ""))

    # The guard's own audit must agree: nothing FAILED but what this run calls replaced, marked or
    # deferred; nothing in ERROR; the replacements pass.
    allowed_failed = {(r.account, r.region, r.name.lower()) for r, (st, ok, _) in verdicts.items()
                      if ok and st in ("replaced", "marked", "deferred")}
    disagree = []
    if s["report"] is None:
        disagree.append(f"no report (exit {s['audit_status']}): {s['audit_err'][-500:]}")
    else:
        for r in s["report"]["results"]:
            key = (r["account"], r["region"], r["resourceName"].lower())
            if r["status"] == "ERROR" or (r["status"] == "FAILED" and key not in allowed_failed):
                disagree.append(f"{r['resourceName']} {r['control']} {r['status']}: {r['reason']}")
        for e in s["report"].get("errors", []):
            disagree.append(f"error {e}")
    summary = s["report"]["summary"] if s["report"] else {}
    checks.add("the guard's audit agrees", not disagree,
               f"audit exit {s['audit_status']}, {s['report']['resources'] if s['report'] else '?'} resources, "
               f"{summary}" + (f"; disagrees: {disagree[:6]}" if disagree else ""))

    lost = [r.name for r, (st, _, _) in verdicts.items() if st == "LOST"]
    checks.add("no notebook lost", not lost, f"{len(notebooks)} notebooks seeded or created, "
               f"{len(notebooks) - len(lost)} exist" + (f"; lost: {lost}" if lost else ""))

    recreated = [nb for nb in notebooks if verdicts[nb][2] == "recreated"]
    kept_bad = [(nb.name, verdicts[nb][2]) for nb in notebooks
                if verdicts[nb][0] in ("compliant", "exempt") and not verdicts[nb][1]]
    checks.add("every recreated notebook kept its configuration and tags", not kept_bad,
               f"{len(recreated)} recreated, {sum(1 for nb in notebooks if verdicts[nb][2] == 'fixed in place')} "
               "fixed in place: instance type, role, volume, lifecycle config, KMS key, subnet and security "
               "groups (or the policy's), root access and platform (unless fixed), running state, every tag"
               + (f"; not: {kept_bad}" if kept_bad else ""))

    per_hour = per_account_hour(started)
    over = {k: n for k, n in per_hour.items() if n > args.limit}
    rows = ", ".join(f"{a} {h[11:]}h: {n} (table {budget.get((a, h), 0)})" for (a, h), n in sorted(per_hour.items()))
    checks.add(f"fixes per account and hour <= {args.limit} across all replicas", not over,
               f"from the emulator's log of SageMaker changes: {rows}" + (f"; OVER: {over}" if over else ""))

    hits = (crash_recreates(fleet.failpoint_hits, s["mutations"], notebooks, verdicts)
            if args.failpoint == "after-delete" else [])
    unfinished = [h for h in hits if not h[3]]
    checks.add("a replica SIGKILLed between a delete and its create, another finished the recreate",
               (bool(hits) or args.failpoint_odds == 0 or args.failpoint != "after-delete") and not unfinished,
               f"not exercised (--failpoint-odds {args.failpoint_odds}, failpoint {args.failpoint})"
               if args.failpoint_odds == 0 or args.failpoint != "after-delete" else
               f"{len(hits)} times (the failpoint after-delete): "
               + "; ".join(f"{name} deleted by one process, created by {'another' if ok else why}"
                           for _, name, why, ok in hits))

    vis, inflight, delayed = s["counts"]
    vis2, inflight2, delayed2 = s["counts_after"]
    checks.add("the queue empty (visible, in flight, delayed)", s["counts"] == (0, 0, 0)
               and s["counts_after"] == (0, 0, 0),
               f"before the replicas stopped {s['counts']}, after {s['counts_after']}")

    expected = sorted((reason, body) for reason, body in s["poison"])
    got = sorted((m["MessageAttributes"].get("sagemaker-guard-reason", {}).get("StringValue", "<none>"), m["Body"])
                 for m in s["dead"])
    extra = [g for g in got if g not in expected]
    missing = [e for e in expected if e not in got]
    backdoor = [m for m in s["mutations"] if (m.get("request") or {}).get("NotebookInstanceName") == FORGED_NOTEBOOK]
    checks.add("the dead-letter queue holds exactly the poison messages, each with its reason",
               not extra and not missing and not backdoor,
               f"{len(got)} dead letters: {dict(Counter(r for r, _ in got))}; calls naming the forged intent's "
               f"notebook: {len(backdoor)}"
               + (f"; unexpected: {[(r, b[:200]) for r, b in extra]}" if extra else "")
               + (f"; missing: {[(r, b[:80]) for r, b in missing]}" if missing else ""))

    crashes = fleet.crashes
    panics = [v for v in s["lines"] if "panicked" in json.dumps(v)]
    checks.add("no replica died unless killed; each exits 0 on SIGTERM", not crashes and not panics
               and all(e == 0 for e in s["exits"]),
               f"exits on SIGTERM {s['exits']}; unasked exits {len(crashes)}; panics {len(panics)}")

    checks.add("converged before the deadline", s["converged"] is not None,
               f"{s['converged'] - s['t_calm']:.0f} s after the chaos ended" if s["converged"] else
               f"not within {args.converge:.0f} s")

    print("\nChecks:")
    for name, ok, detail in checks.rows:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")

    # Figures.
    print("\nFigures:")
    t0, t_calm = s["t0"], s["t_calm"]
    kinds = defaultdict(list)
    for r in notebooks + configs + models:
        kind = r.fix_kind()
        if kind and r.compliant_at and verdicts[r][1] and verdicts[r][0] != "exempt":
            kinds[kind].append((r.compliant_at - r.first_event, r.floor()))
    ttc = {}
    print("  time from a resource's first event to compliance (its own reads, every 0.5 s), beside the floor "
          "(the sum of its transitions):")
    for kind, xs in sorted(kinds.items()):
        d = [x for x, _ in xs]
        f = [y for _, y in xs]
        ttc[kind] = {"n": len(xs), "p50_s": pct(d, 0.5), "p99_s": pct(d, 0.99), "floor_p50_s": pct(f, 0.5),
                     "floor_p99_s": pct(f, 0.99)}
        print(f"    {kind:30} n={len(xs):2}  p50 {pct(d, 0.5):6.1f} s  p99 {pct(d, 0.99):6.1f} s   floor p50 "
              f"{pct(f, 0.5):5.1f} s  p99 {pct(f, 0.99):5.1f} s")
    faulted = Counter()
    for f in s["calls"].get("faulted", []):
        faulted[(f["service"], f["fault"])] += f["count"]
    guard_calls = sum(c["count"] for c in s["calls"]["calls"])
    changes = [m for m in s["mutations"] if guard_key(m["accessKeyId"]) and m["status"] == 200]
    figures = {
        "seed": args.seed, "replicas": args.replicas, "chaos_s": round(t_calm - t0), "converged_after_s":
        round(s["converged"] - t_calm) if s["converged"] else None, "total_s": round(now() - s["t_setup"]),
        "resources": {"notebooks": len(notebooks), "endpoint_configs": len(configs), "models": len(models)},
        "end_states": dict(states), "fixes_started": len(started),
        "guard_changes": dict(Counter(m["action"] for m in changes)),
        "recreated": len(recreated), "kills": dict(fleet.kills), "starts": fleet.starts,
        "delete_then_crash": len(hits),
        "faults_injected": {f"{k[0]} {k[1]}": n for k, n in sorted(faulted.items())},
        "aws_calls_all_callers": guard_calls, "messages_sent": dict(s["sender"].sent), "dead_letters": len(s["dead"]),
        "time_to_compliance": ttc, "fixes_per_account_hour": {f"{a} {h}": n for (a, h), n in per_hour.items()},
        "limit": args.limit, "transitions_s": s["transitions"],
    }
    for k, v in figures.items():
        if k != "time_to_compliance":
            print(f"  {k}: {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"figures": figures, "checks": checks.rows}, f, indent=2, default=str)
    return 0 if checks.ok else 1


if __name__ == "__main__":
    sys.exit(main())

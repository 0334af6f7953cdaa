"""The Python half of scripts/bench-run: seeds the emulator, measures `sagemaker-guard run`
through its /metrics, and probes its unloaded per-message latency. Uses boto3 from the
emulator's venv (tests/emulator/requirements.txt) and the standard library.

Subcommands (all print human-readable lines to stderr; `seed` prints JSON to stdout):

  seed URL ACCOUNT --resources M --events N [--backlog B] [--threads T]
      M notebook instances (even ones compliant with SageMaker.1/.2/.3/.8, odd ones not), a
      dead-letter queue `bench-dlq` and a queue `bench` (VisibilityTimeout 60, RedrivePolicy to
      the DLQ, maxReceiveCount 10), then the first min(N, B) of the N CloudTrail
      UpdateNotebookInstance events with SendMessageBatch; event i names a notebook drawn
      uniformly from the M with random.Random(i), the same on every run.
      Prints {"queue_url", "dlq_url", "sent"}.

  measure --log FILE --pid PID --start-ns NS --events N --concurrency C [--sent S]
          [--backlog B --resources M --emulator URL --account ID --queue-url URL]
          [--emulator-pid PID] [--timeout S] [--json FILE]
      Waits for the "sagemaker-guard is running" line in the service's JSON log, polls
      /metrics until sagemaker_guard_messages_deleted_total (all reasons) reaches N, then
      reports throughput, the histograms' quantiles, AWS calls, CPU and peak RSS (VmHWM).
      With S < N it sends the remaining events meanwhile, keeping at most B sent and not yet
      deleted. With --queue-url it then also waits for the queue to be empty.

  probe --binary PATH --policy FILE --dlq-url URL --emulator URL --account ID
        --resources M --count K [--warmup W] [--concurrency C] [--log FILE] [--json FILE]
      Unloaded latency: creates a queue `bench-probe` (redrive to the DLQ), starts a second
      service on it with the SDK orchestrator's debug lines on (a few per AWS call, with
      microsecond timestamps), sends K events one at a time (each only after the previous one
      is settled) and computes, per message, the service's own time: its receipt-to-settled
      duration (from /metrics) minus its DescribeNotebookInstance and DeleteMessageBatch calls
      (from the log) and minus the batch's linger (a lone delete waits LINGER_S for others
      before it is sent, by design).

  queues URL ACCOUNT QUEUE_URL DLQ_URL
      Prints both queues' visible and in-flight counts; exits 1 unless both are empty.
"""
import argparse
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

REGION = "us-east-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# --- AWS clients -------------------------------------------------------------------------------

_local = threading.local()
_make_lock = threading.Lock()


def client(service, url, account):
    """One boto3 client per thread and service (creating clients is not thread-safe)."""
    import boto3
    from botocore.config import Config

    key = f"{service}-{url}-{account}"
    if not hasattr(_local, "clients"):
        _local.clients = {}
    if key not in _local.clients:
        with _make_lock:
            if not hasattr(_local, "session"):
                _local.session = boto3.session.Session()
            _local.clients[key] = _local.session.client(
                service,
                endpoint_url=url,
                region_name=REGION,
                aws_access_key_id=account,
                aws_secret_access_key="x",
                config=Config(retries={"max_attempts": 1}),
            )
    return _local.clients[key]


def notebook_name(i):
    return f"bench-nb-{i:05d}"


def cloudtrail(account, notebook):
    """The shape of tests/it/common/service.rs `cloudtrail()`."""
    return json.dumps({
        "version": "0", "id": "e", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.sagemaker", "account": account, "time": "2026-11-29T00:00:00Z",
        "region": REGION, "resources": [],
        "detail": {"eventSource": "sagemaker.amazonaws.com",
                   "eventName": "UpdateNotebookInstance", "awsRegion": REGION,
                   "recipientAccountId": account,
                   "requestParameters": {"notebookInstanceName": notebook},
                   "responseElements": None},
    })


def send_batch(url, account, queue_url, start, end, resources):
    """Events start .. min(start + 10, end) - 1 in one SendMessageBatch; event i names the
    notebook random.Random(i) draws, so every run sends the same sequence."""
    entries = [{"Id": str(j), "MessageBody": cloudtrail(
                    account, notebook_name(random.Random(i).randrange(resources)))}
               for j, i in enumerate(range(start, min(start + 10, end)))]
    out = client("sqs", url, account).send_message_batch(QueueUrl=queue_url, Entries=entries)
    if out.get("Failed"):
        raise RuntimeError(f"SendMessageBatch failed: {out['Failed']}")
    return len(entries)


# --- seed --------------------------------------------------------------------------------------

def cmd_seed(a):
    url, account = a.url, a.account
    if a.backlog is None:
        a.backlog = a.events
    role = f"arn:aws:iam::{account}:role/sagemaker-bench"

    def create(i):
        req = dict(NotebookInstanceName=notebook_name(i), InstanceType="ml.t3.medium",
                   RoleArn=role)
        if i % 2 == 0:  # compliant with SageMaker.1, .2, .3 and .8
            req.update(SubnetId="subnet-0a1b2c3d4e5f60718",
                       SecurityGroupIds=["sg-0a1b2c3d4e5f60718"],
                       DirectInternetAccess="Disabled", RootAccess="Disabled",
                       PlatformIdentifier="notebook-al2023-v1")
        # odd: the defaults (internet access, root access, no VPC, al2023 platform by the
        # emulator's default) fail SageMaker.1, .2 and .3
        client("sagemaker", url, account).create_notebook_instance(**req)

    t = time.monotonic()
    with ThreadPoolExecutor(max_workers=a.threads) as pool:
        list(pool.map(create, range(a.resources)))  # list() re-raises the first failure
    log(f"seeded {a.resources} notebook instances ({(a.resources + 1) // 2} compliant) "
        f"in account {account} in {time.monotonic() - t:.1f}s")

    sqs = client("sqs", url, account)
    dlq_url = sqs.create_queue(QueueName="bench-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName="bench", Attributes={
        "VisibilityTimeout": "60",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "10"}),
    })["QueueUrl"]

    first = min(a.events, a.backlog)
    t = time.monotonic()
    with ThreadPoolExecutor(max_workers=a.threads) as pool:
        list(pool.map(lambda i: send_batch(url, account, queue_url, i, first, a.resources),
                      range(0, first, 10)))
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url,
                                     AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    queued = int(attrs["ApproximateNumberOfMessages"])
    log(f"enqueued {first} of {a.events} CloudTrail events in {time.monotonic() - t:.1f}s "
        f"(queue depth {queued})")
    if queued != first:
        raise SystemExit(f"error: expected {first} messages on the queue, found {queued}")
    print(json.dumps({"queue_url": queue_url, "dlq_url": dlq_url, "sent": first}))


# --- metrics -----------------------------------------------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def scrape(base):
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as r:
        text = r.read().decode()
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m:
            out.append((m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


def total(samples, name, **labels):
    return sum(v for n, l, v in samples
               if n == name and all(l.get(k) == want for k, want in labels.items()))


def by_label(samples, name, label):
    out = {}
    for n, l, v in samples:
        if n == name:
            out[l.get(label, "")] = out.get(l.get(label, ""), 0) + v
    return out


def histogram(samples, base):
    """(buckets [(le, cumulative count)], sum, count) of one unlabelled histogram."""
    buckets = sorted((float(l["le"]), v) for n, l, v in samples if n == f"{base}_bucket")
    return buckets, total(samples, f"{base}_sum"), total(samples, f"{base}_count")


def quantile(buckets, q):
    """Estimate like Prometheus' histogram_quantile: find the bucket holding rank q*count and
    interpolate linearly inside it (observations assumed spread evenly within a bucket).
    Returns (estimate, lower bound, upper bound) or None without observations. Above the top
    finite bucket the estimate is that bucket's bound (and the upper bound is inf)."""
    if not buckets or buckets[-1][1] == 0:
        return None
    rank = q * buckets[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= rank and c > prev_c:
            if math.isinf(le):
                return prev_le, prev_le, le
            return prev_le + (le - prev_le) * (rank - prev_c) / (c - prev_c), prev_le, le
        prev_le, prev_c = le, c
    return None


def fmt_ms(s):
    return "inf" if math.isinf(s) else f"{s * 1000:.3g}"


def fmt_q(buckets, q):
    r = quantile(buckets, q)
    if r is None:
        return "n/a"
    est, lo, hi = r
    return f"~{est * 1000:.2f} ms (bucket {fmt_ms(lo)}-{fmt_ms(hi)} ms)"


def quantile_dict(buckets, q):
    r = quantile(buckets, q)
    return None if r is None else {"estimate_s": r[0], "bucket_lo_s": r[1],
                                   "bucket_hi_s": None if math.isinf(r[2]) else r[2]}


def cpu_ticks(pid):
    """utime + stime of a process, in clock ticks (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def machine_ticks():
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return None


def wait_for_listen(log_path, proc_alive, timeout=60):
    """The `listen` field of the "sagemaker-guard is running" line of a JSON log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(log_path) as f:
                for line in f:
                    try:
                        v = json.loads(line)
                    except ValueError:
                        continue
                    addr = v.get("fields", {}).get("listen")
                    if addr:
                        return f"http://{addr}"
        except FileNotFoundError:
            pass
        if not proc_alive():
            break
        time.sleep(0.02)
    with open(log_path) as f:
        tail = f.read()[-4000:]
    raise SystemExit(f"error: the service did not start; its log:\n{tail}")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie has exited too
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


# --- measure -----------------------------------------------------------------------------------

class Feeder:
    """Keeps at most `backlog` events sent and not yet deleted, until all are sent: two threads
    sending SendMessageBatch as the service's deletions (fed in by the poller) make room."""

    def __init__(self, a, sent):
        self.a, self.sent, self.reserved, self.deleted = a, sent, sent, 0.0
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.error = None
        self.batches = 0
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]

    def start(self):
        for t in self.threads:
            t.start()

    def _run(self):
        a = self.a
        try:
            while not self.stop.is_set():
                with self.lock:
                    if self.reserved >= a.events:
                        return
                    start = self.reserved
                    size = min(10, a.events - start)
                    if start + size - self.deleted > a.backlog:
                        start = None
                    else:
                        self.reserved += size
                if start is None:
                    time.sleep(0.01)
                    continue
                n = send_batch(a.emulator, a.account, a.queue_url, start, start + size,
                               a.resources)
                with self.lock:
                    self.sent += n
                    self.batches += 1
        except Exception as e:  # reported by the poller
            self.error = e


def cmd_measure(a):
    emu0 = cpu_ticks(a.emulator_pid) if a.emulator_pid else None
    mach0 = machine_ticks()
    t0 = time.monotonic()
    base = wait_for_listen(a.log, lambda: alive(a.pid))
    feeder = None
    if a.sent < a.events:
        feeder = Feeder(a, a.sent)
        feeder.start()
        log(f"==> service at {base}; feeding {a.events - a.sent} more events, at most "
            f"{a.backlog} on the queue; waiting for {a.events} messages to be deleted")
    else:
        log(f"==> service at {base}; waiting for {a.events} messages to be deleted")
    deadline = time.monotonic() + a.timeout
    last_report = time.monotonic()
    m, deleted = [], 0
    outstanding = []  # events sent and not yet deleted, at each poll while feeding
    while True:
        if not alive(a.pid):
            raise SystemExit("error: the service exited during the run")
        m = scrape(base)
        deleted = total(m, "sagemaker_guard_messages_deleted_total")
        if feeder:
            if feeder.error:
                raise SystemExit(f"error: feeding the queue failed: {feeder.error}")
            with feeder.lock:
                feeder.deleted = deleted
                if feeder.sent < a.events:
                    outstanding.append(feeder.sent - deleted)
        if deleted >= a.events:
            end_ns = time.time_ns()
            break
        if time.monotonic() > deadline:
            end_ns = time.time_ns()
            log(f"error: timed out after {a.timeout}s with {deleted:.0f} of {a.events} deleted")
            break
        if time.monotonic() - last_report > 30:
            log(f"    {deleted:.0f} deleted after {(time.time_ns() - a.start_ns) / 1e9:.0f}s")
            last_report = time.monotonic()
        time.sleep(0.1)
    if feeder:
        feeder.stop.set()
    window = time.monotonic() - t0
    emu1 = cpu_ticks(a.emulator_pid) if a.emulator_pid else None
    mach1 = machine_ticks()
    svc_cpu = cpu_ticks(a.pid) / CLK_TCK
    hwm_kb = proc_status(a.pid, "VmHWM")
    rss_kb = proc_status(a.pid, "VmRSS")
    wall = (end_ns - a.start_ns) / 1e9
    # The emulator (moto) can hand one message to two concurrent receives, so N deletions do
    # not prove an empty queue: wait for that too (not part of the wall time).
    queue_left = None
    if a.queue_url:
        sqs = client("sqs", a.emulator, a.account)
        until = time.monotonic() + 120
        while True:
            attrs = sqs.get_queue_attributes(QueueUrl=a.queue_url, AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            queue_left = sum(int(v) for v in attrs.values())
            if queue_left == 0 or time.monotonic() > until:
                break
            time.sleep(0.5)
        if queue_left:
            log(f"error: {queue_left} messages still on the queue 120 s after "
                f"{deleted:.0f} deletions")
        m_end = scrape(base)
        received_end = total(m_end, "sagemaker_guard_messages_received_total")
        deleted_end = total(m_end, "sagemaker_guard_messages_deleted_total")
    n = a.events

    msg_b, msg_sum, msg_n = histogram(m, "sagemaker_guard_message_duration_seconds")
    rec_b, rec_sum, rec_n = histogram(m, "sagemaker_guard_reconcile_duration_seconds")
    aws_b, aws_sum, aws_n = histogram(m, "sagemaker_guard_aws_api_call_duration_seconds")
    calls = {}
    for name, l, v in m:
        if name == "sagemaker_guard_aws_api_calls_total":
            calls[f"{l.get('service', '?')}:{l.get('operation', '?')}"] = v
    errors = {}
    for name, l, v in m:
        if name == "sagemaker_guard_aws_api_errors_total" and v:
            errors[f"{l.get('operation', '?')}:{l.get('code', '?')}"] = v
    reconciles = by_label(m, "sagemaker_guard_reconciles_total", "result")
    deleted_by = by_label(m, "sagemaker_guard_messages_deleted_total", "reason")
    released = by_label(m, "sagemaker_guard_messages_released_total", "reason")
    dead = by_label(m, "sagemaker_guard_messages_dead_lettered_total", "reason")
    dedup = total(m, "sagemaker_guard_workqueue_deduplicated_total")
    received = total(m, "sagemaker_guard_messages_received_total")
    rec_total = sum(reconciles.values())

    p = lambda b, q: fmt_q(b, q)
    log("")
    log(f"events:                 {n}  (deleted: {json.dumps(deleted_by, sort_keys=True)})")
    log(f"wall time:              {wall:.2f} s  (service start -> {deleted:.0f} deleted)")
    log(f"messages received:      {received:.0f} by then"
        + (f"; {received_end:.0f} received, {deleted_end:.0f} deleted once the queue was empty"
           if a.queue_url else ""))
    log(f"throughput:             {deleted / wall:.1f} events/s")
    if outstanding:
        log(f"queue kept fed:         {len(outstanding)} polls while feeding: sent and not "
            f"deleted min {min(outstanding):.0f}, mean {sum(outstanding) / len(outstanding):.0f}, "
            f"max {max(outstanding):.0f} (backlog limit {a.backlog}); "
            f"{feeder.batches} SendMessageBatch calls during the run")
    log(f"reconciles:             {rec_total:.0f}  {json.dumps(reconciles, sort_keys=True)}")
    log(f"deduplicated enqueues:  {dedup:.0f}")
    if released or dead:
        log(f"released / dead-lettered: {json.dumps(released)} / {json.dumps(dead)}")
    log("quantiles below are estimates: linear interpolation inside the cumulative histogram")
    log("bucket that holds the rank (bucket bounds in brackets), as histogram_quantile does")
    log(f"message duration:       p50 {p(msg_b, .5)}, p99 {p(msg_b, .99)}; "
        f"mean {msg_sum / msg_n * 1000:.2f} ms over {msg_n:.0f}")
    log(f"reconcile duration:     p50 {p(rec_b, .5)}, p99 {p(rec_b, .99)}; "
        f"mean {rec_sum / rec_n * 1000:.2f} ms over {rec_n:.0f}")
    log(f"AWS call duration:      p50 {p(aws_b, .5)}, p99 {p(aws_b, .99)}; "
        f"mean {aws_sum / aws_n * 1000:.2f} ms over {aws_n:.0f} attempts")
    log("AWS calls by operation:")
    for k, v in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])):
        log(f"  {k:<40} {v:.0f}")
    if errors:
        log(f"AWS errors:             {json.dumps(errors, sort_keys=True)}")
    log(f"peak RSS (VmHWM):       {hwm_kb / 1024:.1f} MB  "
        f"(VmRSS at the end {rss_kb / 1024:.1f} MB)")

    # CPU: who was busy while the queue drained.
    busy = (mach1[0] - mach0[0]) / CLK_TCK
    span = (mach1[1] - mach0[1]) / CLK_TCK / os.cpu_count()
    log(f"CPU over the {window:.1f} s window ({os.cpu_count()} CPUs): machine busy "
        f"{busy / window:.2f} CPUs")
    emu_cores = None
    if emu0 is not None:
        emu_cores = (emu1 - emu0) / CLK_TCK / window
        log(f"  emulator (Python moto):  {emu_cores:.2f} CPUs "
            f"({(emu1 - emu0) / CLK_TCK / n * 1000:.1f} ms CPU per event, feeding included)")
    log(f"  service:                 {svc_cpu / wall:.2f} CPUs "
        f"({svc_cpu:.2f} CPU-s in all = {svc_cpu / n * 1000:.3f} ms CPU per message)")

    # The service's own time, estimated from the metrics of the loaded run.
    msg_p99 = quantile(msg_b, .99)
    aws_p99 = quantile(aws_b, .99)
    rec_p99 = quantile(rec_b, .99)
    aws_per_msg = aws_sum / n
    held = msg_sum / wall
    log("")
    log("service's own time, from the loaded run's metrics (see docs/performance.md (section 3)):")
    log(f"  messages held at once (Little's law, sum of message durations / wall): {held:.0f} "
        f"(cap: max(20 x concurrency, 100) = {max(20 * a.concurrency, 100)})")
    if msg_p99 and aws_p99:
        log(f"  p99(message) - 2 x p99(AWS call) = {fmt_ms(msg_p99[0])} - 2 x {fmt_ms(aws_p99[0])}"
            f" = {fmt_ms(msg_p99[0] - 2 * aws_p99[0])} ms  (mostly waiting for a worker: "
            f"the backlog, not the service's own work)")
    log(f"  AWS time per message (all AWS call time / messages) = {aws_per_msg * 1000:.2f} ms")
    log(f"  mean(message) - AWS time per message = {(msg_sum / msg_n - aws_per_msg) * 1000:.2f} ms")
    if rec_p99 and aws_p99:
        log(f"  p99(reconcile) - p99(AWS call) = {fmt_ms(rec_p99[0] - aws_p99[0])} ms;"
            f" mean(reconcile) - mean(AWS call) = "
            f"{(rec_sum / rec_n - aws_sum / aws_n) * 1000:.2f} ms")

    result = {
        "events": n, "deleted": deleted, "received": received,
        "queue_left": queue_left, "deleted_by_reason": deleted_by, "wall_s": wall,
        "events_per_s": deleted / wall, "reconciles": reconciles, "reconciles_total": rec_total,
        "deduplicated": dedup, "released": released, "dead_lettered": dead,
        "message_duration": {"p50": quantile_dict(msg_b, .5), "p99": quantile_dict(msg_b, .99),
                             "sum_s": msg_sum, "count": msg_n},
        "reconcile_duration": {"p50": quantile_dict(rec_b, .5), "p99": quantile_dict(rec_b, .99),
                               "sum_s": rec_sum, "count": rec_n},
        "aws_api_call_duration": {"p50": quantile_dict(aws_b, .5),
                                  "p99": quantile_dict(aws_b, .99),
                                  "sum_s": aws_sum, "count": aws_n},
        "aws_calls": calls, "aws_errors": errors,
        "peak_rss_mb": hwm_kb / 1024, "rss_end_mb": rss_kb / 1024,
        "service_cpu_s": svc_cpu, "emulator_cpus": emu_cores, "machine_busy_cpus": busy / window,
        "window_s": window, "messages_held": held, "backlog": a.backlog,
        "outstanding": {"min": min(outstanding), "max": max(outstanding),
                        "mean": sum(outstanding) / len(outstanding)} if outstanding else None,
        "buckets": {"message": msg_b, "reconcile": rec_b, "aws": aws_b},
    }
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1, default=str)
    ok = deleted >= n and deleted_by.get("done", 0) >= n and not dead and not queue_left
    if not ok:
        log(f"error: expected {n} messages deleted as done, got {json.dumps(deleted_by)}"
            f" (dead-lettered {json.dumps(dead)})")
    sys.exit(0 if ok else 1)


# --- probe: unloaded latency, with the SDK's own per-call timestamps --------------------------

# The SDK's orchestrator logs, at debug level, "beginning attempt #N" before an attempt and
# "... exiting attempt loop" after the last one; every line carries the call's span with its
# rpc.method and sdk_invocation_id. Only these targets are raised to debug: ~24 lines a message.
PROBE_LOG = ("warn,sagemaker_guard=info,sagemaker_guard::controller=warn,"
             "aws_smithy_runtime::client::orchestrator=debug,"
             # the spans that carry rpc.method and sdk_invocation_id
             "aws_sdk_sqs=debug,aws_sdk_sagemaker=debug")


def _epoch(ts):
    """RFC 3339 UTC timestamp with up to nanoseconds -> epoch seconds (float)."""
    import datetime
    head, frac = (ts.rstrip("Z").split(".") + ["0"])[:2]
    t = datetime.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return t + float("0." + frac)


def sdk_calls(log_path):
    """[(method, begin, end)] of every SDK call in a JSON log, from the orchestrator's lines:
    the first "beginning attempt" to "exiting attempt loop" (so retries are inside)."""
    calls = {}
    with open(log_path) as f:
        for line in f:
            try:
                v = json.loads(line)
            except ValueError:
                continue
            if v.get("target") != "aws_smithy_runtime::client::orchestrator":
                continue
            span = next((s for s in v.get("spans", []) if "sdk_invocation_id" in s), None)
            if span is None:
                continue
            msg = v.get("fields", {}).get("message", "")
            c = calls.setdefault(span["sdk_invocation_id"], {"method": span.get("rpc.method")})
            if msg.startswith("beginning attempt") and "begin" not in c:
                c["begin"] = _epoch(v["timestamp"])
                c["attempts"] = 1
            elif msg.startswith("beginning attempt"):
                c["attempts"] += 1
            elif "exiting attempt loop" in msg:
                c["end"] = _epoch(v["timestamp"])
    return [(c["method"], c["begin"], c["end"], c.get("attempts", 1))
            for c in calls.values() if "begin" in c and "end" in c]


def pct(xs, q):
    """Nearest-rank percentile of a list."""
    s = sorted(xs)
    return s[max(0, math.ceil(q * len(s)) - 1)]


# How long a batch of settlements waits for more entries before it is sent
# (src/service/settlement.rs, LINGER). On an empty queue every delete waits it in full.
LINGER_S = 0.050


def cmd_probe(a):
    # A queue of its own: long polls of the stopped loaded-run service linger in the emulator
    # for up to 20 s and would take (and hide) a message sent to their queue.
    sqs = client("sqs", a.emulator, a.account)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=a.dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName="bench-probe", Attributes={
        "VisibilityTimeout": "60",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "10"}),
    })["QueueUrl"]
    env = dict(os.environ, RUST_LOG=PROBE_LOG)
    args = [a.binary, "--log-format", "json", "run", "--queue-url", queue_url,
            "--listen", "127.0.0.1:0", "--no-initial-resync", "--policy", a.policy,
            "--concurrency", str(a.concurrency)]
    logf = open(a.log, "w")
    svc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=logf)
    windows = []
    try:
        base = wait_for_listen(a.log, lambda: svc.poll() is None)
        time.sleep(0.5)  # the first long poll is under way
        names = [notebook_name(i % a.resources) for i in range(a.warmup + a.count)]
        for i, name in enumerate(names):
            before = scrape(base)
            n0 = total(before, "sagemaker_guard_message_duration_seconds_count")
            sent = time.time()
            sqs.send_message(QueueUrl=queue_url, MessageBody=cloudtrail(a.account, name))
            deadline = time.monotonic() + 30
            while True:
                after = scrape(base)
                if total(after, "sagemaker_guard_message_duration_seconds_count") >= n0 + 1:
                    break
                if time.monotonic() > deadline or svc.poll() is not None:
                    raise SystemExit(f"error: probe message {i} was not settled in 30 s")
                time.sleep(0.005)
            settled = time.time()
            if i >= a.warmup:
                d = lambda n: total(after, n) - total(before, n)
                windows.append({
                    "sent": sent, "settled": settled,
                    "message": d("sagemaker_guard_message_duration_seconds_sum"),
                    "reconcile": d("sagemaker_guard_reconcile_duration_seconds_sum"),
                    "aws_sum": d("sagemaker_guard_aws_api_call_duration_seconds_sum"),
                    "aws_count": d("sagemaker_guard_aws_api_call_duration_seconds_count"),
                    "deleted": d("sagemaker_guard_messages_deleted_total"),
                })
            time.sleep(0.02)
        hwm_kb = proc_status(svc.pid, "VmHWM")
        attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        left = sum(int(v) for v in attrs.values())
    finally:
        if svc.poll() is None:
            svc.send_signal(signal.SIGTERM)
            try:
                svc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                svc.kill()
                svc.wait()
        logf.close()

    calls = sdk_calls(a.log)
    samples, skipped = [], []
    for w in windows:
        # The calls that ended while this message was out: its receive (which began before
        # it was sent), its DescribeNotebookInstance and its DeleteMessageBatch.
        mine = [c for c in calls if w["sent"] < c[2] <= w["settled"]]
        by = {}
        for method, begin, end, attempts in mine:
            by.setdefault(method, []).append((end - begin, attempts))
        want = ("ReceiveMessage", "DescribeNotebookInstance", "DeleteMessageBatch")
        if w["aws_count"] != 3 or w["deleted"] != 1 or sorted(by) != sorted(want) \
                or any(len(v) != 1 or v[0][1] != 1 for v in by.values()):
            # a retry or anything unexpected: left out, counted, kept in the JSON
            skipped.append({"window": w, "calls": {k: v for k, v in by.items()}})
            continue
        r, dsc, dele = (by[k][0][0] for k in want)
        samples.append({
            "message": w["message"], "reconcile": w["reconcile"],
            "describe": dsc, "delete": dele, "receive": r,
            # the linger is waiting by design, not work: left out like the calls
            "own": w["message"] - dsc - dele - LINGER_S,
            "linger_and_own": w["message"] - dsc - dele,
            # the same with the metrics' time for both calls (their sum less the log's receive):
            # the log's durations are a few hundredths of a millisecond longer than the
            # interceptor's, so this one errs towards more own time
            "own_metric": w["message"] - (w["aws_sum"] - r) - LINGER_S,
            "reconcile_own": w["reconcile"] - dsc,
            # the log's call durations against the metrics' (interceptor) durations
            "log_minus_metric": (r + dsc + dele) - w["aws_sum"],
        })
    if not samples:
        raise SystemExit("error: no probe message could be measured")
    k = len(samples)
    log("")
    log(f"latency probe: {k} messages one at a time, no backlog ({a.warmup} warm-up messages "
        f"and {len(skipped)} with retries or unexpected calls left out);")
    for sk in skipped[:5]:
        w = sk["window"]
        log(f"  left out: {w['aws_count']:.0f} AWS calls in the metrics, "
            f"{w['deleted']:.0f} deleted; calls in the log "
            + json.dumps({m: [round(d * 1000, 3) for d, _ in v] for m, v in sk["calls"].items()}))
    log(f"exact percentiles (nearest rank) over {k} messages")
    rows = [("message duration", "message"),
            ("  DescribeNotebookInstance", "describe"), ("  DeleteMessageBatch", "delete"),
            (f"service's own time (message - both calls - {LINGER_S * 1000:.0f} ms linger)", "own"),
            ("  the same with the linger (message - both calls)", "linger_and_own"),
            ("  the same, calls timed by the metrics", "own_metric"),
            ("  of which in the reconcile (reconcile - Describe)", "reconcile_own"),
            ("log minus metric call time (3 calls)", "log_minus_metric")]
    summary = {}
    for label, key in rows:
        xs = [s[key] for s in samples]
        summary[key] = {"p50": pct(xs, .5), "p99": pct(xs, .99), "max": max(xs),
                        "mean": sum(xs) / k}
        log(f"  {label:<50} p50 {pct(xs, .5) * 1000:7.3f}  p99 {pct(xs, .99) * 1000:7.3f}  "
            f"max {max(xs) * 1000:7.3f}  mean {sum(xs) / k * 1000:7.3f} ms")
    with open(a.log) as f:
        lines = sum(1 for _ in f)
    log(f"  the probe service wrote {lines / (a.warmup + a.count):.0f} log lines per message (the "
        f"SDK's debug lines); writing them is part of the times above")
    log(f"  probe service peak RSS (VmHWM): {hwm_kb / 1024:.1f} MB")
    if left:
        log(f"error: {left} messages left on the probe's queue")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"count": k, "warmup": a.warmup, "skipped": skipped, "summary": summary,
                       "peak_rss_mb": hwm_kb / 1024, "samples": samples}, f, indent=1)
    sys.exit(1 if left else 0)


# --- queues ------------------------------------------------------------------------------------

# --- compliance --------------------------------------------------------------------------------

def state_change(account, notebook, status):
    """SageMaker's state-change event, as the EventBridge rule delivers it."""
    return json.dumps({
        "version": "0", "id": "e", "detail-type": "SageMaker Notebook Instance State Change",
        "source": "aws.sagemaker", "account": account, "time": "2026-12-01T00:00:00Z",
        "region": REGION, "resources": [],
        "detail": {"NotebookInstanceName": notebook, "NotebookInstanceStatus": status}})


def cmd_compliance(a):
    """Time from a notebook's first event to compliance, with remediation on: K notebooks with
    root access (SageMaker.3: stop, update, start), transitions of T seconds, one event each,
    and the state-change event as each transition ends (as the EventBridge rule delivers them).
    Its floor is the sum of the fix's transitions (stop, update, start: 3 T)."""
    import urllib.request
    account = a.account
    sm, sqs = client("sagemaker", a.emulator, account), client("sqs", a.emulator, account)
    req = urllib.request.Request(f"{a.emulator}/sg-emulator/config", method="POST",
                                 data=json.dumps({"account": account,
                                                  "transitionSeconds": a.transition}).encode())
    urllib.request.urlopen(req, timeout=10).read()
    names = [f"bench-fix-{i:03d}" for i in range(a.count)]
    for n in names:
        sm.create_notebook_instance(NotebookInstanceName=n, InstanceType="ml.t3.medium",
                                    RoleArn=f"arn:aws:iam::{account}:role/sagemaker",
                                    RootAccess="Enabled", DirectInternetAccess="Disabled",
                                    SubnetId="subnet-0bench", SecurityGroupIds=["sg-0bench"])
    status = lambda n: sm.describe_notebook_instance(NotebookInstanceName=n)
    deadline = time.monotonic() + 60
    while any(status(n)["NotebookInstanceStatus"] != "InService" for n in names):
        if time.monotonic() > deadline:
            raise SystemExit("error: the notebooks did not come into service")
        time.sleep(0.2)
    dlq_arn = sqs.get_queue_attributes(QueueUrl=a.dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName="bench-compliance", Attributes={
        "VisibilityTimeout": "60",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "10"}),
    })["QueueUrl"]
    with open(a.policy, "w") as f:
        f.write("apiVersion: sagemaker-guard/v1\nkind: GuardPolicy\nmetadata: {name: bench-fix}\n"
                "spec:\n  dryRun: false\n  defaultAction: \"off\"\n"
                "  remediation: {mutationsPerSecond: 50, maxRemediationsPerHour: 1000}\n"
                "  controls:\n    SageMaker.3: {action: remediate}\n")
    # The start line (with the listen address) is at info.
    env = dict(os.environ, RUST_LOG="warn,sagemaker_guard=info")
    args = [a.binary, "--log-format", "json", "run", "--queue-url", queue_url,
            "--listen", "127.0.0.1:0", "--no-initial-resync", "--policy", a.policy,
            "--settle-interval", a.settle_interval]
    logf = open(a.log, "w")
    svc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=logf)
    took = {}
    try:
        wait_for_listen(a.log, lambda: svc.poll() is None)
        first = {}
        for n in names:
            first[n] = time.monotonic()
            sqs.send_message(QueueUrl=queue_url, MessageBody=cloudtrail(account, n))
        last = {n: "InService" for n in names}
        deadline = time.monotonic() + a.timeout
        # Plays EventBridge: one list call reads every status (a transition of T seconds must
        # not end unseen between two looks), and each transition's end is sent as it is seen.
        while len(took) < len(names):
            if time.monotonic() > deadline or svc.poll() is not None:
                raise SystemExit(f"error: {len(names) - len(took)} notebooks not compliant "
                                 f"within {a.timeout} s")
            listed = sm.list_notebook_instances(NameContains="bench-fix-", MaxResults=100)
            for nb in listed["NotebookInstances"]:
                n, st = nb["NotebookInstanceName"], nb["NotebookInstanceStatus"]
                if n in took or n not in last:
                    continue
                if st != last[n] and st in ("Stopped", "InService"):
                    sqs.send_message(QueueUrl=queue_url, MessageBody=state_change(account, n, st))
                if st == "InService" and st != last[n] and status(n).get("RootAccess") == "Disabled":
                    took[n] = time.monotonic() - first[n]
                last[n] = st
            time.sleep(0.02)
    finally:
        if svc.poll() is None:
            svc.send_signal(signal.SIGTERM)
            svc.wait(timeout=60)
    xs = sorted(took.values())
    floor = 3 * a.transition
    print(f"time to compliance:     {len(xs)} notebooks (SageMaker.3 in place: stop, update, start; "
          f"{a.transition} s transitions, --settle-interval {a.settle_interval}, state changes delivered)")
    print(f"  first event -> compliant: p50 {pct(xs, 0.5):.2f} s, p99 {pct(xs, 0.99):.2f} s, "
          f"max {xs[-1]:.2f} s; floor (its transitions) {floor:.2f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"count": len(xs), "p50_s": pct(xs, 0.5), "p99_s": pct(xs, 0.99),
                       "max_s": xs[-1], "floor_s": floor, "transition_s": a.transition}, f)


def cmd_queues(a):
    sqs = client("sqs", a.url, a.account)
    ok = True
    for label, url in (("queue", a.queue_url), ("dead-letter queue", a.dlq_url)):
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        visible = int(attrs["ApproximateNumberOfMessages"])
        hidden = int(attrs["ApproximateNumberOfMessagesNotVisible"])
        log(f"{label + ':':<19} {visible} visible, {hidden} in flight")
        ok = ok and visible == 0 and hidden == 0
    sys.exit(0 if ok else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("url")
    s.add_argument("account")
    s.add_argument("--resources", type=int, required=True)
    s.add_argument("--events", type=int, required=True)
    s.add_argument("--threads", type=int, default=8)
    s.add_argument("--backlog", type=int, default=None,
                   help="enqueue only this many now (default: all)")
    s = sub.add_parser("measure")
    s.add_argument("--log", required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--start-ns", type=int, required=True)
    s.add_argument("--events", type=int, required=True)
    s.add_argument("--concurrency", type=int, default=16)
    s.add_argument("--sent", type=int, default=None, help="events already on the queue")
    s.add_argument("--backlog", type=int, default=None)
    s.add_argument("--resources", type=int, default=None)
    s.add_argument("--emulator-pid", type=int)
    s.add_argument("--emulator", help="with --account and --queue-url: wait for an empty queue")
    s.add_argument("--account")
    s.add_argument("--queue-url")
    s.add_argument("--timeout", type=float, default=900)
    s.add_argument("--json")
    s = sub.add_parser("probe")
    s.add_argument("--binary", required=True)
    s.add_argument("--policy", required=True)
    s.add_argument("--dlq-url", required=True)
    s.add_argument("--emulator", required=True)
    s.add_argument("--account", required=True)
    s.add_argument("--resources", type=int, required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--warmup", type=int, default=10)
    s.add_argument("--concurrency", type=int, default=16)
    s.add_argument("--log", required=True)
    s.add_argument("--json")
    s = sub.add_parser("compliance")
    s.add_argument("--binary", required=True)
    s.add_argument("--policy", required=True, help="where to write its policy")
    s.add_argument("--dlq-url", required=True)
    s.add_argument("--emulator", required=True)
    s.add_argument("--account", required=True)
    s.add_argument("--count", type=int, required=True)
    s.add_argument("--transition", type=float, default=0.5)
    s.add_argument("--settle-interval", default="15s")
    s.add_argument("--timeout", type=float, default=120)
    s.add_argument("--log", required=True)
    s.add_argument("--json")
    s = sub.add_parser("queues")
    s.add_argument("url")
    s.add_argument("account")
    s.add_argument("queue_url")
    s.add_argument("dlq_url")
    a = p.parse_args()
    if a.cmd == "measure" and a.sent is None:
        a.sent = a.events
    if a.cmd == "measure" and a.sent < a.events and not (a.backlog and a.resources and a.emulator
                                                         and a.account and a.queue_url):
        p.error("feeding needs --backlog, --resources, --emulator, --account and --queue-url")
    {"seed": cmd_seed, "measure": cmd_measure, "probe": cmd_probe, "compliance": cmd_compliance,
     "queues": cmd_queues}[a.cmd](a)


if __name__ == "__main__":
    main()

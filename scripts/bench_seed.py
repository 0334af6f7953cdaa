"""Seeds the local emulator with N compliant notebook instances for scripts/bench-sweep.

Usage: bench_seed.py URL ACCOUNT N [THREADS]. Uses boto3, which the emulator's requirements
install. Each notebook passes SageMaker.1, .2, .3 and .8: in a subnet with a security group, no
direct internet access, no root access, Amazon Linux 2023.
"""
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

url, account, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 8
role = f"arn:aws:iam::{account}:role/sagemaker-bench"

# boto3 clients are thread-safe, but creating them is not: one per thread, made on first use.
local = threading.local()
session = boto3.session.Session()
make_lock = threading.Lock()


def client():
    if not hasattr(local, "sm"):
        with make_lock:
            local.sm = session.client(
                "sagemaker",
                endpoint_url=url,
                region_name="us-east-1",
                aws_access_key_id=account,
                aws_secret_access_key="x",
                config=Config(retries={"max_attempts": 1}),
            )
    return local.sm


def create(i):
    client().create_notebook_instance(
        NotebookInstanceName=f"bench-nb-{i:05d}",
        InstanceType="ml.t3.medium",
        RoleArn=role,
        SubnetId="subnet-0a1b2c3d4e5f60718",
        SecurityGroupIds=["sg-0a1b2c3d4e5f60718"],
        DirectInternetAccess="Disabled",
        RootAccess="Disabled",
        PlatformIdentifier="notebook-al2023-v1",
    )


start = time.monotonic()
with ThreadPoolExecutor(max_workers=threads) as pool:
    # list() re-raises the first failure.
    list(pool.map(create, range(n)))
print(
    f"seeded {n} compliant notebook instances in account {account} "
    f"in {time.monotonic() - start:.1f}s",
    file=sys.stderr,
)

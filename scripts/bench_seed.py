"""Seeds the local emulator with N compliant resources for scripts/bench-sweep.

Usage: bench_seed.py URL ACCOUNT N [THREADS] [KINDS]. Uses boto3, which the emulator's
requirements install. KINDS `notebooks` (the default): N notebook instances, each passing
SageMaker.1, .2, .3 and .8 (in a subnet with a security group, no direct internet access, no root
access, Amazon Linux 2023). KINDS `monitoring`: N of each kind SageMaker.5, .9 to .20 and .22 to
.25 judge, each compliant with every control of its kind: the four kinds of Model Monitor job
definition on 2 instances with both switches on, monitoring schedules whose inline job has both,
models isolated with their image from a VPC registry, feature groups with both stores' keys,
inference experiments with both keys.
"""
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

url, account, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 8
kinds = sys.argv[5] if len(sys.argv) > 5 else "notebooks"
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


NETWORK = {"EnableInterContainerTrafficEncryption": True, "EnableNetworkIsolation": True}
OUTPUT = {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://bench/out", "LocalPath": "/opt/ml/processing/output"}}]}
ENDPOINT_INPUT = {"EndpointName": "bench-ep", "LocalPath": "/opt/ml/processing/input"}
CLUSTER = {"ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}}


def job_definition(kind, i):
    job_input = {"EndpointInput": ENDPOINT_INPUT}
    if kind in ("ModelQuality", "ModelBias"):
        job_input["GroundTruthS3Input"] = {"S3Uri": "s3://bench/ground-truth"}
    app = {"ImageUri": "monitor/analyzer:1"}
    if kind in ("ModelBias", "ModelExplainability"):
        app["ConfigUri"] = "s3://bench/analysis.json"
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in kind).lstrip("_")
    getattr(client(), f"create_{snake}_job_definition")(
        JobDefinitionName=f"bench-{snake.replace('_', '-')}-{i:05d}",
        **{f"{kind}AppSpecification": app, f"{kind}JobInput": job_input, f"{kind}JobOutputConfig": OUTPUT},
        JobResources=CLUSTER, NetworkConfig=NETWORK, RoleArn=role,
    )


def schedule(i):
    client().create_monitoring_schedule(
        MonitoringScheduleName=f"bench-ms-{i:05d}",
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringType": "DataQuality",
            "MonitoringJobDefinition": {
                "MonitoringInputs": [{"EndpointInput": ENDPOINT_INPUT}],
                "MonitoringOutputConfig": OUTPUT,
                "MonitoringResources": CLUSTER,
                "MonitoringAppSpecification": {"ImageUri": "monitor/analyzer:1"},
                "NetworkConfig": NETWORK,
                "RoleArn": role,
            },
        },
    )


def model(i):
    client().create_model(
        ModelName=f"bench-model-{i:05d}", ExecutionRoleArn=role, EnableNetworkIsolation=True,
        PrimaryContainer={"Image": "inference:1", "ImageConfig": {"RepositoryAccessMode": "Vpc"}},
    )


def feature_group(i):
    client().create_feature_group(
        FeatureGroupName=f"bench-fg-{i:05d}", RecordIdentifierFeatureName="id", EventTimeFeatureName="t",
        FeatureDefinitions=[{"FeatureName": "id", "FeatureType": "String"},
                            {"FeatureName": "t", "FeatureType": "Fractional"}],
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://bench/offline", "KmsKeyId": "alias/features"}},
        OnlineStoreConfig={"EnableOnlineStore": True, "SecurityConfig": {"KmsKeyId": "alias/features"}},
        RoleArn=role,
    )


def experiment(i):
    variant = lambda name: {"ModelName": "bench-model", "VariantName": name, "InfrastructureConfig": {
        "InfrastructureType": "RealTimeInference",
        "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}}
    client().create_inference_experiment(
        Name=f"bench-ie-{i:05d}", Type="ShadowMode", RoleArn=role, EndpointName="bench-ep",
        ModelVariants=[variant("prod"), variant("shadow")], KmsKey="alias/experiments",
        DataStorageConfig={"Destination": "s3://bench/captures", "KmsKey": "alias/experiments"},
        ShadowModeConfig={"SourceModelVariantName": "prod",
                          "ShadowModelVariants": [{"ShadowModelVariantName": "shadow", "SamplingPercentage": 10}]},
    )


if kinds == "notebooks":
    seeders = [create]
elif kinds == "monitoring":
    seeders = [
        lambda i: job_definition("DataQuality", i),
        lambda i: job_definition("ModelQuality", i),
        lambda i: job_definition("ModelBias", i),
        lambda i: job_definition("ModelExplainability", i),
        schedule, model, feature_group, experiment,
    ]
else:
    sys.exit(f"error: unknown KINDS {kinds} (notebooks or monitoring)")

start = time.monotonic()
with ThreadPoolExecutor(max_workers=threads) as pool:
    # list() re-raises the first failure.
    for seed in seeders:
        list(pool.map(seed, range(n)))
print(
    f"seeded {n * len(seeders)} compliant resources ({kinds}) in account {account} "
    f"in {time.monotonic() - start:.1f}s",
    file=sys.stderr,
)

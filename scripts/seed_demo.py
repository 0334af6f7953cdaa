"""Seeds the local emulator with SageMaker resources for the demo: some compliant, most not.

Usage: seed_demo.py URL ACCOUNT. Uses boto3, which the emulator's requirements install.
"""
import sys

import boto3

url, account = sys.argv[1], sys.argv[2]
sm = boto3.client(
    "sagemaker",
    endpoint_url=url,
    region_name="us-east-1",
    aws_access_key_id=account,
    aws_secret_access_key="demo",
)
role = f"arn:aws:iam::{account}:role/sagemaker-demo"

# A notebook created with the console's defaults: internet access, no VPC, root, Amazon Linux 2.
sm.create_notebook_instance(
    NotebookInstanceName="research-notebook",
    InstanceType="ml.t3.medium",
    RoleArn=role,
    PlatformIdentifier="notebook-al2-v3",
    Tags=[{"Key": "owner", "Value": "alice"}],
)
# In a VPC, without direct internet access, but with root access.
sm.create_notebook_instance(
    NotebookInstanceName="team-notebook",
    InstanceType="ml.t3.medium",
    RoleArn=role,
    SubnetId="subnet-0a1b2c3d4e5f60718",
    SecurityGroupIds=["sg-0a1b2c3d4e5f60718"],
    DirectInternetAccess="Disabled",
    PlatformIdentifier="notebook-al2023-v1",
)
# Fully compliant.
sm.create_notebook_instance(
    NotebookInstanceName="locked-down-notebook",
    InstanceType="ml.t3.medium",
    RoleArn=role,
    SubnetId="subnet-0a1b2c3d4e5f60718",
    SecurityGroupIds=["sg-0a1b2c3d4e5f60718"],
    DirectInternetAccess="Disabled",
    RootAccess="Disabled",
    PlatformIdentifier="notebook-al2023-v1",
    KmsKeyId="alias/notebooks",
)
container = {"Image": f"{account}.dkr.ecr.us-east-1.amazonaws.com/inference:1"}
sm.create_model(ModelName="churn-model", ExecutionRoleArn=role, PrimaryContainer=container)
# Isolated, its image pulled through the VPC from a private registry.
sm.create_model(
    ModelName="isolated-model",
    ExecutionRoleArn=role,
    PrimaryContainer={**container, "ImageConfig": {"RepositoryAccessMode": "Vpc"}},
    EnableNetworkIsolation=True,
)
sm.create_endpoint_config(
    EndpointConfigName="churn-single-instance",
    ProductionVariants=[
        {"VariantName": "main", "ModelName": "churn-model", "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
    ],
)
sm.create_endpoint_config(
    EndpointConfigName="churn-serverless",
    ProductionVariants=[
        {"VariantName": "main", "ModelName": "churn-model", "ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 5}}
    ],
)
sm.create_image(ImageName="custom-kernel", RoleArn=role)
sm.create_app_image_config(AppImageConfigName="custom-kernel-config", Tags=[{"Key": "owner", "Value": "ml-platform"}])
# Data quality monitoring of the churn endpoint: a job definition on two instances whose traffic
# between containers is not encrypted, and an hourly schedule that defines the same job inline.
output = {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://demo-monitoring/reports",
                                              "LocalPath": "/opt/ml/processing/output"}}]}
endpoint_input = {"EndpointName": "churn", "LocalPath": "/opt/ml/processing/input"}
cluster = {"ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}}
analyzer = {"ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"}
sm.create_data_quality_job_definition(
    JobDefinitionName="churn-data-quality",
    DataQualityAppSpecification=analyzer,
    DataQualityJobInput={"EndpointInput": endpoint_input},
    DataQualityJobOutputConfig=output,
    JobResources=cluster,
    NetworkConfig={"EnableNetworkIsolation": True},
    RoleArn=role,
)
sm.create_monitoring_schedule(
    MonitoringScheduleName="churn-hourly",
    MonitoringScheduleConfig={
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
        "MonitoringType": "DataQuality",
        "MonitoringJobDefinition": {
            "MonitoringInputs": [{"EndpointInput": endpoint_input}],
            "MonitoringOutputConfig": output,
            "MonitoringResources": cluster,
            "MonitoringAppSpecification": analyzer,
            "NetworkConfig": {"EnableNetworkIsolation": True},
            "RoleArn": role,
        },
    },
)
print(
    "seeded 3 notebook instances, 2 models, 2 endpoint configs, 1 image, 1 app image config, "
    "1 data quality job definition, 1 monitoring schedule",
    file=sys.stderr,
)

"""Tests for sg_emulator.py.  From the repository root:

    .venv/bin/python -m unittest discover -s tests/emulator -v

One emulator subprocess serves the whole module; every test starts from a reset.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
from datetime import datetime, timezone

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

EMULATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sg_emulator.py")
ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"
REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
T = 0.3  # transition time used by the transition tests

_server: dict = {}


def start_emulator(*args: str, env: dict | None = None) -> tuple[subprocess.Popen, str, str, float]:
    """Starts an emulator; returns (process, url, port file, seconds until ready)."""
    port_file = os.path.join(tempfile.mkdtemp(prefix="sg-emulator-test-"), "url")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, EMULATOR, "--port", "0", "--port-file", port_file, *args],
        stdout=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
    )
    line = proc.stdout.readline().strip()
    elapsed = time.monotonic() - started
    if not line.startswith("sg-emulator listening on "):
        proc.kill()
        raise RuntimeError(f"unexpected first line from emulator: {line!r}")
    with open(port_file) as f:
        url = f.read()
    assert line == f"sg-emulator listening on {url}", (line, url)
    return proc, url, port_file, elapsed


def stop_emulator(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=10)
    proc.stdout.close()
    return code


def setUpModule() -> None:
    proc, url, port_file, elapsed = start_emulator()
    _server.update(proc=proc, url=url, port_file=port_file, startup=elapsed)


def tearDownModule() -> None:
    stop_emulator(_server["proc"])


def control(method: str, path: str, body: dict | None = None, url: str | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url or _server['url']}/sg-emulator/{path}", data=data, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def client(service: str = "sagemaker", account: str = ACCOUNT, retries: int = 1, region: str = REGION):
    return boto3.client(
        service, endpoint_url=_server["url"], region_name=region,
        aws_access_key_id=account, aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": retries, "mode": "standard"}),
    )


class EmulatorTest(unittest.TestCase):
    def setUp(self) -> None:
        self.assertEqual(control("POST", "reset")[0], 200)
        self.sm = client()

    def set_transition(self, seconds: float) -> None:
        expected = (200, {"transitionSeconds": seconds})
        self.assertEqual(control("POST", "config", {"transitionSeconds": seconds}), expected)

    def assert_error(self, code: str, call, *message_parts: str, **kwargs) -> ClientError:
        with self.assertRaises(ClientError) as caught:
            call(**kwargs)
        error = caught.exception.response["Error"]
        self.assertEqual(error["Code"], code, error)
        for part in message_parts:
            self.assertIn(part, error["Message"])
        return caught.exception

    def create_notebook(self, name: str = "nb", **kwargs) -> str:
        return self.sm.create_notebook_instance(
            NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn=ROLE, **kwargs
        )["NotebookInstanceArn"]

    def notebook(self, name: str = "nb") -> dict:
        return self.sm.describe_notebook_instance(NotebookInstanceName=name)

    def status(self, name: str = "nb") -> str:
        return self.notebook(name)["NotebookInstanceStatus"]

    def create_model(self, name: str = "model", **kwargs) -> str:
        return self.sm.create_model(
            ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img:latest"}, **kwargs
        )["ModelArn"]

    def create_endpoint_config(self, name: str = "config", model: str = "model") -> str:
        return self.sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[{"VariantName": "v1", "ModelName": model, "InstanceType": "ml.m5.large",
                                 "InitialInstanceCount": 2}],
        )["EndpointConfigArn"]


class ServerTest(EmulatorTest):
    def test_starts_and_writes_port_file(self) -> None:
        # How fast it starts is not a test's business (a loaded machine is slow); that it
        # starts and says where is.
        self.assertGreater(_server["startup"], 0.0)
        self.assertRegex(_server["url"], r"^http://127\.0\.0\.1:\d+$")

    def test_transition_seconds_from_env_and_clean_shutdown(self) -> None:
        proc, url, port_file, _ = start_emulator(env={"SG_EMULATOR_TRANSITION_SECONDS": "0.75"})
        try:
            self.assertEqual(control("GET", "config", url=url), (200, {"transitionSeconds": 0.75}))
        finally:
            self.assertEqual(stop_emulator(proc), 0)
        self.assertFalse(os.path.exists(port_file))

    def test_cli_flag_overrides_env(self) -> None:
        proc, url, _, _ = start_emulator("--transition-seconds", "2", env={"SG_EMULATOR_TRANSITION_SECONDS": "5"})
        try:
            self.assertEqual(control("GET", "config", url=url), (200, {"transitionSeconds": 2.0}))
        finally:
            stop_emulator(proc)

    def test_unknown_control_route_is_404(self) -> None:
        status, body = control("GET", "nope")
        self.assertEqual(status, 404)
        self.assertIn("error", body)


class NotebookDescribeTest(EmulatorTest):
    def test_defaults(self) -> None:
        arn = self.create_notebook()
        self.assertEqual(arn, f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/nb")
        nb = self.notebook()
        self.assertEqual(nb["NotebookInstanceArn"], arn)
        self.assertEqual(nb["NotebookInstanceStatus"], "InService")
        self.assertEqual(nb["PlatformIdentifier"], "notebook-al2023-v1")
        self.assertEqual(nb["InstanceMetadataServiceConfiguration"], {"MinimumInstanceMetadataServiceVersion": "1"})
        self.assertEqual(nb["RootAccess"], "Enabled")
        self.assertEqual(nb["DirectInternetAccess"], "Enabled")
        self.assertEqual(nb["VolumeSizeInGB"], 5)
        self.assertEqual(nb["InstanceType"], "ml.t3.medium")
        self.assertEqual(nb["RoleArn"], ROLE)
        self.assertEqual(nb["Url"], f"nb.notebook.{REGION}.sagemaker.aws")
        for absent in ("SubnetId", "SecurityGroups", "KmsKeyId", "NetworkInterfaceId", "FailureReason",
                       "NotebookInstanceLifecycleConfigName", "DefaultCodeRepository", "AcceleratorTypes"):
            self.assertNotIn(absent, nb)
        self.assertIsInstance(nb["CreationTime"], datetime)
        self.assertIsInstance(nb["LastModifiedTime"], datetime)

    def test_create_time_settings_are_returned(self) -> None:
        self.create_notebook(
            SubnetId="subnet-1234", SecurityGroupIds=["sg-1", "sg-2"], KmsKeyId="kms-key",
            LifecycleConfigName="lcc", DirectInternetAccess="Disabled", VolumeSizeInGB=20,
            AcceleratorTypes=["ml.eia2.medium"], DefaultCodeRepository="https://example.com/repo.git",
            AdditionalCodeRepositories=["repo-b"], RootAccess="Disabled", PlatformIdentifier="notebook-al2-v2",
            InstanceMetadataServiceConfiguration={"MinimumInstanceMetadataServiceVersion": "2"},
            Tags=[{"Key": "team", "Value": "ml"}],
        )
        nb = self.notebook()
        expected = {
            "SubnetId": "subnet-1234", "SecurityGroups": ["sg-1", "sg-2"], "KmsKeyId": "kms-key",
            "NotebookInstanceLifecycleConfigName": "lcc", "DirectInternetAccess": "Disabled", "VolumeSizeInGB": 20,
            "AcceleratorTypes": ["ml.eia2.medium"], "DefaultCodeRepository": "https://example.com/repo.git",
            "AdditionalCodeRepositories": ["repo-b"], "RootAccess": "Disabled",
            "PlatformIdentifier": "notebook-al2-v2",
            "InstanceMetadataServiceConfiguration": {"MinimumInstanceMetadataServiceVersion": "2"},
        }
        self.assertEqual({k: nb.get(k) for k in expected}, expected)
        self.assertRegex(nb["NetworkInterfaceId"], r"^eni-[0-9a-f]{17}$")
        tags = self.sm.list_tags(ResourceArn=nb["NotebookInstanceArn"])["Tags"]
        self.assertEqual(tags, [{"Key": "team", "Value": "ml"}])

    def test_kms_key_is_returned(self) -> None:
        key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        self.create_notebook("encrypted", KmsKeyId=key)
        self.create_notebook("plain")
        self.assertEqual(self.notebook("encrypted")["KmsKeyId"], key)
        self.assertNotIn("KmsKeyId", self.notebook("plain"))

    def test_list_returns_summaries(self) -> None:
        self.create_notebook("a", DefaultCodeRepository="repo", LifecycleConfigName="lcc")
        self.create_notebook("b")
        listed = self.sm.list_notebook_instances()["NotebookInstances"]
        self.assertEqual([n["NotebookInstanceName"] for n in listed], ["a", "b"])
        first = listed[0]
        self.assertEqual(first["NotebookInstanceStatus"], "InService")
        self.assertEqual(first["DefaultCodeRepository"], "repo")
        self.assertEqual(first["NotebookInstanceLifecycleConfigName"], "lcc")
        for key in ("NotebookInstanceArn", "Url", "InstanceType", "CreationTime", "LastModifiedTime"):
            self.assertIn(key, first)

    def test_describe_missing_is_record_not_found(self) -> None:
        self.assert_error("ValidationException", self.sm.describe_notebook_instance, "RecordNotFound",
                          NotebookInstanceName="missing")

    def test_a_name_in_another_case_finds_the_notebook_with_its_own_spelling(self) -> None:
        self.create_notebook("ML-Research-7")
        self.assertEqual(self.notebook("ml-research-7")["NotebookInstanceName"], "ML-Research-7")

    def test_the_arn_lower_cases_the_name_and_finds_the_notebook(self) -> None:
        arn = self.create_notebook("ML-Research-7", Tags=[{"Key": "team", "Value": "ml"}])
        self.assertEqual(arn, f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:notebook-instance/ml-research-7")
        self.assertEqual(self.notebook("ML-Research-7")["NotebookInstanceArn"], arn)
        listed = self.sm.list_notebook_instances()["NotebookInstances"]
        self.assertEqual([(n["NotebookInstanceName"], n["NotebookInstanceArn"]) for n in listed],
                         [("ML-Research-7", arn)])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "team", "Value": "ml"}])

    def test_a_name_taken_in_another_case_is_a_duplicate(self) -> None:
        self.create_notebook("ML-Research-7")
        self.assert_error("ValidationException", self.create_notebook, "Cannot create a duplicate Notebook Instance",
                          name="ml-research-7")

    def test_duplicate_name_is_rejected(self) -> None:
        self.create_notebook()
        self.assert_error("ValidationException", self.create_notebook, "Cannot create a duplicate Notebook Instance")


class NotebookTransitionTest(EmulatorTest):
    def test_instant_transitions_with_zero_transition_time(self) -> None:
        self.create_notebook()
        self.assertEqual(self.status(), "InService")
        self.sm.stop_notebook_instance(NotebookInstanceName="nb")
        self.assertEqual(self.status(), "Stopped")
        self.sm.update_notebook_instance(NotebookInstanceName="nb", RootAccess="Disabled")
        self.assertEqual(self.status(), "Stopped")
        self.sm.start_notebook_instance(NotebookInstanceName="nb")
        self.assertEqual(self.status(), "InService")
        self.sm.stop_notebook_instance(NotebookInstanceName="nb")
        self.sm.delete_notebook_instance(NotebookInstanceName="nb")
        self.assert_error("ValidationException", self.notebook, "RecordNotFound")

    def test_full_lifecycle_with_transition_time(self) -> None:
        self.set_transition(T)

        def expect(status: str, then: str) -> None:
            self.assertEqual(self.status(), status)
            time.sleep(T + 0.1)
            self.assertEqual(self.status(), then)

        self.create_notebook()
        expect("Pending", "InService")
        self.sm.stop_notebook_instance(NotebookInstanceName="nb")
        expect("Stopping", "Stopped")
        self.sm.update_notebook_instance(NotebookInstanceName="nb", VolumeSizeInGB=10)
        expect("Updating", "Stopped")
        self.sm.start_notebook_instance(NotebookInstanceName="nb")
        expect("Pending", "InService")
        self.sm.stop_notebook_instance(NotebookInstanceName="nb")
        time.sleep(T + 0.1)
        self.sm.delete_notebook_instance(NotebookInstanceName="nb")
        self.assertEqual(self.status(), "Deleting")
        listed = self.sm.list_notebook_instances()["NotebookInstances"]
        self.assertEqual(listed[0]["NotebookInstanceStatus"], "Deleting")
        time.sleep(T + 0.1)
        self.assert_error("ValidationException", self.notebook, "RecordNotFound")
        self.assertEqual(self.sm.list_notebook_instances()["NotebookInstances"], [])
        self.create_notebook()  # the name is free again

    def test_status_filter_sees_lazy_status(self) -> None:
        self.set_transition(T)
        self.create_notebook()
        self.assertEqual(len(self.sm.list_notebook_instances(StatusEquals="Pending")["NotebookInstances"]), 1)
        time.sleep(T + 0.1)
        self.assertEqual(len(self.sm.list_notebook_instances(StatusEquals="InService")["NotebookInstances"]), 1)

    def test_transition_time_applies_to_transitions_started_afterwards(self) -> None:
        self.set_transition(T)
        self.create_notebook()
        self.set_transition(0)
        self.assertEqual(self.status(), "Pending")  # started with T
        self.create_notebook("instant")
        self.assertEqual(self.status("instant"), "InService")

    def test_stop_guards(self) -> None:
        self.set_transition(T)
        arn = self.create_notebook()
        self.assert_error("ValidationException", self.sm.stop_notebook_instance,
                          f"Status (Pending) not in ([InService]). Unable to transition to (Stopping) "
                          f"for Notebook Instance ({arn})", NotebookInstanceName="nb")
        time.sleep(T + 0.1)
        self.sm.stop_notebook_instance(NotebookInstanceName="nb")
        self.assert_error("ValidationException", self.sm.stop_notebook_instance,
                          "Status (Stopping) not in ([InService])", NotebookInstanceName="nb")
        time.sleep(T + 0.1)
        self.assert_error("ValidationException", self.sm.stop_notebook_instance,
                          "Status (Stopped) not in ([InService])", NotebookInstanceName="nb")

    def test_start_guards(self) -> None:
        self.create_notebook()
        self.assert_error("ValidationException", self.sm.start_notebook_instance,
                          "Status (InService) not in ([Stopped, Failed]). Unable to transition to (Pending)",
                          NotebookInstanceName="nb")

    def test_delete_guards(self) -> None:
        self.create_notebook()
        self.assert_error("ValidationException", self.sm.delete_notebook_instance,
                          "Status (InService) not in ([Stopped, Failed]). Unable to transition to (Deleting)",
                          NotebookInstanceName="nb")

    def test_update_guard(self) -> None:
        self.create_notebook()
        self.assert_error("ValidationException", self.sm.update_notebook_instance,
                          "Status (InService) not in ([Stopped]). Unable to transition to (Updating)",
                          NotebookInstanceName="nb", RootAccess="Disabled")

    def test_operations_on_missing_notebook(self) -> None:
        for call in (self.sm.start_notebook_instance, self.sm.stop_notebook_instance,
                     self.sm.delete_notebook_instance, self.sm.update_notebook_instance):
            self.assert_error("ValidationException", call, "RecordNotFound", NotebookInstanceName="missing")


class NotebookUpdateTest(EmulatorTest):
    def setUp(self) -> None:
        super().setUp()
        self.create_notebook(
            LifecycleConfigName="lcc", DefaultCodeRepository="repo-a", AdditionalCodeRepositories=["repo-b"],
            AcceleratorTypes=["ml.eia2.medium"], VolumeSizeInGB=10,
        )
        self.sm.stop_notebook_instance(NotebookInstanceName="nb")

    def test_applies_every_setting(self) -> None:
        before = self.notebook()
        time.sleep(0.05)
        self.sm.update_notebook_instance(
            NotebookInstanceName="nb", RootAccess="Disabled", PlatformIdentifier="notebook-al2023-v1",
            InstanceType="ml.t3.large", RoleArn=f"{ROLE}-2", LifecycleConfigName="lcc-2", VolumeSizeInGB=20,
            DefaultCodeRepository="repo-c", AdditionalCodeRepositories=["repo-d", "repo-e"],
            AcceleratorTypes=["ml.eia2.large"],
            InstanceMetadataServiceConfiguration={"MinimumInstanceMetadataServiceVersion": "2"},
        )
        after = self.notebook()
        expected = {
            "RootAccess": "Disabled", "PlatformIdentifier": "notebook-al2023-v1", "InstanceType": "ml.t3.large",
            "RoleArn": f"{ROLE}-2", "NotebookInstanceLifecycleConfigName": "lcc-2", "VolumeSizeInGB": 20,
            "DefaultCodeRepository": "repo-c", "AdditionalCodeRepositories": ["repo-d", "repo-e"],
            "AcceleratorTypes": ["ml.eia2.large"],
            "InstanceMetadataServiceConfiguration": {"MinimumInstanceMetadataServiceVersion": "2"},
        }
        self.assertEqual({k: after.get(k) for k in expected}, expected)
        self.assertEqual(after["CreationTime"], before["CreationTime"])
        self.assertGreater(after["LastModifiedTime"], before["LastModifiedTime"])
        self.assertEqual(after["NotebookInstanceStatus"], "Stopped")

    def test_unset_parameters_are_kept(self) -> None:
        before = self.notebook()
        self.sm.update_notebook_instance(NotebookInstanceName="nb", RootAccess="Disabled")
        after = self.notebook()
        for key in ("InstanceType", "RoleArn", "NotebookInstanceLifecycleConfigName", "VolumeSizeInGB",
                    "DefaultCodeRepository", "AdditionalCodeRepositories", "AcceleratorTypes", "PlatformIdentifier"):
            self.assertEqual(after[key], before[key], key)

    def test_disassociate(self) -> None:
        self.sm.update_notebook_instance(
            NotebookInstanceName="nb", DisassociateLifecycleConfig=True, DisassociateDefaultCodeRepository=True,
            DisassociateAdditionalCodeRepositories=True, DisassociateAcceleratorTypes=True,
        )
        nb = self.notebook()
        for key in ("NotebookInstanceLifecycleConfigName", "DefaultCodeRepository", "AdditionalCodeRepositories",
                    "AcceleratorTypes"):
            self.assertNotIn(key, nb)

    def test_value_and_disassociate_together_is_rejected(self) -> None:
        self.assert_error("ValidationException", self.sm.update_notebook_instance,
                          "Cannot specify both LifecycleConfigName and DisassociateLifecycleConfig",
                          NotebookInstanceName="nb", LifecycleConfigName="x", DisassociateLifecycleConfig=True)

    def test_volume_can_only_grow(self) -> None:
        self.assert_error("ValidationException", self.sm.update_notebook_instance, "can only grow",
                          NotebookInstanceName="nb", VolumeSizeInGB=8)
        self.assertEqual(self.notebook()["VolumeSizeInGB"], 10)

    def test_invalid_instance_type_is_rejected(self) -> None:
        self.assert_error("ValidationException", self.sm.update_notebook_instance, "instanceType",
                          NotebookInstanceName="nb", InstanceType="ml.bogus")


class ModelAndEndpointTest(EmulatorTest):
    def test_model_network_isolation(self) -> None:
        self.create_model("isolated", EnableNetworkIsolation=True)
        self.create_model("open")
        self.assertTrue(self.sm.describe_model(ModelName="isolated")["EnableNetworkIsolation"])
        self.assertFalse(self.sm.describe_model(ModelName="open")["EnableNetworkIsolation"])

    def test_model_containers_keep_their_image_config(self) -> None:
        primary = {"Image": "111111111111.dkr.ecr.us-east-1.amazonaws.com/inference:1", "Mode": "SingleModel",
                   "ImageConfig": {"RepositoryAccessMode": "Vpc",
                                   "RepositoryAuthConfig": {"RepositoryCredentialsProviderArn": "arn:aws:lambda:x"}},
                   "Environment": {"A": "1"}}
        containers = [
            {"ContainerHostname": "first", "Image": "registry.example.com/a:1",
             "ImageConfig": {"RepositoryAccessMode": "Vpc"}},
            {"ContainerHostname": "second", "Image": "b:1", "ImageConfig": {"RepositoryAccessMode": "Platform"}},
            {"ContainerHostname": "third", "Image": "c:1"},
        ]
        self.sm.create_model(ModelName="single", ExecutionRoleArn=ROLE, PrimaryContainer=primary)
        self.sm.create_model(ModelName="multi", ExecutionRoleArn=ROLE, Containers=containers,
                             InferenceExecutionConfig={"Mode": "Direct"})
        self.assertEqual(self.sm.describe_model(ModelName="single")["PrimaryContainer"], primary)
        multi = self.sm.describe_model(ModelName="multi")
        self.assertEqual(multi["Containers"], containers)
        self.assertEqual(multi["InferenceExecutionConfig"], {"Mode": "Direct"})
        self.assertNotIn("PrimaryContainer", multi)  # moto returned {}
        self.assertNotIn("VpcConfig", multi)
        self.assertNotIn("Containers", self.sm.describe_model(ModelName="single"))

    def test_duplicate_model_is_rejected(self) -> None:
        arn = self.create_model(EnableNetworkIsolation=True)
        self.assert_error("ValidationException", self.create_model, f'Cannot create already existing model "{arn}"')
        self.assertTrue(self.sm.describe_model(ModelName="model")["EnableNetworkIsolation"])

    def test_duplicate_endpoint_config_is_rejected(self) -> None:
        self.create_model()
        arn = self.create_endpoint_config()
        self.assert_error("ValidationException", self.create_endpoint_config,
                          f'Cannot create already existing endpoint configuration "{arn}"')

    def test_duplicate_endpoint_is_rejected(self) -> None:
        self.create_model()
        self.create_endpoint_config()
        arn = self.sm.create_endpoint(EndpointName="ep", EndpointConfigName="config")["EndpointArn"]
        self.assert_error("ValidationException", self.sm.create_endpoint,
                          f'Cannot create already existing endpoint "{arn}"', EndpointName="ep",
                          EndpointConfigName="config")

    def test_update_endpoint(self) -> None:
        self.create_model()
        self.create_endpoint_config("old")
        self.create_endpoint_config("new")
        self.sm.create_endpoint(EndpointName="ep", EndpointConfigName="old")
        self.set_transition(T)
        self.assert_error("ValidationException", self.sm.update_endpoint, "Could not find endpoint configuration",
                          EndpointName="ep", EndpointConfigName="missing")
        self.assert_error("ValidationException", self.sm.update_endpoint, "Could not find endpoint",
                          EndpointName="missing", EndpointConfigName="new")

        arn = self.sm.update_endpoint(EndpointName="ep", EndpointConfigName="new")["EndpointArn"]
        self.assertTrue(arn.endswith(":endpoint/ep"))
        during = self.sm.describe_endpoint(EndpointName="ep")
        self.assertEqual(during["EndpointStatus"], "Updating")
        self.assertEqual(during["EndpointConfigName"], "old")
        self.assertEqual(during["PendingDeploymentSummary"]["EndpointConfigName"], "new")
        self.assertEqual(self.sm.list_endpoints()["Endpoints"][0]["EndpointStatus"], "Updating")
        self.assert_error("ValidationException", self.sm.update_endpoint, "Cannot update in-progress endpoint",
                          EndpointName="ep", EndpointConfigName="old")

        time.sleep(T + 0.1)
        after = self.sm.describe_endpoint(EndpointName="ep")
        self.assertEqual(after["EndpointStatus"], "InService")
        self.assertEqual(after["EndpointConfigName"], "new")
        self.assertNotIn("PendingDeploymentSummary", after)
        self.assertEqual(after["ProductionVariants"][0]["CurrentInstanceCount"], 2)

    def test_update_endpoint_instant(self) -> None:
        self.create_model()
        self.create_endpoint_config("old")
        self.create_endpoint_config("new")
        self.sm.create_endpoint(EndpointName="ep", EndpointConfigName="old")
        self.sm.update_endpoint(EndpointName="ep", EndpointConfigName="new")
        after = self.sm.describe_endpoint(EndpointName="ep")
        self.assertEqual((after["EndpointStatus"], after["EndpointConfigName"]), ("InService", "new"))


class ImageTest(EmulatorTest):
    def create_image(self, name: str = "img", **kwargs) -> str:
        return self.sm.create_image(ImageName=name, RoleArn=ROLE, **kwargs)["ImageArn"]

    def test_crud(self) -> None:
        arn = self.create_image(DisplayName="Image", Description="desc")
        self.assertEqual(arn, f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:image/img")
        image = self.sm.describe_image(ImageName="img")
        self.assertEqual(
            {k: image[k] for k in ("ImageName", "ImageArn", "ImageStatus", "DisplayName", "Description", "RoleArn")},
            {"ImageName": "img", "ImageArn": arn, "ImageStatus": "CREATED", "DisplayName": "Image",
             "Description": "desc", "RoleArn": ROLE},
        )
        self.assertIsInstance(image["CreationTime"], datetime)

        time.sleep(0.05)
        self.assertEqual(self.sm.update_image(ImageName="img", DeleteProperties=["Description"],
                                              DisplayName="Renamed")["ImageArn"], arn)
        updated = self.sm.describe_image(ImageName="img")
        self.assertNotIn("Description", updated)
        self.assertEqual(updated["DisplayName"], "Renamed")
        self.assertGreater(updated["LastModifiedTime"], image["LastModifiedTime"])
        self.assertEqual(updated["CreationTime"], image["CreationTime"])

        self.sm.delete_image(ImageName="img")
        self.assert_error("ResourceNotFound", self.sm.describe_image, "does not exist", ImageName="img")
        self.assert_error("ResourceNotFound", self.sm.delete_image, "does not exist", ImageName="img")
        self.assert_error("ResourceNotFound", self.sm.update_image, "does not exist", ImageName="img",
                          DisplayName="x")

    def test_status_transitions(self) -> None:
        self.set_transition(T)
        self.create_image()
        self.assertEqual(self.sm.describe_image(ImageName="img")["ImageStatus"], "CREATING")
        time.sleep(T + 0.1)
        self.assertEqual(self.sm.describe_image(ImageName="img")["ImageStatus"], "CREATED")
        self.sm.update_image(ImageName="img", DisplayName="x")
        self.assertEqual(self.sm.describe_image(ImageName="img")["ImageStatus"], "UPDATING")
        time.sleep(T + 0.1)
        self.assertEqual(self.sm.describe_image(ImageName="img")["ImageStatus"], "CREATED")
        self.sm.delete_image(ImageName="img")
        self.assertEqual(self.sm.describe_image(ImageName="img")["ImageStatus"], "DELETING")
        time.sleep(T + 0.1)
        self.assert_error("ResourceNotFound", self.sm.describe_image, ImageName="img")

    def test_duplicate_is_rejected(self) -> None:
        self.create_image()
        self.assert_error("ResourceInUse", self.create_image, "already exists")

    def test_list_paginates(self) -> None:
        names = [f"img-{i:02d}" for i in range(13)]
        for name in names:
            self.create_image(name)
        first = self.sm.list_images(SortBy="IMAGE_NAME", SortOrder="ASCENDING")
        self.assertEqual(len(first["Images"]), 10)  # AWS's default page size
        second = self.sm.list_images(SortBy="IMAGE_NAME", SortOrder="ASCENDING", NextToken=first["NextToken"])
        self.assertNotIn("NextToken", second)
        self.assertEqual([i["ImageName"] for i in first["Images"] + second["Images"]], names)

        paginated = [i["ImageName"] for page in self.sm.get_paginator("list_images").paginate(
            PaginationConfig={"PageSize": 4}) for i in page["Images"]]
        self.assertEqual(paginated, list(reversed(names)))  # default: CREATION_TIME, DESCENDING
        self.assertEqual(len(self.sm.list_images(NameContains="img-1")["Images"]), 3)
        summary = first["Images"][0]
        self.assertEqual(set(summary) - {"DisplayName", "Description"},
                         {"ImageName", "ImageArn", "ImageStatus", "CreationTime", "LastModifiedTime"})

    def test_tags(self) -> None:
        arn = self.create_image(Tags=[{"Key": "a", "Value": "1"}])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "a", "Value": "1"}])
        self.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "2"}, {"Key": "b", "Value": "3"}])
        self.assertEqual(sorted((t["Key"], t["Value"]) for t in self.sm.list_tags(ResourceArn=arn)["Tags"]),
                         [("a", "2"), ("b", "3")])
        self.sm.delete_tags(ResourceArn=arn, TagKeys=["a"])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "b", "Value": "3"}])


class AppImageConfigTest(EmulatorTest):
    KERNEL = {"KernelSpecs": [{"Name": "python3", "DisplayName": "Python 3"}],
              "FileSystemConfig": {"MountPath": "/home/sagemaker-user", "DefaultUid": 1000, "DefaultGid": 100}}

    def create(self, name: str = "aic", **kwargs) -> str:
        return self.sm.create_app_image_config(AppImageConfigName=name, **kwargs)["AppImageConfigArn"]

    def test_crud(self) -> None:
        arn = self.create(KernelGatewayImageConfig=self.KERNEL)
        self.assertEqual(arn, f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:app-image-config/aic")
        described = self.sm.describe_app_image_config(AppImageConfigName="aic")
        self.assertEqual(described["AppImageConfigArn"], arn)
        self.assertEqual(described["KernelGatewayImageConfig"], self.KERNEL)
        self.assertNotIn("JupyterLabAppImageConfig", described)

        time.sleep(0.05)
        jupyter = {"ContainerConfig": {"ContainerArguments": ["--x"]}}
        self.assertEqual(self.sm.update_app_image_config(AppImageConfigName="aic",
                                                         JupyterLabAppImageConfig=jupyter)["AppImageConfigArn"], arn)
        updated = self.sm.describe_app_image_config(AppImageConfigName="aic")
        self.assertEqual(updated["JupyterLabAppImageConfig"], jupyter)
        self.assertGreater(updated["LastModifiedTime"], described["LastModifiedTime"])

        self.sm.delete_app_image_config(AppImageConfigName="aic")
        for call in (self.sm.describe_app_image_config, self.sm.delete_app_image_config):
            self.assert_error("ResourceNotFound", call, "does not exist", AppImageConfigName="aic")

    def test_duplicate_is_rejected(self) -> None:
        self.create()
        self.assert_error("ResourceInUse", self.create, "already in use")

    def test_list_paginates(self) -> None:
        names = [f"aic-{i:02d}" for i in range(12)]
        for name in names:
            self.create(name)
        pages = list(self.sm.get_paginator("list_app_image_configs").paginate(
            SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 5}))
        self.assertEqual([len(p["AppImageConfigs"]) for p in pages], [5, 5, 2])
        self.assertEqual([c["AppImageConfigName"] for p in pages for c in p["AppImageConfigs"]], names)
        default = self.sm.list_app_image_configs()
        self.assertEqual(len(default["AppImageConfigs"]), 10)
        self.assertEqual(default["AppImageConfigs"][0]["AppImageConfigName"], "aic-11")  # newest first
        self.assertEqual(len(self.sm.list_app_image_configs(NameContains="aic-1")["AppImageConfigs"]), 2)

    def test_tags(self) -> None:
        arn = self.create(Tags=[{"Key": "owner", "Value": "me"}])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "owner", "Value": "me"}])
        self.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
        self.sm.delete_tags(ResourceArn=arn, TagKeys=["owner"])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "env", "Value": "dev"}])


def job_definition_request(kind: str, name: str, instance_count: int = 2, network: dict | None = None,
                           endpoint: str = "ep", **kwargs) -> dict:
    """A complete Create<kind>JobDefinition request."""
    job_input = {"EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input"}}
    if kind in ("ModelQuality", "ModelBias"):
        job_input["GroundTruthS3Input"] = {"S3Uri": "s3://bucket/ground-truth"}
    app = {"ImageUri": f"monitor/{kind.lower()}:1"}
    if kind in ("ModelBias", "ModelExplainability"):
        app["ConfigUri"] = "s3://bucket/analysis.json"
    request = {
        "JobDefinitionName": name,
        f"{kind}AppSpecification": app,
        f"{kind}JobInput": job_input,
        f"{kind}JobOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://bucket/out",
                                                                        "LocalPath": "/opt/ml/processing/output"}}]},
        "JobResources": {"ClusterConfig": {"InstanceCount": instance_count, "InstanceType": "ml.m5.xlarge",
                                           "VolumeSizeInGB": 20}},
        "RoleArn": ROLE,
        **kwargs,
    }
    if network is not None:
        request["NetworkConfig"] = network
    return request


def snake(kind: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in kind).lstrip("_")  # ModelBias -> model_bias


KINDS = ("DataQuality", "ModelQuality", "ModelBias", "ModelExplainability")
NETWORK = {"EnableInterContainerTrafficEncryption": True, "EnableNetworkIsolation": False,
           "VpcConfig": {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": ["subnet-0123456789abcdef0"]}}


class JobDefinitionTest(EmulatorTest):
    def create(self, kind: str, name: str = "jd", **kwargs) -> str:
        return getattr(self.sm, f"create_{snake(kind)}_job_definition")(
            **job_definition_request(kind, name, **kwargs))["JobDefinitionArn"]

    def describe(self, kind: str, name: str = "jd") -> dict:
        return getattr(self.sm, f"describe_{snake(kind)}_job_definition")(JobDefinitionName=name)

    def test_describe_returns_every_create_setting_of_each_type(self) -> None:
        for kind in KINDS:
            with self.subTest(kind):
                request = job_definition_request(kind, f"{snake(kind).replace('_', '-')}-Def", instance_count=3,
                                                 network=NETWORK, StoppingCondition={"MaxRuntimeInSeconds": 1800})
                arn = getattr(self.sm, f"create_{snake(kind)}_job_definition")(**request)["JobDefinitionArn"]
                resource = f"{snake(kind).replace('_', '-')}-job-definition/{snake(kind).replace('_', '-')}-def"
                self.assertEqual(arn, f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}")  # lower case
                described = self.describe(kind, request["JobDefinitionName"])
                self.assertIsInstance(described.pop("CreationTime"), datetime)
                described.pop("ResponseMetadata")
                self.assertEqual(described, {**request, "JobDefinitionArn": arn})

    def test_unset_network_config_stays_unset(self) -> None:
        self.create("DataQuality", instance_count=1)
        described = self.describe("DataQuality")
        self.assertNotIn("NetworkConfig", described)
        self.assertEqual(described["JobResources"]["ClusterConfig"]["InstanceCount"], 1)
        self.create("ModelBias", network={"EnableNetworkIsolation": True})
        self.assertEqual(self.describe("ModelBias")["NetworkConfig"], {"EnableNetworkIsolation": True})

    def test_delete_then_not_found(self) -> None:
        for kind in KINDS:
            with self.subTest(kind):
                self.create(kind)
                getattr(self.sm, f"delete_{snake(kind)}_job_definition")(JobDefinitionName="jd")
                self.assert_error("ResourceNotFound", self.describe, "Could not find", kind=kind)
                self.assert_error("ResourceNotFound", getattr(self.sm, f"delete_{snake(kind)}_job_definition"),
                                  JobDefinitionName="jd")

    def test_duplicate_name_is_rejected_per_type(self) -> None:
        self.create("ModelQuality", "jd")
        self.assert_error("ResourceInUse", self.create, "already exists", kind="ModelQuality", name="JD")
        self.create("DataQuality", "jd")  # the same name in another type is another resource

    def test_list_paginates_filters_and_sorts(self) -> None:
        names = [f"jd-{i:02d}" for i in range(12)]
        for i, name in enumerate(names):
            self.create("ModelExplainability", name, endpoint="ep-a" if i % 2 else "ep-b")
        self.create("DataQuality", "other")
        list_call = self.sm.list_model_explainability_job_definitions
        first = list_call()
        self.assertEqual(len(first["JobDefinitionSummaries"]), 10)  # AWS's default page size
        rest = list_call(NextToken=first["NextToken"])
        self.assertNotIn("NextToken", rest)
        listed = [s["MonitoringJobDefinitionName"] for s in first["JobDefinitionSummaries"] +
                  rest["JobDefinitionSummaries"]]
        self.assertEqual(listed, list(reversed(names)))  # default: CreationTime, Descending
        pages = list(self.sm.get_paginator("list_model_explainability_job_definitions").paginate(
            SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 5}))
        self.assertEqual([s["MonitoringJobDefinitionName"] for p in pages for s in p["JobDefinitionSummaries"]], names)
        self.assertEqual(len(list_call(NameContains="jd-1")["JobDefinitionSummaries"]), 2)
        self.assertEqual(len(list_call(EndpointName="ep-a")["JobDefinitionSummaries"]), 6)
        summary = first["JobDefinitionSummaries"][0]
        self.assertEqual(set(summary), {"MonitoringJobDefinitionName", "MonitoringJobDefinitionArn",
                                         "CreationTime", "EndpointName"})
        self.assertEqual([s["MonitoringJobDefinitionName"] for s in
                          self.sm.list_data_quality_job_definitions()["JobDefinitionSummaries"]], ["other"])

    def test_tags_at_create_and_by_arn_in_any_case(self) -> None:
        for kind in KINDS:
            with self.subTest(kind):
                arn = self.create(kind, "Tagged", Tags=[{"Key": "a", "Value": "1"}])
                self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "a", "Value": "1"}])
                self.sm.add_tags(ResourceArn=arn.replace("tagged", "Tagged"), Tags=[{"Key": "a", "Value": "2"}])
                self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "a", "Value": "2"}])
                self.sm.delete_tags(ResourceArn=arn, TagKeys=["a"])
                self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [])

    def test_a_definition_a_schedule_names_cannot_be_deleted(self) -> None:
        self.create("ModelBias", "jd")
        self.sm.create_monitoring_schedule(MonitoringScheduleName="ms", MonitoringScheduleConfig={
            "MonitoringJobDefinitionName": "jd", "MonitoringType": "ModelBias"})
        self.assert_error("ValidationException", self.sm.delete_model_bias_job_definition,
                          "used by monitoring schedule(s) ms", JobDefinitionName="jd")
        self.sm.delete_monitoring_schedule(MonitoringScheduleName="ms")
        self.sm.delete_model_bias_job_definition(JobDefinitionName="jd")


INLINE_DEFINITION = {
    "BaselineConfig": {"ConstraintsResource": {"S3Uri": "s3://bucket/constraints.json"}},
    "MonitoringInputs": [{"EndpointInput": {"EndpointName": "ep", "LocalPath": "/opt/ml/processing/input",
                                            "S3InputMode": "File"}}],
    "MonitoringOutputConfig": {"MonitoringOutputs": [{"S3Output": {"S3Uri": "s3://bucket/out",
                                                                   "LocalPath": "/opt/ml/processing/output",
                                                                   "S3UploadMode": "EndOfJob"}}],
                               "KmsKeyId": "alias/out"},
    "MonitoringResources": {"ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.xlarge",
                                              "VolumeSizeInGB": 30, "VolumeKmsKeyId": "alias/volume"}},
    "MonitoringAppSpecification": {"ImageUri": "monitor:1", "ContainerArguments": ["--x"]},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "Environment": {"A": "1"},
    "NetworkConfig": {"EnableInterContainerTrafficEncryption": False, "EnableNetworkIsolation": False,
                      "VpcConfig": {"SecurityGroupIds": ["sg-0123456789abcdef0"],
                                    "Subnets": ["subnet-0123456789abcdef0"]}},
    "RoleArn": ROLE,
}
INLINE_CONFIG = {"ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                 "MonitoringJobDefinition": INLINE_DEFINITION}


class MonitoringScheduleTest(EmulatorTest):
    def create(self, name: str = "ms", config: dict | None = None, **kwargs) -> str:
        return self.sm.create_monitoring_schedule(
            MonitoringScheduleName=name, MonitoringScheduleConfig=config or INLINE_CONFIG, **kwargs
        )["MonitoringScheduleArn"]

    def describe(self, name: str = "ms") -> dict:
        return self.sm.describe_monitoring_schedule(MonitoringScheduleName=name)

    def test_inline_definition_round_trips(self) -> None:
        arn = self.create("My-Schedule")
        self.assertEqual(arn, f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:monitoring-schedule/my-schedule")
        described = self.describe("My-Schedule")
        self.assertEqual(described["MonitoringScheduleConfig"], INLINE_CONFIG)
        self.assertEqual(
            {k: described[k] for k in ("MonitoringScheduleName", "MonitoringScheduleArn", "MonitoringScheduleStatus",
                                       "MonitoringType", "EndpointName")},
            {"MonitoringScheduleName": "My-Schedule", "MonitoringScheduleArn": arn,
             "MonitoringScheduleStatus": "Scheduled", "MonitoringType": "DataQuality", "EndpointName": "ep"},
        )

    def test_a_schedule_naming_a_job_definition(self) -> None:
        self.sm.create_model_quality_job_definition(**job_definition_request("ModelQuality", "jd", endpoint="ep-q"))
        config = {"ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
                  "MonitoringJobDefinitionName": "jd", "MonitoringType": "ModelQuality"}
        self.create(config=config)
        described = self.describe()
        self.assertEqual(described["MonitoringScheduleConfig"], config)
        self.assertEqual((described["MonitoringType"], described["EndpointName"]), ("ModelQuality", "ep-q"))
        self.assert_error("ValidationException", self.create, "Could not find model bias job definition 'jd'",
                          name="other", config={**config, "MonitoringType": "ModelBias"})

    def test_config_needs_exactly_one_job_definition(self) -> None:
        both = {**INLINE_CONFIG, "MonitoringJobDefinitionName": "jd", "MonitoringType": "DataQuality"}
        for config in (both, {"ScheduleConfig": INLINE_CONFIG["ScheduleConfig"]}):
            self.assert_error("ValidationException", self.create, "Exactly one of", config=config)
        self.assert_error("ValidationException", self.create, "MonitoringType is required",
                          config={"MonitoringJobDefinitionName": "jd"})

    def test_pending_then_scheduled_after_the_transition_time(self) -> None:
        self.set_transition(T)
        self.create()
        self.assertEqual(self.describe()["MonitoringScheduleStatus"], "Pending")
        time.sleep(T + 0.1)
        self.assertEqual(self.describe()["MonitoringScheduleStatus"], "Scheduled")

    def test_update_replaces_the_config_and_is_refused_while_pending(self) -> None:
        self.set_transition(T)
        arn = self.create()
        fixed = json.loads(json.dumps(INLINE_CONFIG))
        fixed["MonitoringJobDefinition"]["NetworkConfig"]["EnableNetworkIsolation"] = True
        fixed["MonitoringJobDefinition"]["NetworkConfig"]["EnableInterContainerTrafficEncryption"] = True
        self.assert_error("ValidationException", self.sm.update_monitoring_schedule, "Pending",
                          MonitoringScheduleName="ms", MonitoringScheduleConfig=fixed)
        time.sleep(T + 0.1)
        before = self.describe()
        self.assertEqual(self.sm.update_monitoring_schedule(
            MonitoringScheduleName="ms", MonitoringScheduleConfig=fixed)["MonitoringScheduleArn"], arn)
        during = self.describe()
        self.assertEqual(during["MonitoringScheduleStatus"], "Pending")
        self.assertEqual(during["MonitoringScheduleConfig"], fixed)
        self.assertGreater(during["LastModifiedTime"], before["LastModifiedTime"])
        self.assertEqual(during["CreationTime"], before["CreationTime"])
        time.sleep(T + 0.1)
        self.assertEqual(self.describe()["MonitoringScheduleStatus"], "Scheduled")

    def test_update_keeps_a_stopped_schedule_stopped(self) -> None:
        self.create()
        self.sm.stop_monitoring_schedule(MonitoringScheduleName="ms")
        self.sm.update_monitoring_schedule(MonitoringScheduleName="ms", MonitoringScheduleConfig=INLINE_CONFIG)
        self.assertEqual(self.describe()["MonitoringScheduleStatus"], "Stopped")

    def test_stop_and_start(self) -> None:
        self.create()
        self.assert_error("ValidationException", self.sm.start_monitoring_schedule, "only a Stopped",
                          MonitoringScheduleName="ms")
        self.sm.stop_monitoring_schedule(MonitoringScheduleName="ms")
        self.assertEqual(self.describe()["MonitoringScheduleStatus"], "Stopped")
        self.assert_error("ValidationException", self.sm.stop_monitoring_schedule, "only a Scheduled",
                          MonitoringScheduleName="ms")
        self.sm.start_monitoring_schedule(MonitoringScheduleName="ms")
        self.assertEqual(self.describe()["MonitoringScheduleStatus"], "Scheduled")

    def test_delete_then_not_found(self) -> None:
        self.create()
        self.sm.delete_monitoring_schedule(MonitoringScheduleName="ms")
        for call in (self.sm.describe_monitoring_schedule, self.sm.delete_monitoring_schedule,
                     self.sm.stop_monitoring_schedule):
            self.assert_error("ResourceNotFound", call, "does not exist", MonitoringScheduleName="ms")
        self.assert_error("ResourceNotFound", self.sm.update_monitoring_schedule, MonitoringScheduleName="ms",
                          MonitoringScheduleConfig=INLINE_CONFIG)
        self.create()  # the name is free again

    def test_duplicate_is_rejected(self) -> None:
        self.create("ms")
        self.assert_error("ResourceInUse", self.create, "already exists", name="MS")

    def test_list_paginates_filters_and_sorts(self) -> None:
        names = [f"ms-{i:02d}" for i in range(11)]
        for name in names:
            self.create(name)
        self.sm.stop_monitoring_schedule(MonitoringScheduleName="ms-03")
        first = self.sm.list_monitoring_schedules()
        self.assertEqual(len(first["MonitoringScheduleSummaries"]), 10)
        rest = self.sm.list_monitoring_schedules(NextToken=first["NextToken"])
        listed = [s["MonitoringScheduleName"] for s in
                  first["MonitoringScheduleSummaries"] + rest["MonitoringScheduleSummaries"]]
        self.assertEqual(listed, list(reversed(names)))
        by_name = [s["MonitoringScheduleName"] for p in self.sm.get_paginator("list_monitoring_schedules").paginate(
            SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 3}) for s in p["MonitoringScheduleSummaries"]]
        self.assertEqual(by_name, names)
        stopped = self.sm.list_monitoring_schedules(StatusEquals="Stopped")["MonitoringScheduleSummaries"]
        self.assertEqual([s["MonitoringScheduleName"] for s in stopped], ["ms-03"])
        self.assertEqual(len(self.sm.list_monitoring_schedules(NameContains="ms-1")["MonitoringScheduleSummaries"]), 1)
        self.assertEqual(len(self.sm.list_monitoring_schedules(EndpointName="ep")["MonitoringScheduleSummaries"]), 10)
        self.assertEqual(self.sm.list_monitoring_schedules(MonitoringTypeEquals="ModelBias")
                         ["MonitoringScheduleSummaries"], [])

    def test_tags(self) -> None:
        arn = self.create("Tagged", Tags=[{"Key": "a", "Value": "1"}])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "a", "Value": "1"}])
        self.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
        self.sm.delete_tags(ResourceArn=arn, TagKeys=["a"])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "b", "Value": "2"}])

    def test_a_forced_failure_is_fixed_by_an_update(self) -> None:
        self.create()
        body = {"account": ACCOUNT, "region": REGION, "name": "ms", "status": "Failed", "failureReason": "boom"}
        self.assertEqual(control("POST", "monitoring-schedule-status", body), (200, {"name": "ms", "status": "Failed"}))
        failed = self.describe()
        self.assertEqual((failed["MonitoringScheduleStatus"], failed["FailureReason"]), ("Failed", "boom"))
        self.sm.update_monitoring_schedule(MonitoringScheduleName="ms", MonitoringScheduleConfig=INLINE_CONFIG)
        updated = self.describe()
        self.assertEqual(updated["MonitoringScheduleStatus"], "Scheduled")
        self.assertNotIn("FailureReason", updated)


FEATURES = {"RecordIdentifierFeatureName": "id", "EventTimeFeatureName": "time",
            "FeatureDefinitions": [{"FeatureName": "id", "FeatureType": "String"},
                                   {"FeatureName": "time", "FeatureType": "String"}]}


class FeatureGroupTest(EmulatorTest):
    def create(self, name: str = "fg", **kwargs) -> str:
        if "OnlineStoreConfig" not in kwargs and "OfflineStoreConfig" not in kwargs:
            kwargs["OnlineStoreConfig"] = {"EnableOnlineStore": True}
        return self.sm.create_feature_group(FeatureGroupName=name, RoleArn=ROLE, **FEATURES, **kwargs)["FeatureGroupArn"]

    def describe(self, name: str = "fg") -> dict:
        return self.sm.describe_feature_group(FeatureGroupName=name)

    def test_store_configs_are_returned_as_given(self) -> None:
        online = {"EnableOnlineStore": True, "StorageType": "Standard",
                  "SecurityConfig": {"KmsKeyId": "arn:aws:kms:us-east-1:111111111111:key/online"}}
        offline = {"S3StorageConfig": {"S3Uri": "s3://bucket/fs", "KmsKeyId": "alias/offline"}}
        arn = self.create("Sales-Features", OnlineStoreConfig=online, OfflineStoreConfig=offline,
                          Description="d")
        self.assertEqual(arn, f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:feature-group/sales-features")
        described = self.describe("Sales-Features")
        self.assertEqual(described["OnlineStoreConfig"], online)
        s3 = described["OfflineStoreConfig"]["S3StorageConfig"]
        self.assertEqual((s3["S3Uri"], s3["KmsKeyId"]), ("s3://bucket/fs", "alias/offline"))
        self.assertTrue(s3["ResolvedOutputS3Uri"].startswith(f"s3://bucket/fs/{ACCOUNT}/sagemaker/{REGION}/"))
        self.assertEqual(described["OfflineStoreConfig"]["DataCatalogConfig"]["Database"], "sagemaker_featurestore")
        self.assertEqual(
            {k: described[k] for k in ("FeatureGroupName", "FeatureGroupArn", "FeatureGroupStatus",
                                       "OfflineStoreStatus", "RoleArn", "Description", "ThroughputConfig")},
            {"FeatureGroupName": "Sales-Features", "FeatureGroupArn": arn, "FeatureGroupStatus": "Created",
             "OfflineStoreStatus": {"Status": "Active"}, "RoleArn": ROLE, "Description": "d",
             "ThroughputConfig": {"ThroughputMode": "OnDemand"}},
        )
        self.assertEqual(self.sm.describe_feature_group(FeatureGroupName=arn)["FeatureGroupName"], "Sales-Features")

    def test_an_online_store_without_a_key_has_no_security_config(self) -> None:
        self.create(OnlineStoreConfig={"EnableOnlineStore": True, "StorageType": "InMemory"})
        described = self.describe()
        self.assertEqual(described["OnlineStoreConfig"], {"EnableOnlineStore": True, "StorageType": "InMemory"})
        self.assertNotIn("OfflineStoreConfig", described)
        self.assertNotIn("OfflineStoreStatus", described)

    def test_needs_a_store(self) -> None:
        self.assert_error("ValidationException", self.sm.create_feature_group, "at least one of",
                          FeatureGroupName="fg", **FEATURES)

    def test_creating_then_created_and_deleting_then_gone(self) -> None:
        self.set_transition(T)
        self.create()
        self.assertEqual(self.describe()["FeatureGroupStatus"], "Creating")
        time.sleep(T + 0.1)
        self.assertEqual(self.describe()["FeatureGroupStatus"], "Created")
        self.sm.delete_feature_group(FeatureGroupName="fg")
        self.assertEqual(self.describe()["FeatureGroupStatus"], "Deleting")
        time.sleep(T + 0.1)
        self.assert_error("ResourceNotFound", self.describe, "not found")
        self.assert_error("ResourceNotFound", self.sm.delete_feature_group, FeatureGroupName="fg")
        self.create()  # the name is free again

    def test_duplicate_is_rejected(self) -> None:
        self.create("fg")
        self.assert_error("ResourceInUse", self.create, "already exists", name="FG")

    def test_list_paginates_filters_and_sorts(self) -> None:
        names = [f"fg-{i:02d}" for i in range(12)]
        for i, name in enumerate(names):
            if i % 3:
                self.create(name)
            else:
                self.create(name, OfflineStoreConfig={"S3StorageConfig": {"S3Uri": "s3://bucket/fs"}})
        first = self.sm.list_feature_groups()
        self.assertEqual(len(first["FeatureGroupSummaries"]), 10)
        rest = self.sm.list_feature_groups(NextToken=first["NextToken"])
        self.assertEqual([g["FeatureGroupName"] for g in first["FeatureGroupSummaries"] + rest["FeatureGroupSummaries"]],
                         list(reversed(names)))
        pages = list(self.sm.get_paginator("list_feature_groups").paginate(
            SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 5}))
        self.assertEqual([g["FeatureGroupName"] for p in pages for g in p["FeatureGroupSummaries"]], names)
        offline = self.sm.list_feature_groups(OfflineStoreStatusEquals="Active", SortBy="Name", SortOrder="Ascending")
        self.assertEqual([g["FeatureGroupName"] for g in offline["FeatureGroupSummaries"]],
                         ["fg-00", "fg-03", "fg-06", "fg-09"])
        self.assertEqual(len(self.sm.list_feature_groups(NameContains="fg-1")["FeatureGroupSummaries"]), 2)
        self.assertEqual(len(self.sm.list_feature_groups(FeatureGroupStatusEquals="Creating")
                             ["FeatureGroupSummaries"]), 0)

    def test_tags(self) -> None:
        arn = self.create("Tagged", Tags=[{"Key": "a", "Value": "1"}])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "a", "Value": "1"}])
        self.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "2"}])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "a", "Value": "2"}])
        self.sm.delete_tags(ResourceArn=arn, TagKeys=["a"])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [])


VARIANTS = [
    {"ModelName": "prod-model", "VariantName": "prod",
     "InfrastructureConfig": {"InfrastructureType": "RealTime",
                              "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}},
    {"ModelName": "shadow-model", "VariantName": "shadow",
     "InfrastructureConfig": {"InfrastructureType": "RealTime",
                              "RealTimeInferenceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1}}},
]
SHADOW = {"SourceModelVariantName": "prod",
          "ShadowModelVariants": [{"ShadowModelVariantName": "shadow", "SamplingPercentage": 50}]}


class InferenceExperimentTest(EmulatorTest):
    def create(self, name: str = "ie", **kwargs) -> str:
        return self.sm.create_inference_experiment(
            Name=name, Type="ShadowMode", RoleArn=ROLE, EndpointName="ep", ModelVariants=VARIANTS,
            ShadowModeConfig=SHADOW, **kwargs)["InferenceExperimentArn"]

    def describe(self, name: str = "ie") -> dict:
        return self.sm.describe_inference_experiment(Name=name)

    def status(self, name: str = "ie") -> str:
        return self.describe(name)["Status"]

    def test_describe_returns_the_keys_and_data_storage_config(self) -> None:
        storage = {"Destination": "s3://bucket/capture", "KmsKey": "alias/capture",
                   "ContentType": {"CsvContentTypes": ["text/csv"]}}
        schedule = {"StartTime": datetime(2027, 1, 1, tzinfo=timezone.utc),
                    "EndTime": datetime(2027, 1, 8, tzinfo=timezone.utc)}
        arn = self.create("Shadow-Test", KmsKey="alias/volume", DataStorageConfig=storage, Description="d",
                          Schedule=schedule)
        self.assertEqual(arn, f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:inference-experiment/shadow-test")
        described = self.describe("Shadow-Test")
        self.assertEqual(
            {k: described[k] for k in ("Arn", "Name", "Type", "Status", "KmsKey", "DataStorageConfig",
                                       "ShadowModeConfig", "EndpointMetadata", "Description", "RoleArn",
                                       "Schedule")},
            {"Arn": arn, "Name": "Shadow-Test", "Type": "ShadowMode", "Status": "Created", "KmsKey": "alias/volume",
             "DataStorageConfig": storage, "ShadowModeConfig": SHADOW, "EndpointMetadata": {"EndpointName": "ep"},
             "Description": "d", "RoleArn": ROLE, "Schedule": schedule},
        )
        self.assertEqual(described["ModelVariants"], [{**v, "Status": "InService"} for v in VARIANTS])

    def test_without_keys_nothing_is_invented(self) -> None:
        self.create()
        described = self.describe()
        self.assertNotIn("KmsKey", described)
        self.assertNotIn("DataStorageConfig", described)

    def test_lifecycle_with_transition_time(self) -> None:
        self.set_transition(T)
        self.create()
        self.assertEqual(self.status(), "Creating")
        time.sleep(T + 0.1)
        self.assertEqual(self.status(), "Created")
        self.sm.start_inference_experiment(Name="ie")
        self.assertEqual(self.status(), "Starting")
        time.sleep(T + 0.1)
        self.assertEqual(self.status(), "Running")
        self.sm.stop_inference_experiment(Name="ie", ModelVariantActions={"shadow": "Remove", "prod": "Retain"},
                                          DesiredState="Cancelled", Reason="enough")
        self.assertEqual(self.status(), "Stopping")
        time.sleep(T + 0.1)
        described = self.describe()
        self.assertEqual((described["Status"], described["StatusReason"]), ("Cancelled", "enough"))
        self.assertIsInstance(described["CompletionTime"], datetime)

    def test_stop_completes_by_default(self) -> None:
        self.create()
        self.sm.start_inference_experiment(Name="ie")
        self.sm.stop_inference_experiment(Name="ie", ModelVariantActions={"shadow": "Remove"})
        self.assertEqual(self.status(), "Completed")

    def test_update_sets_data_storage_config_in_created_and_running(self) -> None:
        self.create(DataStorageConfig={"Destination": "s3://bucket/capture"})
        for key, status in (("alias/one", "Created"), ("alias/two", "Running")):
            if status == "Running":
                self.sm.start_inference_experiment(Name="ie")
            fixed = {"Destination": "s3://bucket/capture", "KmsKey": key}
            arn = self.sm.update_inference_experiment(Name="ie", DataStorageConfig=fixed)["InferenceExperimentArn"]
            self.assertTrue(arn.endswith(":inference-experiment/ie"))
            described = self.describe()
            self.assertEqual(described["DataStorageConfig"], fixed)
            self.assertEqual(described["ShadowModeConfig"], SHADOW)  # unset members are kept
            self.assertEqual(described["Status"], status)  # an update settles back to the status it began in

    def test_update_is_a_conflict_outside_created_and_running(self) -> None:
        self.set_transition(T)
        self.create()
        self.assert_error("ConflictException", self.sm.update_inference_experiment, "in status Creating",
                          Name="ie", Description="x")
        time.sleep(T + 0.1)
        self.sm.update_inference_experiment(Name="ie", Description="x")
        self.assert_error("ConflictException", self.sm.update_inference_experiment, "in status Updating",
                          Name="ie", Description="y")
        self.set_transition(0)
        time.sleep(T + 0.1)
        self.sm.start_inference_experiment(Name="ie")
        self.sm.stop_inference_experiment(Name="ie", ModelVariantActions={"shadow": "Remove"})
        self.assert_error("ConflictException", self.sm.update_inference_experiment, "in status Completed",
                          Name="ie", Description="z")
        self.assertEqual(self.describe()["Description"], "x")

    def test_start_stop_and_delete_guards(self) -> None:
        self.create()
        self.assert_error("ConflictException", self.sm.stop_inference_experiment, "in status Created",
                          Name="ie", ModelVariantActions={"shadow": "Remove"})
        self.sm.start_inference_experiment(Name="ie")
        self.assert_error("ConflictException", self.sm.start_inference_experiment, "in status Running", Name="ie")
        self.assert_error("ConflictException", self.sm.delete_inference_experiment, "in status Running", Name="ie")
        self.sm.stop_inference_experiment(Name="ie", ModelVariantActions={"shadow": "Remove"})
        self.assertTrue(self.sm.delete_inference_experiment(Name="ie")["InferenceExperimentArn"].endswith("/ie"))
        for call in (self.sm.describe_inference_experiment, self.sm.delete_inference_experiment,
                     self.sm.start_inference_experiment):
            self.assert_error("ResourceNotFound", call, "does not exist", Name="ie")

    def test_endpoint_metadata_of_an_existing_endpoint(self) -> None:
        self.create_model()
        self.create_endpoint_config()
        self.sm.create_endpoint(EndpointName="ep", EndpointConfigName="config")
        self.create()
        self.assertEqual(self.describe()["EndpointMetadata"],
                         {"EndpointName": "ep", "EndpointConfigName": "config", "EndpointStatus": "InService"})

    def test_duplicate_is_rejected(self) -> None:
        self.create()
        self.assert_error("ResourceInUse", self.create, "already exists")

    def test_list_paginates_filters_and_sorts(self) -> None:
        names = [f"ie-{i:02d}" for i in range(11)]
        for name in names:
            self.create(name)
        self.sm.start_inference_experiment(Name="ie-04")
        first = self.sm.list_inference_experiments()
        self.assertEqual(len(first["InferenceExperiments"]), 10)
        rest = self.sm.list_inference_experiments(NextToken=first["NextToken"])
        self.assertEqual([e["Name"] for e in first["InferenceExperiments"] + rest["InferenceExperiments"]],
                         list(reversed(names)))
        pages = list(self.sm.get_paginator("list_inference_experiments").paginate(
            SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 4}))
        self.assertEqual([e["Name"] for p in pages for e in p["InferenceExperiments"]], names)
        running = self.sm.list_inference_experiments(StatusEquals="Running")["InferenceExperiments"]
        self.assertEqual([e["Name"] for e in running], ["ie-04"])
        self.assertEqual(len(self.sm.list_inference_experiments(NameContains="ie-1")["InferenceExperiments"]), 1)

    def test_tags(self) -> None:
        arn = self.create("Tagged", Tags=[{"Key": "a", "Value": "1"}])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "a", "Value": "1"}])
        self.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "b", "Value": "2"}])
        self.sm.delete_tags(ResourceArn=arn, TagKeys=["a"])
        self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "b", "Value": "2"}])


class TagTest(EmulatorTest):
    def test_tags_on_notebooks_models_and_endpoint_configs(self) -> None:
        arns = [self.create_notebook(), self.create_model(), self.create_endpoint_config()]
        for arn in arns:
            self.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "1"}])
            self.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "2"}])
            self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [{"Key": "k", "Value": "2"}], arn)
            self.sm.delete_tags(ResourceArn=arn, TagKeys=["k"])
            self.assertEqual(self.sm.list_tags(ResourceArn=arn)["Tags"], [], arn)

    def test_tags_of_missing_or_unknown_resource(self) -> None:
        for resource in ("image/missing", "notebook-instance/missing", "no-such-type/x", "not-an-arn"):
            arn = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:{resource}"
            self.assert_error("ValidationException", self.sm.list_tags, "Could not find", ResourceArn=arn)


class ErrorFormatTest(EmulatorTest):
    def raw_call(self, target: str, body: dict) -> tuple[int, dict, dict]:
        request = urllib.request.Request(
            _server["url"] + "/", data=json.dumps(body).encode(), method="POST",
            headers={
                "X-Amz-Target": f"SageMaker.{target}",
                "Content-Type": "application/x-amz-json-1.1",
                "Authorization": f"AWS4-HMAC-SHA256 Credential={ACCOUNT}/20240101/{REGION}/sagemaker/aws4_request, "
                                 "SignedHeaders=host, Signature=x",
            },
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, dict(response.headers), json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read())

    def test_validation_error_is_aws_json(self) -> None:
        status, headers, body = self.raw_call("DescribeNotebookInstance", {"NotebookInstanceName": "missing"})
        self.assertEqual(status, 400)
        self.assertEqual(headers["X-Amzn-Errortype"], "ValidationException")
        self.assertEqual(body["__type"], "ValidationException")
        self.assertEqual(body.get("message", body.get("Message")), "RecordNotFound")

    def test_new_operation_errors_are_aws_json(self) -> None:
        status, headers, body = self.raw_call("DescribeImage", {"ImageName": "missing"})
        self.assertEqual((status, headers["X-Amzn-Errortype"], body["__type"]),
                         (400, "ResourceNotFound", "ResourceNotFound"))


class MultiAccountTest(EmulatorTest):
    def test_accounts_and_regions_are_isolated(self) -> None:
        other = client(account=OTHER_ACCOUNT)
        west = client(region="us-west-2")
        self.create_notebook("mine")
        other.create_image(ImageName="theirs", RoleArn=ROLE)
        self.assertEqual([n["NotebookInstanceName"] for n in self.sm.list_notebook_instances()["NotebookInstances"]],
                         ["mine"])
        self.assertEqual(other.list_notebook_instances()["NotebookInstances"], [])
        self.assertEqual(west.list_notebook_instances()["NotebookInstances"], [])
        self.assertEqual(self.sm.list_images()["Images"], [])
        self.assertEqual(other.describe_image(ImageName="theirs")["ImageArn"],
                         f"arn:aws:sagemaker:{REGION}:{OTHER_ACCOUNT}:image/theirs")

    def test_sts_reports_the_account(self) -> None:
        self.assertEqual(client("sts", account=OTHER_ACCOUNT).get_caller_identity()["Account"], OTHER_ACCOUNT)

    def test_non_numeric_key_uses_moto_default_account(self) -> None:
        arn = client(account="AKIAEXAMPLEEXAMPLE12").create_image(ImageName="x", RoleArn=ROLE)["ImageArn"]
        self.assertIn(":123456789012:", arn)


class CallCountTest(EmulatorTest):
    def test_counts_per_account_region_service_action(self) -> None:
        for _ in range(3):
            self.sm.list_notebook_instances()
        client(account=OTHER_ACCOUNT, region="eu-west-1").list_images()
        client("sts").get_caller_identity()
        self.assert_error("ValidationException", self.notebook)  # failed calls count too

        status, calls = control("GET", "calls")
        self.assertEqual(status, 200)
        self.assertEqual(calls["total"], 6)
        rows = sorted((c["account"], c["region"], c["service"], c["action"], c["count"]) for c in calls["calls"])
        self.assertEqual(rows, [
            (ACCOUNT, REGION, "sagemaker", "DescribeNotebookInstance", 1),
            (ACCOUNT, REGION, "sagemaker", "ListNotebookInstances", 3),
            (ACCOUNT, REGION, "sts", "GetCallerIdentity", 1),
            (OTHER_ACCOUNT, "eu-west-1", "sagemaker", "ListImages", 1),
        ])
        filtered = control("GET", f"calls?account={OTHER_ACCOUNT}")[1]
        self.assertEqual((filtered["total"], len(filtered["calls"])), (1, 1))

        self.assertEqual(control("POST", "calls/reset")[0], 200)
        self.assertEqual(control("GET", "calls")[1], {"total": 0, "calls": [], "faulted": []})

    def test_rest_protocol_actions_are_named(self) -> None:
        client("securityhub").get_findings()
        actions = [c["action"] for c in control("GET", "calls")[1]["calls"] if c["service"] == "securityhub"]
        self.assertEqual(actions, ["GetFindings"])

    def test_assume_role_needs_the_role_and_its_external_id(self) -> None:
        member = "222222222222"
        trust = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole",
                                           "Condition": {"StringEquals": {"sts:ExternalId": "ext-1"}}}]})
        client("iam", account=member).create_role(RoleName="Member", AssumeRolePolicyDocument=trust)
        sts = client("sts")
        arn = f"arn:aws:iam::{member}:role/Member"
        creds = sts.assume_role(RoleArn=arn, RoleSessionName="guard", ExternalId="ext-1")["Credentials"]
        self.assertTrue(creds["AccessKeyId"])
        for kwargs in ({"RoleArn": arn, "ExternalId": "wrong"},
                       {"RoleArn": "arn:aws:iam::333333333333:role/Member"}):
            with self.assertRaises(ClientError) as e:
                sts.assume_role(RoleSessionName="guard", **kwargs)
            self.assertEqual(e.exception.response["Error"]["Code"], "AccessDenied")

    def test_get_findings_honours_equals_filters(self) -> None:
        hub = client("securityhub")
        def finding(fid: str, state: str) -> dict:
            return {"SchemaVersion": "2018-10-08", "Id": fid, "ProductArn": f"arn:aws:securityhub:{REGION}:{ACCOUNT}:product/{ACCOUNT}/default",
                    "GeneratorId": "g", "AwsAccountId": ACCOUNT, "Types": ["Software and Configuration Checks"],
                    "CreatedAt": "2026-12-01T00:00:00Z", "UpdatedAt": "2026-12-01T00:00:00Z",
                    "Severity": {"Label": "LOW"}, "Title": "t", "Description": "d", "RecordState": state,
                    "Resources": [{"Type": "Other", "Id": "r"}]}
        hub.batch_import_findings(Findings=[finding("a", "ACTIVE"), finding("b", "ACTIVE"), finding("c", "ARCHIVED")])
        got = hub.get_findings(Filters={"Id": [{"Value": "a", "Comparison": "EQUALS"}, {"Value": "c", "Comparison": "EQUALS"}],
                                        "RecordState": [{"Value": "ACTIVE", "Comparison": "EQUALS"}]})
        self.assertEqual([f["Id"] for f in got["Findings"]], ["a"])
        self.assertEqual(len(hub.get_findings()["Findings"]), 3)

    def test_control_and_moto_api_requests_are_not_counted(self) -> None:
        control("GET", "config")
        urllib.request.urlopen(urllib.request.Request(_server["url"] + "/moto-api/reset", method="POST")).close()
        self.assertEqual(control("GET", "calls")[1]["total"], 0)


class ConfigTest(EmulatorTest):
    def test_get_and_set(self) -> None:
        self.assertEqual(control("GET", "config"), (200, {"transitionSeconds": 0.0}))
        self.set_transition(1.5)
        self.assertEqual(control("GET", "config"), (200, {"transitionSeconds": 1.5}))
        self.assertEqual(control("POST", "config", {"transitionSeconds": -1})[0], 400)
        self.assertEqual(control("POST", "config", {"transitionSeconds": "x"})[0], 400)

    def test_transition_time_per_account(self) -> None:
        self.set_transition(1.5)
        self.assertEqual(control("POST", "config", {"account": ACCOUNT, "transitionSeconds": T}),
                         (200, {"account": ACCOUNT, "transitionSeconds": T}))
        # The account's T wins over the global one; other accounts keep the global one.
        self.assertEqual(control("GET", f"config?account={ACCOUNT}"),
                         (200, {"account": ACCOUNT, "transitionSeconds": T}))
        self.assertEqual(control("GET", f"config?account={OTHER_ACCOUNT}"),
                         (200, {"account": OTHER_ACCOUNT, "transitionSeconds": 1.5}))
        self.assertEqual(control("GET", "config"), (200, {"transitionSeconds": 1.5}))
        self.set_transition(0)
        self.create_notebook()
        other = client(account=OTHER_ACCOUNT)
        other.create_notebook_instance(NotebookInstanceName="nb", InstanceType="ml.t3.medium", RoleArn=ROLE)
        self.assertEqual(self.status(), "Pending")
        self.assertEqual(other.describe_notebook_instance(NotebookInstanceName="nb")["NotebookInstanceStatus"],
                         "InService")
        time.sleep(T + 0.1)
        self.assertEqual(self.status(), "InService")
        # null: the account follows the global T again.
        self.assertEqual(control("POST", "config", {"account": ACCOUNT, "transitionSeconds": None}),
                         (200, {"account": ACCOUNT, "transitionSeconds": 0.0}))
        self.sm.stop_notebook_instance(NotebookInstanceName="nb")
        self.assertEqual(self.status(), "Stopped")
        for bad in ({"account": "1234", "transitionSeconds": 1}, {"account": 111111111111, "transitionSeconds": 1},
                    {"account": ACCOUNT, "transitionSeconds": -1}):
            self.assertEqual(control("POST", "config", bad)[0], 400, bad)
        self.assertEqual(control("GET", "config?account=x")[0], 400)

    def test_reset_clears_account_transition_times(self) -> None:
        control("POST", "config", {"account": ACCOUNT, "transitionSeconds": T})
        control("POST", "reset")
        self.assertEqual(control("GET", f"config?account={ACCOUNT}"),
                         (200, {"account": ACCOUNT, "transitionSeconds": 0.0}))


class FaultTest(EmulatorTest):
    def test_throttling(self) -> None:
        self.assertEqual(control("POST", "faults", {"throttleRate": 1.0})[0], 200)
        error = self.assert_error("ThrottlingException", self.create_notebook, "Rate exceeded")
        self.assertEqual(error.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        control("POST", "faults", {})
        self.assertEqual(self.sm.list_notebook_instances()["NotebookInstances"], [])  # no state change
        calls = control("GET", "calls")[1]
        self.assertIn(("CreateNotebookInstance", 1), [(c["action"], c["count"]) for c in calls["calls"]])
        self.assertEqual(calls["faulted"],
                         [{"account": ACCOUNT, "service": "sagemaker", "fault": "throttle", "count": 1}])

    def test_internal_failure(self) -> None:
        control("POST", "faults", {"errorRate": 1.0})
        error = self.assert_error("InternalFailure", self.sm.list_images)
        self.assertEqual(error.response["ResponseMetadata"]["HTTPStatusCode"], 500)

    def test_action_filter_and_other_services(self) -> None:
        control("POST", "faults", {"throttleRate": 1.0, "actions": ["DescribeNotebookInstance"]})
        self.create_notebook()
        self.assert_error("ThrottlingException", self.notebook)
        self.assertEqual(len(self.sm.list_notebook_instances()["NotebookInstances"]), 1)
        client("sts").get_caller_identity()  # only SageMaker is faulted

    def test_sdk_retries_recover(self) -> None:
        control("POST", "faults", {"throttleRate": 0.2, "errorRate": 0.2, "actions": ["CreateImage"], "seed": 3})
        retrying = client(retries=10)
        for i in range(4):
            retrying.create_image(ImageName=f"img-{i}", RoleArn=ROLE)
        self.assertEqual(len(self.sm.list_images()["Images"]), 4)  # each image created exactly once
        creates = [c["count"] for c in control("GET", "calls")[1]["calls"] if c["action"] == "CreateImage"]
        self.assertGreater(creates[0], 4)

    def test_new_actions_are_faulted_and_counted(self) -> None:
        self.sm.create_monitoring_schedule(MonitoringScheduleName="ms", MonitoringScheduleConfig=INLINE_CONFIG)
        control("POST", "faults", {"throttleRate": 1.0, "actions": ["UpdateMonitoringSchedule",
                                                                    "ListDataQualityJobDefinitions"]})
        changed = {**INLINE_CONFIG, "ScheduleConfig": {"ScheduleExpression": "cron(0 0 ? * * *)"}}
        self.assert_error("ThrottlingException", self.sm.update_monitoring_schedule, MonitoringScheduleName="ms",
                          MonitoringScheduleConfig=changed)
        self.assert_error("ThrottlingException", self.sm.list_data_quality_job_definitions)
        self.assertEqual(self.sm.describe_monitoring_schedule(MonitoringScheduleName="ms")
                         ["MonitoringScheduleConfig"], INLINE_CONFIG)  # no state change
        counts = {c["action"]: c["count"] for c in control("GET", "calls")[1]["calls"]}
        self.assertEqual({a: counts[a] for a in ("CreateMonitoringSchedule", "UpdateMonitoringSchedule",
                                                 "ListDataQualityJobDefinitions", "DescribeMonitoringSchedule")},
                         {"CreateMonitoringSchedule": 1, "UpdateMonitoringSchedule": 1,
                          "ListDataQualityJobDefinitions": 1, "DescribeMonitoringSchedule": 1})

    def test_seed_makes_faults_reproducible(self) -> None:
        def outcomes() -> list[str]:
            control("POST", "faults", {"throttleRate": 0.5, "seed": 42})
            result = []
            for _ in range(12):
                try:
                    self.sm.list_images()
                    result.append("ok")
                except ClientError as error:
                    result.append(error.response["Error"]["Code"])
            return result

        first = outcomes()
        self.assertEqual(outcomes(), first)
        self.assertIn("ok", first)
        self.assertIn("ThrottlingException", first)

    def test_get_and_validation(self) -> None:
        self.assertEqual(control("GET", "faults"), (200, {"faults": None}))
        control("POST", "faults", {"throttleRate": 0.2, "actions": ["ListImages"], "seed": 1})
        self.assertEqual(control("GET", "faults")[1]["faults"],
                         {"throttleRate": 0.2, "errorRate": 0.0, "actions": ["ListImages"],
                          "services": ["sagemaker"], "seed": 1})
        for bad in ({"throttleRate": 2}, {"throttleRate": 0.6, "errorRate": 0.6}, {"actions": "ListImages"},
                    {"bogus": 1}, {"services": []}, {"services": ["iam"]}, {"services": "sqs"}):
            self.assertEqual(control("POST", "faults", bad)[0], 400, bad)

    def test_faults_per_account(self) -> None:
        other = client(account=OTHER_ACCOUNT)
        plan = {"throttleRate": 1.0, "errorRate": 0.0, "actions": None, "services": ["sagemaker"], "seed": None}
        self.assertEqual(control("POST", "faults", {"account": OTHER_ACCOUNT, "throttleRate": 1.0}),
                         (200, {"account": OTHER_ACCOUNT, "faults": plan}))
        self.assertEqual(control("GET", "faults"), (200, {"faults": None}))
        self.assertEqual(control("GET", f"faults?account={ACCOUNT}"), (200, {"account": ACCOUNT, "faults": None}))
        self.assert_error("ThrottlingException", other.list_images)
        self.sm.list_images()  # the other account is healthy
        # The account's plan wins over the global one.
        control("POST", "faults", {"errorRate": 1.0})
        self.assert_error("ThrottlingException", other.list_images)
        self.assert_error("InternalFailure", self.sm.list_images)
        # Only the account: it follows the global plan again.
        control("POST", "faults", {"account": OTHER_ACCOUNT})
        self.assert_error("InternalFailure", other.list_images)
        control("POST", "reset")
        self.assertEqual(control("GET", f"faults?account={OTHER_ACCOUNT}")[1]["faults"], None)
        self.assertEqual(control("POST", "faults", {"account": "x", "throttleRate": 1.0})[0], 400)


    def test_other_services_when_named(self) -> None:
        control("POST", "faults", {"throttleRate": 1.0, "services": ["dynamodb", "sqs"]})
        self.assert_error("ThrottlingException", client("dynamodb").list_tables)
        self.assert_error("ThrottlingException", client("sqs").list_queues)
        self.sm.list_images()  # SageMaker is not named: healthy
        client("kms").list_keys()
        control("POST", "faults", {"errorRate": 1.0, "services": ["kms"], "actions": ["ListKeys"]})
        self.assert_error("InternalFailure", client("kms").list_keys)
        client("dynamodb").list_tables()

    def test_an_assumed_role_is_faulted_and_counted_in_its_account(self) -> None:
        trust = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
        client("iam", account=OTHER_ACCOUNT).create_role(RoleName="Member", AssumeRolePolicyDocument=trust)
        creds = client("sts").assume_role(RoleArn=f"arn:aws:iam::{OTHER_ACCOUNT}:role/Member",
                                          RoleSessionName="guard")["Credentials"]
        member = boto3.client("sagemaker", endpoint_url=_server["url"], region_name=REGION,
                              aws_access_key_id=creds["AccessKeyId"],
                              aws_secret_access_key=creds["SecretAccessKey"],
                              aws_session_token=creds["SessionToken"],
                              config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
        control("POST", "calls/reset")
        member.list_images()
        calls = control("GET", "calls")[1]["calls"]
        self.assertEqual([(c["account"], c["action"]) for c in calls], [(OTHER_ACCOUNT, "ListImages")])
        control("POST", "faults", {"account": OTHER_ACCOUNT, "throttleRate": 1.0})
        self.assert_error("ThrottlingException", member.list_images)
        self.sm.list_images()


class MutationLogTest(EmulatorTest):
    def test_records_sagemaker_changes_in_order_with_their_status(self) -> None:
        before = time.time()
        self.create_notebook("nb", DirectInternetAccess="Disabled")
        self.sm.list_notebook_instances()  # a read: not recorded
        self.sm.add_tags(ResourceArn=self.notebook()["NotebookInstanceArn"], Tags=[{"Key": "k", "Value": "v"}])
        self.assert_error("ValidationException", self.sm.start_notebook_instance, NotebookInstanceName="nb")
        control("POST", "faults", {"throttleRate": 1.0})
        self.assert_error("ThrottlingException", self.sm.stop_notebook_instance, NotebookInstanceName="nb")
        self.assert_error("ThrottlingException", client(account=OTHER_ACCOUNT).create_image, ImageName="img",
                          RoleArn=ROLE)
        control("POST", "faults", {})
        client(account=OTHER_ACCOUNT).create_image(ImageName="img", RoleArn=ROLE)

        mutations = control("GET", f"mutations?account={ACCOUNT}")[1]["mutations"]
        self.assertEqual([(m["action"], m["status"]) for m in mutations], [
            ("CreateNotebookInstance", 200), ("AddTags", 200), ("StartNotebookInstance", 400),
            ("StopNotebookInstance", 400),
        ])
        first = mutations[0]
        self.assertEqual((first["account"], first["region"], first["accessKeyId"]), (ACCOUNT, REGION, ACCOUNT))
        self.assertEqual(first["request"]["NotebookInstanceName"], "nb")
        self.assertEqual(first["request"]["DirectInternetAccess"], "Disabled")
        self.assertLessEqual(before - 1, first["time"])
        self.assertLessEqual(first["time"], mutations[-1]["time"])
        self.assertLessEqual(mutations[-1]["time"], time.time() + 1)
        self.assertEqual(len(control("GET", "mutations")[1]["mutations"]), 6)
        self.assertEqual(control("GET", "mutations?account=x")[0], 400)
        control("POST", "calls/reset")
        self.assertEqual(control("GET", "mutations")[1], {"mutations": []})


class NotebookControlTest(EmulatorTest):
    def target(self, **extra) -> dict:
        return {"account": ACCOUNT, "region": REGION, "name": "nb", **extra}

    def test_force_failed(self) -> None:
        self.create_notebook()
        status, body = control("POST", "notebook-status", self.target(status="Failed", failureReason="capacity"))
        self.assertEqual((status, body), (200, {"name": "nb", "status": "Failed"}))
        nb = self.notebook()
        self.assertEqual((nb["NotebookInstanceStatus"], nb["FailureReason"]), ("Failed", "capacity"))
        self.sm.start_notebook_instance(NotebookInstanceName="nb")  # AWS allows starting a Failed notebook
        nb = self.notebook()
        self.assertEqual(nb["NotebookInstanceStatus"], "InService")
        self.assertNotIn("FailureReason", nb)

    def test_failed_notebook_can_be_deleted(self) -> None:
        self.create_notebook()
        control("POST", "notebook-status", self.target(status="Failed"))
        self.sm.delete_notebook_instance(NotebookInstanceName="nb")
        self.assert_error("ValidationException", self.notebook, "RecordNotFound")

    def test_forced_stopping_stays(self) -> None:
        self.set_transition(0.1)
        self.create_notebook()
        control("POST", "notebook-status", self.target(status="Stopping"))
        time.sleep(0.3)
        self.assertEqual(self.status(), "Stopping")
        for call in (self.sm.stop_notebook_instance, self.sm.start_notebook_instance,
                     self.sm.delete_notebook_instance):
            self.assert_error("ValidationException", call, "Status (Stopping)", NotebookInstanceName="nb")
        control("POST", "notebook-status", self.target(status="Stopped"))
        self.assertEqual(self.status(), "Stopped")

    def test_backdate_creation_time(self) -> None:
        self.create_notebook()
        epoch = 1_600_000_000
        self.assertEqual(control("POST", "notebook-creation-time", self.target(creationTime=epoch))[0], 200)
        self.assertEqual(self.notebook()["CreationTime"], datetime.fromtimestamp(epoch, tz=timezone.utc))

    def test_force_the_status_of_a_feature_group_and_an_inference_experiment(self) -> None:
        self.sm.create_feature_group(FeatureGroupName="fg", OnlineStoreConfig={"EnableOnlineStore": True}, **FEATURES)
        self.sm.create_inference_experiment(Name="ie", Type="ShadowMode", RoleArn=ROLE, EndpointName="ep",
                                            ModelVariants=VARIANTS, ShadowModeConfig=SHADOW)
        base = {"account": ACCOUNT, "region": REGION, "failureReason": "why"}
        self.assertEqual(control("POST", "feature-group-status", {**base, "name": "fg", "status": "CreateFailed"})[0],
                         200)
        group = self.sm.describe_feature_group(FeatureGroupName="fg")
        self.assertEqual((group["FeatureGroupStatus"], group["FailureReason"]), ("CreateFailed", "why"))
        self.assertEqual(control("POST", "inference-experiment-status", {**base, "name": "ie", "status": "Running"})[0],
                         200)
        experiment = self.sm.describe_inference_experiment(Name="ie")
        self.assertEqual((experiment["Status"], experiment["StatusReason"]), ("Running", "why"))
        self.assertEqual(control("POST", "monitoring-schedule-status", {**base, "name": "missing", "status": "Failed"})[0],
                         404)
        self.assertEqual(control("POST", "feature-group-status", {**base, "name": "fg", "status": "Failed"})[0], 400)

    def test_errors(self) -> None:
        self.create_notebook()
        self.assertEqual(control("POST", "notebook-status", self.target(name="missing", status="Failed"))[0], 404)
        self.assertEqual(control("POST", "notebook-status", self.target(status="Broken"))[0], 400)
        self.assertEqual(control("POST", "notebook-status", {"name": "nb", "status": "Failed"})[0], 400)
        self.assertEqual(control("POST", "notebook-creation-time", self.target(creationTime="yesterday"))[0], 400)


CFN_TEMPLATE = {
    "Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {
            "KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC",
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                 "Action": "kms:*", "Resource": "*"}]}}},
        "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": "state", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True}}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}},
        "QueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": "Queue"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "sqs:SendMessage", "Resource": "*"}]}}},
        "Bus": {"Type": "AWS::Events::EventBus", "Properties": {"Name": "bus"}},
        "BusPolicy": {"Type": "AWS::Events::EventBusPolicy", "Properties": {
            "EventBusName": {"Ref": "Bus"}, "StatementId": "org",
            "Statement": {"Effect": "Allow", "Principal": "*", "Action": "events:PutEvents",
                          "Resource": {"Fn::GetAtt": ["Bus", "Arn"]},
                          "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-exampleorg1"}}}}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {
            "EventBusName": {"Ref": "Bus"},
            "EventPattern": {"source": ["aws.securityhub"], "detail": {"findings": {
                "Compliance": {"SecurityControlId": [{"prefix": "SageMaker."}]}}}},
            "Targets": [{"Id": "q", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}}]}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": "dlq", "Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": "q"}], "Statistic": "Maximum", "Period": 300,
            "EvaluationPeriods": 1, "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold"}},
        "Role": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": "guard",
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}]}}]}},
    },
}


class CloudFormationTest(EmulatorTest):
    """What deploy/cloudformation/central.yaml needs of moto's CloudFormation."""

    def setUp(self) -> None:
        super().setUp()
        cf = client("cloudformation")
        cf.create_stack(StackName="s", TemplateBody=json.dumps(CFN_TEMPLATE), Capabilities=["CAPABILITY_NAMED_IAM"])
        self.stack = cf.describe_stacks(StackName="s")["Stacks"][0]
        self.resources = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                          for r in cf.list_stack_resources(StackName="s")["StackResourceSummaries"]}

    def test_stack_is_complete_with_every_resource(self) -> None:
        self.assertEqual(self.stack["StackStatus"], "CREATE_COMPLETE")
        self.assertEqual(set(self.resources), set(CFN_TEMPLATE["Resources"]))

    def test_kms_key_keeps_its_spec_usage_and_policy(self) -> None:
        kms = client("kms")
        meta = kms.describe_key(KeyId=self.resources["Key"])["KeyMetadata"]
        self.assertEqual((meta["KeySpec"], meta["KeyUsage"]), ("HMAC_256", "GENERATE_VERIFY_MAC"))
        policy = json.loads(kms.get_key_policy(KeyId=self.resources["Key"], PolicyName="default")["Policy"])
        self.assertEqual(policy, CFN_TEMPLATE["Resources"]["Key"]["Properties"]["KeyPolicy"])

    def test_dynamodb_table_gets_its_ttl(self) -> None:
        ttl = client("dynamodb").describe_time_to_live(TableName="state")["TimeToLiveDescription"]
        self.assertEqual((ttl["TimeToLiveStatus"], ttl["AttributeName"]), ("ENABLED", "expires"))

    def test_queue_policy_becomes_the_queues_policy(self) -> None:
        sqs = client("sqs")
        url = sqs.get_queue_url(QueueName="q")["QueueUrl"]
        policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
        self.assertEqual(json.loads(policy), CFN_TEMPLATE["Resources"]["QueuePolicy"]["Properties"]["PolicyDocument"])

    def test_ref_of_a_bus_is_its_name_and_the_bus_policy_is_set(self) -> None:
        events = client("events")
        self.assertEqual(self.resources["Bus"], "bus")
        self.assertEqual(events.list_rules(EventBusName="bus")["Rules"][0]["EventBusName"], "bus")
        policy = json.loads(events.describe_event_bus(Name="bus")["Policy"])
        self.assertEqual([s["Sid"] for s in policy["Statement"]], ["org"])
        self.assertEqual(policy["Statement"][0]["Condition"], {"StringEquals": {"aws:PrincipalOrgID": "o-exampleorg1"}})

    def test_a_pattern_reaches_into_an_array_of_objects(self) -> None:
        events, sqs = client("events"), client("sqs")
        for control_id in ["EC2.1", "SageMaker.3"]:
            findings = [{"Compliance": {"SecurityControlId": "S3.1"}}, {"Compliance": {"SecurityControlId": control_id}}]
            events.put_events(Entries=[{"EventBusName": "bus", "Source": "aws.securityhub", "DetailType": "x",
                                        "Detail": json.dumps({"findings": findings})}])
        url = sqs.get_queue_url(QueueName="q")["QueueUrl"]
        bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]
        self.assertEqual([b["detail"]["findings"][1]["Compliance"]["SecurityControlId"] for b in bodies], ["SageMaker.3"])

    def test_alarm_is_created(self) -> None:
        alarms = client("cloudwatch").describe_alarms(AlarmNames=["dlq"])["MetricAlarms"]
        self.assertEqual([(a["MetricName"], a["Threshold"]) for a in alarms], [("ApproximateNumberOfMessagesVisible", 0.0)])

    def test_role_inline_policy_reads_back_as_json(self) -> None:
        doc = client("iam").get_role_policy(RoleName="guard", PolicyName="p")["PolicyDocument"]
        self.assertEqual(doc, CFN_TEMPLATE["Resources"]["Role"]["Properties"]["Policies"][0]["PolicyDocument"])


class ResetTest(EmulatorTest):
    def dirty(self) -> None:
        self.create_notebook()
        control("POST", "notebook-status", {"account": ACCOUNT, "region": REGION, "name": "nb", "status": "Failed"})
        control("POST", "faults", {"throttleRate": 0.0001})
        self.set_transition(9)

    def assert_clean(self) -> None:
        self.assertEqual(control("GET", "calls")[1]["total"], 0)
        self.assertEqual(control("GET", "faults")[1], {"faults": None})
        self.assertEqual(control("GET", "config")[1], {"transitionSeconds": 0.0})
        self.assertEqual(self.sm.list_notebook_instances()["NotebookInstances"], [])
        self.create_notebook()
        self.assertEqual(self.status(), "InService")

    def test_moto_api_reset_resets_extensions(self) -> None:
        self.dirty()
        urllib.request.urlopen(urllib.request.Request(_server["url"] + "/moto-api/reset", method="POST")).close()
        self.assert_clean()

    def test_emulator_reset(self) -> None:
        self.dirty()
        self.assertEqual(control("POST", "reset"), (200, {"status": "ok"}))
        self.assert_clean()


if __name__ == "__main__":
    unittest.main()


class DynamoDbConditionalWriteTest(EmulatorTest):
    def test_concurrent_conditional_writes_to_one_item_are_atomic(self) -> None:
        import concurrent.futures
        ddb = client("dynamodb")
        ddb.create_table(
            TableName="state", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])

        def take(_: int) -> bool:
            try:
                client("dynamodb").update_item(
                    TableName="state", Key={"pk": {"S": "budget"}},
                    UpdateExpression="ADD used :one",
                    ConditionExpression="attribute_not_exists(used) OR used < :limit",
                    ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": "5"}})
                return True
            except ClientError as error:
                self.assertEqual(error.response["Error"]["Code"], "ConditionalCheckFailedException")
                return False

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            taken = sum(pool.map(take, range(64)))
        item = ddb.get_item(TableName="state", Key={"pk": {"S": "budget"}})["Item"]
        self.assertEqual(taken, 5)
        self.assertEqual(item["used"], {"N": "5"})

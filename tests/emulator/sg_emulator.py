"""sg-emulator: moto's server with the SageMaker behaviour sagemaker-guard's tests need.

moto 5.2.5 is extended in-process.  The methods of the ``*Patches`` classes below
are copied onto moto's own classes by ``install()`` (replacing or wrapping moto's
methods), and ``EmulatorApp`` wraps moto's WSGI dispatcher to add call counting,
fault injection and a JSON control API under ``/sg-emulator/``.  README.md in
this directory describes the behaviour; comments here explain the how.

Usage:
    python sg_emulator.py [--host 127.0.0.1] [--port 0] [--port-file PATH]
                          [--transition-seconds 0]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import secrets
import signal
import sys
import tempfile
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple
from urllib.parse import parse_qs

from moto.cloudformation.parsing import get_model_map
from moto.cloudwatch.models import cloudwatch_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.common_models import CloudFormationModel
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table as DynamoDbTable
from moto.events.models import EventBus, EventPattern, events_backends
from moto.kms.models import Key as KmsKey, kms_backends
from moto.sqs.models import sqs_backends
from moto.core.request import Request as MotoRequest
from moto.core.responses import ActionResult, BaseResponse, EmptyResult
from moto.core.routing import get_service_router
from moto.core.utils import get_service_model, utcnow
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.sagemaker.exceptions import ConflictException, ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import (
    FakeEndpoint,
    FakeEndpointConfig,
    FakeSagemakerNotebookInstance,
    SageMakerModelBackend,
    sagemaker_backends,
)
from moto.sagemaker.responses import SageMakerResponse
from moto.securityhub.models import SecurityHubBackend
from moto.iam.models import Role as IamRole, get_account_id_from, iam_backends
from moto.sts.exceptions import STSClientError
from moto.sts.models import STSBackend
from moto.sagemaker.utils import arn_formatter
from moto.utilities.paginator import paginate
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CONTROL_PREFIX = "/sg-emulator/"
DEFAULT_PLATFORM_IDENTIFIER = "notebook-al2023-v1"
DEFAULT_IMDS_CONFIGURATION = {"MinimumInstanceMetadataServiceVersion": "1"}
NOTEBOOK_STATUSES = frozenset(get_service_model("sagemaker").shape_for("NotebookInstanceStatus").enum)
# The status a deletion settles to.  Resources in it are purged from the backend
# before anything reads them, so clients never see it.
GONE = "<gone>"

_TWELVE_DIGITS = re.compile(r"\d{12}")
# The services faults may be injected into (POST /sg-emulator/faults `services`), by the
# signing name of their credential scope: all speak a JSON protocol (X-Amz-Target), whose
# errors the fault responses imitate.
FAULTABLE_SERVICES = frozenset({"sagemaker", "sqs", "dynamodb", "kms"})
# SageMaker calls recorded by GET /sg-emulator/mutations: the ones that change something.
_MUTATING_PREFIXES = ("Create", "Update", "Delete", "Start", "Stop")
_MUTATING_ACTIONS = frozenset({"AddTags", "DeleteTags"})
_CREDENTIAL = re.compile(r"Credential=([^/\s,]+)/\d{8}/([^/\s,]+)/([^/\s,]+)/")


# ==========================================================================
# Extension state.  Resource state lives in moto's per-account, per-region
# backends (so moto's reset clears it); this is what is shared by all.
# ==========================================================================


class FaultPlan:
    """Which calls fail, and how (see POST /sg-emulator/faults)."""

    def __init__(self, spec: dict[str, Any]):
        unknown = set(spec) - {"throttleRate", "errorRate", "actions", "services", "seed"}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        self.throttle_rate = _rate(spec, "throttleRate")
        self.error_rate = _rate(spec, "errorRate")
        if self.throttle_rate + self.error_rate > 1:
            raise ValueError("throttleRate + errorRate must not exceed 1")
        actions = spec.get("actions")
        if actions is not None and not (isinstance(actions, list) and all(isinstance(a, str) for a in actions)):
            raise ValueError("actions must be a list of action names")
        self.actions = None if actions is None else frozenset(actions)
        services = spec.get("services", ["sagemaker"])
        if not (isinstance(services, list) and services and all(s in FAULTABLE_SERVICES for s in services)):
            raise ValueError(f"services must be a non-empty list of {sorted(FAULTABLE_SERVICES)}")
        self.services = frozenset(services)
        self.seed = spec.get("seed")
        self._rng = random.Random(self.seed)

    def draw(self, call: CallKey) -> str | None:
        """"throttle", "error" or None (no fault) for one call."""
        if call.service not in self.services or self.actions is not None and call.action not in self.actions:
            return None
        roll = self._rng.random()
        if roll < self.throttle_rate:
            return "throttle"
        if roll < self.throttle_rate + self.error_rate:
            return "error"
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "throttleRate": self.throttle_rate,
            "errorRate": self.error_rate,
            "actions": None if self.actions is None else sorted(self.actions),
            "services": sorted(self.services),
            "seed": self.seed,
        }


def _rate(spec: dict[str, Any], key: str) -> float:
    value = spec.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{key} must be a number between 0 and 1")
    return float(value)


class CallKey(NamedTuple):
    account: str
    region: str
    service: str
    action: str


class EmulatorState:
    def __init__(self) -> None:
        # Serialises SageMaker API calls and control-API requests: moto's backends
        # are not thread-safe, and the lazy transitions below mutate on read.
        self.lock = threading.RLock()
        self.default_transition_seconds = 0.0
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.transition_seconds = self.default_transition_seconds
            self.calls: Counter[CallKey] = Counter()
            self.mutations: list[dict[str, Any]] = []
            self.faulted: Counter[tuple[str, str, str]] = Counter()  # (account, service, fault)
            self.faults: FaultPlan | None = None
            # Per-account settings win over the global ones above, so tests that run in
            # parallel, each in an account of its own, can set them without affecting
            # each other.
            self.account_transition_seconds: dict[str, float] = {}
            self.account_faults: dict[str, FaultPlan] = {}

    def transition_seconds_for(self, account: str) -> float:
        return self.account_transition_seconds.get(account, self.transition_seconds)

    def faults_for(self, account: str) -> FaultPlan | None:
        return self.account_faults.get(account, self.faults)


STATE = EmulatorState()


class LazyStatus:
    """A status that moves from a transient value to a settled one once the
    transition time T of its account (read from STATE when the transition
    begins) has passed.  Nothing runs in the background: the status is worked
    out when read."""

    def __init__(self, account: str, status: str, settles_to: str | None = None):
        self.account = account
        self.force(status)
        if settles_to is not None:
            self.begin(status, settles_to)

    def begin(self, transient: str, settles_to: str) -> None:
        now = utcnow()
        self._status, self._settles_to = transient, settles_to
        self._due = now + timedelta(seconds=STATE.transition_seconds_for(self.account))
        self.changed_at = now

    def force(self, status: str) -> None:
        """Sets a status that stays until the next transition or force."""
        self._status, self._settles_to, self._due = status, None, None
        self.changed_at = utcnow()

    def _settle(self) -> None:
        if self._settles_to is not None and utcnow() >= self._due:
            self._status, self._settles_to = self._settles_to, None
            self.changed_at = self._due

    @property
    def value(self) -> str:
        self._settle()
        return self._status

    @property
    def in_transition(self) -> bool:
        self._settle()
        return self._settles_to is not None


# ==========================================================================
# Accounts: a 12-digit access key id selects that account.  moto 5.2.5 itself
# only maps access keys that it issued through IAM, else uses 123456789012.
# ==========================================================================


def credential_scope(authorization: str | None) -> tuple[str | None, str | None, str | None]:
    """(access key id, region, signing service) from a SigV4 Authorization header."""
    match = _CREDENTIAL.search(authorization or "")
    return match.groups() if match else (None, None, None)


def account_for(access_key: str | None) -> str:
    """The account a request acts in: a 12-digit key is the account; a key moto issued (the
    temporary credentials of an AssumeRole) is the role's account, as moto itself resolves it;
    anything else is moto's default account."""
    if access_key and _TWELVE_DIGITS.fullmatch(access_key):
        return access_key
    return get_account_id_from(access_key) if access_key else DEFAULT_ACCOUNT_ID


# ==========================================================================
# Resources moto lacks, and helpers for the patches below.
# ==========================================================================


def _live_notebooks(backend: SageMakerModelBackend) -> dict[str, FakeSagemakerNotebookInstance]:
    """The backend's notebooks, after dropping those whose deletion has finished."""
    for name, notebook in list(backend.notebook_instances.items()):
        if notebook.status == GONE:
            del backend.notebook_instances[name]
    return backend.notebook_instances


def _require_notebook_status(notebook: FakeSagemakerNotebookInstance, allowed: list[str], target: str) -> None:
    status = notebook.status
    if status not in allowed:  # AWS's wording
        raise ValidationError(
            message=f"Status ({status}) not in ([{', '.join(allowed)}]). Unable to "
            f"transition to ({target}) for Notebook Instance ({notebook.arn})."
        )


# (UpdateNotebookInstance member, its Disassociate* flag, notebook attribute)
_DISASSOCIABLE = [
    ("LifecycleConfigName", "DisassociateLifecycleConfig", "lifecycle_config_name"),
    ("DefaultCodeRepository", "DisassociateDefaultCodeRepository", "default_code_repository"),
    ("AdditionalCodeRepositories", "DisassociateAdditionalCodeRepositories", "additional_code_repositories"),
    ("AcceleratorTypes", "DisassociateAcceleratorTypes", "accelerator_types"),
]
# UpdateNotebookInstance member -> notebook attribute, for plain replacements.
_REPLACEABLE = {
    "InstanceType": "instance_type",
    "RoleArn": "role_arn",
    "RootAccess": "root_access",
    "PlatformIdentifier": "platform_identifier",
    "IpAddressType": "ip_address_type",
    "InstanceMetadataServiceConfiguration": "instance_metadata_service_configuration",
    "VolumeSizeInGB": "volume_size_in_gb",
}


@dataclass
class PendingEndpointUpdate:
    lifecycle: LazyStatus
    endpoint_config_name: str
    endpoint_config: dict[str, Any]


def _refresh_endpoints(backend: SageMakerModelBackend) -> None:
    """Brings endpoints with an UpdateEndpoint in flight up to date.  As on AWS,
    the new config shows as PendingDeploymentSummary until the update is done."""
    for name, update in list(backend.endpoint_updates.items()):
        endpoint = backend.endpoints.get(name)
        if endpoint is None:  # deleted meanwhile
            del backend.endpoint_updates[name]
            continue
        endpoint.endpoint_status = update.lifecycle.value
        endpoint.last_modified_time = update.lifecycle.changed_at
        if update.lifecycle.in_transition:
            continue
        endpoint.endpoint_config_name = update.endpoint_config_name
        endpoint.production_variants = endpoint._process_production_variants(
            update.endpoint_config["ProductionVariants"]
        )
        endpoint.data_capture_config = update.endpoint_config["DataCaptureConfig"]
        endpoint.pending_deployment_summary = None
        del backend.endpoint_updates[name]


class SageMakerImage:
    """A SageMaker (Studio) image: CREATING -> CREATED, UPDATING -> CREATED and
    DELETING -> gone, each after the transition time."""

    def __init__(self, backend: SageMakerModelBackend, name: str, role_arn: str, display_name: str | None,
                 description: str | None, tags: list[dict[str, str]] | None):
        self.image_name = name
        self.arn = arn_formatter("image", name, backend.account_id, backend.region_name)
        self.role_arn = role_arn
        self.display_name = display_name
        self.description = description
        self.tags = list(tags or [])
        self.lifecycle = LazyStatus(backend.account_id, "CREATING", settles_to="CREATED")
        self.creation_time = self.lifecycle.changed_at

    @property
    def last_modified_time(self) -> datetime:
        return self.lifecycle.changed_at

    def summary(self) -> dict[str, Any]:
        return {
            "ImageName": self.image_name,
            "ImageArn": self.arn,
            "ImageStatus": self.lifecycle.value,
            "DisplayName": self.display_name,
            "Description": self.description,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
        }

    def describe(self) -> dict[str, Any]:
        return {**self.summary(), "RoleArn": self.role_arn}


def _live_images(backend: SageMakerModelBackend) -> dict[str, SageMakerImage]:
    for name, image in list(backend.images.items()):
        if image.lifecycle.value == GONE:
            del backend.images[name]
    return backend.images


def _image(backend: SageMakerModelBackend, name: str) -> SageMakerImage:
    image = _live_images(backend).get(name)
    if image is None:
        arn = arn_formatter("image", name, backend.account_id, backend.region_name)
        raise ResourceNotFound(message=f"Image {arn} does not exist.")
    return image


_APP_IMAGE_CONFIG_KINDS = ("KernelGatewayImageConfig", "JupyterLabAppImageConfig", "CodeEditorAppImageConfig")


class AppImageConfig:
    def __init__(self, backend: SageMakerModelBackend, name: str, configs: dict[str, Any],
                 tags: list[dict[str, str]] | None):
        self.name = name
        self.arn = arn_formatter("app-image-config", name, backend.account_id, backend.region_name)
        self.configs = {kind: config for kind, config in configs.items() if config is not None}
        self.tags = list(tags or [])
        self.creation_time = self.last_modified_time = utcnow()

    def describe(self) -> dict[str, Any]:
        return {
            "AppImageConfigArn": self.arn,
            "AppImageConfigName": self.name,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            **self.configs,
        }


def _app_image_config(backend: SageMakerModelBackend, name: str) -> AppImageConfig:
    config = backend.app_image_configs.get(name)
    if config is None:
        arn = arn_formatter("app-image-config", name, backend.account_id, backend.region_name)
        raise ResourceNotFound(message=f"AppImageConfig {arn} does not exist.")
    return config


# ---- Model Monitor job definitions and schedules, feature groups, inference
# experiments (SageMaker.9-.25).  moto 5.2.5 has the four job definition types
# (each with its own gaps), half of feature groups and no schedules or experiments.

_SAGEMAKER_MODEL = get_service_model("sagemaker")
# DataQuality, ModelQuality, ModelBias, ModelExplainability.
MONITORING_TYPES: tuple[str, ...] = tuple(_SAGEMAKER_MODEL.shape_for("MonitoringType").enum)
# The members of Create<Type>JobDefinition that Describe<Type>JobDefinition returns as given.
_JOB_DEFINITION_SETTINGS = {
    kind: [member for member in _SAGEMAKER_MODEL.operation_model(f"Create{kind}JobDefinition").input_shape.members
           if member not in ("JobDefinitionName", "Tags")]
    for kind in MONITORING_TYPES
}
MONITORING_SCHEDULE_STATUSES = frozenset(_SAGEMAKER_MODEL.shape_for("ScheduleStatus").enum)
INFERENCE_EXPERIMENT_STATUSES = frozenset(_SAGEMAKER_MODEL.shape_for("InferenceExperimentStatus").enum)
FEATURE_GROUP_STATUSES = frozenset(_SAGEMAKER_MODEL.shape_for("FeatureGroupStatus").enum)


def _words(kind: str) -> list[str]:
    """"ModelBias" -> ["model", "bias"]."""
    return [word.lower() for word in re.findall(r"[A-Z][a-z]*", kind)]


def _job_definition_resource_type(kind: str) -> str:
    return "-".join(_words(kind)) + "-job-definition"  # model-bias-job-definition


def _lower_case_arn(backend: SageMakerModelBackend, resource_type: str, name: str) -> str:
    """SageMaker spells the name in lower case inside an ARN (as for notebooks)."""
    return arn_formatter(resource_type, name.lower(), backend.account_id, backend.region_name)


def _job_definitions(backend: SageMakerModelBackend, kind: str) -> dict[str, MonitoringJobDefinition]:
    """moto's own dict for the type (e.g. `model_bias_job_definitions`), keyed by name."""
    return getattr(backend, "_".join(_words(kind)) + "_job_definitions")


def _endpoint_of(job_input: dict[str, Any] | None) -> str | None:
    return ((job_input or {}).get("EndpointInput") or {}).get("EndpointName")


class MonitoringJobDefinition:
    """A Model Monitor job definition of one MonitoringType.  The four types have the
    same shape except for the prefix of four members (`<Type>BaselineConfig`,
    `<Type>AppSpecification`, `<Type>JobInput`, `<Type>JobOutputConfig`); every member
    of the create request is returned by Describe as given."""

    def __init__(self, backend: SageMakerModelBackend, kind: str, name: str, settings: dict[str, Any],
                 tags: list[dict[str, str]] | None):
        self.kind = kind
        self.job_definition_name = name
        self.arn = _lower_case_arn(backend, _job_definition_resource_type(kind), name)
        self.settings = {member: value for member, value in settings.items() if value is not None}
        self.tags = list(tags or [])
        self.creation_time = utcnow()

    @property
    def endpoint_name(self) -> str | None:
        return _endpoint_of(self.settings.get(f"{self.kind}JobInput"))

    def describe(self) -> dict[str, Any]:
        return {
            "JobDefinitionArn": self.arn,
            "JobDefinitionName": self.job_definition_name,
            "CreationTime": self.creation_time,
            **self.settings,
        }

    def summary(self) -> dict[str, Any]:
        return {
            "MonitoringJobDefinitionName": self.job_definition_name,
            "MonitoringJobDefinitionArn": self.arn,
            "CreationTime": self.creation_time,
            "EndpointName": self.endpoint_name,
        }


def _job_definition(backend: SageMakerModelBackend, kind: str, name: str) -> MonitoringJobDefinition:
    definition = _job_definitions(backend, kind).get(name)
    if definition is None:
        raise ResourceNotFound(message=f"Could not find {' '.join(_words(kind))} job definition '{name}'.")
    return definition


class MonitoringSchedule:
    """Pending -> Scheduled after T on create, on StartMonitoringSchedule and on update
    (an update of a Stopped schedule settles back to Stopped); StopMonitoringSchedule
    stops it at once.  `MonitoringScheduleConfig` is kept exactly as given."""

    def __init__(self, backend: SageMakerModelBackend, name: str, config: dict[str, Any],
                 tags: list[dict[str, str]] | None):
        self.backend = backend
        self.name = name
        self.arn = _lower_case_arn(backend, "monitoring-schedule", name)
        self.config = config
        self.tags = list(tags or [])
        self.failure_reason: str | None = None
        self.lifecycle = LazyStatus(backend.account_id, "Pending", settles_to="Scheduled")
        self.creation_time = self.lifecycle.changed_at

    @property
    def status(self) -> str:
        return self.lifecycle.value

    @property
    def last_modified_time(self) -> datetime:
        return self.lifecycle.changed_at

    @property
    def monitoring_type(self) -> str:
        # A schedule with an inline MonitoringJobDefinition monitors data quality.
        return self.config.get("MonitoringType") or "DataQuality"

    @property
    def job_definition_name(self) -> str | None:
        return self.config.get("MonitoringJobDefinitionName")

    @property
    def endpoint_name(self) -> str | None:
        inline = self.config.get("MonitoringJobDefinition")
        if inline is not None:
            return next(filter(None, map(_endpoint_of, inline.get("MonitoringInputs") or [])), None)
        definition = _job_definitions(self.backend, self.monitoring_type).get(self.job_definition_name)
        return definition.endpoint_name if definition else None

    def summary(self) -> dict[str, Any]:
        return {
            "MonitoringScheduleName": self.name,
            "MonitoringScheduleArn": self.arn,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
            "MonitoringScheduleStatus": self.status,
            "EndpointName": self.endpoint_name,
            "MonitoringJobDefinitionName": self.job_definition_name,
            "MonitoringType": self.monitoring_type,
        }

    def describe(self) -> dict[str, Any]:
        return {**self.summary(), "FailureReason": self.failure_reason, "MonitoringScheduleConfig": self.config}


def _monitoring_schedule(backend: SageMakerModelBackend, name: str) -> MonitoringSchedule:
    schedule = backend.monitoring_schedules.get(name)
    if schedule is None:
        arn = _lower_case_arn(backend, "monitoring-schedule", name)
        raise ResourceNotFound(message=f"Monitoring Schedule {arn} does not exist.")
    return schedule


def _validate_schedule_config(backend: SageMakerModelBackend, config: dict[str, Any]) -> None:
    """A schedule runs either an inline MonitoringJobDefinition or a job definition
    named by MonitoringJobDefinitionName and MonitoringType, which must exist."""
    inline, name = config.get("MonitoringJobDefinition"), config.get("MonitoringJobDefinitionName")
    if (inline is None) == (name is None):
        raise ValidationError(
            message="Exactly one of MonitoringJobDefinition and MonitoringJobDefinitionName must be provided."
        )
    if name is not None:
        kind = config.get("MonitoringType")
        if kind is None:
            raise ValidationError(message="MonitoringType is required with MonitoringJobDefinitionName.")
        if name not in _job_definitions(backend, kind):
            raise ValidationError(message=f"Could not find {' '.join(_words(kind))} job definition '{name}'.")


class FeatureGroup:
    """A Feature Store feature group: Creating -> Created and Deleting -> gone, each
    after T.  The store configs are returned as given, plus what SageMaker adds to an
    offline store (its resolved S3 URI and, unless disabled, a Glue table)."""

    def __init__(self, backend: SageMakerModelBackend, params: dict[str, Any]):
        self.name = params["FeatureGroupName"]
        self.arn = _lower_case_arn(backend, "feature-group", self.name)
        self.record_identifier_feature_name = params["RecordIdentifierFeatureName"]
        self.event_time_feature_name = params["EventTimeFeatureName"]
        self.feature_definitions = params["FeatureDefinitions"]
        self.online_store_config = params.get("OnlineStoreConfig")
        self.offline_store_config = _resolved_offline_store(backend, self.name, params.get("OfflineStoreConfig"))
        self.throughput_config = params.get("ThroughputConfig") or {"ThroughputMode": "OnDemand"}
        self.role_arn = params.get("RoleArn")
        self.description = params.get("Description")
        self.tags = list(params.get("Tags") or [])
        self.failure_reason: str | None = None
        self.lifecycle = LazyStatus(backend.account_id, "Creating", settles_to="Created")
        self.creation_time = self.lifecycle.changed_at

    @property
    def status(self) -> str:
        return self.lifecycle.value

    @property
    def offline_store_status(self) -> dict[str, str] | None:
        return {"Status": "Active"} if self.offline_store_config else None

    def summary(self) -> dict[str, Any]:
        return {
            "FeatureGroupName": self.name,
            "FeatureGroupArn": self.arn,
            "CreationTime": self.creation_time,
            "FeatureGroupStatus": self.status,
            "OfflineStoreStatus": self.offline_store_status,
        }

    def describe(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "RecordIdentifierFeatureName": self.record_identifier_feature_name,
            "EventTimeFeatureName": self.event_time_feature_name,
            "FeatureDefinitions": self.feature_definitions,
            "LastModifiedTime": self.lifecycle.changed_at,
            "OnlineStoreConfig": self.online_store_config,
            "OfflineStoreConfig": self.offline_store_config,
            "ThroughputConfig": self.throughput_config,
            "RoleArn": self.role_arn,
            "FailureReason": self.failure_reason,
            "Description": self.description,
            "NextToken": "",  # required in the output shape; nothing to page here
        }


def _resolved_offline_store(backend: SageMakerModelBackend, name: str,
                            config: dict[str, Any] | None) -> dict[str, Any] | None:
    if config is None:
        return None
    config = json.loads(json.dumps(config, default=str))  # a copy: the request's stays as sent
    stamp = int(utcnow().timestamp())
    s3 = config["S3StorageConfig"]
    s3["ResolvedOutputS3Uri"] = (f"{s3['S3Uri'].rstrip('/')}/{backend.account_id}/sagemaker/"
                                 f"{backend.region_name}/offline-store/{name}-{stamp}/data")
    if not config.get("DisableGlueTableCreation") and "DataCatalogConfig" not in config:
        config["DataCatalogConfig"] = {"TableName": f"{name.replace('-', '_')}_{stamp}",
                                       "Catalog": "AwsDataCatalog", "Database": "sagemaker_featurestore"}
    return config


def _live_feature_groups(backend: SageMakerModelBackend) -> dict[str, FeatureGroup]:
    """moto's dict, keyed by ARN, after dropping the groups whose deletion has finished."""
    for arn, group in list(backend.feature_groups.items()):
        if group.status == GONE:
            del backend.feature_groups[arn]
    return backend.feature_groups


def _feature_group(backend: SageMakerModelBackend, name_or_arn: str) -> FeatureGroup:
    # The name is found in any case: the ARN spells it in lower case.
    arn = name_or_arn if name_or_arn.startswith("arn:") else _lower_case_arn(backend, "feature-group", name_or_arn)
    group = _live_feature_groups(backend).get(arn.lower())
    if group is None:
        raise ResourceNotFound(message=f"Resource Not Found: FeatureGroup with name {name_or_arn} not found.")
    return group


# UpdateInferenceExperiment member -> experiment attribute.
_INFERENCE_EXPERIMENT_UPDATABLE = {
    "Schedule": "schedule",
    "Description": "description",
    "ModelVariants": "model_variants",
    "DataStorageConfig": "data_storage_config",
    "ShadowModeConfig": "shadow_mode_config",
}


class InferenceExperiment:
    """A shadow test.  Creating -> Created on create, Starting -> Running on
    StartInferenceExperiment, Updating -> (its status before) on update, Stopping ->
    Completed or Cancelled on StopInferenceExperiment, each after T.  Nothing starts by
    itself at Schedule.StartTime."""

    def __init__(self, backend: SageMakerModelBackend, params: dict[str, Any]):
        self.backend = backend
        self.name = params["Name"]
        self.arn = _lower_case_arn(backend, "inference-experiment", self.name)
        self.type = params["Type"]
        self.role_arn = params["RoleArn"]
        self.endpoint_name = params["EndpointName"]
        self.kms_key = params.get("KmsKey")
        self.tags = list(params.get("Tags") or [])
        for member, attribute in _INFERENCE_EXPERIMENT_UPDATABLE.items():
            setattr(self, attribute, params.get(member))
        self.status_reason: str | None = None
        self.completion_time: datetime | None = None
        self.lifecycle = LazyStatus(backend.account_id, "Creating", settles_to="Created")
        self.creation_time = self.lifecycle.changed_at

    @property
    def status(self) -> str:
        return self.lifecycle.value

    def require_status(self, allowed: list[str], action: str) -> None:
        status = self.status
        if status not in allowed:
            raise ConflictException(
                f"Cannot {action} inference experiment {self.arn} in status {status}; "
                f"allowed: {', '.join(allowed)}."
            )

    def summary(self) -> dict[str, Any]:
        return {
            "Name": self.name,
            "Type": self.type,
            "Schedule": self.schedule,
            "Status": self.status,
            "StatusReason": self.status_reason,
            "Description": self.description,
            "CreationTime": self.creation_time,
            "CompletionTime": self.completion_time,
            "LastModifiedTime": self.lifecycle.changed_at,
            "RoleArn": self.role_arn,
        }

    def describe(self) -> dict[str, Any]:
        variant_status = "Creating" if self.status == "Creating" else "InService"
        return {
            **self.summary(),
            "Arn": self.arn,
            "EndpointMetadata": self.endpoint_metadata(),
            "ModelVariants": [{**variant, "Status": variant_status} for variant in self.model_variants or []],
            "DataStorageConfig": self.data_storage_config,
            "ShadowModeConfig": self.shadow_mode_config,
            "KmsKey": self.kms_key,
        }

    def endpoint_metadata(self) -> dict[str, Any]:
        metadata: dict[str, Any] = {"EndpointName": self.endpoint_name}
        endpoint = self.backend.endpoints.get(self.endpoint_name)
        if endpoint is not None:
            metadata.update(EndpointConfigName=endpoint.endpoint_config_name, EndpointStatus=endpoint.endpoint_status)
        return metadata


def _inference_experiment(backend: SageMakerModelBackend, name: str) -> InferenceExperiment:
    experiment = backend.inference_experiments.get(name)
    if experiment is None:
        arn = _lower_case_arn(backend, "inference-experiment", name)
        raise ResourceNotFound(message=f"Inference experiment {arn} does not exist.")
    return experiment


# ARN resource type -> the backend's resources of that type, for AddTags/ListTags/DeleteTags.
_LOWER_CASE_ARN_RESOURCES = {
    **{_job_definition_resource_type(kind): (lambda backend, kind=kind: _job_definitions(backend, kind).values())
       for kind in MONITORING_TYPES},
    "monitoring-schedule": lambda backend: backend.monitoring_schedules.values(),
    "feature-group": lambda backend: _live_feature_groups(backend).values(),
    "inference-experiment": lambda backend: backend.inference_experiments.values(),
}


def _sorted(items: list[Any], keys: dict[str, Any], sort_by: str | None, default_by: str,
            sort_order: str | None) -> list[Any]:
    """Sorted as the list operations document: by `sort_by` (default `default_by`),
    newest or greatest first unless SortOrder is Ascending."""
    return sorted(items, key=keys[sort_by or default_by], reverse=(sort_order or "Descending") == "Descending")


def _in_time_window(value: datetime, after: datetime | None, before: datetime | None) -> bool:
    return (after is None or value > after) and (before is None or value < before)


_LIST_PAGINATION = {
    # AWS documents a default page size of 10 for both operations.
    name: {"input_token": "next_token", "limit_key": "max_results", "limit_default": 10, "unique_attribute": "arn"}
    # AWS documents 10 for images, app image configs, monitoring schedules and the model bias
    # and explainability job definitions; for the others we assume the same.
    for name in ("list_images", "list_app_image_configs", "list_job_definitions", "list_monitoring_schedules",
                 "list_feature_groups", "list_inference_experiments")
}
_IMAGE_SORT_KEYS = {
    "CREATION_TIME": lambda image: image.creation_time,
    "LAST_MODIFIED_TIME": lambda image: image.last_modified_time,
    "IMAGE_NAME": lambda image: image.image_name,
}
_APP_IMAGE_CONFIG_SORT_KEYS = {
    "CreationTime": lambda config: config.creation_time,
    "LastModifiedTime": lambda config: config.last_modified_time,
    "Name": lambda config: config.name,
}
_JOB_DEFINITION_SORT_KEYS = {
    "Name": lambda definition: definition.job_definition_name,
    "CreationTime": lambda definition: definition.creation_time,
}
_MONITORING_SCHEDULE_SORT_KEYS = {
    "Name": lambda schedule: schedule.name,
    "CreationTime": lambda schedule: schedule.creation_time,
    "Status": lambda schedule: schedule.status,
}
_FEATURE_GROUP_SORT_KEYS = {
    "Name": lambda group: group.name,
    "CreationTime": lambda group: group.creation_time,
    "FeatureGroupStatus": lambda group: group.status,
    "OfflineStoreStatus": lambda group: (group.offline_store_status or {}).get("Status", ""),
}
_INFERENCE_EXPERIMENT_SORT_KEYS = {
    "Name": lambda experiment: experiment.name,
    "CreationTime": lambda experiment: experiment.creation_time,
    "Status": lambda experiment: experiment.status,
}


# ==========================================================================
# Patches.  Each class below is a bag of methods that install() copies onto
# the moto class it names; `self` is an instance of that moto class.  moto's
# versions of wrapped methods are kept in _moto, captured before patching.
# ==========================================================================

_moto = {
    "get_current_account": BaseResponse.get_current_account,
    "sts.assume_role": STSBackend.assume_role,
    "notebook.__init__": FakeSagemakerNotebookInstance.__init__,
    "notebook.to_dict": FakeSagemakerNotebookInstance.to_dict,
    "backend.__init__": SageMakerModelBackend.__init__,
    "dynamodb.table.create_from_cloudformation_json": DynamoDbTable.create_from_cloudformation_json,
    "iam.role.create_from_cloudformation_json": IamRole.create_from_cloudformation_json,
    **{
        f"backend.{name}": getattr(SageMakerModelBackend, name)
        for name in ("_get_resource_from_arn", "create_notebook_instance", "get_notebook_instance",
                     "list_notebook_instances", "create_model", "create_endpoint_config", "create_endpoint",
                     "describe_endpoint", "list_endpoints")
    },
}


class BaseResponsePatches:
    """Onto moto.core.responses.BaseResponse (every service)."""

    def get_current_account(self) -> str:
        # moto's explicit overrides (MOTO_ACCOUNT_ID, x-moto-account-id) still win.
        access_key, _, _ = credential_scope(self.headers.get("Authorization"))
        explicit = "MOTO_ACCOUNT_ID" in os.environ or "x-moto-account-id" in self.headers
        if not explicit and access_key and _TWELVE_DIGITS.fullmatch(access_key):
            return access_key
        return _moto["get_current_account"](self)


class NotebookPatches:
    """Onto FakeSagemakerNotebookInstance: a lazily computed status."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # moto's constructor assigns `status` and calls start(); both go through
        # the lifecycle, so it must exist first.
        account = kwargs["account_id"] if "account_id" in kwargs else args[0]
        self.lifecycle = LazyStatus(account, "Pending")
        self.failure_reason = None
        _moto["notebook.__init__"](self, *args, **kwargs)
        # SageMaker lower-cases the name inside the ARN; the name keeps its spelling.
        prefix, _, name = self.arn.partition("/")
        self.arn = f"{prefix}/{name.lower()}"

    # moto reads and assigns `notebook.status`; assigning forces a status.
    status = property(lambda self: self.lifecycle.value, lambda self, status: self.lifecycle.force(status))

    def start(self) -> None:
        self.failure_reason = None
        self.lifecycle.begin("Pending", "InService")

    def stop(self) -> None:
        self.lifecycle.begin("Stopping", "Stopped")

    def to_dict(self) -> dict[str, Any]:
        # Members outside an operation's output shape (e.g. PlatformIdentifier in
        # ListNotebookInstances) are dropped by moto's serializer, as on AWS.
        return {
            **_moto["notebook.to_dict"](self),
            "LastModifiedTime": self.lifecycle.changed_at,
            "FailureReason": self.failure_reason,
            "NetworkInterfaceId": self.network_interface_id,
            "IpAddressType": self.ip_address_type,
            "PlatformIdentifier": self.platform_identifier,
            "InstanceMetadataServiceConfiguration": self.instance_metadata_service_configuration,
        }


class BackendPatches:
    """Onto SageMakerModelBackend (one instance per account and region)."""

    def __init__(self, region_name: str, account_id: str) -> None:
        _moto["backend.__init__"](self, region_name, account_id)
        self.images: dict[str, SageMakerImage] = {}
        self.app_image_configs: dict[str, AppImageConfig] = {}
        self.endpoint_updates: dict[str, PendingEndpointUpdate] = {}
        self.monitoring_schedules: dict[str, MonitoringSchedule] = {}
        self.inference_experiments: dict[str, InferenceExperiment] = {}

    # ---- tags -------------------------------------------------------------

    def _get_resource_from_arn(self, arn: str) -> Any:
        resource_type, _, name = arn.split(":")[-1].partition("/")
        if resource_type == "image":
            resource = _live_images(self).get(name)
        elif resource_type == "app-image-config":
            resource = self.app_image_configs.get(name)
        elif resource_type in _LOWER_CASE_ARN_RESOURCES:
            # These ARNs spell the name in lower case (any case is accepted).
            resource = next((r for r in _LOWER_CASE_ARN_RESOURCES[resource_type](self) if r.arn.lower() == arn.lower()),
                            None)
        elif resource_type == "notebook-instance":
            # Its ARN spells the name in lower case (any case is accepted).
            resource = next((n for key, n in _live_notebooks(self).items() if key.lower() == name.lower()), None)
        else:
            _live_notebooks(self)
            try:
                resource = _moto["backend._get_resource_from_arn"](self, arn)
            except (AttributeError, ValueError):  # an ARN or resource type moto does not know
                resource = None
        if resource is None:  # moto itself would answer HTTP 500 in these cases
            raise ValidationError(message=f"Could not find {resource_type} with name {name}")
        return resource

    def add_tags(self, arn: str, tags: list[dict[str, str]]) -> list[dict[str, str]]:
        # AWS replaces the value of an existing key; moto would add a duplicate.
        resource = self._get_resource_from_arn(arn)
        new_keys = {tag["Key"] for tag in tags}
        resource.tags = [tag for tag in resource.tags if tag["Key"] not in new_keys] + list(tags)
        return resource.tags

    # ---- notebook instances -----------------------------------------------

    def create_notebook_instance(
        self,
        platform_identifier: str | None = None,
        instance_metadata_service_configuration: dict[str, str] | None = None,
        ip_address_type: str | None = None,
        **kwargs: Any,
    ) -> FakeSagemakerNotebookInstance:
        _live_notebooks(self)
        notebook = _moto["backend.create_notebook_instance"](self, **kwargs)
        notebook.root_access = notebook.root_access or "Enabled"
        notebook.platform_identifier = platform_identifier or DEFAULT_PLATFORM_IDENTIFIER
        notebook.instance_metadata_service_configuration = (
            instance_metadata_service_configuration or dict(DEFAULT_IMDS_CONFIGURATION)
        )
        notebook.ip_address_type = ip_address_type or "ipv4"
        # AWS attaches an ENI in the subnet when one is given.
        notebook.network_interface_id = f"eni-{secrets.token_hex(9)[:17]}" if notebook.subnet_id else None
        return notebook

    def _validate_unique_notebook_instance_name(self, notebook_instance_name: str) -> None:
        # As on SageMaker, a name is taken whatever its case.
        wanted = notebook_instance_name.lower()
        taken = next((n for key, n in _live_notebooks(self).items() if key.lower() == wanted), None)
        if taken is not None:
            raise ValidationError(message=f"Cannot create a duplicate Notebook Instance ({taken.arn})")

    def get_notebook_instance(self, notebook_instance_name: str) -> FakeSagemakerNotebookInstance:
        live = _live_notebooks(self)
        if notebook_instance_name not in live:
            # SageMaker accepts a name in any case (and lower-cases it inside ARNs).
            wanted = notebook_instance_name.lower()
            notebook_instance_name = next((n for n in live if n.lower() == wanted), notebook_instance_name)
        return _moto["backend.get_notebook_instance"](self, notebook_instance_name)

    def list_notebook_instances(self, **kwargs: Any) -> Any:
        _live_notebooks(self)
        return _moto["backend.list_notebook_instances"](self, **kwargs)

    def start_notebook_instance(self, notebook_instance_name: str) -> None:
        notebook = self.get_notebook_instance(notebook_instance_name)
        _require_notebook_status(notebook, ["Stopped", "Failed"], "Pending")
        notebook.start()

    def stop_notebook_instance(self, notebook_instance_name: str) -> None:
        notebook = self.get_notebook_instance(notebook_instance_name)
        _require_notebook_status(notebook, ["InService"], "Stopping")
        notebook.stop()

    def delete_notebook_instance(self, notebook_instance_name: str) -> None:
        notebook = self.get_notebook_instance(notebook_instance_name)
        _require_notebook_status(notebook, ["Stopped", "Failed"], "Deleting")
        notebook.lifecycle.begin("Deleting", GONE)

    def update_notebook_instance(self, name: str, params: dict[str, Any]) -> None:
        """Applies UpdateNotebookInstance `params` (request members by AWS name)."""
        notebook = self.get_notebook_instance(name)
        _require_notebook_status(notebook, ["Stopped"], "Updating")
        if params.get("InstanceType") is not None:
            notebook.validate_instance_type(params["InstanceType"])
        volume = params.get("VolumeSizeInGB")
        if volume is not None:
            notebook.validate_volume_size_in_gb(volume)
            if volume < notebook.volume_size_in_gb:
                raise ValidationError(
                    message=f"Invalid VolumeSizeInGB ({volume}): the volume of Notebook Instance "
                    f"({notebook.arn}) is {notebook.volume_size_in_gb} GB and can only grow."
                )
        for member, flag, _ in _DISASSOCIABLE:
            if params.get(member) is not None and params.get(flag):
                raise ValidationError(message=f"Cannot specify both {member} and {flag}.")

        for member, attribute in _REPLACEABLE.items():
            if params.get(member) is not None:
                setattr(notebook, attribute, params[member])
        for member, flag, attribute in _DISASSOCIABLE:
            if params.get(flag):
                setattr(notebook, attribute, None)
            elif params.get(member) is not None:
                setattr(notebook, attribute, params[member])
        notebook.lifecycle.begin("Updating", "Stopped")

    # ---- models, endpoint configs, endpoints ------------------------------

    def create_model(self, enable_network_isolation: bool = False,
                     inference_execution_config: dict[str, str] | None = None, **kwargs: Any) -> Any:
        name = kwargs["model_name"]
        if name in self._models:
            arn = arn_formatter("model", name, self.account_id, self.region_name)
            raise ValidationError(message=f'Cannot create already existing model "{arn}".')
        model = _moto["backend.create_model"](self, **kwargs)
        model.enable_network_isolation = bool(enable_network_isolation)
        # moto turns an absent PrimaryContainer, Containers or VpcConfig into {} or [], which
        # DescribeModel then returns: a multi-container model would seem to have an (empty)
        # primary container.  None is left out of the response, as AWS leaves out what was
        # not given.
        model.primary_container = kwargs.get("primary_container")
        model.containers = kwargs.get("containers")
        model.vpc_config = kwargs.get("vpc_config")
        model.inference_execution_config = inference_execution_config
        return model

    def create_endpoint_config(self, **kwargs: Any) -> Any:
        name = kwargs["endpoint_config_name"]
        if name in self.endpoint_configs:
            arn = FakeEndpointConfig.arn_formatter(name, self.account_id, self.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint configuration "{arn}".')
        return _moto["backend.create_endpoint_config"](self, **kwargs)

    def create_endpoint(self, **kwargs: Any) -> Any:
        name = kwargs["endpoint_name"]
        if name in self.endpoints:
            arn = FakeEndpoint.arn_formatter(name, self.account_id, self.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
        return _moto["backend.create_endpoint"](self, **kwargs)

    def describe_endpoint(self, endpoint_name: str) -> dict[str, Any]:
        _refresh_endpoints(self)
        return _moto["backend.describe_endpoint"](self, endpoint_name)

    def list_endpoints(self, **kwargs: Any) -> Any:
        _refresh_endpoints(self)
        return _moto["backend.list_endpoints"](self, **kwargs)

    def update_endpoint(self, endpoint_name: str, endpoint_config_name: str) -> FakeEndpoint:
        self.describe_endpoint(endpoint_name)  # refreshes; raises if the endpoint does not exist
        endpoint = self.endpoints[endpoint_name]
        config = self.describe_endpoint_config(endpoint_config_name)  # raises if missing
        if endpoint.endpoint_status != "InService":
            raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
        lifecycle = LazyStatus(self.account_id, "Updating", settles_to="InService")
        endpoint.pending_deployment_summary = {
            "EndpointConfigName": endpoint_config_name,
            "StartTime": lifecycle.changed_at,
        }
        self.endpoint_updates[endpoint_name] = PendingEndpointUpdate(lifecycle, endpoint_config_name, config)
        _refresh_endpoints(self)
        return endpoint

    # ---- images -----------------------------------------------------------

    def create_image(self, image_name: str, role_arn: str, display_name: str | None, description: str | None,
                     tags: list[dict[str, str]] | None) -> SageMakerImage:
        if image_name in _live_images(self):
            raise ResourceInUseException(
                message=f"The Image with ImageName {image_name} already exists. Please use a different ImageName."
            )
        image = SageMakerImage(self, image_name, role_arn, display_name, description, tags)
        self.images[image_name] = image
        return image

    def describe_image(self, image_name: str) -> SageMakerImage:
        return _image(self, image_name)

    def update_image(self, image_name: str, delete_properties: list[str] | None, description: str | None,
                     display_name: str | None, role_arn: str | None) -> SageMakerImage:
        image = _image(self, image_name)
        deletable = {"Description": "description", "DisplayName": "display_name"}
        for prop in delete_properties or []:
            if prop not in deletable:
                raise ValidationError(message=f"Invalid DeleteProperties value: {prop}")
            setattr(image, deletable[prop], None)
        for attribute, value in (("description", description), ("display_name", display_name),
                                 ("role_arn", role_arn)):
            if value is not None:
                setattr(image, attribute, value)
        image.lifecycle.begin("UPDATING", "CREATED")
        return image

    def delete_image(self, image_name: str) -> None:
        _image(self, image_name).lifecycle.begin("DELETING", GONE)

    @paginate(pagination_model=_LIST_PAGINATION)
    def list_images(self, name_contains: str | None, sort_by: str | None, sort_order: str | None,
                    creation_time_after: datetime | None, creation_time_before: datetime | None,
                    last_modified_time_after: datetime | None,
                    last_modified_time_before: datetime | None) -> list[SageMakerImage]:
        images = [
            image for image in _live_images(self).values()
            if (not name_contains or name_contains in image.image_name)
            and _in_time_window(image.creation_time, creation_time_after, creation_time_before)
            and _in_time_window(image.last_modified_time, last_modified_time_after, last_modified_time_before)
        ]
        return sorted(images, key=_IMAGE_SORT_KEYS[sort_by or "CREATION_TIME"],
                      reverse=(sort_order or "DESCENDING") == "DESCENDING")

    # ---- app image configs --------------------------------------------------

    def create_app_image_config(self, name: str, configs: dict[str, Any],
                                tags: list[dict[str, str]] | None) -> AppImageConfig:
        if name in self.app_image_configs:
            raise ResourceInUseException(message="The ID or Name specified is already in use.")
        config = AppImageConfig(self, name, configs, tags)
        self.app_image_configs[name] = config
        return config

    def describe_app_image_config(self, name: str) -> AppImageConfig:
        return _app_image_config(self, name)

    def update_app_image_config(self, name: str, configs: dict[str, Any]) -> AppImageConfig:
        config = _app_image_config(self, name)
        config.configs.update({kind: value for kind, value in configs.items() if value is not None})
        config.last_modified_time = utcnow()
        return config

    def delete_app_image_config(self, name: str) -> None:
        _app_image_config(self, name)
        del self.app_image_configs[name]

    @paginate(pagination_model=_LIST_PAGINATION)
    def list_app_image_configs(self, name_contains: str | None, sort_by: str | None, sort_order: str | None,
                               creation_time_after: datetime | None, creation_time_before: datetime | None,
                               modified_time_after: datetime | None,
                               modified_time_before: datetime | None) -> list[AppImageConfig]:
        configs = [
            config for config in self.app_image_configs.values()
            if (not name_contains or name_contains in config.name)
            and _in_time_window(config.creation_time, creation_time_after, creation_time_before)
            and _in_time_window(config.last_modified_time, modified_time_after, modified_time_before)
        ]
        return sorted(configs, key=_APP_IMAGE_CONFIG_SORT_KEYS[sort_by or "CreationTime"],
                      reverse=(sort_order or "Descending") == "Descending")

    # ---- Model Monitor job definitions (one implementation for the four types) ----

    def create_job_definition(self, kind: str, name: str, settings: dict[str, Any],
                              tags: list[dict[str, str]] | None) -> MonitoringJobDefinition:
        definitions = _job_definitions(self, kind)
        if any(taken.lower() == name.lower() for taken in definitions):  # same ARN
            raise ResourceInUseException(
                message=f"Resource Already Exists: {kind}JobDefinition with name {name} already exists. "
                "Choose a different name."
            )
        definition = MonitoringJobDefinition(self, kind, name, settings, tags)
        definitions[name] = definition
        return definition

    def describe_job_definition(self, kind: str, name: str) -> MonitoringJobDefinition:
        return _job_definition(self, kind, name)

    def delete_job_definition(self, kind: str, name: str) -> None:
        definition = _job_definition(self, kind, name)
        users = sorted(s.name for s in self.monitoring_schedules.values()
                       if s.monitoring_type == kind and s.job_definition_name == name)
        if users:
            raise ValidationError(
                message=f"Job definition {definition.arn} is used by monitoring schedule(s) {', '.join(users)}; "
                "delete them first."
            )
        del _job_definitions(self, kind)[name]

    @paginate(pagination_model=_LIST_PAGINATION)
    def list_job_definitions(self, kind: str, endpoint_name: str | None, sort_by: str | None,
                             sort_order: str | None, name_contains: str | None,
                             creation_time_before: datetime | None,
                             creation_time_after: datetime | None) -> list[MonitoringJobDefinition]:
        definitions = [
            d for d in _job_definitions(self, kind).values()
            if (not endpoint_name or d.endpoint_name == endpoint_name)
            and (not name_contains or name_contains in d.job_definition_name)
            and _in_time_window(d.creation_time, creation_time_after, creation_time_before)
        ]
        return _sorted(definitions, _JOB_DEFINITION_SORT_KEYS, sort_by, "CreationTime", sort_order)

    # ---- monitoring schedules ----------------------------------------------

    def create_monitoring_schedule(self, name: str, config: dict[str, Any],
                                   tags: list[dict[str, str]] | None) -> MonitoringSchedule:
        if any(taken.lower() == name.lower() for taken in self.monitoring_schedules):
            raise ResourceInUseException(message=f"Monitoring Schedule {name} already exists.")
        _validate_schedule_config(self, config)
        schedule = MonitoringSchedule(self, name, config, tags)
        self.monitoring_schedules[name] = schedule
        return schedule

    def describe_monitoring_schedule(self, name: str) -> MonitoringSchedule:
        return _monitoring_schedule(self, name)

    def update_monitoring_schedule(self, name: str, config: dict[str, Any]) -> MonitoringSchedule:
        schedule = _monitoring_schedule(self, name)
        status = schedule.status
        if status == "Pending":
            raise ValidationError(
                message=f"Monitoring Schedule {schedule.arn} is in status Pending; "
                "update it once it is Scheduled, Stopped or Failed."
            )
        _validate_schedule_config(self, config)
        schedule.config = config
        schedule.failure_reason = None
        schedule.lifecycle.begin("Pending", "Stopped" if status == "Stopped" else "Scheduled")
        return schedule

    def stop_monitoring_schedule(self, name: str) -> None:
        schedule = _monitoring_schedule(self, name)
        if schedule.status != "Scheduled":
            raise ValidationError(
                message=f"Monitoring Schedule {schedule.arn} is in status {schedule.status}; only a Scheduled "
                "schedule can be stopped."
            )
        schedule.lifecycle.force("Stopped")

    def start_monitoring_schedule(self, name: str) -> None:
        schedule = _monitoring_schedule(self, name)
        if schedule.status != "Stopped":
            raise ValidationError(
                message=f"Monitoring Schedule {schedule.arn} is in status {schedule.status}; only a Stopped "
                "schedule can be started."
            )
        schedule.lifecycle.begin("Pending", "Scheduled")

    def delete_monitoring_schedule(self, name: str) -> None:
        _monitoring_schedule(self, name)
        del self.monitoring_schedules[name]

    @paginate(pagination_model=_LIST_PAGINATION)
    def list_monitoring_schedules(self, endpoint_name: str | None, sort_by: str | None, sort_order: str | None,
                                  name_contains: str | None, creation_time_before: datetime | None,
                                  creation_time_after: datetime | None,
                                  last_modified_time_before: datetime | None,
                                  last_modified_time_after: datetime | None, status_equals: str | None,
                                  monitoring_job_definition_name: str | None,
                                  monitoring_type_equals: str | None) -> list[MonitoringSchedule]:
        schedules = [
            s for s in self.monitoring_schedules.values()
            if (not endpoint_name or s.endpoint_name == endpoint_name)
            and (not name_contains or name_contains in s.name)
            and _in_time_window(s.creation_time, creation_time_after, creation_time_before)
            and _in_time_window(s.last_modified_time, last_modified_time_after, last_modified_time_before)
            and (not status_equals or s.status == status_equals)
            and (not monitoring_job_definition_name or s.job_definition_name == monitoring_job_definition_name)
            and (not monitoring_type_equals or s.monitoring_type == monitoring_type_equals)
        ]
        return _sorted(schedules, _MONITORING_SCHEDULE_SORT_KEYS, sort_by, "CreationTime", sort_order)

    # ---- feature groups ----------------------------------------------------

    def create_feature_group(self, params: dict[str, Any]) -> FeatureGroup:
        name = params["FeatureGroupName"]
        arn = _lower_case_arn(self, "feature-group", name)
        if arn in _live_feature_groups(self):
            raise ResourceInUseException(
                message=f"Resource Already Exists: FeatureGroup with name {name} already exists. "
                "Choose a different name."
            )
        if params.get("OnlineStoreConfig") is None and params.get("OfflineStoreConfig") is None:
            raise ValidationError(
                message="You must include at least one of OnlineStoreConfig and OfflineStoreConfig "
                "to create a FeatureGroup."
            )
        group = FeatureGroup(self, params)
        self.feature_groups[arn] = group
        return group

    def describe_feature_group(self, name_or_arn: str) -> FeatureGroup:
        return _feature_group(self, name_or_arn)

    def delete_feature_group(self, name: str) -> None:
        _feature_group(self, name).lifecycle.begin("Deleting", GONE)

    @paginate(pagination_model=_LIST_PAGINATION)
    def list_feature_groups(self, name_contains: str | None, feature_group_status_equals: str | None,
                            offline_store_status_equals: str | None, creation_time_after: datetime | None,
                            creation_time_before: datetime | None, sort_order: str | None,
                            sort_by: str | None) -> list[FeatureGroup]:
        groups = [
            g for g in _live_feature_groups(self).values()
            if (not name_contains or name_contains in g.name)
            and (not feature_group_status_equals or g.status == feature_group_status_equals)
            and (not offline_store_status_equals
                 or (g.offline_store_status or {}).get("Status") == offline_store_status_equals)
            and _in_time_window(g.creation_time, creation_time_after, creation_time_before)
        ]
        return _sorted(groups, _FEATURE_GROUP_SORT_KEYS, sort_by, "CreationTime", sort_order)

    # ---- inference experiments ---------------------------------------------

    def create_inference_experiment(self, params: dict[str, Any]) -> InferenceExperiment:
        name = params["Name"]
        if any(taken.lower() == name.lower() for taken in self.inference_experiments):
            raise ResourceInUseException(message=f"Inference experiment {name} already exists.")
        experiment = InferenceExperiment(self, params)
        self.inference_experiments[name] = experiment
        return experiment

    def describe_inference_experiment(self, name: str) -> InferenceExperiment:
        return _inference_experiment(self, name)

    def start_inference_experiment(self, name: str) -> InferenceExperiment:
        experiment = _inference_experiment(self, name)
        experiment.require_status(["Created"], "start")
        experiment.lifecycle.begin("Starting", "Running")
        return experiment

    def update_inference_experiment(self, name: str, params: dict[str, Any]) -> InferenceExperiment:
        experiment = _inference_experiment(self, name)
        status = experiment.status
        experiment.require_status(["Created", "Running"], "update")  # as the API reference says
        for member, attribute in _INFERENCE_EXPERIMENT_UPDATABLE.items():
            if params.get(member) is not None:
                setattr(experiment, attribute, params[member])
        experiment.lifecycle.begin("Updating", status)
        return experiment

    def stop_inference_experiment(self, name: str, desired_state: str | None,
                                  reason: str | None) -> InferenceExperiment:
        experiment = _inference_experiment(self, name)
        experiment.require_status(["Running"], "stop")
        experiment.status_reason = reason
        experiment.lifecycle.begin("Stopping", desired_state or "Completed")
        experiment.completion_time = experiment.lifecycle.changed_at
        return experiment

    def delete_inference_experiment(self, name: str) -> InferenceExperiment:
        experiment = _inference_experiment(self, name)
        experiment.require_status(["Created", "Completed", "Cancelled"], "delete")
        del self.inference_experiments[name]
        return experiment

    @paginate(pagination_model=_LIST_PAGINATION)
    def list_inference_experiments(self, name_contains: str | None, type: str | None,
                                   status_equals: str | None, creation_time_after: datetime | None,
                                   creation_time_before: datetime | None,
                                   last_modified_time_after: datetime | None,
                                   last_modified_time_before: datetime | None, sort_by: str | None,
                                   sort_order: str | None) -> list[InferenceExperiment]:
        experiments = [
            e for e in self.inference_experiments.values()
            if (not name_contains or name_contains in e.name)
            and (not type or e.type == type)
            and (not status_equals or e.status == status_equals)
            and _in_time_window(e.creation_time, creation_time_after, creation_time_before)
            and _in_time_window(e.lifecycle.changed_at, last_modified_time_after, last_modified_time_before)
        ]
        return _sorted(experiments, _INFERENCE_EXPERIMENT_SORT_KEYS, sort_by, "CreationTime", sort_order)


class ResponsePatches:
    """Onto SageMakerResponse.  moto parses requests and serialises results with
    botocore's service model, so these only map parameters to backend calls."""

    def create_notebook_instance(self) -> ActionResult:
        notebook = self.sagemaker_backend.create_notebook_instance(
            notebook_instance_name=self._get_param("NotebookInstanceName"),
            instance_type=self._get_param("InstanceType"),
            subnet_id=self._get_param("SubnetId"),
            security_group_ids=self._get_param("SecurityGroupIds"),
            role_arn=self._get_param("RoleArn"),
            kms_key_id=self._get_param("KmsKeyId"),
            tags=self._get_param("Tags"),
            lifecycle_config_name=self._get_param("LifecycleConfigName"),
            direct_internet_access=self._get_param("DirectInternetAccess"),
            volume_size_in_gb=self._get_param("VolumeSizeInGB"),
            accelerator_types=self._get_param("AcceleratorTypes"),
            default_code_repository=self._get_param("DefaultCodeRepository"),
            additional_code_repositories=self._get_param("AdditionalCodeRepositories"),
            root_access=self._get_param("RootAccess"),
            platform_identifier=self._get_param("PlatformIdentifier"),
            instance_metadata_service_configuration=self._get_param("InstanceMetadataServiceConfiguration"),
            ip_address_type=self._get_param("IpAddressType"),
        )
        return ActionResult({"NotebookInstanceArn": notebook.arn})

    def update_notebook_instance(self) -> ActionResult:
        params = dict(self.params)
        name = params.pop("NotebookInstanceName")
        self.sagemaker_backend.update_notebook_instance(name, params)
        return EmptyResult()

    def create_model(self) -> ActionResult:
        model = self.sagemaker_backend.create_model(
            model_name=self._get_param("ModelName"),
            execution_role_arn=self._get_param("ExecutionRoleArn"),
            primary_container=self._get_param("PrimaryContainer"),
            vpc_config=self._get_param("VpcConfig"),
            containers=self._get_param("Containers"),
            tags=self._get_param("Tags"),
            enable_network_isolation=self._get_param("EnableNetworkIsolation", False),
            inference_execution_config=self._get_param("InferenceExecutionConfig"),
        )
        return ActionResult(model.response_create)

    def update_endpoint(self) -> ActionResult:
        endpoint = self.sagemaker_backend.update_endpoint(
            self._get_param("EndpointName"), self._get_param("EndpointConfigName")
        )
        return ActionResult({"EndpointArn": endpoint.arn})

    def create_image(self) -> ActionResult:
        image = self.sagemaker_backend.create_image(
            image_name=self._get_param("ImageName"),
            role_arn=self._get_param("RoleArn"),
            display_name=self._get_param("DisplayName"),
            description=self._get_param("Description"),
            tags=self._get_param("Tags"),
        )
        return ActionResult({"ImageArn": image.arn})

    def describe_image(self) -> ActionResult:
        return ActionResult(self.sagemaker_backend.describe_image(self._get_param("ImageName")).describe())

    def update_image(self) -> ActionResult:
        image = self.sagemaker_backend.update_image(
            image_name=self._get_param("ImageName"),
            delete_properties=self._get_param("DeleteProperties"),
            description=self._get_param("Description"),
            display_name=self._get_param("DisplayName"),
            role_arn=self._get_param("RoleArn"),
        )
        return ActionResult({"ImageArn": image.arn})

    def delete_image(self) -> ActionResult:
        self.sagemaker_backend.delete_image(self._get_param("ImageName"))
        return EmptyResult()

    def list_images(self) -> ActionResult:
        images, next_token = self.sagemaker_backend.list_images(
            name_contains=self._get_param("NameContains"),
            sort_by=self._get_param("SortBy"),
            sort_order=self._get_param("SortOrder"),
            creation_time_after=self._get_param("CreationTimeAfter"),
            creation_time_before=self._get_param("CreationTimeBefore"),
            last_modified_time_after=self._get_param("LastModifiedTimeAfter"),
            last_modified_time_before=self._get_param("LastModifiedTimeBefore"),
            max_results=self._get_param("MaxResults"),
            next_token=self._get_param("NextToken"),
        )
        return ActionResult({"Images": [image.summary() for image in images], "NextToken": next_token})

    def create_app_image_config(self) -> ActionResult:
        config = self.sagemaker_backend.create_app_image_config(
            name=self._get_param("AppImageConfigName"),
            configs={kind: self._get_param(kind) for kind in _APP_IMAGE_CONFIG_KINDS},
            tags=self._get_param("Tags"),
        )
        return ActionResult({"AppImageConfigArn": config.arn})

    def describe_app_image_config(self) -> ActionResult:
        config = self.sagemaker_backend.describe_app_image_config(self._get_param("AppImageConfigName"))
        return ActionResult(config.describe())

    def update_app_image_config(self) -> ActionResult:
        config = self.sagemaker_backend.update_app_image_config(
            name=self._get_param("AppImageConfigName"),
            configs={kind: self._get_param(kind) for kind in _APP_IMAGE_CONFIG_KINDS},
        )
        return ActionResult({"AppImageConfigArn": config.arn})

    def delete_app_image_config(self) -> ActionResult:
        self.sagemaker_backend.delete_app_image_config(self._get_param("AppImageConfigName"))
        return EmptyResult()

    def list_app_image_configs(self) -> ActionResult:
        configs, next_token = self.sagemaker_backend.list_app_image_configs(
            name_contains=self._get_param("NameContains"),
            sort_by=self._get_param("SortBy"),
            sort_order=self._get_param("SortOrder"),
            creation_time_after=self._get_param("CreationTimeAfter"),
            creation_time_before=self._get_param("CreationTimeBefore"),
            modified_time_after=self._get_param("ModifiedTimeAfter"),
            modified_time_before=self._get_param("ModifiedTimeBefore"),
            max_results=self._get_param("MaxResults"),
            next_token=self._get_param("NextToken"),
        )
        return ActionResult({"AppImageConfigs": [c.describe() for c in configs], "NextToken": next_token})

    # ---- Model Monitor job definitions: one set of handlers for the four types,
    # bound to each type's action names below the class (Create<Type>JobDefinition ...).

    def _create_job_definition(self, kind: str) -> ActionResult:
        definition = self.sagemaker_backend.create_job_definition(
            kind,
            self._get_param("JobDefinitionName"),
            {member: self._get_param(member) for member in _JOB_DEFINITION_SETTINGS[kind]},
            self._get_param("Tags"),
        )
        return ActionResult({"JobDefinitionArn": definition.arn})

    def _describe_job_definition(self, kind: str) -> ActionResult:
        return ActionResult(self.sagemaker_backend.describe_job_definition(kind, self._get_param("JobDefinitionName"))
                            .describe())

    def _delete_job_definition(self, kind: str) -> ActionResult:
        self.sagemaker_backend.delete_job_definition(kind, self._get_param("JobDefinitionName"))
        return EmptyResult()

    def _list_job_definitions(self, kind: str) -> ActionResult:
        definitions, next_token = self.sagemaker_backend.list_job_definitions(
            kind,
            endpoint_name=self._get_param("EndpointName"),
            sort_by=self._get_param("SortBy"),
            sort_order=self._get_param("SortOrder"),
            name_contains=self._get_param("NameContains"),
            creation_time_before=self._get_param("CreationTimeBefore"),
            creation_time_after=self._get_param("CreationTimeAfter"),
            max_results=self._get_param("MaxResults"),
            next_token=self._get_param("NextToken"),
        )
        return ActionResult({"JobDefinitionSummaries": [d.summary() for d in definitions], "NextToken": next_token})

    # ---- monitoring schedules ----------------------------------------------

    def create_monitoring_schedule(self) -> ActionResult:
        schedule = self.sagemaker_backend.create_monitoring_schedule(
            self._get_param("MonitoringScheduleName"), self._get_param("MonitoringScheduleConfig"),
            self._get_param("Tags"),
        )
        return ActionResult({"MonitoringScheduleArn": schedule.arn})

    def describe_monitoring_schedule(self) -> ActionResult:
        return ActionResult(
            self.sagemaker_backend.describe_monitoring_schedule(self._get_param("MonitoringScheduleName")).describe()
        )

    def update_monitoring_schedule(self) -> ActionResult:
        schedule = self.sagemaker_backend.update_monitoring_schedule(
            self._get_param("MonitoringScheduleName"), self._get_param("MonitoringScheduleConfig")
        )
        return ActionResult({"MonitoringScheduleArn": schedule.arn})

    def stop_monitoring_schedule(self) -> ActionResult:
        self.sagemaker_backend.stop_monitoring_schedule(self._get_param("MonitoringScheduleName"))
        return EmptyResult()

    def start_monitoring_schedule(self) -> ActionResult:
        self.sagemaker_backend.start_monitoring_schedule(self._get_param("MonitoringScheduleName"))
        return EmptyResult()

    def delete_monitoring_schedule(self) -> ActionResult:
        self.sagemaker_backend.delete_monitoring_schedule(self._get_param("MonitoringScheduleName"))
        return EmptyResult()

    def list_monitoring_schedules(self) -> ActionResult:
        schedules, next_token = self.sagemaker_backend.list_monitoring_schedules(
            endpoint_name=self._get_param("EndpointName"),
            sort_by=self._get_param("SortBy"),
            sort_order=self._get_param("SortOrder"),
            name_contains=self._get_param("NameContains"),
            creation_time_before=self._get_param("CreationTimeBefore"),
            creation_time_after=self._get_param("CreationTimeAfter"),
            last_modified_time_before=self._get_param("LastModifiedTimeBefore"),
            last_modified_time_after=self._get_param("LastModifiedTimeAfter"),
            status_equals=self._get_param("StatusEquals"),
            monitoring_job_definition_name=self._get_param("MonitoringJobDefinitionName"),
            monitoring_type_equals=self._get_param("MonitoringTypeEquals"),
            max_results=self._get_param("MaxResults"),
            next_token=self._get_param("NextToken"),
        )
        return ActionResult({"MonitoringScheduleSummaries": [s.summary() for s in schedules], "NextToken": next_token})

    # ---- feature groups ----------------------------------------------------

    def create_feature_group(self) -> ActionResult:
        group = self.sagemaker_backend.create_feature_group(dict(self.params))
        return ActionResult({"FeatureGroupArn": group.arn})

    def describe_feature_group(self) -> ActionResult:
        return ActionResult(self.sagemaker_backend.describe_feature_group(self._get_param("FeatureGroupName")).describe())

    def delete_feature_group(self) -> ActionResult:
        self.sagemaker_backend.delete_feature_group(self._get_param("FeatureGroupName"))
        return EmptyResult()

    def list_feature_groups(self) -> ActionResult:
        groups, next_token = self.sagemaker_backend.list_feature_groups(
            name_contains=self._get_param("NameContains"),
            feature_group_status_equals=self._get_param("FeatureGroupStatusEquals"),
            offline_store_status_equals=self._get_param("OfflineStoreStatusEquals"),
            creation_time_after=self._get_param("CreationTimeAfter"),
            creation_time_before=self._get_param("CreationTimeBefore"),
            sort_order=self._get_param("SortOrder"),
            sort_by=self._get_param("SortBy"),
            max_results=self._get_param("MaxResults"),
            next_token=self._get_param("NextToken"),
        )
        return ActionResult({"FeatureGroupSummaries": [g.summary() for g in groups], "NextToken": next_token})

    # ---- inference experiments ---------------------------------------------

    def create_inference_experiment(self) -> ActionResult:
        experiment = self.sagemaker_backend.create_inference_experiment(dict(self.params))
        return ActionResult({"InferenceExperimentArn": experiment.arn})

    def describe_inference_experiment(self) -> ActionResult:
        return ActionResult(self.sagemaker_backend.describe_inference_experiment(self._get_param("Name")).describe())

    def start_inference_experiment(self) -> ActionResult:
        experiment = self.sagemaker_backend.start_inference_experiment(self._get_param("Name"))
        return ActionResult({"InferenceExperimentArn": experiment.arn})

    def update_inference_experiment(self) -> ActionResult:
        params = dict(self.params)
        experiment = self.sagemaker_backend.update_inference_experiment(params.pop("Name"), params)
        return ActionResult({"InferenceExperimentArn": experiment.arn})

    def stop_inference_experiment(self) -> ActionResult:
        experiment = self.sagemaker_backend.stop_inference_experiment(
            self._get_param("Name"), self._get_param("DesiredState"), self._get_param("Reason")
        )
        return ActionResult({"InferenceExperimentArn": experiment.arn})

    def delete_inference_experiment(self) -> ActionResult:
        experiment = self.sagemaker_backend.delete_inference_experiment(self._get_param("Name"))
        return ActionResult({"InferenceExperimentArn": experiment.arn})

    def list_inference_experiments(self) -> ActionResult:
        experiments, next_token = self.sagemaker_backend.list_inference_experiments(
            name_contains=self._get_param("NameContains"),
            type=self._get_param("Type"),
            status_equals=self._get_param("StatusEquals"),
            creation_time_after=self._get_param("CreationTimeAfter"),
            creation_time_before=self._get_param("CreationTimeBefore"),
            last_modified_time_after=self._get_param("LastModifiedTimeAfter"),
            last_modified_time_before=self._get_param("LastModifiedTimeBefore"),
            sort_by=self._get_param("SortBy"),
            sort_order=self._get_param("SortOrder"),
            max_results=self._get_param("MaxResults"),
            next_token=self._get_param("NextToken"),
        )
        return ActionResult({"InferenceExperiments": [e.summary() for e in experiments], "NextToken": next_token})


def _bind_job_definition_handlers() -> None:
    """Create/Describe/List/Delete<Type>JobDefinition for each MonitoringType, e.g.
    `create_model_bias_job_definition` calls `_create_job_definition("ModelBias")`."""
    for kind in MONITORING_TYPES:
        snake = "_".join(_words(kind))
        for verb, suffix in (("create", "job_definition"), ("describe", "job_definition"),
                             ("delete", "job_definition"), ("list", "job_definitions")):
            generic = getattr(ResponsePatches, f"_{verb}_{suffix}")
            setattr(ResponsePatches, f"{verb}_{snake}_{suffix}",
                    lambda self, generic=generic, kind=kind: generic(self, kind))


_bind_job_definition_handlers()


class SecurityHubPatches:
    """Onto moto's SecurityHubBackend: GetFindings honours string filters with the EQUALS
    comparison on top-level fields (`Id`, `RecordState`, `GeneratorId`, ...); moto ignores
    Filters and answers every finding."""

    def get_findings(self, filters: dict[str, Any] | None = None, sort_criteria: Any = None,
                     max_results: int | None = None, next_token: str | None = None) -> Any:
        matching = [f.as_dict() for f in list(self.findings)
                    if _finding_matches(f.as_dict(), filters or {})]
        start = int(next_token or 0)
        size = int(max_results or 100)
        page = matching[start:start + size]
        return page, (str(start + size) if start + size < len(matching) else None)


class StsPatches:
    """Onto moto's STSBackend: AssumeRole as AWS does it, for a role that exists. moto lets any
    ARN be assumed; here the role must exist in its account (AccessDenied otherwise), and when its
    trust policy names an `sts:ExternalId`, the caller must give that one."""

    def assume_role(self, region_name: str, role_session_name: str, role_arn: str, policy: str,
                    duration: int, external_id: str) -> Any:
        parts = role_arn.split(":")
        account, name = (parts[4], parts[5].split("/")[-1]) if len(parts) >= 6 else ("", "")
        partition = parts[1] if len(parts) > 1 else "aws"
        roles = [r for r in iam_backends[account][partition].roles.values() if r.name == name] \
            if account in iam_backends else []
        if not roles:
            raise STSClientError("AccessDenied", f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn}")
        wanted = re.search(r'"sts:ExternalId"\s*:\s*"([^"]*)"', roles[0].assume_role_policy_document or "")
        if wanted and wanted.group(1) != external_id:
            raise STSClientError("AccessDenied", f"User is not authorized to perform: sts:AssumeRole on resource: {role_arn} (external id)")
        return _moto["sts.assume_role"](self, region_name, role_session_name, role_arn, policy, duration, external_id)


def _finding_matches(finding: dict[str, Any], filters: dict[str, Any]) -> bool:
    for field, conditions in filters.items():
        wanted = [c.get("Value") for c in conditions or [] if c.get("Comparison", "EQUALS") == "EQUALS"]
        if wanted and finding.get(field) not in wanted:
            return False
    return True


# ==========================================================================
# CloudFormation: what deploy/cloudformation/central.yaml uses that moto 5.2.5's
# CloudFormation lacks.  Three resource types it does not know (it skips them
# with a warning), and three properties it drops.
# ==========================================================================


class KmsKeyPatches:
    """Onto moto.kms.models.Key: a key from a template keeps its KeySpec and KeyUsage (moto
    makes every one SYMMETRIC_DEFAULT, ENCRYPT_DECRYPT) and its policy as JSON text (moto keeps
    the template's object, which its own policy check cannot read)."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json["Properties"]
        policy = properties.get("KeyPolicy")
        key = kms_backends[account_id][region_name].create_key(
            policy=policy if isinstance(policy, str) or policy is None else json.dumps(policy),
            key_usage=properties.get("KeyUsage", "ENCRYPT_DECRYPT"),
            key_spec=properties.get("KeySpec", "SYMMETRIC_DEFAULT"),
            description=properties.get("Description"),
            tags=properties.get("Tags", []),
        )
        key.key_rotation_status = properties.get("EnableKeyRotation", False)
        key.enabled = properties.get("Enabled", True)
        return key


class DynamoDbTablePatches:
    """Onto moto's DynamoDB Table: a table from a template gets its TimeToLiveSpecification
    (moto ignores it)."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        table = _moto["dynamodb.table.create_from_cloudformation_json"](
            resource_name, cloudformation_json, account_id, region_name, **kwargs)
        ttl = cloudformation_json["Properties"].get("TimeToLiveSpecification")
        if ttl:
            dynamodb_backends[account_id][region_name].update_time_to_live(table.name, ttl)
        return table


class IamRolePatches:
    """Onto moto.iam.models.Role: a role's inline policies from a template are kept as JSON
    text, as PutRolePolicy keeps them (moto keeps the template's object, and GetRolePolicy
    then answers with its Python repr)."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        for policy in cloudformation_json["Properties"].get("Policies", []):
            if not isinstance(policy["PolicyDocument"], str):
                policy["PolicyDocument"] = json.dumps(policy["PolicyDocument"])
        return _moto["iam.role.create_from_cloudformation_json"](
            resource_name, cloudformation_json, account_id, region_name, **kwargs)


class EventBusPatches:
    """Onto moto.events.models.EventBus: `Ref` of a bus is its name, as in CloudFormation
    (moto hands the object itself to whatever refers to it)."""

    @property
    def physical_resource_id(self) -> str:
        return self.name


class EventPatternPatches:
    """Onto moto.events.models.EventPattern: a pattern reaches into arrays of objects, as
    EventBridge's does (a Security Hub event's `detail.findings` is one: the pattern
    `{"detail": {"findings": {"Compliance": {"SecurityControlId": [...]}}}}` matches when any
    finding's id does). moto stops at an array, so such a rule never matched."""

    @staticmethod
    def _flatten_dict(node: Any, prefix: str = "", result: dict[str, Any] | None = None) -> dict[str, Any]:
        if result is None:
            result = {}
        if isinstance(node, dict):
            for k, v in node.items():
                key = f"{prefix}.{k}" if prefix else k
                if isinstance(v, dict) and v:
                    EventPatternPatches._flatten_dict(v, key, result)
                elif isinstance(v, list) and any(isinstance(item, dict) for item in v):
                    # Each object's leaves, under the array's key: the values of one leaf
                    # across the objects become a list, which the filters match any of.
                    for item in v:
                        if not isinstance(item, dict):
                            continue
                        for leaf, value in EventPatternPatches._flatten_dict(item, key).items():
                            values = result.setdefault(leaf, [])
                            values.extend(value if isinstance(value, list) else [value])
                else:
                    result[key] = v
        return result


class _TemplateOnlyResource:
    """A resource that exists only as the settings it applied to other resources. Each one
    derives from CloudFormationModel itself: moto finds them among its direct subclasses."""

    def __init__(self, name: str):
        self.name = name

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @property
    def physical_resource_id(self) -> str:
        return self.name


class SqsQueuePolicy(_TemplateOnlyResource, CloudFormationModel):
    """AWS::SQS::QueuePolicy: the document becomes each queue's `Policy` attribute, as
    SetQueueAttributes would make it (moto stores it and does not enforce it)."""

    # moto files every model under the service its module names (moto.<service>.models).
    __module__ = "moto.sg_emulator"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SQS::QueuePolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json["Properties"]
        document = json.dumps(properties["PolicyDocument"])
        for url in properties["Queues"]:
            queue_name = url.rstrip("/").rsplit("/", 1)[-1]
            sqs_backends[account_id][region_name].set_queue_attributes(queue_name, {"Policy": document})
        return cls(resource_name)


class EventBusPolicy(_TemplateOnlyResource, CloudFormationModel):
    """AWS::Events::EventBusPolicy (with `Statement`, or the older Action/Principal/Condition):
    the bus's policy, as PutPermission would make it."""

    # moto files every model under the service its module names (moto.<service>.models).
    __module__ = "moto.sg_emulator"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::Events::EventBusPolicy"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json["Properties"]
        backend = events_backends[account_id][region_name]
        bus = properties.get("EventBusName") or "default"
        sid = properties["StatementId"]
        if "Statement" in properties:
            document = {"Version": "2012-10-17", "Statement": [{"Sid": sid, **properties["Statement"]}]}
            backend.put_permission(bus, None, None, None, None, json.dumps(document))
        else:
            backend.put_permission(bus, properties["Action"], properties["Principal"], sid,
                                   properties.get("Condition"), None)
        return cls(f"{bus}|{sid}")


class CloudWatchAlarm(_TemplateOnlyResource, CloudFormationModel):
    """AWS::CloudWatch::Alarm on one metric, as PutMetricAlarm would make it."""

    # moto files every model under the service its module names (moto.<service>.models).
    __module__ = "moto.sg_emulator"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: Any,
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:
        p = cloudformation_json["Properties"]
        cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=resource_name, namespace=p.get("Namespace"), metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"], evaluation_periods=int(p["EvaluationPeriods"]),
            period=int(p.get("Period", 60)), threshold=float(p["Threshold"]), statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"), dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []), ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return cls(resource_name)


_PATCH_TARGETS = {
    BaseResponse: BaseResponsePatches,
    SecurityHubBackend: SecurityHubPatches,
    STSBackend: StsPatches,
    FakeSagemakerNotebookInstance: NotebookPatches,
    SageMakerModelBackend: BackendPatches,
    SageMakerResponse: ResponsePatches,
    KmsKey: KmsKeyPatches,
    DynamoDbTable: DynamoDbTablePatches,
    EventBus: EventBusPatches,
    EventPattern: EventPatternPatches,
    IamRole: IamRolePatches,
}


def install() -> None:
    """Copies the patch methods onto moto's classes (idempotent)."""
    if getattr(SageMakerModelBackend, "_sg_emulator_installed", False):
        return
    for target, patches in _PATCH_TARGETS.items():
        for name, member in vars(patches).items():
            if name == "__init__" or not name.startswith("__"):
                setattr(target, name, member)
    SageMakerModelBackend._sg_emulator_installed = True
    # The resource types defined above join moto's (it finds them as CloudFormationModel's
    # subclasses, once: the map is cached).
    get_model_map.cache_clear()


# ==========================================================================
# WSGI layer: call counting, fault injection, control API.
# ==========================================================================


def _json_response(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def _aws_error(status: int, code: str, message: str) -> Response:
    """An error in the AWS JSON 1.1 protocol, as the SDKs parse it."""
    response = Response(json.dumps({"__type": code, "message": message}), status=status,
                        content_type="application/x-amz-json-1.1")
    response.headers["x-amzn-ErrorType"] = code
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    return response


def _query_action(environ: dict[str, Any]) -> str | None:
    """The `Action` parameter of a query-protocol request (URL or form body).
    A form body that is read is put back for moto."""
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return action[0]
    length = environ.get("CONTENT_LENGTH")
    if not length or not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(body)
    action = parse_qs(body.decode("utf-8", "replace")).get("Action")
    return action[0] if action else None


def _rest_action(service: str | None, environ: dict[str, Any]) -> str:
    """Operation name of a REST-protocol request, via moto's router (best effort)."""
    try:
        operation, _ = get_service_router(service).match(MotoRequest(environ))
        return operation.name
    except Exception:  # unknown service or no matching route: describe the request instead
        return f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"


def describe_call(environ: dict[str, Any]) -> CallKey | None:
    """What an AWS API request calls; None for requests that are neither SigV4
    signed nor carry X-Amz-Target, which are not AWS API calls."""
    access_key, region, service = credential_scope(environ.get("HTTP_AUTHORIZATION"))
    target = environ.get("HTTP_X_AMZ_TARGET")
    if not access_key and not target:
        return None
    action = target.rsplit(".", 1)[-1] if target else _query_action(environ) or _rest_action(service, environ)
    return CallKey(account_for(access_key), region or "us-east-1", service or "unknown", action)


def _mutation_record(call: CallKey | None, environ: dict[str, Any]) -> dict[str, Any] | None:
    """The entry GET /sg-emulator/mutations keeps for a SageMaker call that changes something
    (None for any other): when, by which key, in which account and region, and its request.
    The body that is read is put back for moto."""
    if call is None or not (call.action.startswith(_MUTATING_PREFIXES) or call.action in _MUTATING_ACTIONS):
        return None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        request = None
    access_key, _, _ = credential_scope(environ.get("HTTP_AUTHORIZATION"))
    return {"time": utcnow().replace(tzinfo=timezone.utc).timestamp(), "account": call.account,
            "region": call.region, "action": call.action, "accessKeyId": access_key,
            "request": request, "status": None}


def _recording_status(mutation: dict[str, Any], start_response: Any) -> Any:
    def start(status: str, headers: Any, *args: Any) -> Any:
        mutation["status"] = int(status.split(" ", 1)[0])
        return start_response(status, headers, *args)
    return start


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _account_arg(source: Any) -> str | None:
    """The optional `account` of a control request (query string or body): 12 digits."""
    account = source.get("account")
    if account is not None and not (isinstance(account, str) and _TWELVE_DIGITS.fullmatch(account)):
        raise ControlError("account must be a 12-digit account id")
    return account


def _config_view(account: str | None) -> dict[str, Any]:
    """The global config, or the one that applies to `account`."""
    if account is None:
        return {"transitionSeconds": STATE.transition_seconds}
    return {"account": account, "transitionSeconds": STATE.transition_seconds_for(account)}


def _faults_view(account: str | None) -> dict[str, Any]:
    """The global fault plan, or the one that applies to `account`."""
    faults = STATE.faults if account is None else STATE.faults_for(account)
    view = {"faults": faults.to_json() if faults else None}
    return view if account is None else {"account": account, **view}


def _notebook_from(body: dict[str, Any]) -> FakeSagemakerNotebookInstance:
    try:
        account, region, name = body["account"], body["region"], body["name"]
    except KeyError as missing:
        raise ControlError(f"missing field {missing}") from None
    notebook = _live_notebooks(sagemaker_backends[account][region]).get(name)
    if notebook is None:
        raise ControlError(f"no notebook {name!r} in {account}/{region}", 404)
    return notebook


# Control route -> (how to find the resource, its statuses, its reason attribute), for
# forcing the status of the types SageMaker.9-.25 judge (the notebook's route is older).
_FORCEABLE = {
    "monitoring-schedule-status": (_monitoring_schedule, MONITORING_SCHEDULE_STATUSES, "failure_reason"),
    "feature-group-status": (_feature_group, FEATURE_GROUP_STATUSES, "failure_reason"),
    "inference-experiment-status": (_inference_experiment, INFERENCE_EXPERIMENT_STATUSES, "status_reason"),
}


class EmulatorApp(DomainDispatcherApplication):
    """moto's dispatcher plus call counting, fault injection and the control API."""

    def __init__(self) -> None:
        super().__init__(create_backend_app)
        self.routes = {
            ("GET", "calls"): self.get_calls,
            ("POST", "calls/reset"): self.reset_calls,
            ("GET", "mutations"): self.get_mutations,
            ("GET", "config"): self.get_config,
            ("POST", "config"): self.set_config,
            ("GET", "faults"): self.get_faults,
            ("POST", "faults"): self.set_faults,
            ("POST", "notebook-status"): self.force_notebook_status,
            ("POST", "notebook-creation-time"): self.set_notebook_creation_time,
            **{("POST", route): self.force_status for route in _FORCEABLE},
            ("POST", "reset"): self.reset,
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self.control(Request(environ))(environ, start_response)
        if path.startswith("/moto-api") or path == "/favicon.ico":
            with STATE.lock:
                result = super().__call__(environ, start_response)
                if path == "/moto-api/reset" and environ["REQUEST_METHOD"] == "POST":
                    STATE.reset()
            return result

        call = describe_call(environ)
        # Only JSON-protocol calls (X-Amz-Target) are faulted; only SageMaker's are serialised.
        target = environ.get("HTTP_X_AMZ_TARGET") or ""
        is_sagemaker_api = target.startswith("SageMaker.")
        mutation = _mutation_record(call, environ) if is_sagemaker_api else None
        with STATE.lock:
            if call:
                STATE.calls[call] += 1
            faults = STATE.faults_for(call.account) if call and target else None
            fault = faults.draw(call) if faults else None
            if fault:
                STATE.faulted[(call.account, call.service, fault)] += 1
            if mutation is not None:
                STATE.mutations.append(mutation)
        if mutation is not None:  # its status, once the response starts
            start_response = _recording_status(mutation, start_response)
        # A faulted request never reaches moto, so it changes no state.
        if fault == "throttle":
            return _aws_error(400, "ThrottlingException", "Rate exceeded")(environ, start_response)
        if fault == "error":
            return _aws_error(500, "InternalFailure", "Injected internal failure")(environ, start_response)
        # DynamoDB too: moto reads and writes an item in two steps, so two conditional writes at
        # once could both pass their condition; DynamoDB makes each one atomic.
        is_dynamodb = (environ.get("HTTP_X_AMZ_TARGET") or "").startswith("DynamoDB_")
        if is_sagemaker_api or is_dynamodb:
            with STATE.lock:
                return super().__call__(environ, start_response)
        return super().__call__(environ, start_response)

    def control(self, request: Request) -> Response:
        handler = self.routes.get((request.method, request.path[len(CONTROL_PREFIX):].strip("/")))
        if handler is None:
            return _json_response({"error": f"no control route {request.method} {request.path}"}, 404)
        try:
            body = {}
            if request.method == "POST" and request.get_data():
                body = request.get_json(force=True, silent=True)
                if not isinstance(body, dict):
                    raise ControlError("body must be a JSON object")
            with STATE.lock:
                return _json_response(handler(request, body))
        except ControlError as error:
            return _json_response({"error": str(error)}, error.status)

    def get_calls(self, request: Request, _body: dict[str, Any]) -> dict[str, Any]:
        account = request.args.get("account")
        calls = [
            {**key._asdict(), "count": count}
            for key, count in sorted(STATE.calls.items())
            if account is None or key.account == account
        ]
        faulted = [
            {"account": key[0], "service": key[1], "fault": key[2], "count": count}
            for key, count in sorted(STATE.faulted.items())
            if account is None or key[0] == account
        ]
        return {"total": sum(call["count"] for call in calls), "calls": calls, "faulted": faulted}

    def reset_calls(self, _request: Request, _body: dict[str, Any]) -> dict[str, Any]:
        STATE.calls.clear()
        STATE.faulted.clear()
        STATE.mutations.clear()
        return {"status": "ok"}

    def get_mutations(self, request: Request, _body: dict[str, Any]) -> dict[str, Any]:
        account = _account_arg(request.args)
        return {"mutations": [m for m in STATE.mutations if account is None or m["account"] == account]}

    def get_config(self, request: Request, _body: dict[str, Any]) -> dict[str, Any]:
        return _config_view(_account_arg(request.args))

    def set_config(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        account = _account_arg(body)
        if "transitionSeconds" in body:
            seconds = body["transitionSeconds"]
            if account is not None and seconds is None:  # the account follows the global T again
                STATE.account_transition_seconds.pop(account, None)
            elif isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise ControlError("transitionSeconds must be a number >= 0")
            elif account is None:
                STATE.transition_seconds = float(seconds)
            else:
                STATE.account_transition_seconds[account] = float(seconds)
        return _config_view(account)

    def get_faults(self, request: Request, _body: dict[str, Any]) -> dict[str, Any]:
        return _faults_view(_account_arg(request.args))

    def set_faults(self, _request: Request, body: dict[str, Any]) -> dict[str, Any]:
        account = _account_arg(body)
        spec = {key: value for key, value in body.items() if key != "account"}
        try:
            plan = FaultPlan(spec) if spec else None
        except ValueError as error:
            raise ControlError(str(error)) from None
        if account is None:
            STATE.faults = plan
        elif plan is None:  # the account follows the global faults again
            STATE.account_faults.pop(account, None)
        else:
            STATE.account_faults[account] = plan
        return _faults_view(account)

    def force_notebook_status(self, _request: Request, body: dict[str, Any]) -> dict[str, Any]:
        notebook = _notebook_from(body)
        status = body.get("status")
        if status not in NOTEBOOK_STATUSES:
            raise ControlError(f"status must be one of {sorted(NOTEBOOK_STATUSES)}")
        notebook.status = status  # forced: stays until the next transition or force
        notebook.failure_reason = body.get("failureReason")
        return {"name": notebook.notebook_instance_name, "status": notebook.status}

    def force_status(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        find, statuses, reason_attribute = _FORCEABLE[request.path[len(CONTROL_PREFIX):].strip("/")]
        try:
            account, region, name = body["account"], body["region"], body["name"]
        except KeyError as missing:
            raise ControlError(f"missing field {missing}") from None
        try:
            resource = find(sagemaker_backends[account][region], name)
        except ResourceNotFound as error:
            raise ControlError(str(error.message), 404) from None
        status = body.get("status")
        if status not in statuses:
            raise ControlError(f"status must be one of {sorted(statuses)}")
        resource.lifecycle.force(status)  # stays until the next transition or force
        setattr(resource, reason_attribute, body.get("failureReason"))
        return {"name": resource.name, "status": status}

    def set_notebook_creation_time(self, _request: Request, body: dict[str, Any]) -> dict[str, Any]:
        notebook = _notebook_from(body)
        seconds = body.get("creationTime")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
            raise ControlError("creationTime must be epoch seconds")
        # moto keeps naive UTC datetimes.
        notebook.creation_time = datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)
        return {"name": notebook.notebook_instance_name, "creationTime": seconds}

    def reset(self, _request: Request, _body: dict[str, Any]) -> dict[str, Any]:
        moto_api_backend.reset()
        STATE.reset()
        return {"status": "ok"}


class QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without the per-request access log line."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


# ==========================================================================
# Entry point
# ==========================================================================


def _write_atomically(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".sg-emulator-")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _transition_seconds(value: str) -> float:
    seconds = float(value)
    if seconds < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="moto server with sagemaker-guard's SageMaker extensions")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--port-file", help="once ready, write the server URL to this file")
    parser.add_argument("--transition-seconds", type=_transition_seconds, default=None,
                        help="status transition time T (default: $SG_EMULATOR_TRANSITION_SECONDS or 0)")
    args = parser.parse_args(argv)
    if args.transition_seconds is None:
        args.transition_seconds = _transition_seconds(os.environ.get("SG_EMULATOR_TRANSITION_SECONDS", "0"))

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    install()
    STATE.default_transition_seconds = args.transition_seconds
    STATE.reset()
    server = make_server(args.host, args.port, EmulatorApp(), threaded=True, request_handler=QuietRequestHandler)
    threading.Thread(target=server.serve_forever, name="sg-emulator", daemon=True).start()

    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{server.server_port}"
    if args.port_file:
        _write_atomically(args.port_file, url)
    print(f"sg-emulator listening on {url}", flush=True)

    stop.wait()
    server.shutdown()
    server.server_close()
    if args.port_file:  # a stale file would point the next reader at a dead port
        try:
            os.remove(args.port_file)
        except FileNotFoundError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

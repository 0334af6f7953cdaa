"""Checks the rendered Kubernetes manifests of deploy/kubernetes (run by scripts/lint-kubernetes).

Each rendering (`kubectl kustomize` of the base, an overlay, or either with the ServiceMonitor
component) is checked twice:

- against the schemas, strictly (unknown fields are errors, as with the API server's strict
  field validation): the core kinds against Kubernetes' OpenAPI schemas (kubernetes-validate) for
  every version in KUBERNETES_VERSIONS; the ServiceMonitor against the prometheus-operator CRD's
  schema (cloudcoil's models, generated from the CRD). A kind with no schema is an error.
- against what the guard needs, which no schema knows: the restricted security context, the
  probes on the guard's health port, the policy mounted as a directory, every variable one the
  guard reads (declared in src/), and the selectors and ports of the Service, the
  PodDisruptionBudget and the ServiceMonitor matching the pods.

Usage: lint_kubernetes.py --src DIR --settings FILE RENDERING=FILE...
A rendering's name says what it must hold: `+servicemonitor` a ServiceMonitor, `irsa` the
role-arn annotation, `pod-identity` none. Exits 1 and lists every problem when there are any.
"""

import argparse
import copy
import re
import sys
from pathlib import Path

import jsonschema
import yaml
from kubernetes_validate import utils as kv

# The oldest Kubernetes the manifests support (matchLabelKeys, unhealthyPodEvictionPolicy) and
# the newest kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.31", "1.37"]

NAME = "sagemaker-guard"
UID = 65532
POLICY_PATH = "/etc/sagemaker-guard/policy.yaml"
# Variables the guard reads that are not its own flags: the AWS configuration and the log level.
OTHER_VARIABLES = re.compile(r"^(AWS_[A-Z0-9_]+|RUST_LOG|NO_COLOR)$")
# Set by the Deployment itself, tied to its probes and mounts: not for settings.env.
DEPLOYMENT_VARIABLES = {"SAGEMAKER_GUARD_LISTEN", "SAGEMAKER_GUARD_POLICY"}
REQUIRED_SETTINGS = {"SAGEMAKER_GUARD_QUEUE_URL", "AWS_REGION"}
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")


class Problems:
    def __init__(self):
        self.items = []

    def add(self, where, message):
        self.items.append(f"{where}: {message}")


def guard_variables(src):
    """The variables the guard's command line reads: clap's `env = "NAME"` in src/."""
    names = set()
    for path in Path(src).rglob("*.rs"):
        names.update(re.findall(r'env\s*=\s*"(SAGEMAKER_GUARD_[A-Z0-9_]+)"', path.read_text()))
    if not names:
        raise SystemExit(f"error: no `env = \"SAGEMAKER_GUARD_...\"` found under {src}")
    return names


def strict_crd_schema(model):
    """The JSON schema of a cloudcoil model with unknown fields rejected in every object that
    lists its fields (a CRD's structural schema prunes them; strict field validation rejects)."""
    schema = model.model_json_schema(by_alias=True, mode="validation")

    def close(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                close(value)
        elif isinstance(node, list):
            for value in node:
                close(value)

    close(schema)
    return schema


def crd_schemas():
    from cloudcoil.models.prometheus_operator.v1 import ServiceMonitor

    return {("monitoring.coreos.com/v1", "ServiceMonitor"): strict_crd_schema(ServiceMonitor)}


def check_schemas(where, docs, crds, problems):
    for doc in docs:
        key = (doc.get("apiVersion"), doc.get("kind"))
        what = f"{where}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        if key in crds:
            validator = jsonschema.Draft202012Validator(crds[key])
            for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
                path = ".".join(str(p) for p in error.path)
                problems.add(what, f"CRD schema: {path}: {error.message}")
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kv.validate(copy.deepcopy(doc), version, strict=True)
            except kv.ValidationError as error:
                path = ".".join(str(p) for p in error.path)
                problems.add(what, f"Kubernetes {version} schema (strict): {path}: {error.message}")
            except kv.SchemaNotFoundError as error:
                problems.add(what, f"no schema to check it against: {error.message}")
                break


def matches(selector, labels):
    wanted = (selector or {}).get("matchLabels") or {}
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())


def listen_port(env):
    for var in env:
        if var.get("name") == "SAGEMAKER_GUARD_LISTEN":
            return int(str(var.get("value", "")).rsplit(":", 1)[-1])
    return 9464  # run's default, 0.0.0.0:9464


def check_deployment(where, deploy, by_kind, settings_keys, variables, problems):
    spec = deploy["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"].get("labels", {})
    psc = pod.get("securityContext", {})
    if spec.get("replicas") != 2:
        problems.add(where, f"the Deployment has {spec.get('replicas')!r} replicas, not 2")
    if not matches(spec.get("selector"), labels):
        problems.add(where, "the Deployment's selector does not select its own pods")

    keys = {(c.get("topologyKey"), matches(c.get("labelSelector"), labels))
            for c in pod.get("topologySpreadConstraints", [])}
    for topology in ("topology.kubernetes.io/zone", "kubernetes.io/hostname"):
        if (topology, True) not in keys:
            problems.add(where, f"no topology spread of the guard's pods over {topology}")

    accounts = {d["metadata"]["name"] for d in by_kind.get("ServiceAccount", [])}
    if pod.get("serviceAccountName") not in accounts:
        problems.add(where, f"serviceAccountName {pod.get('serviceAccountName')!r} is not rendered")

    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind.get("ConfigMap", [])}
    volumes = {v["name"]: v for v in pod.get("volumes", [])}

    for c in pod.get("containers", []):
        cw = f"{where}: container {c['name']}"
        sc = c.get("securityContext", {})

        def setting(key):
            return sc.get(key, psc.get(key))

        if setting("runAsNonRoot") is not True:
            problems.add(cw, "runAsNonRoot is not true")
        if setting("runAsUser") != UID or setting("runAsGroup") != UID:
            problems.add(cw, f"does not run as uid and gid {UID}")
        if sc.get("readOnlyRootFilesystem") is not True:
            problems.add(cw, "readOnlyRootFilesystem is not true")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.add(cw, "allowPrivilegeEscalation is not false")
        if sc.get("privileged"):
            problems.add(cw, "is privileged")
        caps = sc.get("capabilities", {})
        if caps.get("drop") != ["ALL"] or caps.get("add"):
            problems.add(cw, "capabilities: not exactly `drop: [ALL]` with none added")
        if (setting("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problems.add(cw, "seccompProfile is not RuntimeDefault")
        resources = c.get("resources", {})
        for kind in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in resources.get(kind, {}):
                    problems.add(cw, f"no resources.{kind}.{res}")

        # The probes: /healthz and /readyz on the port the guard listens on.
        env = c.get("env", [])
        port = listen_port(env)
        named = {p.get("name"): p.get("containerPort") for p in c.get("ports", [])}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = (c.get(probe) or {}).get("httpGet") or {}
            target = named.get(get.get("port"), get.get("port"))
            if get.get("path") != path or target != port:
                problems.add(cw, f"{probe} is not GET {path} on the guard's port {port} "
                                 f"(it is {get.get('path')} on {get.get('port')})")

        # The policy: --policy names a file of a ConfigMap mounted as a directory.
        args = c.get("args", [])
        if args[:1] != ["run"]:
            problems.add(cw, f"args do not start with `run`: {args}")
        policy = args[args.index("--policy") + 1] if "--policy" in args[:-1] else None
        if policy != POLICY_PATH:
            problems.add(cw, f"--policy is {policy!r}, not {POLICY_PATH}")
        else:
            mounts = [m for m in c.get("volumeMounts", [])
                      if m["mountPath"].rstrip("/") == str(Path(POLICY_PATH).parent)]
            if len(mounts) != 1:
                problems.add(cw, f"nothing is mounted at {Path(POLICY_PATH).parent}")
            else:
                mount = mounts[0]
                volume = volumes.get(mount["name"], {})
                cm = (volume.get("configMap") or {}).get("name")
                if "subPath" in mount or "subPathExpr" in mount:
                    problems.add(cw, "the policy is mounted with subPath: its updates never reach the pod")
                elif cm is None:
                    problems.add(cw, f"the volume {mount['name']} mounted for the policy is not a ConfigMap")
                elif Path(POLICY_PATH).name not in configmaps.get(cm, {}):
                    problems.add(cw, f"ConfigMap {cm} has no key {Path(POLICY_PATH).name}")
                elif volume["configMap"].get("items"):
                    problems.add(cw, f"the ConfigMap {cm} is mounted with items: mount it whole")

        # Variables: each one the guard reads, each ConfigMap reference rendered.
        for var in env:
            name = var["name"]
            if name.startswith("SAGEMAKER_GUARD_") and name not in variables:
                problems.add(cw, f"{name} is not a variable of the guard (none in src/)")
            ref = (var.get("valueFrom") or {}).get("configMapKeyRef")
            if ref and ref["key"] not in configmaps.get(ref["name"], {}) and not ref.get("optional"):
                problems.add(cw, f"{name}: ConfigMap {ref['name']} has no key {ref['key']}")
        sources = [s["configMapRef"]["name"] for s in c.get("envFrom", []) if "configMapRef" in s]
        for source in sources:
            if source not in configmaps:
                problems.add(cw, f"envFrom names the ConfigMap {source}, which is not rendered")
        settings = {k for s in sources for k in configmaps.get(s, {})}
        if sources and settings_keys is not None and settings != settings_keys:
            problems.add(cw, f"the settings ConfigMap's keys {sorted(settings)} are not those "
                             f"of settings.env {sorted(settings_keys)}")
        for missing in sorted(REQUIRED_SETTINGS - settings - {v["name"] for v in env if "value" in v}):
            problems.add(cw, f"{missing} is not set (settings.env)")
    return labels


def check_rendering(name, docs, crds, settings_keys, variables, problems):
    by_kind = {}
    for doc in docs:
        by_kind.setdefault(doc["kind"], []).append(doc)
    check_schemas(name, docs, crds, problems)

    namespaces = [d["metadata"]["name"] for d in by_kind.get("Namespace", [])]
    for doc in docs:
        if doc["kind"] != "Namespace" and doc["metadata"].get("namespace") not in namespaces:
            problems.add(name, f"{doc['kind']}/{doc['metadata']['name']} is not in the rendered "
                               f"namespace {namespaces} (namespace {doc['metadata'].get('namespace')!r})")

    deployments = by_kind.get("Deployment", [])
    if len(deployments) != 1:
        problems.add(name, f"{len(deployments)} Deployments rendered, not 1")
        return
    labels = check_deployment(name, deployments[0], by_kind, settings_keys, variables, problems)
    container = deployments[0]["spec"]["template"]["spec"]["containers"][0]
    container_ports = {p.get("name") for p in container.get("ports", [])}

    services = by_kind.get("Service", [])
    for svc in services:
        if svc["spec"].get("selector") != {k: labels.get(k) for k in svc["spec"].get("selector", {})} \
                or not svc["spec"].get("selector"):
            problems.add(name, f"Service/{svc['metadata']['name']} does not select the guard's pods")
        for port in svc["spec"].get("ports", []):
            if port.get("targetPort") not in container_ports:
                problems.add(name, f"Service/{svc['metadata']['name']}: targetPort "
                                   f"{port.get('targetPort')!r} is not a named port of the guard")
    if len(services) != 1:
        problems.add(name, f"{len(services)} Services rendered, not 1 (the metrics Service)")

    pdbs = by_kind.get("PodDisruptionBudget", [])
    if len(pdbs) != 1 or not matches(pdbs[0]["spec"].get("selector"), labels):
        problems.add(name, "no PodDisruptionBudget selecting the guard's pods")

    monitors = by_kind.get("ServiceMonitor", [])
    want_monitor = "+servicemonitor" in name
    if len(monitors) != int(want_monitor):
        problems.add(name, f"{len(monitors)} ServiceMonitors rendered, not {int(want_monitor)}")
    for mon in monitors:
        mw = f"{name}: ServiceMonitor/{mon['metadata']['name']}"
        selected = [s for s in services if matches(mon["spec"].get("selector"), s["metadata"].get("labels", {}))]
        if not selected:
            problems.add(mw, "selects no rendered Service")
        ports = {p.get("name") for s in selected for p in s["spec"].get("ports", [])}
        for ep in mon["spec"].get("endpoints", []):
            if ep.get("port") not in ports:
                problems.add(mw, f"endpoint port {ep.get('port')!r} is not a port of the Service it selects")
            if ep.get("path", "/metrics") != "/metrics":
                problems.add(mw, f"endpoint path {ep.get('path')!r} is not /metrics")

    for sa in by_kind.get("ServiceAccount", []):
        role = (sa["metadata"].get("annotations") or {}).get(ROLE_ANNOTATION)
        if name.startswith("irsa") and not (role and ROLE_ARN.match(role)):
            problems.add(name, f"ServiceAccount/{sa['metadata']['name']}: {ROLE_ANNOTATION} "
                               f"is not an IAM role ARN: {role!r}")
        if not name.startswith("irsa") and role is not None:
            problems.add(name, f"ServiceAccount/{sa['metadata']['name']} has {ROLE_ANNOTATION}, "
                               "which only the IRSA overlay sets")


def check_settings(path, variables, problems):
    """settings.env: every variable, set or commented out, is one the guard reads; returns the
    keys it sets."""
    keys = set()
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        m = re.match(r"^\s*(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if not m:
            continue
        name = m.group(2)
        where = f"{path}:{number}"
        if not (name in variables or OTHER_VARIABLES.match(name)):
            problems.add(where, f"{name} is not a variable the guard reads (run --help lists them)")
        if name in DEPLOYMENT_VARIABLES:
            problems.add(where, f"{name} is set by the Deployment (its probes and mounts depend on it)")
        if not m.group(1):
            keys.add(name)
            if not m.group(3).strip():
                problems.add(where, f"{name} is empty, which the guard refuses: comment the line out")
    return keys


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--src", required=True)
    parser.add_argument("--settings", required=True)
    parser.add_argument("renderings", nargs="+", metavar="NAME=FILE")
    args = parser.parse_args()

    problems = Problems()
    variables = guard_variables(args.src)
    settings_keys = check_settings(args.settings, variables, problems)
    crds = crd_schemas()
    for rendering in args.renderings:
        name, _, path = rendering.partition("=")
        docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
        check_rendering(name, docs, crds, settings_keys, variables, problems)
        kinds = ", ".join(sorted(f"{d['kind']}" for d in docs))
        print(f"    {name}: {len(docs)} objects ({kinds})", file=sys.stderr)

    if problems.items:
        for item in problems.items:
            print(f"error: {item}", file=sys.stderr)
        print(f"error: {len(problems.items)} problems in deploy/kubernetes", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

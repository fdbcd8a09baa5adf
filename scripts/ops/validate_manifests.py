#!/usr/bin/env python3
"""Schema validation of every manifest in docker/k8s, offline.

    python3 scripts/ops/validate_manifests.py [--kubernetes-version 1.28 ...] [--require] [FILE_OR_DIR ...]

Each object is checked by one of:

  kubernetes-validate   built-in kinds (Deployment, Service, HorizontalPodAutoscaler,
                        PodDisruptionBudget, ...) against the Kubernetes OpenAPI JSON schemas
                        that the Python package kubernetes-validate bundles (no network), in
                        strict mode (an unknown or misspelt field fails), for each
                        --kubernetes-version (default: 1.28 and the newest bundled one).
  local schema          custom resources the package has no schema for, against a schema in
                        scripts/ops/schemas/ (KEDA's ScaledObject: the fields we use, every
                        documented spec field known, trigger metadata as strings). The
                        HorizontalPodAutoscaler KEDA would create from a ScaledObject (its
                        behavior, bounds and one External metric per trigger) is then checked
                        with kubernetes-validate too.
  (none)                any other kind fails: a manifest nobody validates is not allowed in.

Then a few consistency checks across the files: every autoscaler targets a Deployment
defined here, all autoscalers share minimum and maximum replicas, the Service and
PodDisruptionBudget select the Deployment's pods, and the ScaledObject reads
instructrec_queue_depth.

Exit 0 when all pass, 1 on a failure, 2 when a manifest cannot be read. Without the
kubernetes-validate package the script prints that it SKIPPED and exits 0, or 2 with
--require. Install: venv/bin/pip install -r scripts/requirements.txt
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_yaml  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_DIR = os.path.join(ROOT, "docker", "k8s")
LOCAL_SCHEMAS = {
    ("keda.sh/v1alpha1", "ScaledObject"): os.path.join(HERE, "schemas", "scaledobject-keda.sh-v1alpha1.json"),
}
DEFAULT_OLDEST = "1.28"
HPA_KINDS = ("HorizontalPodAutoscaler",)


relative = k8s_yaml.relative
manifest_files = k8s_yaml.manifest_files


def error_path(error):
    parts = []
    for part in error.absolute_path:
        parts.append("[%d]" % part if isinstance(part, int) else ("." if parts else "") + str(part))
    return "".join(parts) or "(document)"


def keda_hpa(scaled_object):
    """The autoscaling/v2 HPA that KEDA creates for a ScaledObject (what the API server will see)."""
    spec = scaled_object["spec"]
    target = spec["scaleTargetRef"]
    config = spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {})
    metrics = []
    for index, trigger in enumerate(spec["triggers"]):
        metric_type = trigger.get("metricType", "AverageValue")
        threshold = trigger["metadata"].get("threshold", "1")
        target_value = {"type": metric_type}
        target_value["averageValue" if metric_type == "AverageValue" else "value"] = threshold
        metrics.append({"type": "External", "external": {
            "metric": {"name": "s%d-%s" % (index, trigger["type"]),
                       "selector": {"matchLabels": {"scaledobject.keda.sh/name": scaled_object["metadata"]["name"]}}},
            "target": target_value}})
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": config.get("name", "keda-hpa-" + scaled_object["metadata"]["name"])},
        "spec": {
            "scaleTargetRef": {"apiVersion": target.get("apiVersion", "apps/v1"),
                               "kind": target.get("kind", "Deployment"), "name": target["name"]},
            "minReplicas": max(spec.get("minReplicaCount", 0), 1),
            "maxReplicas": spec.get("maxReplicaCount", 100),
            "metrics": metrics,
        },
    }
    if "behavior" in config:
        hpa["spec"]["behavior"] = config["behavior"]
    return hpa


def consistency(objects):
    """Cross-file checks; returns a list of failure messages, prints what passed."""
    failures = []
    by_kind = {}
    for path, obj in objects:
        by_kind.setdefault(obj.get("kind"), []).append((path, obj))
    deployments = {obj["metadata"]["name"]: obj for _, obj in by_kind.get("Deployment", [])}

    bounds = []
    for path, obj in by_kind.get("HorizontalPodAutoscaler", []) + by_kind.get("ScaledObject", []):
        spec = obj.get("spec", {})
        name = "%s/%s" % (obj["kind"], obj["metadata"]["name"])
        target = spec.get("scaleTargetRef", {})
        if target.get("kind", "Deployment") != "Deployment" or target.get("name") not in deployments:
            failures.append("%s %s: scaleTargetRef %s/%s is not a Deployment defined in these manifests"
                            % (relative(path), name, target.get("kind", "Deployment"), target.get("name")))
        if obj["kind"] == "ScaledObject":
            bounds.append((name, spec.get("minReplicaCount", 0), spec.get("maxReplicaCount", 100)))
            queries = [t.get("metadata", {}).get("query", "") for t in spec.get("triggers", []) if t.get("type") == "prometheus"]
            if not any("instructrec_queue_depth" in query for query in queries):
                failures.append("%s %s: no prometheus trigger reads instructrec_queue_depth" % (relative(path), name))
        else:
            bounds.append((name, spec.get("minReplicas", 1), spec.get("maxReplicas")))
    if len({(low, high) for _, low, high in bounds}) > 1:
        failures.append("autoscalers disagree on replica bounds: " + ", ".join("%s %s..%s" % b for b in bounds))
    elif bounds:
        print("ok   consistency: %d autoscalers target Deployment/%s with replicas %s..%s"
              % (len(bounds), "/".join(sorted(deployments)), bounds[0][1], bounds[0][2]))

    for kind, field in (("Service", ("spec", "selector")), ("PodDisruptionBudget", ("spec", "selector", "matchLabels"))):
        for path, obj in by_kind.get(kind, []):
            selector = obj
            for key in field:
                selector = (selector or {}).get(key) or {}
            matched = [name for name, deployment in deployments.items()
                       if selector and all(deployment["spec"]["template"]["metadata"].get("labels", {}).get(k) == v
                                           for k, v in selector.items())]
            if not matched:
                failures.append("%s %s/%s: selector %s matches no Deployment's pods"
                                % (relative(path), kind, obj["metadata"]["name"], selector))
            else:
                print("ok   consistency: %s/%s selects the pods of Deployment/%s"
                      % (kind, obj["metadata"]["name"], ", ".join(matched)))
    return failures


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-k", "--kubernetes-version", action="append",
                        help="Kubernetes version to validate against (repeatable; default %s and the newest bundled)" % DEFAULT_OLDEST)
    parser.add_argument("--require", action="store_true",
                        help="fail (exit 2) instead of skipping when kubernetes-validate is not installed")
    parser.add_argument("paths", nargs="*", default=[DEFAULT_DIR])
    args = parser.parse_args(argv)

    try:
        import kubernetes_validate.utils as kv
        from kubernetes_validate.version import __version__ as kv_version
        import jsonschema
        from importlib.metadata import version as package_version
    except ImportError as error:
        print("SKIPPED schema validation of the Kubernetes manifests: the Python package kubernetes-validate "
              "is not importable (%s). Install it with: venv/bin/pip install kubernetes-validate==1.37.0 "
              "(the pin of scripts/requirements.txt, which installs it with everything else)" % error)
        return 2 if args.require else 0

    versions = args.kubernetes_version or [DEFAULT_OLDEST, kv.major_minor(kv.latest_version())]
    print("schema validation: kubernetes-validate %s (bundled schemas up to Kubernetes %s, strict), "
          "jsonschema %s, YAML via %s" % (kv_version, kv.major_minor(kv.latest_version()),
                                          package_version("jsonschema"), k8s_yaml.reader_name()))

    failures = []
    objects = []

    def k8s_check(obj, label, path):
        for version in versions:
            try:
                kv.validate(obj, version, strict=True)
            except kv.ValidationError as error:
                failures.append("%s %s: Kubernetes %s schema: %s: %s"
                                % (relative(path), label, version, error_path(error), error.message))
                return False
        return True

    for path in manifest_files(args.paths):
        documents = k8s_yaml.documents_or_report(path)
        if documents is None:
            return 2
        for document in documents:
            if not isinstance(document, dict) or not document.get("apiVersion") or not document.get("kind") \
                    or not isinstance(document.get("metadata"), dict) or not document["metadata"].get("name"):
                failures.append("%s: a document without apiVersion, kind and metadata.name" % relative(path))
                continue
            label = "%s/%s" % (document["kind"], document["metadata"]["name"])
            api_kind = (document["apiVersion"], document["kind"])
            if api_kind in LOCAL_SCHEMAS:
                with open(LOCAL_SCHEMAS[api_kind], encoding="utf-8") as handle:
                    schema = json.load(handle)
                errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
                for error in errors:
                    failures.append("%s %s: local schema %s: %s: %s" % (relative(path), label, relative(LOCAL_SCHEMAS[api_kind]),
                                                                      error_path(error), error.message))
                if errors:
                    continue
                hpa = keda_hpa(document)
                if k8s_check(hpa, "%s -> HorizontalPodAutoscaler/%s" % (label, hpa["metadata"]["name"]), path):
                    print("ok   %s %s: local schema %s; the HPA KEDA creates from it passes the Kubernetes %s schema"
                          % (relative(path), label, os.path.basename(LOCAL_SCHEMAS[api_kind]), " and ".join(versions)))
                    objects.append((path, document))
                continue
            try:
                for version in versions:
                    kv.validate(document, version, strict=True)
            except kv.SchemaNotFoundError as error:
                failures.append("%s %s: no schema (not bundled by kubernetes-validate, none in scripts/ops/schemas): %s"
                                % (relative(path), label, error.message))
                continue
            except kv.ValidationError as error:
                failures.append("%s %s: Kubernetes %s schema: %s: %s"
                                % (relative(path), label, error.version, error_path(error), error.message))
                continue
            print("ok   %s %s: kubernetes-validate, Kubernetes %s schema (strict)" % (relative(path), label, " and ".join(versions)))
            objects.append((path, document))

    failures += consistency(objects)
    for failure in failures:
        print("FAIL " + failure)
    if failures:
        print("schema validation: %d failure(s)" % len(failures))
        return 1
    print("schema validation: %d object(s) valid" % len(objects))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

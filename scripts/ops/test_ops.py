#!/usr/bin/env python3
"""Tests of the manifest checks: python3 -m unittest discover -s scripts/ops -p 'test_*.py'

The built-in YAML reader must read every manifest exactly as PyYAML does; the restricted
check must pass the repository's manifests and catch each rule; the schema validation
must pass them and catch a misspelt field, an unquoted KEDA threshold and autoscalers
that disagree. Tests needing PyYAML or kubernetes-validate skip without them.
"""

import contextlib
import copy
import glob
import io
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import k8s_yaml  # noqa: E402
import pod_security_restricted as psr  # noqa: E402
import validate_manifests  # noqa: E402

MANIFESTS = sorted(glob.glob(os.path.join(psr.DEFAULT_DIR, "*.yaml")))

try:
    import yaml
except ImportError:
    yaml = None
try:
    import kubernetes_validate  # noqa: F401
except ImportError:
    kubernetes_validate = None


def run(main, *args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


class YAMLSubsetTests(unittest.TestCase):
    @unittest.skipIf(yaml is None, "PyYAML not installed")
    def test_reads_every_manifest_as_pyyaml_does(self):
        self.assertTrue(MANIFESTS)
        for path in MANIFESTS:
            with open(path, encoding="utf-8") as handle:
                expected = [d for d in yaml.safe_load_all(handle) if d is not None]
            self.assertEqual(k8s_yaml.load_documents(path, force_builtin=True), expected, path)

    def test_constructs(self):
        text = (
            "# comment\n"
            "a: 1\n"
            "b: '2'\n"
            "c: \"x # not a comment\"  # a comment\n"
            "d: { e: [1, \"two\", {f: null}], g: {} }\n"
            "h:\n"
            "- x\n"
            "- k: v\n"
            "  l: [ ]\n"
            "i: sum(rate(m{a=\"b\", c=~\"d.*\"}[1m]))\n"
            "j: 1.5\n"
            "k: yes\n"
            "---\n"
            "z: ~\n"
        )
        self.assertEqual(k8s_yaml.parse(text), [
            {"a": 1, "b": "2", "c": "x # not a comment", "d": {"e": [1, "two", {"f": None}], "g": {}},
             "h": ["x", {"k": "v", "l": []}], "i": 'sum(rate(m{a="b", c=~"d.*"}[1m]))', "j": 1.5, "k": True},
            {"z": None}])
        if yaml is not None:
            self.assertEqual(k8s_yaml.parse(text), list(yaml.safe_load_all(text)))

    def test_refuses_what_it_does_not_read(self):
        for text, line in (("a: |\n  x\n", 1), ("a: &x 1\nb: *x\n", 1), ("a: 1\nb: plain\n  more\n", 3),
                           ("a: [1,\n  2]\n", 1), ("a: 0755\n", 1), ("a: y\n", 1), ("a: 1\na: 2\n", 2)):
            with self.assertRaises(k8s_yaml.YAMLSubsetError) as caught:
                k8s_yaml.parse(text, "t.yaml")
            self.assertIn("t.yaml:%d:" % line, str(caught.exception), text)


BAD_POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "bad", "annotations": {"container.apparmor.security.beta.kubernetes.io/c": "unconfined"}},
    "spec": {
        "hostNetwork": True, "hostPID": True,
        "securityContext": {"runAsUser": 0, "runAsNonRoot": False, "seccompProfile": {"type": "Unconfined"},
                            "sysctls": [{"name": "kernel.msgmax", "value": "1"}],
                            "windowsOptions": {"hostProcess": True},
                            "seLinuxOptions": {"type": "spc_t", "user": "root"}},
        "volumes": [{"name": "host", "hostPath": {"path": "/"}}, {"name": "nfs", "nfs": {"server": "x", "path": "/"}}],
        "containers": [{
            "name": "c", "image": "x",
            "ports": [{"containerPort": 80, "hostPort": 80}],
            "livenessProbe": {"httpGet": {"host": "10.0.0.1", "path": "/", "port": 80}},
            "securityContext": {"privileged": True, "allowPrivilegeEscalation": True, "procMount": "Unmasked",
                                "capabilities": {"add": ["SYS_ADMIN", "NET_BIND_SERVICE"]},
                                "appArmorProfile": {"type": "Unconfined"}},
        }],
    },
}


class RestrictedTests(unittest.TestCase):
    def test_repository_manifests_pass(self):
        code, out = run(psr.main)
        self.assertEqual(code, 0, out)
        self.assertIn("Deployment/instructrec", out)

    def test_every_rule_is_caught(self):
        failures = psr.check_pod("spec", BAD_POD["metadata"], BAD_POD["spec"])
        self.assertEqual({rule for rule, _, _ in failures}, {rule for rule, _, _ in psr.RULES})
        paths = {path for _, path, _ in failures}
        self.assertIn("spec.containers[0](c).securityContext.allowPrivilegeEscalation", paths)
        self.assertIn("spec.volumes[1](nfs)", paths)
        self.assertIn("metadata.annotations[container.apparmor.security.beta.kubernetes.io/c]", paths)

    def test_net_bind_service_and_container_level_settings_are_allowed(self):
        spec = {"containers": [{"name": "c", "securityContext": {
            "runAsNonRoot": True, "allowPrivilegeEscalation": False, "seccompProfile": {"type": "Localhost"},
            "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "m"}}]}
        self.assertEqual(psr.check_pod("spec", {}, spec), [])

    def test_a_failing_manifest_exits_1_and_names_the_field(self):
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "d.yaml")
            with open(psr.os.path.join(psr.DEFAULT_DIR, "deployment.yaml"), encoding="utf-8") as handle:
                text = handle.read()
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text.replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"))
            code, out = run(psr.main, path)
        self.assertEqual(code, 1, out)
        self.assertIn("containers[0](instructrec).securityContext.allowPrivilegeEscalation: must be set to false", out)


@unittest.skipIf(kubernetes_validate is None, "kubernetes-validate not installed")
class SchemaTests(unittest.TestCase):
    def setUp(self):
        self.directory = tempfile.mkdtemp()
        for path in MANIFESTS:
            shutil.copy(path, self.directory)

    def tearDown(self):
        shutil.rmtree(self.directory)

    def edit(self, name, old, new):
        path = os.path.join(self.directory, name)
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        self.assertIn(old, text)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text.replace(old, new, 1))

    def test_repository_manifests_pass(self):
        code, out = run(validate_manifests.main)
        self.assertEqual(code, 0, out)
        self.assertIn("ScaledObject/instructrec: local schema", out)

    def test_misspelt_field_fails(self):
        self.edit("deployment.yaml", "readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true")
        code, out = run(validate_manifests.main, self.directory)
        self.assertEqual(code, 1, out)
        self.assertIn("readOnlyRootFileSystem", out)

    def test_unquoted_keda_threshold_fails(self):
        self.edit("keda-scaledobject.yaml", 'threshold: "2"', "threshold: 2")
        code, out = run(validate_manifests.main, self.directory)
        self.assertEqual(code, 1, out)
        self.assertIn("spec.triggers[0].metadata.threshold", out)

    def test_bad_hpa_behavior_in_scaled_object_fails(self):
        self.edit("keda-scaledobject.yaml", "stabilizationWindowSeconds: 300", "stabilisationWindowSeconds: 300")
        code, out = run(validate_manifests.main, self.directory)
        self.assertEqual(code, 1, out)
        self.assertIn("HorizontalPodAutoscaler/keda-hpa-instructrec", out)

    def test_autoscalers_must_agree(self):
        self.edit("keda-scaledobject.yaml", "maxReplicaCount: 30", "maxReplicaCount: 40")
        code, out = run(validate_manifests.main, self.directory)
        self.assertEqual(code, 1, out)
        self.assertIn("disagree on replica bounds", out)

    def test_unknown_kind_fails(self):
        with open(os.path.join(self.directory, "x.yaml"), "w", encoding="utf-8") as handle:
            handle.write("apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w }\n")
        code, out = run(validate_manifests.main, self.directory)
        self.assertEqual(code, 1, out)
        self.assertIn("Widget/w: no schema", out)


if __name__ == "__main__":
    unittest.main()

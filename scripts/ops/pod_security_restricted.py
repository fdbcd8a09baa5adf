#!/usr/bin/env python3
"""Pod Security Standards, "restricted" profile, over every pod template in docker/k8s.

    python3 scripts/ops/pod_security_restricted.py [FILE_OR_DIR ...]   (default: docker/k8s)

Exit 0 when every pod template passes every check, 1 when one fails (each failure
printed with its rule and field path), 2 when a manifest cannot be read.

The checks are those of the Pod Security admission controller at its latest policy
version ("restricted" = every "baseline" check plus the restricted ones), written from
https://kubernetes.io/docs/concepts/security/pod-security-standards/ and the controller's
source (k8s.io/pod-security-admission/policy, check_*.go, Kubernetes 1.37):

  baseline    HostProcess, host namespaces, privileged, capabilities (superseded by the
              restricted rule), hostPath volumes (superseded by volume types), host
              ports, host in probes/lifecycle hooks, AppArmor, SELinux, /proc mount,
              seccomp (superseded by the restricted rule), sysctls
  restricted  volume types, privilege escalation, running as non-root, non-root user,
              seccomp, capabilities (drop ALL, add at most NET_BIND_SERVICE)

Pod templates are found in Pod, PodTemplate, Deployment, ReplicaSet, StatefulSet,
DaemonSet, ReplicationController, Job and CronJob objects; other kinds are skipped.
Needs no third-party package (PyYAML is used when installed; see k8s_yaml.py).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import k8s_yaml  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_DIR = os.path.join(ROOT, "docker", "k8s")

ALLOWED_VOLUME_SOURCES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
                          "persistentVolumeClaim", "projected", "secret"}
ALLOWED_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.ip_local_reserved_ports",                                     # 1.27+
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes",        # 1.29+
    "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",                               # 1.32+
    "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat",     # 1.37+
}
ALLOWED_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
ALLOWED_PROFILE_TYPES = {"RuntimeDefault", "Localhost"}
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"

# (rule id, level, title) in the order the official page lists them.
RULES = [
    ("hostProcess", "baseline", "HostProcess"),
    ("hostNamespaces", "baseline", "Host Namespaces"),
    ("privileged", "baseline", "Privileged Containers"),
    ("hostPorts", "baseline", "Host Ports"),
    ("hostProbesAndHostLifecycle", "baseline", "Host Probes / Lifecycle Hooks"),
    ("appArmorProfile", "baseline", "AppArmor"),
    ("seLinuxOptions", "baseline", "SELinux"),
    ("procMount", "baseline", "/proc Mount Type"),
    ("sysctls", "baseline", "Sysctls"),
    ("restrictedVolumes", "restricted", "Volume Types (includes baseline HostPath Volumes)"),
    ("allowPrivilegeEscalation", "restricted", "Privilege Escalation"),
    ("runAsNonRoot", "restricted", "Running as Non-root"),
    ("runAsUser", "restricted", "Running as Non-root user"),
    ("seccompProfile", "restricted", "Seccomp (includes baseline Seccomp)"),
    ("capabilities", "restricted", "Capabilities (includes baseline Capabilities)"),
]
RULE_TITLES = {rule: "%s: %s" % (level, title) for rule, level, title in RULES}


def as_dict(value):
    return value if isinstance(value, dict) else {}


def as_list(value):
    return value if isinstance(value, list) else []


def pod_templates(document):
    """(path to the pod spec, pod metadata, pod spec) for every pod template in an object."""
    kind = document.get("kind")
    spec = as_dict(document.get("spec"))
    if kind == "Pod":
        yield "spec", as_dict(document.get("metadata")), spec
    elif kind == "PodTemplate":
        template = as_dict(document.get("template"))
        yield "template.spec", as_dict(template.get("metadata")), as_dict(template.get("spec"))
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController", "Job"):
        template = as_dict(spec.get("template"))
        yield "spec.template.spec", as_dict(template.get("metadata")), as_dict(template.get("spec"))
    elif kind == "CronJob":
        template = as_dict(as_dict(as_dict(spec.get("jobTemplate")).get("spec")).get("template"))
        yield ("spec.jobTemplate.spec.template.spec", as_dict(template.get("metadata")),
               as_dict(template.get("spec")))


def containers(spec, base):
    """(path, container) for init, regular and ephemeral containers, as the controller visits them."""
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in enumerate(as_list(spec.get(field))):
            container = as_dict(container)
            name = container.get("name", "?")
            yield "%s.%s[%d](%s)" % (base, field, index, name), container


def check_pod(base, metadata, spec):
    """Every failure as (rule, field path, message)."""
    failures = []

    def fail(rule, path, message):
        failures.append((rule, path, message))

    pod_sc = as_dict(spec.get("securityContext"))
    pod_sc_path = base + ".securityContext"
    windows = as_dict(spec.get("os")).get("name") == "windows"
    user_namespace = spec.get("hostUsers") is False
    all_containers = list(containers(spec, base))

    # -- baseline --
    if as_dict(pod_sc.get("windowsOptions")).get("hostProcess") is True:
        fail("hostProcess", pod_sc_path + ".windowsOptions.hostProcess", "must be false or unset")
    for path, c in all_containers:
        if as_dict(as_dict(c.get("securityContext")).get("windowsOptions")).get("hostProcess") is True:
            fail("hostProcess", path + ".securityContext.windowsOptions.hostProcess", "must be false or unset")

    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field) is True:
            fail("hostNamespaces", "%s.%s" % (base, field), "must be false or unset")

    for path, c in all_containers:
        if as_dict(c.get("securityContext")).get("privileged") is True:
            fail("privileged", path + ".securityContext.privileged", "must be false or unset")

    for path, c in all_containers:
        for index, port in enumerate(as_list(c.get("ports"))):
            if as_dict(port).get("hostPort") not in (None, 0):
                fail("hostPorts", "%s.ports[%d].hostPort" % (path, index), "must be 0 or unset")

    for path, c in all_containers:
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            for handler in ("httpGet", "tcpSocket"):
                host = as_dict(as_dict(c.get(probe)).get(handler)).get("host")
                if host:
                    fail("hostProbesAndHostLifecycle", "%s.%s.%s.host" % (path, probe, handler), "must be empty or unset")
        for hook in ("postStart", "preStop"):
            for handler in ("httpGet", "tcpSocket"):
                host = as_dict(as_dict(as_dict(c.get("lifecycle")).get(hook)).get(handler)).get("host")
                if host:
                    fail("hostProbesAndHostLifecycle", "%s.lifecycle.%s.%s.host" % (path, hook, handler), "must be empty or unset")

    def apparmor(sc, path):
        profile = sc.get("appArmorProfile")
        if profile is not None and as_dict(profile).get("type") not in ALLOWED_PROFILE_TYPES:
            fail("appArmorProfile", path + ".appArmorProfile.type", "must be RuntimeDefault or Localhost")
    apparmor(pod_sc, pod_sc_path)
    for path, c in all_containers:
        apparmor(as_dict(c.get("securityContext")), path + ".securityContext")
    for key, value in sorted(as_dict(metadata.get("annotations")).items()):
        if str(key).startswith(APPARMOR_ANNOTATION):
            value = "" if value is None else str(value)
            if not (value == "" or value == "runtime/default" or value.startswith("localhost/")):
                fail("appArmorProfile", "%s.annotations[%s]" % (base[:-len("spec")] + "metadata", key),
                     "must be runtime/default or localhost/*")

    def selinux(sc, path):
        options = sc.get("seLinuxOptions")
        if options is None:
            return
        options = as_dict(options)
        if (options.get("type") or "") not in ALLOWED_SELINUX_TYPES:
            fail("seLinuxOptions", path + ".seLinuxOptions.type", "must be unset, container_t, container_init_t, container_kvm_t or container_engine_t")
        for field in ("user", "role"):
            if options.get(field):
                fail("seLinuxOptions", "%s.seLinuxOptions.%s" % (path, field), "must be unset")
    selinux(pod_sc, pod_sc_path)
    for path, c in all_containers:
        selinux(as_dict(c.get("securityContext")), path + ".securityContext")

    # Restricted: no relaxation for user namespaces (check_procMount_restricted.go).
    for path, c in all_containers:
        mount = as_dict(c.get("securityContext")).get("procMount")
        if mount not in (None, "Default"):
            fail("procMount", path + ".securityContext.procMount", "must be Default or unset")

    for index, sysctl in enumerate(as_list(pod_sc.get("sysctls"))):
        name = as_dict(sysctl).get("name")
        if name not in ALLOWED_SYSCTLS:
            fail("sysctls", "%s.sysctls[%d].name" % (pod_sc_path, index), "%r is not in the safe set" % (name,))

    # -- restricted --
    for index, volume in enumerate(as_list(spec.get("volumes"))):
        volume = as_dict(volume)
        sources = [key for key in volume if key != "name"]
        bad = [key for key in sources if key not in ALLOWED_VOLUME_SOURCES]
        if bad or not sources:
            fail("restrictedVolumes", "%s.volumes[%d](%s)" % (base, index, volume.get("name", "?")),
                 "volume type %s is not allowed (only %s)" % (", ".join(bad) or "unknown", ", ".join(sorted(ALLOWED_VOLUME_SOURCES))))

    if not windows:
        for path, c in all_containers:
            if as_dict(c.get("securityContext")).get("allowPrivilegeEscalation") is not False:
                fail("allowPrivilegeEscalation", path + ".securityContext.allowPrivilegeEscalation", "must be set to false")

    if not user_namespace:
        pod_non_root = pod_sc.get("runAsNonRoot")
        if pod_non_root is False:
            fail("runAsNonRoot", pod_sc_path + ".runAsNonRoot", "must be true")
        for path, c in all_containers:
            value = as_dict(c.get("securityContext")).get("runAsNonRoot")
            if value is False:
                fail("runAsNonRoot", path + ".securityContext.runAsNonRoot", "must be true")
            elif value is None and pod_non_root is not True:
                fail("runAsNonRoot", path + ".securityContext.runAsNonRoot",
                     "must be true (here or in %s.runAsNonRoot)" % pod_sc_path)

        if pod_sc.get("runAsUser") == 0:
            fail("runAsUser", pod_sc_path + ".runAsUser", "must not be 0")
        for path, c in all_containers:
            if as_dict(c.get("securityContext")).get("runAsUser") == 0:
                fail("runAsUser", path + ".securityContext.runAsUser", "must not be 0")

    if not windows:
        pod_profile = pod_sc.get("seccompProfile")
        pod_ok = False
        if pod_profile is not None:
            if as_dict(pod_profile).get("type") in ALLOWED_PROFILE_TYPES:
                pod_ok = True
            else:
                fail("seccompProfile", pod_sc_path + ".seccompProfile.type", "must be RuntimeDefault or Localhost")
        for path, c in all_containers:
            profile = as_dict(c.get("securityContext")).get("seccompProfile")
            if profile is not None:
                if as_dict(profile).get("type") not in ALLOWED_PROFILE_TYPES:
                    fail("seccompProfile", path + ".securityContext.seccompProfile.type", "must be RuntimeDefault or Localhost")
            elif not pod_ok:
                fail("seccompProfile", path + ".securityContext.seccompProfile.type",
                     "must be RuntimeDefault or Localhost (here or in %s.seccompProfile)" % pod_sc_path)

        for path, c in all_containers:
            capabilities = as_dict(as_dict(c.get("securityContext")).get("capabilities"))
            if "ALL" not in as_list(capabilities.get("drop")):
                fail("capabilities", path + ".securityContext.capabilities.drop", 'must include "ALL"')
            added = [cap for cap in as_list(capabilities.get("add")) if cap != "NET_BIND_SERVICE"]
            if added:
                fail("capabilities", path + ".securityContext.capabilities.add",
                     "may only add NET_BIND_SERVICE, not %s" % ", ".join(map(str, added)))
    return failures


def manifest_files(arguments):
    return k8s_yaml.manifest_files(arguments or [DEFAULT_DIR])


relative = k8s_yaml.relative


def main(arguments):
    print("pod security (restricted): reading YAML with %s" % k8s_yaml.reader_name())
    templates = failed = 0
    for path in manifest_files(arguments):
        documents = k8s_yaml.documents_or_report(path)
        if documents is None:
            return 2
        for document in documents:
            if not isinstance(document, dict):
                continue
            name = "%s/%s" % (document.get("kind"), as_dict(document.get("metadata")).get("name"))
            for base, metadata, spec in pod_templates(document):
                templates += 1
                failures = check_pod(base, metadata, spec)
                if failures:
                    failed += 1
                    for rule, field, message in failures:
                        print("FAIL %s %s [%s] %s: %s" % (relative(path), name, RULE_TITLES[rule], field, message))
                else:
                    print("ok   %s %s (%s): all %d restricted checks pass" % (relative(path), name, base, len(RULES)))
    if templates == 0:
        print("ERROR no pod template found in %s" % ", ".join(arguments or [relative(DEFAULT_DIR)]))
        return 2
    if failed:
        print("pod security (restricted): %d of %d pod templates FAIL" % (failed, templates))
        return 1
    print("pod security (restricted): %d pod template(s) pass" % templates)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

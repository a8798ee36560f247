"""k8s/ validated offline (no Kubernetes cluster can run here): each variant (the
base and every overlay, rendered by applying the overlay's RFC 6902 patches as
kustomize does) — core objects with kubernetes-validate --strict, the ray.io/v1
fields against the schema kept in k8s/schema, each embedded pod template as a
core/v1 PodTemplate; secure defaults; the manifests agree with raygen's own
cluster config and the Dockerfile with pyproject.toml."""

import copy
import json
import re
from pathlib import Path

import jsonpatch
import jsonschema
import kubernetes_validate
import pytest
import yaml
from hydra import compose, initialize_config_module

from raygen.config.schema import register_configs

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

K8S = Path(__file__).resolve().parents[2] / "k8s"
ROOT = K8S.parent
KUBE_VERSION = "1.33"
register_configs()


def load_kustomization(path: Path) -> list[dict]:
    """The objects a kustomization renders: its resources (files or other
    kustomizations), then its JSON6902 patches on the targets they name."""
    kust = yaml.safe_load((path / "kustomization.yaml").read_text())
    docs: list[dict] = []
    for res in kust.get("resources", []):
        target = path / res
        if target.is_dir():
            docs += load_kustomization(target)
        else:
            docs += [d for d in yaml.safe_load_all(target.read_text()) if d]
    for p in kust.get("patches", []):
        t = p["target"]
        api = f"{t['group']}/{t['version']}" if t.get("group") else t["version"]
        hits = [d for d in docs if d["kind"] == t["kind"] and d["metadata"]["name"] == t["name"]
                and d["apiVersion"] == api]
        assert hits, f"{path}: patch target {t} matches nothing"
        ops = yaml.safe_load(p["patch"])
        for d in hits:
            d.update(jsonpatch.apply_patch(copy.deepcopy(d), ops))
    return docs


VARIANTS = {"base": K8S / "base", **{p.name: p for p in sorted((K8S / "overlays").iterdir())}}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def rendered(request):
    return request.param, load_kustomization(VARIANTS[request.param])


def pod_templates(doc: dict) -> list[tuple[str, dict]]:
    spec = doc["spec"]
    if doc["kind"] == "RayCluster":
        out = [("head", spec["headGroupSpec"]["template"])]
        out += [(g["groupName"], g["template"]) for g in spec.get("workerGroupSpecs", [])]
        return out
    if doc["kind"] == "RayJob":
        return [("submitter", spec["submitterPodTemplate"])] if "submitterPodTemplate" in spec \
            else []
    return []


def test_every_object_is_valid(rendered):
    name, docs = rendered
    schema = json.loads((K8S / "schema" / "ray.io_v1.json").read_text())
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["NetworkPolicy", "PersistentVolumeClaim", "RayCluster", "RayJob"], name
    for doc in docs:
        if doc["apiVersion"].startswith("ray.io/"):
            jsonschema.validate(doc, schema)
            for group, template in pod_templates(doc):
                wrapped = {"apiVersion": "v1", "kind": "PodTemplate",
                           "metadata": {"name": f"{doc['metadata']['name']}-{group}"},
                           "template": template}
                kubernetes_validate.validate(wrapped, KUBE_VERSION, strict=True)
        else:
            kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_the_ray_schema_refuses_a_typo():
    schema = json.loads((K8S / "schema" / "ray.io_v1.json").read_text())
    doc = next(d for d in load_kustomization(K8S / "base") if d["kind"] == "RayCluster")
    bad = copy.deepcopy(doc)
    bad["spec"]["workerGroupSpecs"][1]["maxReplica"] = 3
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    bad = copy.deepcopy(doc)
    bad["spec"]["authOptions"]["mode"] = "tokens"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_secure_by_default(rendered):
    name, docs = rendered
    cluster = next(d for d in docs if d["kind"] == "RayCluster")
    assert cluster["spec"]["authOptions"]["mode"] == "token"
    head = cluster["spec"]["headGroupSpec"]
    assert head.get("serviceType", "ClusterIP") == "ClusterIP"
    for doc in docs:
        for group, t in pod_templates(doc):
            pod = t["spec"]
            pod_sc = pod.get("securityContext", {})
            assert pod_sc.get("runAsNonRoot") is True, (name, group)
            assert pod_sc.get("runAsUser", 0) != 0, (name, group)
            if group != "head":  # the head's autoscaler sidecar needs the API token
                assert pod.get("automountServiceAccountToken") is False, (name, group)
            tmp = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
            for c in pod["containers"]:
                assert c["securityContext"]["allowPrivilegeEscalation"] is False
                assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
                assert c["securityContext"]["readOnlyRootFilesystem"] is True, (name, group)
                # ... so Ray's /tmp and HOME live on a writable emptyDir
                mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
                assert mounts.get("/tmp") in tmp, (name, group)
                env = {e["name"]: e.get("value") for e in c.get("env", [])}
                assert env.get("HOME", "").startswith("/tmp/"), (name, group)
                for kind in ("requests", "limits"):
                    assert {"cpu", "memory"} <= set(c["resources"][kind]), (name, group, kind)


# --- the connectivity rules, evaluated offline as Kubernetes applies NetworkPolicies ---

def _matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def allowed(policies: list[dict], src: dict, dst_labels: dict, port: int) -> bool:
    """Whether a TCP connection from pod ``src`` ({labels, namespace labels, same
    namespace}) to a pod with ``dst_labels`` on ``port`` is admitted: a pod selected by
    no Ingress policy admits everything; otherwise some rule of a selecting policy must
    admit the source and the port (the union of all rules)."""
    selecting = [p for p in policies if _matches(p["spec"]["podSelector"], dst_labels)
                 and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress", []):
            ports = rule.get("ports")
            if ports and not any(p.get("port") == port and p.get("protocol", "TCP") == "TCP"
                                 for p in ports):
                continue
            peers = rule.get("from")
            if peers is None:
                return True
            for peer in peers:
                ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
                ns_ok = _matches(ns_sel, src["ns_labels"]) if ns_sel is not None \
                    else src["same_namespace"]
                if ns_ok and (pod_sel is None or _matches(pod_sel, src["labels"])):
                    return True
    return False


def test_ray_ports_are_open_to_the_cluster_and_the_operator_only(rendered):
    name, docs = rendered
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    cluster = next(d for d in docs if d["kind"] == "RayCluster")
    job = next(d for d in docs if d["kind"] == "RayJob")
    labels = {g: t["metadata"]["labels"] for g, t in pod_templates(cluster)}
    submitter = job["spec"]["submitterPodTemplate"]["metadata"]["labels"]
    head_ports = {p["name"]: p["containerPort"] for p in
                  cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"]}
    # the dashboard listens on the pod network, behind the token, so that KubeRay's
    # RayJob controller and submitter can reach it (on 127.0.0.1 neither could)
    assert cluster["spec"]["headGroupSpec"]["rayStartParams"]["dashboard-host"] == "0.0.0.0"
    assert head_ports["dashboard"] == 8265 and head_ports["gcs-server"] == 6379

    def pod(lbls, same=True, ns=None):
        return {"labels": lbls, "same_namespace": same, "ns_labels": ns or {}}

    operator = pod({"app.kubernetes.io/name": "kuberay-operator"}, same=False,
                   ns={"kubernetes.io/metadata.name": "kuberay-system"})
    stranger = pod({"app": "notebook"})
    stranger_elsewhere = pod({"app": "notebook"}, same=False, ns={"team": "other"})
    head = labels["head"]
    # what must work
    assert allowed(policies, pod(submitter), head, 8265), name        # ray job submit
    assert allowed(policies, operator, head, 8265), name              # job status
    for g in ("gpu", "cpu"):
        assert allowed(policies, pod(labels[g]), head, 6379), (name, g)   # workers join
        assert allowed(policies, pod(head), labels[g], 10002), (name, g)  # head -> raylet
        assert allowed(policies, pod(labels["gpu"]), labels[g], 12345), (name, g)  # objects
    # what must not
    for who in (stranger, stranger_elsewhere):
        for port in (6379, 8265, 10001):
            assert not allowed(policies, who, head, port), (name, who, port)
        assert not allowed(policies, who, labels["cpu"], 10002), name
    assert not allowed(policies, operator, head, 10001), name  # the operator: 8265/6379 only
    # and an evaluator that admits what no policy selects, as Kubernetes does
    assert allowed([], stranger, head, 6379)


def test_groups_autoscale_and_match_raygens_cluster_config(rendered):
    name, docs = rendered
    cluster = next(d for d in docs if d["kind"] == "RayCluster")
    assert cluster["spec"]["enableInTreeAutoscaling"] is True
    groups = {g["groupName"]: g for g in cluster["spec"]["workerGroupSpecs"]}
    assert groups["cpu"]["minReplicas"] == 0 and groups["cpu"]["maxReplicas"] > 0
    assert groups["gpu"]["minReplicas"] <= groups["gpu"]["replicas"] <= groups["gpu"]["maxReplicas"]
    with initialize_config_module(version_base=None, config_module="raygen.conf"):
        cfg = compose(config_name="config", overrides=["+exp=cu", "cluster=kuberay"])
    assert cfg.cluster.autoscaling is True
    labels = {g: dict(kv.split("=", 1) for kv in groups[g]["rayStartParams"]["labels"].split(","))
              for g in groups}
    gpu = groups["gpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    cpu = groups["cpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    for kind in ("trainer", "explorer", "evaluator", "labeler"):
        res = cfg.cluster[kind]
        pool = "gpu" if res.num_gpus > 0 else "cpu"
        # each kind selects a label some group carries, and fits one pod of it
        assert dict(res.label_selector) == labels[pool], (name, kind)
        limits = gpu if pool == "gpu" else cpu
        assert res.num_cpus <= float(limits["cpu"]), (name, kind)
        assert res.num_gpus <= float(limits.get("nvidia.com/gpu", 0)), (name, kind)
    # the RayJob's entrypoint is a raygen command line that composes and selects it
    job = next(d for d in docs if d["kind"] == "RayJob")
    words = job["spec"]["entrypoint"].split()
    assert words[:3] == ["python", "-m", "raygen"]
    with initialize_config_module(version_base=None, config_module="raygen.conf"):
        cfg = compose(config_name="config", overrides=words[3:])
    assert cfg.cluster.address == "auto" and cfg.cluster.autoscaling
    assert cfg.workdir.startswith("/runs/")
    assert cfg.train.backend == "pt"  # the image's GPU backend (see the Dockerfile)
    mounts = {m["mountPath"] for m in
              cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert "/runs" in mounts
    assert job["spec"]["clusterSelector"]["ray.io/cluster"] == cluster["metadata"]["name"]


def test_dockerfile_agrees_with_pyproject():
    text = (K8S / "Dockerfile").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {re.split(r"[\[=<>]", d)[0]: d.split("==")[1]
            for d in project["dependencies"] + sum(project["optional-dependencies"].values(), [])
            if "==" in d}
    base = re.search(r"^FROM python:(\d+)\.(\d+)", text, re.M)
    assert base, "the image is built on a python:X.Y base"
    lo, hi = re.findall(r"(\d+)\.(\d+)", project["requires-python"])
    assert tuple(map(int, lo)) <= tuple(map(int, base.groups())) < tuple(map(int, hi))
    installs = " ".join(re.findall(r"pip install[^\n\\]*(?:\\\n[^\n\\]*)*", text))
    for name, version in re.findall(r'"?([a-zA-Z0-9_.-]+)(?:\[[^\]]*\])?==([0-9.]+)', installs):
        assert pins.get(name) == version, \
            f"Dockerfile pins {name}=={version}, pyproject {pins.get(name)}"
    for extra in re.findall(r'"\.\[([a-z,]+)\]"', installs):
        for e in extra.split(","):
            assert e in project["optional-dependencies"], e
    for path in re.findall(r"^COPY (\S+)", text, re.M):
        assert (ROOT / path).exists(), path
    copied = set(re.findall(r"^COPY (\S+)", text, re.M))
    for package in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
            "packages"]:
        top = package.split(".")[0]
        assert top in copied, f"pyproject packages {package}, the image does not COPY {top}/"
    # one backend story: GPUs through PyTorch; no GPU TensorFlow next to tensorflow-cpu
    assert '".[torch]"' in installs
    assert not re.search(r"deepmd-kit\[[^\]]*\bgpu\b", installs)
    assert not re.search(r"\btensorflow(==|\s|$)", installs)
    assert re.search(r"^USER 1000$", text, re.M)
    cluster = next(d for d in load_kustomization(K8S / "base") if d["kind"] == "RayCluster")
    assert cluster["spec"]["headGroupSpec"]["template"]["spec"]["securityContext"]["runAsUser"] \
        == 1000

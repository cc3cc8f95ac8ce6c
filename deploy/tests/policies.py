"""The deployment policies, as functions over rendered Kubernetes objects.

Each check returns a list of problems, every one naming the object (``Kind/name``) that breaks
the policy, so a failing test says what to fix. ``test_policies.py`` runs them on every overlay,
with and without the optional components, and on the known-bad fixtures in ``fixtures/bad/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import kubernetes_validate

Obj = dict[str, Any]

#: The Kubernetes versions the manifests must be valid for: the oldest we deploy to and the
#: newest whose schemas kubernetes-validate ships (kubeconform needs a download; this is offline).
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
#: Kinds of CRDs that optional components add; checked by their own policy, not by a schema.
CUSTOM_KINDS = {("keda.sh/v1alpha1", "ScaledObject"), ("keda.sh/v1alpha1", "TriggerAuthentication")}
PART_OF = "app.kubernetes.io/part-of"
NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
SERVICE_PORTS = {"users": 8081, "catalog": 8082, "orders": 8083}
PROMETHEUS = {NAME: "prometheus"}


def ref(obj: Obj) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def flotilla_workloads(objects: Iterable[Obj]) -> list[Obj]:
    return [o for o in objects if o["kind"] in ("Deployment", "Job", "StatefulSet")
            and o["spec"]["template"]["metadata"].get("labels", {}).get(PART_OF) == "flotilla"]


def pod_of(workload: Obj) -> Obj:
    return dict(workload["spec"]["template"]["spec"])


def _labels(workload: Obj) -> dict[str, str]:
    return dict(workload["spec"]["template"]["metadata"].get("labels", {}))


# --- schema ------------------------------------------------------------------------------

def check_schema(objects: list[Obj]) -> list[str]:
    problems = []
    for version in K8S_VERSIONS:
        for obj in objects:
            if (obj.get("apiVersion"), obj.get("kind")) in CUSTOM_KINDS:
                continue
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = "/".join(str(p) for p in exc.path)
                problems.append(f"{ref(obj)}: not valid Kubernetes {version} at {where}: {exc.message}")
            except kubernetes_validate.utils.SchemaNotFoundError:
                problems.append(f"{ref(obj)}: {obj.get('apiVersion')} {obj.get('kind')} is not a "
                                f"Kubernetes {version} kind")
    return problems


# --- pod security ------------------------------------------------------------------------

def check_namespace(objects: list[Obj], enforce: str = "restricted") -> list[str]:
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    if len(namespaces) != 1:
        return [f"the overlay makes {len(namespaces)} Namespaces, not 1"]
    ns = namespaces[0]
    labels = ns["metadata"].get("labels", {})
    problems = []
    if labels.get("pod-security.kubernetes.io/enforce") != enforce:
        problems.append(f"{ref(ns)}: pod-security.kubernetes.io/enforce is "
                        f"{labels.get('pod-security.kubernetes.io/enforce')!r}, not {enforce!r}")
    if labels.get("pod-security.kubernetes.io/warn") != "restricted":
        problems.append(f"{ref(ns)}: pod-security.kubernetes.io/warn must be 'restricted'")
    others = {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"}
    if others - {ns["metadata"]["name"]}:
        problems.append(f"{ref(ns)}: objects outside it: {sorted(map(str, others))}")
    return problems


def check_restricted_pods(objects: list[Obj]) -> list[str]:
    """Pod Security Standards "restricted" (v1.29), plus a read-only root filesystem."""
    problems = []
    for workload in flotilla_workloads(objects):
        pod = pod_of(workload)
        psc = pod.get("securityContext", {})
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(key):
                problems.append(f"{ref(workload)}: {key} is not allowed")
        for volume in pod.get("volumes", []):
            if "hostPath" in volume:
                problems.append(f"{ref(workload)}: hostPath volume {volume['name']}")
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            where = f"{ref(workload)} container {c['name']}"
            sc = {**psc, **c.get("securityContext", {})}
            if sc.get("runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot must be true")
            if sc.get("runAsUser") == 0:
                problems.append(f"{where}: runAsUser 0")
            if c.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation must be false")
            if c.get("securityContext", {}).get("privileged"):
                problems.append(f"{where}: privileged")
            caps = c.get("securityContext", {}).get("capabilities", {})
            if "ALL" not in caps.get("drop", []):
                problems.append(f"{where}: capabilities must drop ALL")
            if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
                problems.append(f"{where}: adds capabilities {caps['add']}")
            if sc.get("seccompProfile", {}).get("type") not in ("RuntimeDefault", "Localhost"):
                problems.append(f"{where}: seccompProfile must be RuntimeDefault")
            if not c.get("securityContext", {}).get("readOnlyRootFilesystem"):
                problems.append(f"{where}: readOnlyRootFilesystem must be true")
    return problems


def check_service_accounts(objects: list[Obj]) -> list[str]:
    accounts = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ServiceAccount"}
    problems, used = [], {}
    for workload in flotilla_workloads(objects):
        pod = pod_of(workload)
        name = pod.get("serviceAccountName", "default")
        if name == "default":
            problems.append(f"{ref(workload)}: runs as the default ServiceAccount")
            continue
        if name in used:
            problems.append(f"{ref(workload)}: shares ServiceAccount/{name} with {used[name]}")
        used[name] = ref(workload)
        if name not in accounts:
            problems.append(f"{ref(workload)}: ServiceAccount/{name} does not exist")
        elif accounts[name].get("automountServiceAccountToken") is not False:
            problems.append(f"ServiceAccount/{name}: automountServiceAccountToken must be false")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{ref(workload)}: automountServiceAccountToken must be false")
    return problems


# --- availability ------------------------------------------------------------------------

def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def check_availability(objects: list[Obj]) -> list[str]:
    """A PDB and a topology spread for every Deployment; an HPA on CPU for every API, and for
    every worker either nothing or (with KEDA) a ScaledObject, never both."""
    problems = []
    pdbs = [o for o in objects if o["kind"] == "PodDisruptionBudget"]
    hpas = {o["spec"]["scaleTargetRef"]["name"]: o for o in objects
            if o["kind"] == "HorizontalPodAutoscaler"}
    scaled = {o["spec"]["scaleTargetRef"]["name"]: o for o in objects if o["kind"] == "ScaledObject"}
    for d in (w for w in flotilla_workloads(objects) if w["kind"] == "Deployment"):
        name, labels = d["metadata"]["name"], _labels(d)
        if not any(_selects(p["spec"]["selector"].get("matchLabels", {}), labels) for p in pdbs):
            problems.append(f"{ref(d)}: no PodDisruptionBudget selects it")
        spread = pod_of(d).get("topologySpreadConstraints", [])
        if not any(s.get("topologyKey") == "kubernetes.io/hostname" for s in spread):
            problems.append(f"{ref(d)}: no topologySpreadConstraints over kubernetes.io/hostname")
        if labels.get(COMPONENT) == "worker":
            if name in hpas and name in scaled:
                problems.append(f"{ref(d)}: both an HPA and a ScaledObject scale it")
            continue
        hpa = hpas.get(name)
        if hpa is None:
            problems.append(f"{ref(d)}: no HorizontalPodAutoscaler")
        elif not any(m.get("resource", {}).get("name") == "cpu" for m in hpa["spec"].get("metrics", [])):
            problems.append(f"HorizontalPodAutoscaler/{name}: does not scale on CPU")
    return problems


def check_keda(objects: list[Obj]) -> list[str]:
    """With the keda component: every worker scales on its own queue's depth."""
    problems = []
    scaled = {o["spec"]["scaleTargetRef"]["name"]: o for o in objects if o["kind"] == "ScaledObject"}
    auths = {o["metadata"]["name"] for o in objects if o["kind"] == "TriggerAuthentication"}
    hpas = {o["spec"]["scaleTargetRef"]["name"] for o in objects if o["kind"] == "HorizontalPodAutoscaler"}
    deployments = {d["metadata"]["name"]: d for d in flotilla_workloads(objects)}
    for name, obj in scaled.items():
        if name not in deployments:
            problems.append(f"{ref(obj)}: scales Deployment/{name}, which does not exist")
    for name, d in deployments.items():
        if _labels(d).get(COMPONENT) != "worker":
            continue
        if name in hpas:
            problems.append(f"{ref(d)}: both an HPA and a ScaledObject scale it")
        obj = scaled.get(name)
        if obj is None:
            problems.append(f"{ref(d)}: no ScaledObject")
            continue
        queue = _labels(d)[NAME]
        triggers = [t for t in obj["spec"].get("triggers", []) if t.get("type") == "rabbitmq"]
        if not any(t.get("metadata", {}).get("queueName") == queue for t in triggers):
            problems.append(f"{ref(obj)}: no rabbitmq trigger on queue {queue!r}")
        for t in triggers:
            auth = t.get("authenticationRef", {}).get("name")
            if auth not in auths:
                problems.append(f"{ref(obj)}: TriggerAuthentication/{auth} does not exist")
        if not 1 <= obj["spec"].get("minReplicaCount", 0) <= obj["spec"].get("maxReplicaCount", 100):
            problems.append(f"{ref(obj)}: needs 1 <= minReplicaCount <= maxReplicaCount")
    return problems


# --- network -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Peer:
    """A pod that sends or receives: a Flotilla workload, Prometheus, or the outside."""

    name: str
    labels: tuple[tuple[str, str], ...]
    same_namespace: bool = True
    external: bool = False

    def matches(self, peer: Obj) -> bool:
        if "ipBlock" in peer:
            return self.external
        if self.external:
            return False
        if "namespaceSelector" not in peer and not self.same_namespace:
            return False
        ns = peer.get("namespaceSelector")
        if ns is not None and ns.get("matchLabels") and not self.same_namespace:
            return False  # only "any namespace" ({}) is used for Prometheus
        return _selects(peer.get("podSelector", {}).get("matchLabels", {}), dict(self.labels))


OUTSIDE = Peer("outside", (), same_namespace=False, external=True)
PROMETHEUS_PEER = Peer("prometheus", tuple(PROMETHEUS.items()), same_namespace=False)


def _ports_match(rule: Obj, port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port for p in ports)


def _allowed(policies: list[Obj], kind: str, subject: Peer, other: Peer, port: int) -> bool:
    """Does some policy selecting ``subject`` allow ``kind`` (ingress/egress) with ``other``?
    A subject no policy of that type selects is open; default-deny selects every pod."""
    key, peers_key = ("ingress", "from") if kind == "Ingress" else ("egress", "to")
    selecting = [p for p in policies if kind in p["spec"].get("policyTypes", ["Ingress"])
                 and _selects(p["spec"]["podSelector"].get("matchLabels", {}), dict(subject.labels))]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(key, []):
            peers = rule.get(peers_key)
            if (not peers or any(other.matches(p) for p in peers)) and _ports_match(rule, port):
                return True
    return False


def _workload_peers(objects: list[Obj]) -> dict[str, tuple[Peer, set[int]]]:
    found = {}
    for w in flotilla_workloads(objects):
        ports = {p["containerPort"] for c in pod_of(w)["containers"] for p in c.get("ports", [])}
        found[w["metadata"]["name"]] = (Peer(w["metadata"]["name"], tuple(sorted(_labels(w).items()))),
                                        ports)
    return found


def expected_paths() -> set[tuple[str, str, int]]:
    """Exactly who talks to whom on which port, inside the namespace and from outside."""
    paths = {("outside", "edge", 8000), ("prometheus", "edge", 8000),  # the edge is public
             ("edge", "gateway", 8080),
             ("catalog-api", "users-api", 8081), ("orders-api", "users-api", 8081),
             ("orders-api", "catalog-api", 8082), ("prometheus", "gateway", 8080)}
    for svc, port in SERVICE_PORTS.items():
        paths |= {("gateway", f"{svc}-api", port), ("prometheus", f"{svc}-api", port),
                  ("prometheus", f"{svc}-worker", 9000)}
    return paths


#: Outside the namespace, by port: each service's database and RabbitMQ, the gateway's Redis.
EXPECTED_EGRESS = {**{f"{svc}-{role}": {5432, 5672} for svc in SERVICE_PORTS for role in ("api", "worker")},
                   **{f"{svc}-migrate": {5432} for svc in SERVICE_PORTS},
                   "gateway": {6379}, "edge": set()}


def check_network_policies(objects: list[Obj]) -> list[str]:
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    problems = []
    deny = [p for p in policies if p["spec"]["podSelector"] == {}
            and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
            and not p["spec"].get("ingress") and not p["spec"].get("egress")]
    if not deny:
        problems.append("no default-deny NetworkPolicy (podSelector {}, Ingress and Egress, no rules)")
    dns = [p for p in policies if p["spec"]["podSelector"] == {} and any(
        {q.get("port") for q in rule.get("ports", [])} == {53} for rule in p["spec"].get("egress", []))]
    if not dns:
        problems.append("no NetworkPolicy lets every pod reach DNS (port 53)")
    for p in policies:
        if p["spec"]["podSelector"] == {} and p not in deny and p not in dns:
            problems.append(f"{ref(p)}: selects every pod and allows more than DNS")
    workloads = _workload_peers(objects)
    peers = {name: peer for name, (peer, _) in workloads.items()}
    peers |= {"outside": OUTSIDE, "prometheus": PROMETHEUS_PEER}
    actual = set()
    for src_name, src in peers.items():
        for dst_name, (dst, ports) in workloads.items():
            for port in ports:
                ingress_ok = _allowed(policies, "Ingress", dst, src, port)
                egress_ok = src_name in ("outside", "prometheus") or _allowed(
                    policies, "Egress", src, dst, port)
                if ingress_ok and egress_ok and src_name != dst_name:
                    actual.add((src_name, dst_name, port))
    wanted = {p for p in expected_paths() if p[1] in workloads}
    for src, dst, port in sorted(actual - wanted):
        problems.append(f"NetworkPolicy: {src} may reach Deployment/{dst} on port {port}, "
                        "which nothing needs")
    for src, dst, port in sorted(wanted - actual):
        problems.append(f"NetworkPolicy: {src} cannot reach Deployment/{dst} on port {port}")
    for name, (peer, _) in workloads.items():
        for port in (5432, 5672, 6379, 443, 80):
            allowed = _allowed(policies, "Egress", peer, OUTSIDE, port)
            if allowed != (port in EXPECTED_EGRESS.get(name, set())):
                problems.append(f"Deployment/{name}: egress outside on port {port} is "
                                f"{'allowed' if allowed else 'denied'}")
    return problems


def check_migrations(objects: list[Obj]) -> list[str]:
    """Each service migrates once per release, in its Job; no api or worker replica migrates."""
    problems = []
    jobs = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Job"}
    for w in flotilla_workloads(objects):
        if w["kind"] != "Deployment" or _labels(w).get(COMPONENT) not in ("api", "worker"):
            continue
        env = {e["name"]: e.get("value") for e in pod_of(w)["containers"][0].get("env", [])}
        if env.get("MIGRATE_ON_START") != "0":
            problems.append(f"{ref(w)}: every replica migrates at start (MIGRATE_ON_START is not 0)")
        svc = _labels(w)[NAME]
        job = jobs.get(f"{svc}-migrate")
        if job is None:
            problems.append(f"{ref(w)}: no Job/{svc}-migrate runs its migrations")
        elif pod_of(job)["containers"][0].get("args") != ["migrate"]:
            problems.append(f"{ref(job)}: does not run `migrate`")
    return problems


CHECKS = {"schema": check_schema, "namespace": check_namespace, "restricted": check_restricted_pods,
          "service-accounts": check_service_accounts, "availability": check_availability,
          "network": check_network_policies, "keda": check_keda, "migrations": check_migrations}

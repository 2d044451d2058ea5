#!/usr/bin/env python3
"""Checks every manifest and config under deploy/ without a cluster.

kubectl's server-side dry run proves each object is valid on its own; it cannot see whether the
demo cluster hangs together (an endpoint outside its node's podCIDR, a named targetPort no Pod
declares, a slice whose Service does not exist). Tests and `make run` rely on those relations, so
this script checks them, plus the RBAC rules and the three config files.

Usage: python3 deploy/check.py   (exit status 1 and one line per problem on failure)
Needs PyYAML (Debian: python3-yaml).
"""

import ipaddress
import json
import pathlib
import re
import sys

import yaml

DEPLOY = pathlib.Path(__file__).resolve().parent
DEMO = DEPLOY / "examples" / "demo-cluster"
SERVICE_CIDRS = [ipaddress.ip_network("10.96.0.0/16"), ipaddress.ip_network("fd00:10:96::/112")]
NODE_PORT_RANGE = range(30000, 32768)
CLUSTER_SCOPED = {"Node", "Namespace"}
BUILTIN_NAMESPACES = {"default", "kube-system"}
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
IANA_SVC_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9]([a-z0-9]|-(?!-))*[a-z0-9]$|^[a-z]$")
DNS_KEYS = {"zone", "listen", "ttl", "podRecords", "serverSideSearch", "resolvConf", "upstreams",
            "recursionAllowedCIDRs", "cacheSize"}
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"

# system:node-proxier, as kube-apiserver's bootstrap policy defines it, plus kproxy's one extra rule.
EXPECTED_RULES = {
    ("", "endpoints", "list"), ("", "endpoints", "watch"),
    ("", "services", "list"), ("", "services", "watch"),
    ("", "nodes", "get"), ("", "nodes", "list"), ("", "nodes", "watch"),
    ("", "events", "create"), ("", "events", "patch"), ("", "events", "update"),
    ("events.k8s.io", "events", "create"), ("events.k8s.io", "events", "patch"),
    ("events.k8s.io", "events", "update"),
    ("discovery.k8s.io", "endpointslices", "list"), ("discovery.k8s.io", "endpointslices", "watch"),
    ("", "pods", "get"), ("", "pods", "list"), ("", "pods", "watch"),
}

problems = []


def problem(where, message):
    problems.append(f"{where}: {message}")


def load(path):
    """All documents of a YAML or JSON file, `List` kinds expanded, each tagged with its file."""
    text = path.read_text()
    docs = [json.loads(text)] if path.suffix == ".json" else list(yaml.safe_load_all(text))
    out = []
    for doc in docs:
        if doc is None:
            continue
        if doc.get("kind", "").endswith("List"):
            out.extend((path.name, item) for item in doc.get("items") or [])
        else:
            out.append((path.name, doc))
    return out


def ref(obj):
    meta = obj.get("metadata", {})
    ns = meta.get("namespace")
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{meta.get('name')}"


def ip(text):
    return ipaddress.ip_address(text)


def in_any(address, networks):
    return any(address.version == n.version and address in n for n in networks)


def check_syntax():
    """Every YAML/JSON file under deploy/ parses; returns nothing, records problems."""
    for path in sorted(DEPLOY.rglob("*")):
        if path.suffix not in (".yaml", ".yml", ".json"):
            continue
        try:
            load(path)
        except (yaml.YAMLError, json.JSONDecodeError, AttributeError) as error:
            problem(path.relative_to(DEPLOY), f"does not parse: {error}")


def index_demo():
    objects = {}
    for path in sorted(DEMO.iterdir()):
        for file, obj in load(path):
            where = f"{file}: {ref(obj)}"
            for key in ("apiVersion", "kind"):
                if not obj.get(key):
                    problem(where, f"missing {key}")
            meta = obj.get("metadata") or {}
            if not meta.get("name"):
                problem(where, "missing metadata.name")
            if obj.get("kind") not in CLUSTER_SCOPED and not meta.get("namespace"):
                problem(where, "namespaced object without metadata.namespace")
            key = (obj.get("kind"), meta.get("namespace"), meta.get("name"))
            if key in objects:
                problem(where, "defined twice")
            objects[key] = (where, obj)
    return objects


def of_kind(objects, kind):
    return [(k, v) for k, v in objects.items() if k[0] == kind]


def check_nodes(objects):
    nodes = {}
    for (_, _, name), (where, node) in of_kind(objects, "Node"):
        spec, labels = node.get("spec", {}), node["metadata"].get("labels", {})
        cidrs = [ipaddress.ip_network(c) for c in spec.get("podCIDRs", [])]
        if spec.get("podCIDR") != spec.get("podCIDRs", [None])[0]:
            problem(where, "podCIDR is not podCIDRs[0]")
        if labels.get("kubernetes.io/hostname") != name:
            problem(where, "label kubernetes.io/hostname differs from the name")
        internal = [ip(a["address"]) for a in node.get("status", {}).get("addresses", [])
                    if a["type"] == "InternalIP"]
        if not internal:
            problem(where, "no InternalIP")
        nodes[name] = {"cidrs": cidrs, "zone": labels.get("topology.kubernetes.io/zone"),
                       "ips": internal}
    return nodes


def check_pods(objects, nodes):
    pods, seen_ips = {}, {}
    for (_, ns, name), (where, pod) in of_kind(objects, "Pod"):
        spec, status = pod["spec"], pod.get("status", {})
        node = nodes.get(spec.get("nodeName"))
        if node is None:
            problem(where, f"nodeName {spec.get('nodeName')!r} is not a demo Node")
            continue
        ips = [ip(p["ip"]) for p in status.get("podIPs", [])]
        if not ips or str(ips[0]) != status.get("podIP"):
            problem(where, "podIP is not podIPs[0]")
        if ip(status.get("hostIP")) not in node["ips"]:
            problem(where, "hostIP is not an InternalIP of its node")
        for address in ips:
            if spec.get("hostNetwork"):
                if address not in node["ips"]:
                    problem(where, f"hostNetwork Pod IP {address} is not its node's")
                continue
            if not in_any(address, node["cidrs"]):
                problem(where, f"{address} outside {spec['nodeName']}'s podCIDRs")
            if address in seen_ips:
                problem(where, f"{address} also belongs to {seen_ips[address]}")
            seen_ips[address] = where
        ports = {p["name"]: (p["containerPort"], p.get("protocol", "TCP"))
                 for c in spec["containers"] for p in c.get("ports", []) if p.get("name")}
        pods[(ns, name)] = {"pod": pod, "ips": ips, "ports": ports}
    return pods


def check_services(objects):
    seen_ips, seen_node_ports = {}, {}
    for (_, ns, name), (where, svc) in of_kind(objects, "Service"):
        if ns not in BUILTIN_NAMESPACES and ("Namespace", None, ns) not in objects:
            problem(where, f"namespace {ns} has no Namespace object")
        spec = svc["spec"]
        kind = spec.get("type", "ClusterIP")
        if kind == "ExternalName":
            if spec.get("clusterIP") or not spec.get("externalName"):
                problem(where, "ExternalName needs externalName and no clusterIP")
            continue
        ips = spec.get("clusterIPs", [])
        if not ips or ips[0] != spec.get("clusterIP"):
            problem(where, "clusterIP is not clusterIPs[0]")
        for text in ips:
            if text == "None":
                continue
            if not in_any(ip(text), SERVICE_CIDRS):
                problem(where, f"ClusterIP {text} outside the service CIDRs")
            if text in seen_ips:
                problem(where, f"ClusterIP {text} also used by {seen_ips[text]}")
            seen_ips[text] = where
        if len(ips) == 2 and spec.get("ipFamilyPolicy") == "SingleStack":
            problem(where, "two clusterIPs on a SingleStack Service")
        names = [p.get("name", "") for p in spec.get("ports", [])]
        if len(set(names)) != len(names):
            problem(where, "duplicate port names")
        for port in spec.get("ports", []):
            if not DNS_LABEL.match(port.get("name", "x")):
                problem(where, f"port name {port.get('name')!r} is not a DNS label")
            target = port.get("targetPort")
            if isinstance(target, str) and not IANA_SVC_NAME.match(target):
                problem(where, f"targetPort {target!r} is not an IANA service name")
            node_ports = [port.get("nodePort")] if "nodePort" in port else []
            if kind in ("NodePort", "LoadBalancer") and not node_ports:
                problem(where, f"port {port.get('name')} has no fixed nodePort")
            for np in node_ports:
                if np not in NODE_PORT_RANGE or np in seen_node_ports:
                    problem(where, f"nodePort {np} out of range or reused")
                seen_node_ports[np] = where
        hc = spec.get("healthCheckNodePort")
        if hc is not None:
            if spec.get("externalTrafficPolicy") != "Local" or kind != "LoadBalancer":
                problem(where, "healthCheckNodePort without a Local LoadBalancer")
            if hc not in NODE_PORT_RANGE or hc in seen_node_ports:
                problem(where, f"healthCheckNodePort {hc} out of range or reused")
            seen_node_ports[hc] = where


def endpoint_node_and_zone(where, version, endpoint):
    """(nodeName, zone) of an endpoint, from the fields its API version has."""
    if version == "discovery.k8s.io/v1beta1":
        # kube-apiserver 1.20 (the test server) knows v1beta1 nodeName only behind a feature gate,
        # and hints not at all; zone and deprecatedTopology are v1 names.
        for field in ("nodeName", "zone", "hints", "deprecatedTopology"):
            if field in endpoint:
                problem(where, f"v1beta1 endpoint has {field}: keep node and zone in topology")
        topology = endpoint.get("topology", {})
        return topology.get("kubernetes.io/hostname"), topology.get("topology.kubernetes.io/zone")
    if "topology" in endpoint:
        problem(where, "v1 endpoint has topology (v1 names it deprecatedTopology)")
    return endpoint.get("nodeName"), endpoint.get("zone")


def check_slices(objects, nodes, pods):
    sliced_pods = {}
    for (_, ns, name), (where, es) in of_kind(objects, "EndpointSlice"):
        version = es["apiVersion"]
        svc_name = es["metadata"].get("labels", {}).get("kubernetes.io/service-name")
        found = objects.get(("Service", ns, svc_name))
        if found is None:
            problem(where, f"label kubernetes.io/service-name={svc_name!r} names no Service")
            continue
        svc = found[1]
        family = {"IPv4": 4, "IPv6": 6}[es["addressType"]]
        svc_ports = {p.get("name", ""): p for p in svc["spec"].get("ports", [])}
        headless = svc["spec"].get("clusterIP") == "None"
        if headless != ("service.kubernetes.io/headless" in es["metadata"].get("labels", {})):
            problem(where, "service.kubernetes.io/headless label disagrees with the Service")
        for port in es.get("ports") or []:
            sp = svc_ports.get(port.get("name", ""))
            if sp is None or sp.get("protocol", "TCP") != port.get("protocol"):
                problem(where, f"slice port {port.get('name')!r} matches no Service port")
            elif isinstance(sp.get("targetPort"), int) and sp["targetPort"] != port["port"]:
                problem(where, f"slice port {port['name']} is not targetPort {sp['targetPort']}")
        for endpoint in es.get("endpoints") or []:
            addresses = [ip(a) for a in endpoint["addresses"]]
            if any(a.version != family for a in addresses):
                problem(where, f"{endpoint['addresses']} do not match addressType")
            node_name, zone = endpoint_node_and_zone(where, version, endpoint)
            target = endpoint.get("targetRef")
            if target is None:
                if (ns, svc_name) != ("default", "kubernetes"):
                    problem(where, f"{endpoint['addresses']} has no targetRef")
                elif not all(any(a in n["ips"] for n in nodes.values()) for a in addresses):
                    problem(where, "the API server endpoint is not a node's InternalIP")
                continue
            node = nodes.get(node_name)
            if node is None or zone != node["zone"]:
                problem(where, f"node {node_name!r}/zone {zone!r} is not a demo node and its zone")
                continue
            for address in addresses:
                if not in_any(address, node["cidrs"]):
                    problem(where, f"{address} outside {node_name}'s podCIDRs")
            for hint in endpoint.get("hints", {}).get("forZones", []):
                if hint["name"] not in {n["zone"] for n in nodes.values()}:
                    problem(where, f"hint for unknown zone {hint['name']}")
            cond = endpoint.get("conditions", {})
            if cond.get("terminating") and cond.get("ready"):
                problem(where, "an endpoint cannot be ready and terminating")
            pod = pods.get((target.get("namespace"), target.get("name")))
            if target.get("kind") != "Pod" or target.get("namespace") != ns or pod is None:
                problem(where, f"targetRef {target} is not a demo Pod in {ns}")
                continue
            sliced_pods.setdefault((ns, svc_name), set()).add(target["name"])
            if pod["pod"]["spec"]["nodeName"] != node_name:
                problem(where, f"{target['name']} runs on {pod['pod']['spec']['nodeName']}")
            if not set(addresses) <= set(pod["ips"]):
                problem(where, f"{endpoint['addresses']} are not IPs of Pod {target['name']}")
            if "hostname" in endpoint and endpoint["hostname"] != pod["pod"]["spec"].get("hostname"):
                problem(where, f"hostname {endpoint['hostname']} is not the Pod's")
            for port in es.get("ports") or []:
                target_port = svc_ports[port.get("name", "")].get("targetPort")
                if isinstance(target_port, str):
                    declared = pod["ports"].get(target_port)
                    if declared != (port["port"], port["protocol"]):
                        problem(where, f"Pod {target['name']} declares {target_port}={declared}, "
                                       f"slice says {port['port']}/{port['protocol']}")
    return sliced_pods


def check_selectors(objects, sliced_pods):
    """Every Pod a Service selects is in its slices, and nothing else is."""
    for (_, ns, name), (where, svc) in of_kind(objects, "Service"):
        selector = svc["spec"].get("selector")
        if not selector:
            continue
        selected = {pname for (_, pns, pname), (_, pod) in of_kind(objects, "Pod")
                    if pns == ns and selector.items() <= pod["metadata"].get("labels", {}).items()}
        if selected != sliced_pods.get((ns, name), set()):
            problem(where, f"selects {sorted(selected)}, slices list "
                           f"{sorted(sliced_pods.get((ns, name), set()))}")
        has_slice = any(es["metadata"].get("labels", {}).get("kubernetes.io/service-name") == name
                        for (_, sns, _), (_, es) in of_kind(objects, "EndpointSlice") if sns == ns)
        if not has_slice:
            problem(where, "has a selector but no EndpointSlice")


def check_proxy_config(where, config, in_cluster):
    if (config.get("apiVersion"), config.get("kind")) != (
            "kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration"):
        problem(where, "not a kubeproxy.config.k8s.io/v1alpha1 KubeProxyConfiguration")
    if config.get("mode") != "nftables" or config.get("detectLocalMode") != "ClusterCIDR":
        problem(where, "mode must be nftables and detectLocalMode ClusterCIDR")
    nft = config.get("nftables", {})
    if nft.get("masqueradeBit") != 14 or nft.get("masqueradeAll") is not False:
        problem(where, "nftables.masqueradeBit must be 14 and masqueradeAll false")
    for cidr in str(config.get("clusterCIDR", "")).split(","):
        ipaddress.ip_network(cidr)
    dns = config.get("dns", {})
    if set(dns) != DNS_KEYS:
        problem(where, f"dns keys differ: missing {DNS_KEYS - set(dns)}, extra {set(dns) - DNS_KEYS}")
    if dns.get("podRecords") not in ("insecure", "verified", "disabled"):
        problem(where, f"dns.podRecords {dns.get('podRecords')!r}")
    for cidr in dns.get("recursionAllowedCIDRs", []):
        ipaddress.ip_network(cidr)
    kubeconfig = config.get("clientConnection", {}).get("kubeconfig")
    if in_cluster and kubeconfig != "/var/lib/kproxy/kubeconfig.conf":
        problem(where, "clientConnection.kubeconfig must be the mounted kubeconfig.conf")


def check_deployment():
    docs = {ref(obj): obj for _, obj in load(DEPLOY / "rbac.yaml") + load(DEPLOY / "kproxy.yaml")}
    role = docs.get("ClusterRole kproxy", {})
    granted = {(group, resource, verb) for rule in role.get("rules", [])
               for group in rule.get("apiGroups", []) for resource in rule.get("resources", [])
               for verb in rule.get("verbs", [])}
    if granted != EXPECTED_RULES:
        problem("rbac.yaml", f"ClusterRole kproxy: missing {sorted(EXPECTED_RULES - granted)}, "
                             f"extra {sorted(granted - EXPECTED_RULES)}")
    binding = docs.get("ClusterRoleBinding kproxy", {})
    if binding.get("subjects") != [{"kind": "ServiceAccount", "name": "kproxy",
                                    "namespace": "kube-system"}]:
        problem("rbac.yaml", "ClusterRoleBinding kproxy must bind ServiceAccount kube-system/kproxy")
    user_binding = load(DEPLOY / "systemd" / "rbac-user.yaml")[0][1]
    if user_binding["roleRef"]["name"] != "kproxy":
        problem("systemd/rbac-user.yaml", "must bind ClusterRole kproxy")
    data = docs.get("ConfigMap kube-system/kproxy", {}).get("data", {})
    check_proxy_config("kproxy.yaml ConfigMap config.yaml", yaml.safe_load(data["config.yaml"]),
                       in_cluster=True)
    kubeconfig = yaml.safe_load(data["kubeconfig.conf"])
    if (kubeconfig["clusters"][0]["cluster"].get("certificate-authority") != f"{SA_DIR}/ca.crt"
            or kubeconfig["users"][0]["user"].get("tokenFile") != f"{SA_DIR}/token"):
        problem("kproxy.yaml", "kubeconfig.conf must use the ServiceAccount's ca.crt and token")
    check_proxy_config("systemd/config.yaml", yaml.safe_load((DEPLOY / "systemd" / "config.yaml").read_text()),
                       in_cluster=False)
    demo = yaml.safe_load((DEPLOY / "examples" / "demo-config.yaml").read_text())
    check_proxy_config("examples/demo-config.yaml", demo, in_cluster=False)
    if demo.get("hostnameOverride") != "node-a":
        problem("examples/demo-config.yaml", "hostnameOverride must be node-a")


def main():
    check_syntax()
    if problems:
        print("\n".join(problems))
        return 1
    objects = index_demo()
    nodes = check_nodes(objects)
    pods = check_pods(objects, nodes)
    check_services(objects)
    check_selectors(objects, check_slices(objects, nodes, pods))
    check_deployment()
    if problems:
        print("\n".join(problems))
        return 1
    kinds = sorted({k[0] for k in objects})
    print(f"ok: {len(objects)} demo objects ({', '.join(kinds)}), RBAC and configs consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())

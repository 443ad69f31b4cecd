"""Kubernetes manifests for a site (pure: renders YAML from the site and its key folder).

For each host: a StatefulSet of one pod (a stable name and a volume of its own, so
durable State and snapshots stay with the host) placed by node selection
(``enlil.io/host=<host>`` on the nodes meant for it), and a Service that gives its
broker's link port and its supervisor's control port a stable DNS name. The
site's config goes in a ConfigMap, rewritten so that each host's address is its
Service's name and the run folder is the pod's volume; the key folder goes in a
Secret, copied into the volume (owner-only) by an init container, because the
supervisor makes the actors' keys at start. Readiness is the ready file the
supervisor writes once every actor that starts with the site runs
(:mod:`supervisor.notify`); liveness asks the supervisor for its status.
"""

from __future__ import annotations

import base64
import json
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

from actors.site import SiteConfig
from supervisor.deploy.container import SITE, UID

CONFIG_DIR = "/etc/enlil"
RUN = f"{SITE}/run"
KEYS = f"{RUN}/keys"
SECRET_DIR = "/etc/enlil-keys"
_CTL = ("python", "-m", "supervisor", "ctl", "--timeout", "5")


def manifests(site: SiteConfig, image: str, keys: dict[str, bytes]) -> str:
    """Every manifest of *site* as one YAML stream: *image* is the image of
    :mod:`~supervisor.deploy.container`, *keys* the key folder's files (path -> bytes)."""
    name = f"enlil-{site.site.name}"
    hosts = list(site.hosts) or [""]
    docs: list[dict[str, Any]] = [_config_map(site, name), _secret(name, keys)]
    for host in hosts:
        docs += [_service(site, name, host), _stateful_set(site, name, host, image)]
    return "".join(f"---\n{to_yaml(d)}" for d in docs)


def _labels(name: str, host: str) -> dict[str, str]:
    out = {"app.kubernetes.io/name": "enlil", "app.kubernetes.io/instance": name}
    return {**out, "enlil.io/host": host} if host else out


def _object(kind: str, version: str, name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": version, "kind": kind, "metadata": {"name": name, "labels": labels}}


def _config(site: SiteConfig, name: str) -> str:
    """site.toml as the pods read it: each host at its Service's name, the run folder and
    the keys in the pod's volume, actor modules from the image's site folder."""
    data = tomllib.loads(site.path.read_text(encoding="utf-8"))
    data.setdefault("site", {})
    data["site"]["run_dir"] = RUN
    data["site"]["python_path"] = [SITE, *data["site"].get("python_path", [])]
    data.setdefault("security", {})["keys"] = KEYS
    for host, table in data.get("hosts", {}).items():
        table["address"] = f"{name}-{host}"
    return tomli_w.dumps(data)


def _config_map(site: SiteConfig, name: str) -> dict[str, Any]:
    out = _object("ConfigMap", "v1", f"{name}-config", _labels(name, ""))
    out["data"] = {"site.toml": _config(site, name)}
    return out


def _secret_key(path: str) -> str:
    return path.replace("/", "__")


def _secret(name: str, keys: dict[str, bytes]) -> dict[str, Any]:
    out = _object("Secret", "v1", f"{name}-keys", _labels(name, ""))
    out["type"] = "Opaque"
    out["data"] = {_secret_key(p): base64.b64encode(b).decode() for p, b in sorted(keys.items())}
    return out


def _ports(site: SiteConfig, host: str) -> list[dict[str, Any]]:
    if not host:
        return []
    h = site.hosts[host]
    return [
        {"name": "link", "port": h.port, "targetPort": h.port, "protocol": "TCP"},
        {"name": "control", "port": h.control_port, "targetPort": h.control_port},
    ]


def _service(site: SiteConfig, name: str, host: str) -> dict[str, Any]:
    full = f"{name}-{host}" if host else name
    out = _object("Service", "v1", full, _labels(name, host))
    ports = _ports(site, host)
    out["spec"] = {
        "selector": _labels(name, host),
        # A headless Service when the site has no port to give (one host, ipc only).
        **({"ports": ports} if ports else {"clusterIP": "None"}),
    }
    return out


def _stateful_set(site: SiteConfig, name: str, host: str, image: str) -> dict[str, Any]:
    full = f"{name}-{host}" if host else name
    labels = _labels(name, host)
    config = f"{CONFIG_DIR}/site.toml"
    host_args = ["--host", host] if host else []
    ready = f"import glob, sys; sys.exit(not glob.glob('{RUN}/ready') + glob.glob('{RUN}/*/ready'))"
    secure = {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    mounts = [
        {"name": "run", "mountPath": RUN},
        {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
    ]
    container = {
        "name": "supervisor",
        "image": image,
        "args": ["--config", config, *host_args],
        "ports": [
            {"name": p["name"], "containerPort": p["port"], "protocol": "TCP"}
            for p in _ports(site, host)
        ],
        "readinessProbe": {
            "exec": {"command": ["python", "-c", ready]},
            "periodSeconds": 5,
            "failureThreshold": 1,
        },
        "livenessProbe": {
            "exec": {"command": [*_CTL, "status", "--config", config, *host_args]},
            "initialDelaySeconds": 30,
            "periodSeconds": 20,
            "timeoutSeconds": 10,
            "failureThreshold": 3,
        },
        "volumeMounts": mounts,
        "securityContext": secure,
    }
    init = {
        "name": "keys",
        "image": image,
        "command": ["python", "-m", "supervisor.deploy.install_keys", SECRET_DIR, KEYS],
        "volumeMounts": [
            {"name": "run", "mountPath": RUN},
            {"name": "keys", "mountPath": SECRET_DIR, "readOnly": True},
        ],
        "securityContext": secure,
    }
    pod: dict[str, Any] = {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "terminationGracePeriodSeconds": int(site.supervisor.stop_timeout + 15),
        "initContainers": [init],
        "containers": [container],
        "volumes": [
            {"name": "config", "configMap": {"name": f"{name}-config"}},
            {"name": "keys", "secret": {"secretName": f"{name}-keys", "defaultMode": 0o400}},
        ],
    }
    if host:
        pod["nodeSelector"] = {"enlil.io/host": host}
    out = _object("StatefulSet", "apps/v1", full, labels)
    out["spec"] = {
        "replicas": 1,
        "serviceName": full,
        "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": pod},
        "volumeClaimTemplates": [
            {
                "metadata": {"name": "run"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ],
    }
    return out


def to_yaml(value: Any, indent: int = 0) -> str:
    """*value* (maps, lists, text, numbers, booleans) as block YAML; text is written as
    JSON strings, which YAML reads as they are."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return "{}\n"
        out = []
        for key, item in value.items():
            head = f"{pad}{json.dumps(str(key))}:"
            if isinstance(item, dict | list) and item:
                out.append(f"{head}\n{to_yaml(item, indent + 2)}")
            else:
                out.append(f"{head} {_scalar(item)}\n")
        return "".join(out)
    if isinstance(value, list):
        if not value:
            return "[]\n"
        out = []
        for item in value:
            if isinstance(item, dict | list) and item:
                body = to_yaml(item, indent + 2)
                out.append(f"{pad}- {body[indent + 2 :]}")
            else:
                out.append(f"{pad}- {_scalar(item)}\n")
        return "".join(out)
    return f"{pad}{_scalar(value)}\n"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(str(value))


def key_files(folder: Path) -> dict[str, bytes]:
    """The key folder's files that pods need (not the revoked ones), by relative path."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and rel.parts[0] != "revoked":
            out[str(rel)] = path.read_bytes()
    return out

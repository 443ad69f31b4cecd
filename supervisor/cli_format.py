"""How ``ctl`` prints replies for people: status tables, calls, durable State (pure)."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from actors.sockets import AuthenticationFailed


def format_state(record: dict[str, Any]) -> str:
    """An actor's stored durable State for people."""
    if record.get("values") is None:
        return f"{record['actor']}: no durable State stored"
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record["written"]))
    head = f"{record['actor']}: written {when} by version {record['version']}"
    return "\n".join(
        [head, *(f"  {k} = {json.dumps(v)}" for k, v in sorted(record["values"].items()))]
    )


def format_status(status: dict[str, Any]) -> str:
    """A table of the ``status`` reply for people."""
    lines = []
    if "site" in status:
        sup = status["supervisor"]
        lines.append(
            f"site {status['site']}  supervisor pid {sup['pid']}  {sup['state']}  "
            f"up {sup['uptime']:.0f}s  config {status.get('config_etag', '-')}"
        )
    lines.append(
        f"{'NAME':16} {'STATE':9} {'PID':>8} {'RESTARTS':>8} {'UPTIME':>9}  {'ETAG':12}  LAST EXIT"
    )
    for a in status["actors"]:
        uptime = f"{a['uptime']:.1f}s" if a["uptime"] is not None else "-"
        lines.append(
            f"{a['name']:16} {a['state']:9} {a['pid'] or '-':>8} {a['restarts']:>8} "
            f"{uptime:>9}  {a.get('etag') or '-':12}  {a['last_exit'] or '-'}"
        )
        lines += _call_lines(a.get("calls"))
    if status.get("host"):
        lines += _host_lines(status)
    return "\n".join(lines)


def _host_lines(status: dict[str, Any]) -> list[str]:
    """A site of several hosts: the other hosts' actors (as their reports say) and each
    host's link and clock, seen from this one."""
    lines = [f"this host: {status['host']}"]
    for host, h in sorted(status.get("hosts", {}).items()):
        skew = f"{h['skew_s'] * 1000:+.1f} ms" if h.get("skew_s") is not None else "-"
        age = f"{h['reported_age']:.1f}s ago" if h.get("reported_age") is not None else "never"
        lines.append(
            f"host {host:12} {h.get('address', ''):20} link {h.get('link', '?'):6} "
            f"reported {age:12} clock {skew}"
        )
    rows = status.get("elsewhere", [])
    if rows:
        lines.append(f"{'NAME':16} {'HOST':10} {'STATE':9} {'PID':>8} {'RESTARTS':>8}")
        for a in rows:
            lines.append(
                f"{a['name']:16} {a['host']:10} {a['state']:9} {a['pid'] or '-':>8} "
                f"{a['restarts']:>8}"
            )
    return lines


def _call_lines(report: Any) -> list[str]:
    """An actor's calls and services, one indented line each (from its heartbeat)."""
    if not isinstance(report, dict):
        return []
    out = []
    for name, c in sorted((report.get("calls") or {}).items()):
        if isinstance(c, dict):
            breaker = f", breaker {c['breaker']}" if "breaker" in c else ""
            out.append(
                f"    call {name} -> {c.get('service')}: {c.get('ok', 0)} ok, "
                f"{c.get('failed', 0)} failed, {c.get('retries', 0)} retries, "
                f"{c.get('timeouts', 0)} timeouts, {c.get('late', 0)} late{breaker}"
            )
    for name, c in sorted((report.get("services") or {}).items()):
        if isinstance(c, dict):
            out.append(
                f"    serves {name}: {c.get('requests', 0)} requests, "
                f"{c.get('replied', 0)} replied, {c.get('errors', 0)} errors, "
                f"{c.get('expired', 0)} expired, {c.get('cached', 0)} from the cache"
            )
    return out


def jsonable(value: Any) -> Any:
    """*value* as JSON can hold it (bytes as ``{"base64": ...}``, keys as text)."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


#: Exit code when the site is not there (sysexits' EX_UNAVAILABLE).
EXIT_UNAVAILABLE = 69


def unreachable_exit(exc: BaseException) -> int:
    """The exit code for a site that did not answer: 77 when it refused the key
    (``authentication failed``), else 69."""
    return AuthenticationFailed.EXIT if isinstance(exc, AuthenticationFailed) else EXIT_UNAVAILABLE


#: Exit code of a request the site refuses (sysexits' EX_NOPERM), as for a refused key.
EXIT_FORBIDDEN = 77

"""A systemd unit for each host of a site (pure: renders text).

The supervisor speaks systemd's notify protocol (:mod:`supervisor.notify`): the
unit is ``Type=notify``, so ``systemctl start`` returns once every actor that
starts with the site runs, and ``WatchdogSec`` has the supervisor's loop ping
systemd (a stuck loop is killed and restarted). Its actors die with it (they
watch their parent), and ``KillMode=mixed`` sends the final SIGKILL to any left.
The hardening keeps the process to the site's folders: the file system is
read-only but for its run, snapshot and state folders.
"""

from __future__ import annotations

import sys
from pathlib import Path

from actors.site import SiteConfig

#: Seconds between two watchdog pings systemd waits for, at most (the loop pings at half).
WATCHDOG_SEC = 30


def unit_name(site: SiteConfig) -> str:
    """The unit's file name: ``enlil-<site>[-<host>].service``."""
    return f"enlil-{site.site.name}{'-' + site.host if site.host else ''}.service"


def unit(site: SiteConfig, user: str, python: str = sys.executable) -> str:
    """The unit of the host *site* is the view of (its only host, on a site of one), run
    as *user*."""
    config, host = site.path, site.host
    writable = sorted(
        {
            str(p)
            for p in (
                site.site.run_dir,
                site.snapshots.dir,
                site.persistence.path.parent,
                site.security.keys,
            )
        }
    )
    start = max(60, int(site.supervisor.ready_timeout * 2 + 30))
    stop = int(site.supervisor.stop_timeout + 15)
    host_arg = f" --host {host}" if host else ""
    where = f", host {host}" if host else ""
    lines = [
        "[Unit]",
        f"Description=enlil site {site.site.name}{where}",
        "Wants=network-online.target",
        "After=network-online.target",
        # Past five failed starts in five minutes systemd stops trying (and says so).
        "StartLimitIntervalSec=300",
        "StartLimitBurst=5",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={python} -m supervisor --config {config}{host_arg}",
        f"WorkingDirectory={config.parent}",
        f"User={user}",
        "Restart=on-failure",
        "RestartSec=2",
        f"TimeoutStartSec={start}",
        f"TimeoutStopSec={stop}",
        f"WatchdogSec={WATCHDOG_SEC}",
        "KillMode=mixed",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectSystem=strict",
        f"ReadWritePaths={' '.join(writable)}",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "RestrictSUIDSGID=yes",
        "RestrictRealtime=yes",
        "LockPersonality=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "CapabilityBoundingSet=",
        "SystemCallArchitectures=native",
        # Serial devices stay reachable for the HAL actors; nothing else of /dev.
        "DevicePolicy=closed",
        "DeviceAllow=char-ttyS rw",
        "DeviceAllow=char-ttyUSB rw",
        "DeviceAllow=char-ttyACM rw",
        "DeviceAllow=/dev/ptmx rw",
        "DeviceAllow=char-pts rw",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def units(views: list[SiteConfig], user: str) -> dict[Path, str]:
    """File name -> text of the unit of each host (*views*: the site as each sees it)."""
    return {Path(unit_name(v)): unit(v, user) for v in views}

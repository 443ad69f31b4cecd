"""The supervisor's part of a secured site: keys, who may ask what, the access table (shell).

* At start the key folder is made ready (``keys init`` if it never was) and
  every actor gets its key pair (:meth:`SiteSecurity.prepare`); an actor's
  pair goes to its process at spawn through the zygote's pipe or the plain
  process's standard input, never through argv or the environment.
* The control endpoint is a CURVE server with a ZAP handler of its own; each
  request carries its sender's identity, and :meth:`SiteSecurity.authorize`
  holds the op against the identity's role (:data:`OP_ROLES`).
* On a checked site the broker gets the access table from here on
  ``$sys.access`` (:meth:`SiteSecurity.table`): the actors' rights from their
  declarations, as the inspector found them, and the tools' from their roles.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final

from actors.core.access import (
    ACTOR,
    BUILTIN_PREFIX,
    ROLES,
    SUPERVISOR,
    TOOL,
    AccessTable,
    ActorAccess,
    actor_rights,
    tool_rights,
)
from actors.core.control_calls import CONTROL_SERVICE
from actors.keys import ClientKeys, Identity, KeyFolder, ServerKeys
from actors.site import SiteConfig
from supervisor.core.protocol import ProtocolError
from supervisor.inspect import ActorFacts

#: The role each control op needs (a test holds it against the ops of the protocol).
OP_ROLES: Final = {
    "status": "read",
    "snapshots": "read",
    "faults": "read",
    "state": "read",
    "rights": "read",
    "undeliverable": "read",
    "start": "operate",
    "stop": "operate",
    "restart": "operate",
    "loglevel": "operate",
    "snapshot": "operate",
    "redeliver": "operate",
    "shutdown": "admin",
    "swap": "admin",
    "add": "admin",
    "remove": "admin",
    "reload": "admin",
    "fault_add": "admin",
    "fault_clear": "admin",
    "fault_pause": "admin",
    "fault_resume": "admin",
    "state_reset": "admin",
}


class SiteSecurity:
    """Keys, roles and the access table of one secured site."""

    def __init__(self, site: SiteConfig) -> None:
        self.site = site
        self.folder = KeyFolder(site.security.keys)
        self._facts: dict[str, ActorFacts] = {}
        self._version = 0

    # -- keys -------------------------------------------------------------------------------

    def prepare(self) -> list[str]:
        """Make the key folder ready and every actor's pair; return what was made."""
        made = self.folder.init()
        web = Identity(TOOL, "web")
        if self.site.web.listen and not self.folder.secret_file(web).exists():
            self.folder.add("web")
            made.append(str(web))
        for name in self.site.actors:
            if not self.folder.secret_file(Identity(ACTOR, name)).exists():
                self.folder.client(Identity(ACTOR, name), make=True)
                made.append(f"{ACTOR}:{name}")
        return made

    def server(self) -> ServerKeys:
        """The site's server pair (the control endpoint's)."""
        return self.folder.server()

    def own_keys(self) -> ClientKeys:
        """The supervisor's own keys (its broker link, its in-process plugins)."""
        return self.folder.client(Identity(SUPERVISOR, SUPERVISOR))

    def actor_keys(self, name: str) -> ClientKeys:
        """Actor *name*'s keys (made if it has none yet: an actor added at run time)."""
        return self.folder.client(Identity(ACTOR, name), make=True)

    # -- control ------------------------------------------------------------------------------

    def role(self, user_id: str) -> str | None:
        """The control role of the connection *user_id* (None: it may do nothing)."""
        identity = Identity.parse(user_id)
        if identity is None:
            return None
        if identity.kind == SUPERVISOR:
            return "admin"
        if identity.kind == TOOL:
            return self.site.security.role_of(identity.name)
        return None  # an actor asks the supervisor nothing through the control endpoint

    def authorize(self, user_id: str, op: str) -> None:
        """ProtocolError ``forbidden`` unless *user_id*'s role allows *op*."""
        needed = OP_ROLES.get(op, "admin")
        role = self.role(user_id)
        if role is None or ROLES.index(role) < ROLES.index(needed):
            raise ProtocolError(
                "forbidden",
                f"{user_id or 'an unknown connection'} has "
                f"{'role ' + role if role else 'no role'} on site {self.site.site.name!r}; "
                f"{op!r} needs {needed}",
            )

    # -- the access table -----------------------------------------------------------------

    def take_facts(self, site: SiteConfig, facts: dict[str, ActorFacts]) -> None:
        """The site and its actors' declarations changed (start, add, remove, reload)."""
        self.site = site
        self._facts = dict(facts)
        self._version += 1

    def table(self) -> AccessTable:
        """What the broker checks: each actor's and tool's rights."""
        security = self.site.security
        extra = security.access
        declared = {name: self._access(name, facts) for name, facts in self._facts.items()}
        actors = {
            name: actor_rights(name, access, extra.get(name), declared)
            for name, access in declared.items()
        }
        tools = {
            name: tool_rights(name, security.role_of(name), extra.get(name))
            for name in {*security.roles, *extra, "operator", "web"}
            if name not in actors
        }
        return AccessTable(actors, tools, security.default_role, self._version)

    def _access(self, name: str, facts: ActorFacts) -> ActorAccess:
        """What actor *name*'s rights come from: its declarations, and its calls to the
        supervisor when site.toml gives it control rights."""
        access = facts.access()
        actor = self.site.actors.get(name)
        if actor is not None and actor.class_path.startswith(BUILTIN_PREFIX):
            access = dataclasses.replace(access, builtin=True)
        if actor is not None and actor.control:
            access = dataclasses.replace(access, calls=(*access.calls, CONTROL_SERVICE))
        return access

    def encoded_table(self) -> dict[str, Any]:
        """:meth:`table` as it goes out on ``$sys.access``."""
        return self.table().encode()

"""Which declared edges cross hosts, and whether each flows (pure core, no IO).

An edge is a topic from a writer to a reader. When the two run on different hosts,
it flows only while the reader's host takes the writer's host's messages: its
broker's import from that host is ``up`` (as the reader's host's status says).
:func:`edges_down` names each edge that should flow and does not, with why: the
link's state (a reader's host that did not answer is reported as such, and its
actors as absent, not edge by edge). ``ctl graph`` adds
them to its differences, so a wrong address or a firewall between two hosts is
reported by the edges it stops, never left silent.
"""

from __future__ import annotations

from collections.abc import Mapping

from supervisor.core.design import Design, Difference


def edges_down(
    design: Design,
    placement: Mapping[str, str],
    links: Mapping[str, Mapping[str, str]],
) -> list[Difference]:
    """The cross-host edges of *design* that do not flow: *placement* gives each actor's
    host, *links* each host's view of its link to every other (a host missing from it
    did not answer)."""
    out = []
    for topic in design.topics:
        for reader in design.consumers_of(topic):
            to = placement.get(reader.actor, "")
            for writer in design.producers_of(topic):
                source = placement.get(writer.actor, "")
                if not to or not source or to == source:
                    continue
                if to not in links:
                    continue  # its host did not answer: said as such, its actors as absent
                state = links[to].get(source, "never")
                if state == "up":
                    continue
                why = f"{to} takes nothing from {source} (link {state})"
                detail = f"from {writer.label} on {source}: {why}"
                out.append(Difference("edge_down", reader.actor, topic, detail))
    return list(dict.fromkeys(out))

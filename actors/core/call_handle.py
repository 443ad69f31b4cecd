"""What ``self.<call>`` is in a running actor: a handle on one call line (pure core, no IO).

Calling it blocks for the reply (through the engine's :class:`~actors.core.engine_calls.Rpc`,
which waits through the runtime or the harness); ``start`` does not. A step that is
traced gives the call a child span.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from actors.core.caller import CallLine, Pending
from actors.core.control_calls import control_request

if TYPE_CHECKING:
    from actors.core.engine_calls import Rpc


class CallHandle:
    """What ``self.<call>`` is in a running actor: call it to block for the reply,
    ``start`` it not to."""

    def __init__(self, rpc: Rpc, line: CallLine) -> None:
        self._rpc = rpc
        self._line = line

    def __call__(self, request: Any, *, timeout: float | None = None, key: Any = None) -> Any:
        """Call and wait: the reply, or the call's :class:`CallError` raised."""
        pending = self.start(request, timeout=timeout, key=key)
        self._rpc.wait_for(pending)
        return pending.result()

    def start(
        self,
        request: Any,
        *,
        timeout: float | None = None,
        key: Any = None,
        callback: Callable[[Pending], None] | None = None,
    ) -> Pending:
        """Call without waiting: the :class:`Pending` result; *callback* gets it between
        steps, once done (like a step: what it assigns to Outputs is published)."""
        rpc, line = self._rpc, self._line
        span = trace = None
        host = rpc.host
        tracing = host.tracing
        if tracing is not None and host.trace is not None:  # a traced step: a child span
            span = tracing.start(
                f"{rpc.name} call {line.service}",
                host.trace,
                {
                    "enlil.actor": rpc.name,
                    "enlil.call": line.decl.name,
                    "rpc.service": line.service,
                },
            )
            trace = tracing.traceparent(span)
        pending, _ = rpc.calls.start(
            line, request, timeout=timeout, key=key, callback=callback, span=span, trace=trace
        )
        return pending

    def statistics(self) -> dict[str, Any]:
        """This call's counters and breaker state."""
        return self._line.statistics()


def asker(handle: CallHandle) -> Callable[[str, str, float | None], dict[str, Any]]:
    """``self.enlil.ask``: one control call to the supervisor, waited for."""

    def ask(op: str, actor: str, timeout: float | None) -> dict[str, Any]:
        result: dict[str, Any] = handle(control_request(op, actor), timeout=timeout)
        return result

    return ask

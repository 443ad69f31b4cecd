"""Resilience policies and their state machines (pure core, no IO, no clock of its own).

A :class:`Policy` is declared on a Call (and overridden per actor and call in
``site.toml``); its parts are applied in one fixed order, outermost first::

    fallback( deadline( retry( breaker( rate_limit( bulkhead( timeout( send )))))))

* **fallback** turns the final error (of the listed kinds, or any) into a value
  or a method's result;
* **deadline**: the whole call, retries included, ends at the call's timeout (or
  the deadline inherited from the request being served, if sooner);
* **retry** tries again on a retryable error, after an exponential backoff with
  jitter (:mod:`actors.core.backoff`), never sooner than the error's
  ``retry_after``, never past the deadline;
* **circuit breaker**: each attempt asks it first; an open breaker fails the
  attempt at once with ``circuit_open`` (and its ``retry_after``);
* **rate limit**: a token bucket per call; no token fails the attempt with
  ``rate_limited`` (and when the next token comes);
* **bulkhead**: at most so many attempts in flight; more fail with ``bulkhead_full``;
* **attempt timeout**: one attempt waits at most this long for its reply.

So a retried call is rate-limited and counted by the breaker per attempt, and
the breaker never sees the retries' waits. Every state machine here runs on
the clock it is given (the actor's: the harness's fake clock in tests, the
recorded times in a replay).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Any, Final

from actors.core.backoff import RandomSource, exponential, jittered

#: The order the parts apply in, outermost first (documented above, tested).
ORDER: Final = ("fallback", "deadline", "retry", "breaker", "rate_limit", "bulkhead", "timeout")
_MISSING: Final = object()


class PolicyError(ValueError):
    """A policy is invalid; ``key`` names the offending key (``retry.attempts``)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True)
class Retry:
    """Try again: *attempts* in all (the first included), waiting *initial* seconds
    doubled each time up to *maximum*, jittered over the upper half; only errors of
    the kinds in *on* (default: every retryable kind)."""

    attempts: int = 3
    initial: float = 0.05
    maximum: float = 2.0
    jitter: bool = True
    on: tuple[str, ...] = ()

    def delay(self, retry: int, retry_after: float | None, rng: RandomSource) -> float:
        """Seconds to wait before retry number *retry* (0 first)."""
        wait = exponential(retry, self.initial, self.maximum)
        if self.jitter:
            wait = jittered(wait, rng)
        return max(wait, retry_after or 0.0)


@dataclass(frozen=True)
class Breaker:
    """Open after a bad window: of the last *window* attempts (or those of the last
    *window_seconds*, when set), at least *min_calls*, a failure rate of at least
    *failure_rate* or, with *slow_call* seconds set, a rate of slow calls of at
    least *slow_rate*. Open for *open_for* seconds, then half-open: *probes*
    attempts go through; all succeeding close it, one failing opens it again."""

    window: int = 20
    window_seconds: float | None = None
    min_calls: int = 5
    failure_rate: float = 0.5
    slow_call: float | None = None
    slow_rate: float = 1.0
    open_for: float = 5.0
    probes: int = 1


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: *rate* tokens a second, at most *burst* saved. For Inputs and
    Outputs, *mode* says what happens past it: ``drop`` the message or keep the
    ``latest`` value for when a token comes."""

    rate: float
    burst: int = 1
    mode: str = "drop"


@dataclass(frozen=True)
class Bulkhead:
    """At most *max_in_flight* attempts of this call waiting for a reply at once."""

    max_in_flight: int = 1


@dataclass(frozen=True)
class Fallback:
    """The result when the call fails with one of the kinds in *on* (default: any):
    *value*, or what the actor's method named *method* returns (called with the
    request and the error)."""

    value: Any = None
    method: str | None = None
    on: tuple[str, ...] = ()


_PARTS: Final[dict[str, type]] = {
    "retry": Retry,
    "breaker": Breaker,
    "rate_limit": RateLimit,
    "bulkhead": Bulkhead,
    "fallback": Fallback,
}
MODES: Final = ("drop", "latest")


@dataclass(frozen=True)
class Policy:
    """How a call is made: an attempt *timeout* (seconds, None: up to the deadline) and
    the optional parts; see the module docstring for the order they apply in."""

    timeout: float | None = None
    retry: Retry | None = None
    breaker: Breaker | None = None
    rate_limit: RateLimit | None = None
    bulkhead: Bulkhead | None = None
    fallback: Fallback | None = None

    def override(self, table: Mapping[str, Any], kinds: tuple[str, ...]) -> Policy:
        """This policy with *table*'s keys (from site.toml) over it; raises PolicyError.

        A part given as a table overrides only the keys it names (a part the code
        did not declare starts from its defaults); ``false`` removes the part.
        """
        changes: dict[str, Any] = {}
        for key, value in table.items():
            if key == "timeout":
                changes[key] = None if value is False else _number(key, value)
            elif key in _PARTS:
                changes[key] = _part(key, getattr(self, key), value, _PARTS[key])
            else:
                known = ", ".join(["timeout", *_PARTS])
                raise PolicyError(key, f"unknown policy key (known: {known})")
        policy = replace(self, **changes)
        policy.check(None, kinds)
        return policy

    def check(self, call_timeout: float | None, kinds: tuple[str, ...]) -> None:
        """Raise PolicyError naming the first invalid key or combination."""
        if self.timeout is not None and not (math.isfinite(self.timeout) and self.timeout > 0):
            raise PolicyError(
                "timeout", f"must be a positive number of seconds, got {self.timeout}"
            )
        if call_timeout is not None and self.timeout is not None and self.timeout > call_timeout:
            raise PolicyError(
                "timeout",
                f"the attempt timeout {self.timeout:g}s exceeds the call's timeout "
                f"{call_timeout:g}s: it could never fire",
            )
        retry, breaker, limit = self.retry, self.breaker, self.rate_limit
        if retry is not None:
            _at_least("retry.attempts", retry.attempts, 1)
            _positive("retry.initial", retry.initial)
            _positive("retry.maximum", retry.maximum)
            if retry.maximum < retry.initial:
                raise PolicyError("retry.maximum", "must be at least retry.initial")
            _kinds("retry.on", retry.on, kinds)
        if breaker is not None:
            _at_least("breaker.window", breaker.window, 1)
            _at_least("breaker.min_calls", breaker.min_calls, 1)
            _at_least("breaker.probes", breaker.probes, 1)
            _positive("breaker.open_for", breaker.open_for)
            for key in ("failure_rate", "slow_rate"):
                rate = getattr(breaker, key)
                if not (isinstance(rate, int | float) and 0 < rate <= 1):
                    raise PolicyError(f"breaker.{key}", f"must be in (0, 1], got {rate!r}")
            if breaker.window_seconds is not None:
                _positive("breaker.window_seconds", breaker.window_seconds)
            elif breaker.min_calls > breaker.window:
                raise PolicyError(
                    "breaker.min_calls",
                    f"{breaker.min_calls} calls can never be in a window of {breaker.window}",
                )
            if breaker.slow_call is not None:
                _positive("breaker.slow_call", breaker.slow_call)
                limit_s = self.timeout if self.timeout is not None else call_timeout
                if limit_s is not None and breaker.slow_call >= limit_s:
                    raise PolicyError(
                        "breaker.slow_call",
                        f"{breaker.slow_call:g}s is not below the timeout {limit_s:g}s: "
                        "no call could ever be slow",
                    )
        if limit is not None:
            check_rate_limit("rate_limit", limit)
        if self.bulkhead is not None:
            _at_least("bulkhead.max_in_flight", self.bulkhead.max_in_flight, 1)
        if self.fallback is not None:
            _kinds("fallback.on", self.fallback.on, kinds)


def check_rate_limit(key: str, limit: RateLimit) -> None:
    """Raise PolicyError unless *limit* is valid (*key* names it)."""
    _positive(f"{key}.rate", limit.rate)
    _at_least(f"{key}.burst", limit.burst, 1)
    if limit.mode not in MODES:
        raise PolicyError(f"{key}.mode", f"must be one of {', '.join(MODES)}, got {limit.mode!r}")


def rate_limit_from(key: str, base: RateLimit | None, value: Any) -> RateLimit | None:
    """A RateLimit from a site.toml table over *base* (``false``: none); raises PolicyError."""
    limit = _part(key, base, value, RateLimit)
    if limit is not None:
        check_rate_limit(key, limit)
    result: RateLimit | None = limit
    return result


def _part(key: str, base: Any, value: Any, cls: type) -> Any:
    if value is False:
        return None
    if not isinstance(value, Mapping):
        raise PolicyError(key, f"must be a table (or false), got {value!r}")
    names = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for name, given in value.items():
        item = given
        if name not in names:
            raise PolicyError(f"{key}.{name}", f"unknown key (known: {', '.join(names)})")
        if name == "on":
            if not isinstance(item, list) or not all(isinstance(k, str) for k in item):
                raise PolicyError(f"{key}.on", "must be a list of error kinds")
            item = tuple(item)
        elif name in ("mode", "method"):
            if not isinstance(item, str):
                raise PolicyError(f"{key}.{name}", f"must be a string, got {item!r}")
        elif name == "jitter":
            if not isinstance(item, bool):
                raise PolicyError(f"{key}.jitter", f"must be true or false, got {item!r}")
        elif name != "value":
            item = _number(f"{key}.{name}", item)
            if name in ("attempts", "window", "min_calls", "probes", "burst", "max_in_flight"):
                if item != int(item):
                    raise PolicyError(f"{key}.{name}", f"must be a whole number, got {item!r}")
                item = int(item)
        values[name] = item
    if base is None:
        if cls is RateLimit and "rate" not in values:
            raise PolicyError(f"{key}.rate", "is required")
        return cls(**values)
    return replace(base, **values)


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PolicyError(key, f"must be a finite number, got {value!r}")
    return value


def _positive(key: str, value: Any) -> None:
    if _number(key, value) <= 0:
        raise PolicyError(key, f"must be positive, got {value!r}")


def _at_least(key: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise PolicyError(key, f"must be a whole number of at least {low}, got {value!r}")


def _kinds(key: str, given: tuple[str, ...], kinds: tuple[str, ...]) -> None:
    for kind in given:
        if kind not in kinds:
            raise PolicyError(key, f"unknown error kind {kind!r} (known: {', '.join(kinds)})")


# -- the state machines -----------------------------------------------------------------


class BreakerState(StrEnum):
    """Where a circuit breaker is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


#: A transition: (from, to, time, why).
Transition = tuple[BreakerState, BreakerState, float, str]


class CircuitBreaker:
    """The breaker of one call of one actor (:class:`Breaker` says how it decides)."""

    def __init__(self, config: Breaker) -> None:
        self.config = config
        self.state = BreakerState.CLOSED
        #: (time, failed, slow) of the attempts in the window, and how many failed and
        #: were slow (kept as they change: a record costs no pass over the window).
        self._window: collections.deque[tuple[float, bool, bool]] = collections.deque()
        self._failures = 0
        self._slows = 0
        self._opened_at = 0.0
        self._probes_out = 0
        self._probes_ok = 0
        #: Transitions not yet taken by :meth:`take_transitions`.
        self.transitions: list[Transition] = []
        self.opened = 0

    def allow(self, now: float) -> float | None:
        """None when an attempt may go now (it must then be :meth:`record`-ed or
        :meth:`release`-d); else seconds until the breaker may let one through."""
        config = self.config
        if self.state is BreakerState.OPEN:
            reopen = self._opened_at + config.open_for
            if now < reopen:
                return reopen - now
            self._move(BreakerState.HALF_OPEN, now, "open_for elapsed")
            self._probes_out = self._probes_ok = 0
        if self.state is BreakerState.HALF_OPEN:
            if self._probes_out >= config.probes:
                return config.open_for  # the probes are out: their outcome decides
            self._probes_out += 1
        return None

    def release(self) -> None:
        """An allowed attempt was not made after all (a later part refused it)."""
        if self.state is BreakerState.HALF_OPEN and self._probes_out > 0:
            self._probes_out -= 1

    def record(self, now: float, failed: bool, duration: float) -> None:
        """The outcome of an allowed attempt."""
        config = self.config
        slow = config.slow_call is not None and duration >= config.slow_call
        if self.state is BreakerState.HALF_OPEN:
            if failed or slow:
                self._open(now, "a probe failed" if failed else "a probe was slow")
                return
            self._probes_ok += 1
            if self._probes_ok >= config.probes:
                self._clear()
                self._move(BreakerState.CLOSED, now, "the probes succeeded")
            return
        if self.state is BreakerState.OPEN:
            return  # an attempt that was in flight when it opened
        window = self._window
        window.append((now, failed, slow))
        self._failures += failed
        self._slows += slow
        if config.window_seconds is not None:
            horizon = now - config.window_seconds
            while window and window[0][0] <= horizon:
                self._forget()
        elif len(window) > config.window:
            self._forget()
        size = len(window)
        if size < config.min_calls:
            return
        if self._failures >= config.failure_rate * size:
            self._open(now, f"{self._failures} of {size} attempts failed")
        elif config.slow_call is not None and self._slows >= config.slow_rate * size:
            self._open(now, f"{self._slows} of {size} attempts were slow")

    def _forget(self) -> None:
        _, failed, slow = self._window.popleft()
        self._failures -= failed
        self._slows -= slow

    def _clear(self) -> None:
        self._window.clear()
        self._failures = self._slows = 0

    def _open(self, now: float, why: str) -> None:
        self._opened_at = now
        self.opened += 1
        self._clear()
        self._move(BreakerState.OPEN, now, why)

    def _move(self, to: BreakerState, now: float, why: str) -> None:
        self.transitions.append((self.state, to, now, why))
        self.state = to

    def take_transitions(self) -> list[Transition]:
        """The transitions since the last call (for events and logs)."""
        out, self.transitions = self.transitions, []
        return out


class TokenBucket:
    """*rate* tokens a second, at most *burst* kept; starts full."""

    def __init__(self, rate: float, burst: int, now: float | None = None) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self._at = now

    def take(self, now: float) -> float | None:
        """Take a token: None when one was there, else seconds until the next one."""
        if self._at is not None and now > self._at:
            self.tokens = min(self.burst, self.tokens + (now - self._at) * self.rate)
        self._at = now if self._at is None else max(self._at, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return None
        return (1.0 - self.tokens) / self.rate


class BulkheadState:
    """How many attempts are in flight, against *limit*."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0

    def enter(self) -> bool:
        """Take a place (True), or find it full (False)."""
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        """Give a place back."""
        self.in_flight = max(0, self.in_flight - 1)

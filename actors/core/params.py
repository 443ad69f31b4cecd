"""Params and topics of one actor instance, checked against its declarations (pure core).

Used by the engine when it builds an actor and by ``check`` before any
process starts, so that both find the same problems in the same words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from actors.core.actor import Actor
from actors.core.declarations import NAME_FIELD, ActorSpec
from actors.core.topics import Pattern, TopicError, parse_pattern
from actors.core.types import checker, coerce, is_typed
from actors.core.wire import (
    MESSAGE_FRAMES,
    Fields,
    WireError,
    check_decoded,
    decode_fields,
    decode_topic,
    typed_decoder,
)

#: What an Input's message is routed to: (input name, topic, type check, envelope decoder):
#: the decoder gives ``(sender, seq, timestamp_ns, trace, payload)`` and the check then
#: gives the Input's value or raises TypeError (see :func:`decoding`).
Route = tuple[str, str, Callable[[Any], Any], Callable[[bytes], Fields]]


def decoding(tp: Any) -> tuple[Callable[[Any], Any], Callable[[bytes], Fields]]:
    """The type check and envelope decoder of an Input of type *tp*: msgspec decodes and
    checks a record in one pass (:func:`typed_decoder`), msgpack the rest."""
    if is_typed(tp):
        return check_decoded, typed_decoder(tp)
    return checker(tp), decode_fields


class ParamError(ValueError):
    """A param or topic given by the site config does not fit the actor's declarations."""


def resolve_params(spec: ActorSpec, given: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Merge config params over declared defaults. Returns ``(params, errors)``."""
    errors: list[str] = []
    values = {name: p.default for name, p in spec.params.items()}
    for key, value in given.items():
        param = spec.params.get(key)
        if param is None:
            known = ", ".join(spec.params) or "none"
            errors.append(
                f"params.{key}: {spec.cls_name} declares no Param {key!r} (it has: {known})"
            )
            continue
        try:
            values[key] = coerce(value, param.type)
        except TypeError as exc:
            errors.append(f"params.{key}: {exc}")
            continue
        problem = param.problem(values[key])
        if problem:
            errors.append(f"params.{key}: {problem}")
    for key, param in spec.params.items():
        if param.required and key not in given:
            errors.append(f"params.{key}: is required ({param.doc})")
    return values, errors


def resolve_topics(
    spec: ActorSpec, given: Mapping[str, Any], actor: str
) -> tuple[dict[str, str], list[str]]:
    """Topic of each Input and Output of the actor named *actor*, with config remaps applied.

    ``{name}`` in a declared topic becomes *actor*. Returns ``(topics, errors)``.
    """
    errors: list[str] = []
    topics = {name: v.topic.replace(NAME_FIELD, actor) for name, v in spec.inputs.items()}
    topics.update({name: v.topic.replace(NAME_FIELD, actor) for name, v in spec.outputs.items()})
    for key, topic in given.items():
        if key not in topics:
            errors.append(f"topics.{key}: {spec.cls_name} declares no Input or Output {key!r}")
            continue
        if not isinstance(topic, str):
            errors.append(f"topics.{key}: expected a topic string, got {type(topic).__name__}")
            continue
        try:
            topics[key] = parse_pattern(topic).text
        except TopicError as exc:
            errors.append(f"topics.{key}: {exc}")
    return topics, errors


def resolve_param_topics(
    cls: type[Actor], params: Mapping[str, Any]
) -> tuple[dict[str, list[str]], list[str]]:
    """The topics the params decide (:meth:`Actor.topics_from_params`), checked.

    Returns ``(topics, errors)``; an error names the Input or Output and the topic.
    """
    spec = cls._enlil_spec
    try:
        given = cls.topics_from_params(params)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        return {}, [f"params: {spec.cls_name}.topics_from_params failed: {exc}"]
    out: dict[str, list[str]] = {}
    errors: list[str] = []
    for name, listed in given.items():
        if name not in spec.inputs and name not in spec.outputs:
            errors.append(f"params: {spec.cls_name} declares no Input or Output {name!r}")
            continue
        topics = []
        for topic in listed:
            try:
                topics.append(parse_pattern(topic).text)
            except (TopicError, AttributeError, TypeError) as exc:
                errors.append(f"params: topic {topic!r} for {name!r}: {exc}")
        out[name] = topics
    return out, errors


def class_param_errors(cls: type[Actor], params: Mapping[str, Any]) -> list[str]:
    """The class's own checks of its resolved params (:meth:`Actor.check_params`)."""
    try:
        found = cls.check_params(params)
    except Exception as exc:  # noqa: BLE001 - the user's check failing is a finding too
        return [f"params: {cls._enlil_spec.cls_name}.check_params failed: {exc!r}"]
    return [f"params.{problem}" for problem in found]


@dataclass(frozen=True)
class Routes:
    """Where one actor instance's messages go, resolved once when it is built."""

    #: The topic of each Input and Output, remaps applied.
    topics: dict[str, str]
    #: Every topic (or family) each Input reads and each Output may publish on.
    all_topics: dict[str, list[str]]
    #: Exact topic frame -> its Input.
    inputs: dict[bytes, Route]
    #: Inputs on a ``prefix.*`` family of topics, tried when no exact topic matches.
    input_patterns: list[tuple[Pattern, Route]]
    #: Outputs that publish with ``send(..., topic=...)``: on a family, or on topics from params.
    output_patterns: dict[str, list[Pattern]]

    def input_of(self, frames: list[bytes]) -> Route | None:
        """The Input a two-frame message is for, as ``(name, topic, type check)``, or None."""
        if len(frames) != MESSAGE_FRAMES:
            return None
        return self.inputs.get(frames[0]) or self.match_pattern(frames[0])

    def match_pattern(self, frame: bytes) -> Route | None:
        """The Input on a topic family that the topic *frame* belongs to, or None."""
        try:
            topic = decode_topic(frame)
        except WireError:
            return None
        for pattern, (name, _, check, decode) in self.input_patterns:
            if pattern.matches(topic):
                return name, topic, check, decode
        return None

    def subscribed(self) -> list[str]:
        """The exact topics and the topic families the Inputs read."""
        exact = [route[1] for route in self.inputs.values()]
        return exact + [pattern.text for pattern, _ in self.input_patterns]


def resolve_instance(
    cls: type[Actor], name: str, params: Mapping[str, Any], topics: Mapping[str, Any]
) -> tuple[dict[str, Any], Routes]:
    """The params and routes of actor *name* of class *cls*; ParamError naming every problem."""
    spec = cls._enlil_spec
    values, errors = resolve_params(spec, params)
    resolved, topic_errors = resolve_topics(spec, topics, name)
    by_params: dict[str, list[str]] = {}
    if not errors:
        errors += class_param_errors(cls, values)
    if not errors:
        by_params, param_topic_errors = resolve_param_topics(cls, values)
        topic_errors += param_topic_errors
    if errors or topic_errors:
        raise ParamError(f"actor {name!r}: " + "; ".join(errors + topic_errors))
    all_topics = {n: by_params.get(n, [t]) for n, t in resolved.items()}
    inputs: dict[bytes, Route] = {}
    input_patterns: list[tuple[Pattern, Route]] = []
    for input_name, var in spec.inputs.items():
        check, decode = decoding(var.type)
        for topic in all_topics[input_name]:
            pattern = parse_pattern(topic)
            if pattern.exact:
                inputs[pattern.zmq_filter] = (input_name, topic, check, decode)
            else:
                input_patterns.append((pattern, (input_name, topic, check, decode)))
    output_patterns = {
        n: [parse_pattern(t) for t in all_topics[n]]
        for n in spec.outputs
        if n in by_params or not parse_pattern(resolved[n]).exact
    }
    return values, Routes(resolved, all_topics, inputs, input_patterns, output_patterns)

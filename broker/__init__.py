"""The enlil broker: forwards every message from publishers to subscribers (XSUB/XPUB)."""

from broker.proxy import BrokerSettings, run_broker

__all__ = ["BrokerSettings", "run_broker"]

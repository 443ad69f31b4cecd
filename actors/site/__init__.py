"""The site layer: the site config model and its loading, read by every package.

Imports point one way: :mod:`actors`, :mod:`broker`, :mod:`hal` and
:mod:`supervisor` all read the site through this package, and it imports
nothing of theirs but the topic rules of :mod:`actors.core.topics`.
"""

from actors.site.load import file_etag, import_paths, load_site
from actors.site.model import (
    ActorConfig,
    BrokerConfig,
    ConfigError,
    ConfigProblem,
    SiteConfig,
    SiteInfo,
    SnapshotConfig,
    SupervisorConfig,
    TelemetryConfig,
    connect_address,
)
from actors.site.parse import parse_site

__all__ = [
    "ActorConfig",
    "BrokerConfig",
    "ConfigError",
    "ConfigProblem",
    "SiteConfig",
    "SiteInfo",
    "SnapshotConfig",
    "SupervisorConfig",
    "TelemetryConfig",
    "connect_address",
    "file_etag",
    "import_paths",
    "load_site",
    "parse_site",
]

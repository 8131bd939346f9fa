"""What every `parley` command starts with: the settings, checked, and the key ring."""

from __future__ import annotations

import sys

from parley.core.config import ConfigError, Settings, load_settings
from parley.core.crypto import install_key_ring


def settings_or_exit() -> Settings:
    """The environment's settings, or exit 2 naming the bad variable; installs the ring."""
    try:
        settings = load_settings()
    except ConfigError as error:
        print(f"parley: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    if settings.key_ring is not None:
        install_key_ring(settings.key_ring)
    return settings

"""Task configs: fresh, locked ``ml_collections.ConfigDict`` objects with checked overrides.

Every task exposes ``default_config()`` returning a *new* locked config on each call (nothing is
shared, so no caller can mutate another's defaults). Overrides are given by keyword, with dotted
keys for nested fields (``{"reward.speed": 2.0}``) or ``__`` as separator where a Python keyword is
needed (``reward__speed=2.0``), or a nested mapping (``reward={"speed": 2.0}``). An unknown key
raises ``KeyError`` listing every valid key; a value of the wrong type raises ``TypeError``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ml_collections import ConfigDict


def flat_keys(config: ConfigDict, prefix: str = "") -> list[str]:
    """All leaf keys of ``config`` in dotted form, sorted (``["action_mode", "reward.speed"]``)."""
    keys = []
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, ConfigDict):
            keys.extend(flat_keys(value, prefix=f"{name}."))
        else:
            keys.append(name)
    return sorted(keys)


def _set(config: ConfigDict, dotted: str, value: Any, root: ConfigDict, prefix: str = "") -> None:
    head, _, rest = dotted.partition(".")
    full = f"{prefix}{dotted}"
    if head not in config:
        raise KeyError(
            f"unknown config option {full!r}; valid options: {', '.join(flat_keys(root))}"
        )
    if rest:
        if not isinstance(config[head], ConfigDict):
            raise KeyError(
                f"config option {prefix}{head!r} has no sub-option {rest!r}; "
                f"valid options: {', '.join(flat_keys(root))}"
            )
        _set(config[head], rest, value, root, f"{prefix}{head}.")
        return
    current = config[head]
    if isinstance(current, ConfigDict):
        if not isinstance(value, Mapping):
            raise TypeError(f"config option {full!r} is a group; pass a mapping, got {value!r}")
        for sub_key, sub_value in value.items():
            _set(current, sub_key, sub_value, root, f"{full}.")
        return
    if isinstance(value, list):
        value = tuple(value)
    if isinstance(current, tuple) and not current:  # a variable-length list (default empty)
        if not isinstance(value, tuple):
            raise TypeError(f"config option {full!r} expects a sequence, got {value!r}")
    elif isinstance(current, tuple):
        if not isinstance(value, tuple) or len(value) != len(current):
            raise TypeError(
                f"config option {full!r} expects a sequence of {len(current)} values, got {value!r}"
            )
        pairs = zip(value, current, strict=True)
        value = tuple(float(v) if isinstance(c, float) else v for v, c in pairs)
    if isinstance(current, bool) and not isinstance(value, bool):
        raise TypeError(f"config option {full!r} expects a bool, got {value!r}")
    if isinstance(current, float) and isinstance(value, bool):
        raise TypeError(f"config option {full!r} expects a number, got {value!r}")
    try:
        config[head] = value
    except TypeError as err:
        raise TypeError(
            f"config option {full!r} expects {type(current).__name__}, got {value!r}"
        ) from err


def build_config(defaults: Mapping[str, Any], overrides: Mapping[str, Any]) -> ConfigDict:
    """A locked config from ``defaults`` (deep-copied) with ``overrides`` applied.

    Args:
        defaults: nested mapping of default values (not modified).
        overrides: keyword overrides; keys dotted (``"reward.speed"``), ``__``-separated, or
            group names with a mapping value.

    Raises:
        KeyError: an unknown option (the message lists the valid ones).
        TypeError: a value of the wrong type.
    """
    config = ConfigDict(copy.deepcopy(dict(defaults)))
    config.lock()
    for key, value in overrides.items():
        _set(config, key.replace("__", "."), value, config)
    return config


def to_dict(config: ConfigDict) -> dict[str, Any]:
    """Plain nested dict of ``config`` (tuples kept), for saving beside checkpoints."""
    return config.to_dict()

"""Brax PPO's Adam state, saved with each checkpoint and restored on resume.

``brax.training.agents.ppo.train`` (0.14.2) builds its optimizer as ``optax.adam(lr)`` (chained
after ``clip_by_global_norm``), initialises it with ``optimizer.init(init_params)`` and keeps
the state inside its jitted loop: no argument restores it and ``policy_params_fn`` does not
receive it. :class:`AdamState` swaps in, for the duration of one ``train`` call, an Adam that

* returns the restored state (moments ``mu``, ``nu`` and the step ``count``, as saved by
  :func:`agents.checkpoints.save`) from ``init`` instead of a fresh one, after checking that
  it has the fresh state's tree and leaf shapes; and
* hands every updated state to the host (``jax.debug.callback``, one copy of the moments per
  SGD step), so that the checkpoint written at the next ``policy_params_fn`` call holds the
  state of the last update before it.

Everything else about Brax's training is unchanged (``optax`` is replaced only in Brax's PPO
module, only while :meth:`AdamState.installed` is active).
"""

from __future__ import annotations

import contextlib
import types
from collections.abc import Iterator
from typing import Any

import jax
import numpy as np
import optax
from flax import serialization

from agents.checkpoints import CheckpointError


def _count(state: Any) -> int:
    """The largest integer leaf of an optimizer state (Adam's step ``count``); -1 if none."""
    counts = [int(np.max(x)) for x in jax.tree.leaves(state)
              if np.issubdtype(np.asarray(x).dtype, np.integer)]  # fmt: skip
    return max(counts, default=-1)


class AdamState:
    """Records (and optionally restores) the state of the Adam inside Brax PPO's ``train``.

    Args:
        restored: a state dict (``flax.serialization.to_state_dict`` of the Adam state, as
            :func:`agents.checkpoints.read_optimizer_state` returns it), or None to start
            fresh.
        source: where ``restored`` came from, for error messages.

    Attributes:
        latest: the host copy (numpy pytree) of the state after the newest update, or None
            before the first update; ``latest_count`` its step count.
    """

    def __init__(self, restored: dict[str, Any] | None = None, source: str = "") -> None:
        self.restored, self.source = restored, source
        self.latest: Any = None
        self.latest_count = -1

    def state_dict(self) -> dict[str, Any] | None:
        """The newest recorded state as a state dict (what a checkpoint stores), after waiting
        for the pending host callbacks; None before the first update."""
        jax.effects_barrier()
        return None if self.latest is None else serialization.to_state_dict(self.latest)

    def _record(self, state: Any) -> None:
        count = _count(state)
        if count >= self.latest_count:  # callbacks are unordered: keep the newest
            self.latest, self.latest_count = jax.tree.map(np.asarray, state), count

    def _restore(self, fresh: Any) -> Any:
        try:
            state = serialization.from_state_dict(fresh, self.restored)
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(
                f"the optimizer state in {self.source} does not fit this run's networks "
                f"({type(err).__name__}: {err})"
            ) from err
        want = jax.tree.map(np.shape, fresh)
        got = jax.tree.map(np.shape, state)
        if want != got:
            raise CheckpointError(
                f"the optimizer state in {self.source} does not fit this run's networks: "
                f"leaf shapes {got} != {want}"
            )
        return jax.tree.map(lambda f, s: jax.numpy.asarray(s, dtype=np.asarray(f).dtype),
                            fresh, state)  # fmt: skip

    def adam(self, learning_rate: Any, *args: Any, **kwargs: Any) -> optax.GradientTransformation:
        """``optax.adam`` with the restoring ``init`` and the recording ``update``."""
        base = optax.adam(learning_rate, *args, **kwargs)

        def init(params: Any) -> Any:
            fresh = base.init(params)
            return fresh if self.restored is None else self._restore(fresh)

        def update(updates: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
            updates, state = base.update(updates, state, params)
            jax.debug.callback(self._record, state)
            return updates, state

        return optax.GradientTransformation(init, update)

    @contextlib.contextmanager
    def installed(self) -> Iterator[AdamState]:
        """Within the block, Brax PPO's ``train`` builds this Adam instead of ``optax.adam``."""
        from brax.training.agents.ppo import train as ppo_train

        proxy = types.ModuleType("optax")
        proxy.__dict__.update(optax.__dict__)
        proxy.adam = self.adam
        original = ppo_train.optax
        ppo_train.optax = proxy
        try:
            yield self
        finally:
            ppo_train.optax = original

"""One controller interface for every connectome network: a :class:`Circuit`.

A circuit is a connectome network seen as a controller that a policy can carry and train::

    params = circuit.init_params(key)                  # dict pytree, names in circuit.param_names
    state = circuit.init_state(params, batch)          # pytree, every leaf [batch, ...]
    state, outputs = circuit.step(params, state, inputs, dt_s)   # inputs [batch, n_inputs]
    state, outputs = run(circuit, params, state, inputs, dt_s, n_steps)   # inputs held

``outputs`` is a dict of [batch, ...] arrays (:attr:`Circuit.output_sizes` names them). The
parameters are type level (shared by the cells of a type, or by the synapses of a type pair);
signs, synapse counts and indices are frozen data of the network, never parameters.
:attr:`Circuit.trainable` names the parameters that learn; :meth:`Circuit.freeze` stops the
gradient of the others (so an optimiser leaves them unchanged: Adam's update of a zero gradient
is zero), which is how a policy trains "readout only" or "end to end" from one config.

``init_state`` takes the parameters because a network's rest state depends on them (the optic
lobe adapts to grey for 1 s with its current parameters, as flyvis does).

Implementations: :class:`flyenvs.connectome.vnc.circuit.VNCCircuit` (descending currents ->
motor commands) and :class:`flyenvs.connectome.optic_lobe.circuit.OpticLobeCircuit` (column
luminance -> output-type voltages).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp

Params = dict[str, jax.Array]


@runtime_checkable
class Circuit(Protocol):
    """A connectome network as a batched, pure controller (see the module docstring).

    Attributes:
        name: the network's name.
        param_names: every parameter name, in :meth:`init_params`'s order.
        trainable: the names that learn (a subset of ``param_names``).
        n_inputs: size of one input vector.
        output_sizes: output name -> size of one output vector.
    """

    name: str
    param_names: tuple[str, ...]
    trainable: tuple[str, ...]
    n_inputs: int
    output_sizes: Mapping[str, int]

    def init_params(self, key: jax.Array) -> Params: ...

    def init_state(self, params: Params, batch: int) -> Any: ...

    def step(
        self, params: Params, state: Any, inputs: jax.Array, dt_s: float
    ) -> tuple[Any, dict[str, jax.Array]]: ...

    def freeze(self, params: Params) -> Params: ...


def check_trainable(trainable: Iterable[str] | None, param_names: tuple[str, ...]) -> tuple:
    """``trainable`` as a tuple (None = all of ``param_names``), in ``param_names`` order.

    Raises:
        ValueError: a name that is not a parameter (the message lists the valid ones), or a
            bare string (a common slip for a one-name tuple).
    """
    if trainable is None:
        return tuple(param_names)
    if isinstance(trainable, str):
        raise ValueError(f"trainable must be a collection of names, not the string {trainable!r}")
    names = set(trainable)
    unknown = sorted(names - set(param_names))
    if unknown:
        raise ValueError(f"unknown parameters {unknown} in trainable; valid: {list(param_names)}")
    return tuple(n for n in param_names if n in names)


def freeze(params: Params, trainable: tuple[str, ...]) -> Params:
    """``params`` with ``jax.lax.stop_gradient`` on every entry not in ``trainable``."""
    return {k: v if k in trainable else jax.lax.stop_gradient(v) for k, v in params.items()}


def check_params(params: Params, shapes: Mapping[str, tuple[int, ...]], name: str) -> None:
    """Raise ValueError unless ``params`` has exactly the entries and shapes in ``shapes``."""
    if not isinstance(params, Mapping) or set(params) != set(shapes):
        got = sorted(params) if isinstance(params, Mapping) else type(params).__name__
        raise ValueError(f"{name} params must have entries {sorted(shapes)}, got {got}")
    for key, shape in shapes.items():
        if tuple(jnp.shape(params[key])) != tuple(shape):
            raise ValueError(
                f"{name} params[{key!r}] has shape {tuple(jnp.shape(params[key]))}, "
                f"expected {tuple(shape)}"
            )


def check_inputs(inputs: jax.Array, n_inputs: int, batch: int, name: str) -> jax.Array:
    """``inputs`` as float32 [batch, n_inputs]; raises ValueError naming the expected shape."""
    inputs = jnp.asarray(inputs, jnp.float32)
    if inputs.shape != (batch, n_inputs):
        raise ValueError(
            f"{name} inputs must have shape (batch={batch}, {n_inputs}), got {inputs.shape}"
        )
    return inputs


def run(
    circuit: Circuit,
    params: Params,
    state: Any,
    inputs: jax.Array,
    dt_s: float,
    n_steps: int,
) -> tuple[Any, dict[str, jax.Array]]:
    """``n_steps`` (static int >= 1) steps of ``dt_s`` with ``inputs`` [batch, n_inputs] held:
    one control step of ``n_steps * dt_s`` seconds. Returns the last state and outputs."""
    if int(n_steps) < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    state, outputs = circuit.step(params, state, inputs, dt_s)
    if int(n_steps) == 1:
        return state, outputs
    return jax.lax.fori_loop(
        1, int(n_steps), lambda _, c: circuit.step(params, c[0], inputs, dt_s), (state, outputs)
    )

"""The connectome Walk policy: observation -> descending neurons -> VNC -> joint targets.

A :class:`agents.recurrent_ppo.networks.RecurrentNetwork` for the recurrent PPO trainer, on a
task in the ``"joints"`` action mode with ``action.joints.n_chunk = C``::

    obs (proprioception, command; normalised)
      -> readout:  dn_k = drive_center + drive_gain * tanh(W obs + b)_k    (one per DN input)
      -> VNC:      C chunks of n_sub Euler steps of vnc_dt_s (the circuit, its rates the carry)
      -> motor:    joint_target_rad [C, 42] at the end of each chunk, as joint-range units u
      -> action mean: u for the 42 targets of each chunk row, and
                   tanh(adhesion_gain * (adhesion_threshold - mean motor_u of the leg)) for its 6
                   adhesion entries (on in firm stance, as the ``"vnc"`` action mode)

The action noise (the PPO Gaussian, ``log_std``) is added at the motor output, after the VNC,
so the policy gradient reaches the VNC's parameters through the action mean; the env receives
the noisy action clipped to the action space (``action_squash = "clip"``: no tanh, whose
inverse would magnify the targets near the joint limits). The value head is
an MLP on the observation and the VNC's rates before the step (``tanh(rate / 50 Hz)``: the
critic sees the rhythm's phase).

Parameters (``params`` dict): ``readout`` (``w`` [obs, n_dn], ``b`` [n_dn]; ``w`` starts at 0,
so the untrained policy drives every DN at ``drive_center``, the network's walking drive);
``vnc`` (the circuit's type-level parameters as dimensionless changes ``d`` from the
connectome-derived values p0, all 0 at the start: ``p0 * exp(d)`` for the positive time
constants, gains, synapse strengths and motor scale and for the signed joint amplitudes,
``p0 + d * max(|p0|, 1)`` for the thresholds, ``p0 + d`` rad for the joint centres; so one
learning rate suits parameters whose values span 0.02 s to 80; names not in
``circuit.trainable`` get no gradient); ``adhesion_gain`` []; ``log_std`` [C * 48]; ``value``
(MLP). At an episode start
the carry becomes ``warm_rates_hz``: the VNC's rates after ``warmup_s`` at ``drive_center``
with its initial parameters (from rest, every leg presses into stance at once and pitches the
fly onto its abdomen; docs/vnc.md).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agents.walk_readout import LEG_MIRROR, ascending_init, dn_mirror, readout_columns
from flyenvs.body import constants
from flyenvs.connectome import circuit as circuit_lib
from flyenvs.connectome.vnc.circuit import VNCCircuit
from flyenvs.connectome.vnc.network import VNCState

#: Rate scale (Hz) of the ``tanh`` squashing of the rates the critic sees.
FEATURE_RATE_HZ = 50.0
N_ROW = constants.N_LEG_JOINTS + constants.N_ADHESION


class NoisyCarry(NamedTuple):
    """Carry of the policy with :attr:`VNCWalkPolicy.dn_noise`: the VNC's state, the DN
    noise's last deviation from the readout (``latent - readout``, [B, n_dn]; 0 at an episode
    start), which the next step's correlated noise continues, and the control steps taken in
    the episode (``step`` [B] int32; 0 at its start: when a held draw is made)."""

    vnc: VNCState
    deviation: jax.Array
    step: jax.Array


def _dense_init(key: jax.Array, n_in: int, n_out: int, scale: float) -> dict[str, jax.Array]:
    w = jax.nn.initializers.orthogonal(scale)(key, (n_in, n_out), jnp.float32)
    return {"w": w, "b": jnp.zeros((n_out,), jnp.float32)}


def _mlp(params: list[dict[str, jax.Array]], x: jax.Array) -> jax.Array:
    for layer in params[:-1]:
        x = jnp.tanh(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


@dataclasses.dataclass(frozen=True, eq=False)
class VNCWalkPolicy:
    """Readout -> VNC circuit -> chunked joint targets (see the module docstring).

    Args:
        circuit: the VNC behind the circuit interface (its ``trainable`` names what learns).
        joint_range_rad: [42, 2] (low, high) of the leg actuators (the task's "joints" ranges).
        n_chunk: C, command rows per control step (the task's ``action.joints.n_chunk``).
        control_dt_s: the task's control period (s).
        vnc_dt_s: VNC Euler step (s), at most 2 ms; ``control_dt_s / (C * vnc_dt_s)`` must be a
            whole number (n_sub, the steps per chunk row).
        drive_center, drive_gain: DN input = center + gain * tanh(readout) (default 225 +- 25,
            the ``"vnc"`` action mode's range).
        adhesion_threshold: adhesion is on where the leg's mean motor_u is below this.
        init_adhesion_gain: initial slope of the adhesion mean ``tanh(gain * (threshold - u))``
            per unit of motor_u (> 0 at the threshold: on below it).
        value_hidden: hidden sizes of the value MLP.
        init_log_std: initial log standard deviation of the action noise (joint-range units).
        warmup_s: VNC warm-up (s) that gives the episode-start carry.
        dn_noise: explore at the descending neurons too: a Gaussian on the readout (before
            its tanh), std ``exp(dn_log_std)`` learned from ``init_dn_log_std``, as a latent
            stage of the policy (:mod:`agents.recurrent_ppo.networks`): the action noise alone
            perturbs each joint target for one control step, which hardly changes where the
            rhythm takes the fly, so PPO could not find the DN asymmetry that turns it
            (docs/connectome_walk.md). The noise at the motor output stays, and the gradient
            still reaches the VNC's parameters through the action mean.
        dn_noise_corr: rho in [0, 1], the DN noise's correlation from one control step to the
            next (an AR(1) process of stationary std ``exp(dn_log_std)``: each step draws
            ``latent = readout + rho * deviation + exp(dn_log_std) * sqrt(1 - rho^2) * noise``;
            0.9 at 20 ms is a correlation time of about 0.2 s). Independent noise at 50 Hz is
            averaged away by the VNC before it turns the fly. ``1`` holds the noise for the
            episode: the first step draws ``readout + exp(dn_log_std) * noise``, later steps
            keep its deviation (``latent = readout + deviation``), and only the first step's
            draw enters PPO's ratio (later steps' latent is its own mean at a fixed unit std:
            log-ratio 0), so one sample per episode carries the credit for a whole
            episode's drive offset; the critic then also sees the held deviation.
        dn_noise_stationary: start each episode's DN noise from its stationary distribution
            (the first step draws ``readout + exp(dn_log_std) * noise``) instead of from a
            zero deviation (whose std then grows as ``sqrt(1 - rho^(2t))``: with rho 0.98 it
            reaches 80 % of the stationary std only after 0.5 s). False keeps runs saved before
            the option explore as they were trained.
        dn_noise_draw_s: with the held DN noise (``dn_noise_corr`` 1), how long after the
            episode start (s, a whole number of control steps) the offset is drawn; before
            it the DNs follow the readout, and that step's draw alone enters PPO's ratio. 0
            (the default) draws at the first step, which suits a readout of the command; a
            readout of what the eyes see needs them to have seen motion first (the optic lobe
            starts from grey: docs/visual_connectome.md).
        learn_action_std: whether the motor noise's ``log_std`` trains (False: it stays at
            ``init_log_std``, no gradient). Its C x 48 dimensions each move by about the
            learning rate per Adam step, which changes the log-probability of every sample by
            about lr * sqrt(2 * C * 48) per step: most PPO ratios leave the clip range.
        readout_mask: [obs_size] of 0/1, the observation columns the DN readout sees (None:
            all); :func:`make` builds it from ``readout_obs``, the observation entries' names.
            With the held DN noise only the episode's first draw trains the readout, so the
            weights of inputs that carry no steering signal only fit noise
            (docs/connectome_walk.md).
        ascending_cell: a VNC cell type (e.g. ``"I1"``) whose rate in every leg (``<cell>_<leg>``)
            the DN readout also reads, as ``tanh(rate / 50 Hz)`` of the carry at the step's
            start, through weights ``readout["w_asc"]`` [6, n_dn] that train with the readout:
            an ascending pathway (docs/connectome_walk.md, "Ascending feedback"; I1 of the leg
            in front at -3 widens the gait to 2.2-11.2 mm/s from 2.1-3.7). ``""``: none.
        ascending_coupling, init_ascending_gain: where ``w_asc`` starts: ``init_ascending_gain``
            from the leg :data:`agents.walk_readout.ASCENDING_COUPLINGS` names onto each leg's
            DNs (``"anterior"``: the leg in front on the same side, the front leg reading the
            hind leg; ``"posterior"``; ``"same"``), 0 elsewhere.
        readout_mirror: [obs_size] of +-1, each observation column's sign in the fly's mirror
            image (None: no symmetry). Given, the readout is held bilaterally symmetric: the
            mirrored observation drives the mirrored DNs (left and right swapped), ``W = (W +
            S W P) / 2`` and ``b = (b + b P) / 2`` with S the signs and P the left-right DN
            swap. :func:`make` builds it with ``readout_symmetry="bilateral"`` for the entries
            of :data:`agents.walk_readout.MIRROR_SIGNS` (Walk's command: speed kept, turn
            negated).
    """

    circuit: VNCCircuit
    joint_range_rad: np.ndarray
    n_chunk: int = 2
    control_dt_s: float = 0.02
    vnc_dt_s: float = 1e-3
    drive_center: float = 225.0
    drive_gain: float = 25.0
    adhesion_threshold: float = -0.3
    init_adhesion_gain: float = 10.0
    value_hidden: tuple[int, ...] = (64, 64)
    init_log_std: float = -1.0
    warmup_s: float = 0.3
    dn_noise: bool = False
    init_dn_log_std: float = -1.0
    dn_noise_corr: float = 0.0
    dn_noise_stationary: bool = False
    dn_noise_draw_s: float = 0.0
    learn_action_std: bool = True
    ascending_cell: str = ""
    ascending_coupling: str = "anterior"
    init_ascending_gain: float = 0.0
    readout_mask: np.ndarray | None = None
    readout_mirror: np.ndarray | None = None
    #: The env receives the Gaussian sample clipped to [-1, 1] (the mean is the motor output).
    action_squash = "clip"

    def __post_init__(self) -> None:
        rng = np.asarray(self.joint_range_rad, np.float32)
        if rng.shape != (constants.N_LEG_JOINTS, 2) or not np.all(rng[:, 1] > rng[:, 0]):
            raise ValueError(f"joint_range_rad must be [42, 2] with high > low, got {rng.shape}")
        if not 0 < self.vnc_dt_s <= 2e-3:
            raise ValueError(f"vnc_dt_s must be in (0, 0.002] s, got {self.vnc_dt_s}")
        n_sub = self.control_dt_s / (self.n_chunk * self.vnc_dt_s)
        if int(self.n_chunk) < 1 or abs(n_sub - round(n_sub)) > 1e-6 or round(n_sub) < 1:
            raise ValueError(
                f"control_dt_s / (n_chunk * vnc_dt_s) must be a whole number >= 1, got "
                f"{self.control_dt_s} / ({self.n_chunk} * {self.vnc_dt_s}) = {n_sub:.4g}"
            )
        if not 0.0 <= float(self.dn_noise_corr) <= 1.0:
            raise ValueError(f"dn_noise_corr must be in [0, 1], got {self.dn_noise_corr}")
        draw = float(self.dn_noise_draw_s) / self.control_dt_s
        if draw < 0 or abs(draw - round(draw)) > 1e-6:
            raise ValueError(
                f"dn_noise_draw_s must be a whole number >= 0 of control steps "
                f"({self.control_dt_s} s), got {self.dn_noise_draw_s}"
            )
        if draw and not self.dn_noise_held:
            raise ValueError("dn_noise_draw_s needs the held DN noise (dn_noise, dn_noise_corr 1)")
        object.__setattr__(self, "joint_range_rad", rng)
        if self.readout_mask is not None:
            mask = np.asarray(self.readout_mask, np.float32)
            if mask.ndim != 1 or not np.all((mask == 0) | (mask == 1)):
                raise ValueError(f"readout_mask must be a 1-d 0/1 array, got {mask!r}")
            object.__setattr__(self, "readout_mask", mask)
        if self.readout_mirror is not None:
            mirror = np.asarray(self.readout_mirror, np.float32)
            if mirror.ndim != 1 or not np.all(np.abs(mirror) == 1):
                raise ValueError(f"readout_mirror must be a 1-d array of +-1, got {mirror!r}")
            object.__setattr__(self, "readout_mirror", mirror)
            object.__setattr__(self, "_dn_swap", dn_mirror(self.circuit.network.dn_names))
        object.__setattr__(self, "_warm", self._warm_rates())
        if self.ascending_cell:
            index, init = ascending_init(
                self.circuit.network, self.ascending_cell, self.ascending_coupling,
                self.init_ascending_gain,
            )  # fmt: skip
            object.__setattr__(self, "_asc_index", index)
            object.__setattr__(self, "_asc_init", init)

    # ------------------------------------------------------------------ sizes
    @property
    def n_sub(self) -> int:
        """VNC Euler steps per chunk row."""
        return round(self.control_dt_s / (self.n_chunk * self.vnc_dt_s))

    @property
    def action_size(self) -> int:
        return self.n_chunk * N_ROW

    @property
    def latent_size(self) -> int:
        """DN-level noise dimensions (n_dn with :attr:`dn_noise`, else 0)."""
        return self.circuit.n_inputs if self.dn_noise else 0

    @property
    def dn_noise_held(self) -> bool:
        """Whether the DN noise is held for the episode (``dn_noise`` with ``dn_noise_corr``
        1): drawn once at the episode start, its deviation also an input of the critic."""
        return bool(self.dn_noise) and float(self.dn_noise_corr) >= 1.0

    @property
    def draw_step(self) -> int:
        """The control step of the episode (0 = its first) at which the held DN noise is drawn."""
        return round(float(self.dn_noise_draw_s) / self.control_dt_s)

    @property
    def warm_rates_hz(self) -> np.ndarray:
        """[n_neurons] (Hz): the carry at an episode start."""
        return self._warm  # type: ignore[attr-defined]

    def _warm_rates(self) -> np.ndarray:
        c = self.circuit
        params = c.init_params(None)
        state = c.init_state(params, 1)
        n = max(1, math.ceil(self.warmup_s / self.vnc_dt_s))
        drive = jnp.full((1, c.n_inputs), self.drive_center, jnp.float32)
        state, _ = jax.jit(lambda s: circuit_lib.run(c, params, s, drive, self.vnc_dt_s, n))(state)
        return np.asarray(state.rates_hz[0])

    # ---------------------------------------------------------- interface
    def init(self, rng: jax.Array, obs_size: int) -> dict[str, Any]:
        """Fresh parameters for observations of ``obs_size`` entries."""
        for name in ("readout_mask", "readout_mirror"):
            v = getattr(self, name)
            if v is not None and v.shape != (obs_size,):
                raise ValueError(f"{name} has {v.shape[0]} entries, observations {obs_size}")
        k_value, k_vnc = jax.random.split(rng)
        n_held = self.circuit.n_inputs if self.dn_noise_held else 0
        sizes = (obs_size + self.circuit.network.n_neurons + n_held, *self.value_hidden, 1)
        keys = jax.random.split(k_value, len(sizes) - 1)
        value = [
            _dense_init(k, a, b, 1.0 if b == 1 else math.sqrt(2))
            for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
        ]
        n_dn = self.circuit.n_inputs
        p0 = self.circuit.init_params(k_vnc)
        extra = {}
        if self.dn_noise:
            extra["dn_log_std"] = jnp.full((n_dn,), self.init_dn_log_std, jnp.float32)
        readout = {"w": jnp.zeros((obs_size, n_dn)), "b": jnp.zeros((n_dn,))}
        if self.ascending_cell:
            readout["w_asc"] = jnp.asarray(self._asc_init)  # type: ignore[attr-defined]
        return {
            **extra,
            "readout": readout,
            "vnc": {k: jnp.zeros_like(v) for k, v in p0.items()},
            "adhesion_gain": jnp.asarray(self.init_adhesion_gain, jnp.float32),
            "log_std": jnp.full((self.action_size,), self.init_log_std, jnp.float32),
            "value": value,
        }

    def initial_carry(self, batch: int) -> VNCState | NoisyCarry:
        """``VNCState`` with rates [batch, n_neurons]: :attr:`warm_rates_hz` for every row
        (with :attr:`dn_noise`, in a :class:`NoisyCarry` with zero deviation)."""
        warm = jnp.asarray(self.warm_rates_hz)
        vnc = VNCState(rates_hz=jnp.broadcast_to(warm, (batch, warm.shape[0])))
        if not self.dn_noise:
            return vnc
        dev = jnp.zeros((batch, self.circuit.n_inputs), jnp.float32)
        return NoisyCarry(vnc, dev, jnp.zeros((batch,), jnp.int32))

    def _start(self, carry: Any, reset: jax.Array) -> tuple[VNCState, jax.Array | None, Any]:
        """(VNC state, DN noise deviation or None, episode step or None) with reset rows at
        the episode start."""
        if not self.dn_noise:
            vnc, dev, step = carry, None, None
        else:
            vnc, dev, step = carry.vnc, carry.deviation, carry.step
        warm = jnp.asarray(self.warm_rates_hz)
        vnc = VNCState(jnp.where(reset[:, None], warm, vnc.rates_hz))
        if dev is not None:
            dev = jnp.where(reset[:, None], 0.0, dev)
            step = jnp.where(reset, 0, step)
        return vnc, dev, step

    def dn_readout(
        self, params: dict[str, Any], obs: jax.Array, rates_hz: jax.Array | None = None
    ) -> jax.Array:
        """The readout ``W obs + b`` [batch, n_dn] (before the tanh) for normalised obs (``W``'s
        rows outside :attr:`readout_mask` held at 0), plus ``tanh(rates / 50 Hz) @ w_asc`` of
        the :attr:`ascending_cell` from the VNC's rates ``rates_hz`` [batch, n_neurons] (Hz)
        where there is one (then ``rates_hz`` is required)."""
        r = params["readout"]
        w, b = r["w"], r["b"]
        if self.readout_mirror is not None:  # bilateral: mirrored obs -> mirrored DNs
            swap = self._dn_swap  # type: ignore[attr-defined]
            w = 0.5 * (w + self.readout_mirror[:, None] * w[:, swap])
            b = 0.5 * (b + b[swap])
            if self.ascending_cell:  # the mirrored legs' cells drive the mirrored DNs
                r = {**r, "w_asc": 0.5 * (r["w_asc"] + r["w_asc"][LEG_MIRROR][:, swap])}
        if self.readout_mask is not None:
            w = w * self.readout_mask[:, None]
        out = obs @ w + b
        if self.ascending_cell:
            if rates_hz is None:
                raise ValueError("a readout with an ascending_cell needs the VNC's rates_hz")
            asc = jnp.tanh(rates_hz[:, self._asc_index] / FEATURE_RATE_HZ)  # type: ignore[attr-defined]
            out = out + asc @ r["w_asc"]
        return out

    def drive(self, x: jax.Array) -> jax.Array:
        """Descending-neuron input currents ``center + gain * tanh(x)`` for a readout (or its
        noisy latent) ``x`` [batch, n_dn]."""
        return self.drive_center + self.drive_gain * jnp.tanh(x)

    def dn_input(
        self, params: dict[str, Any], obs: jax.Array, rates_hz: jax.Array | None = None
    ) -> jax.Array:
        """Descending-neuron input currents [batch, n_dn] for normalised obs [batch, O] (the
        mean drive: no DN noise; ``rates_hz`` as :meth:`dn_readout`)."""
        return self.drive(self.dn_readout(params, obs, rates_hz))

    def vnc_params(self, params: dict[str, Any]) -> dict[str, jax.Array]:
        """The circuit's parameters (physical units) from the policy's changes ``params["vnc"]``
        (see the module docstring); frozen names carry no gradient."""
        p0, d = self.circuit.init_params(None), params["vnc"]
        out = {}
        for name, base in p0.items():
            if name == "threshold":
                out[name] = base + d[name] * jnp.maximum(jnp.abs(base), 1.0)
            elif name == "joint_center_rad":
                out[name] = base + d[name]
            else:
                out[name] = base * jnp.exp(d[name])
        return self.circuit.freeze(out)

    def motor(
        self, params: dict[str, Any], carry: VNCState, dn: jax.Array
    ) -> tuple[VNCState, dict[str, jax.Array]]:
        """Run the VNC over one control step with ``dn`` [batch, n_dn] held. Returns the carry
        and ``joint_target_rad``, ``motor_u`` [batch, C, 42], ``pool_rates_hz``
        [batch, C, n_pools] at the end of each chunk row."""
        c = self.circuit
        vnc = self.vnc_params(params)

        def row(state, _):
            state, out = circuit_lib.run(c, vnc, state, dn, self.vnc_dt_s, self.n_sub)
            return state, out

        carry, outs = jax.lax.scan(row, carry, None, length=self.n_chunk)
        return carry, {k: jnp.swapaxes(v, 0, 1) for k, v in outs.items()}

    def activity(
        self, params: dict[str, Any], carry: VNCState | NoisyCarry, obs: jax.Array, reset: jax.Array
    ) -> dict[str, jax.Array]:
        """What the nervous system does in the step :meth:`apply` takes from the same inputs:
        ``dn_input`` [B, n_dn] (input current of each descending neuron) and
        ``pool_rates_hz`` [B, C, n_pools] (motor-pool rates at the end of each chunk row)."""
        carry, _, _ = self._start(carry, reset)
        dn = self.dn_input(params, obs, carry.rates_hz)
        _, out = self.motor(params, carry, dn)
        return {"dn_input": dn, "pool_rates_hz": out["pool_rates_hz"]}

    def apply(
        self,
        params: dict[str, Any],
        carry: VNCState | NoisyCarry,
        obs: jax.Array,
        reset: jax.Array,
        noise: jax.Array | None = None,
        latent: jax.Array | None = None,
    ) -> tuple:
        """One control step for a batch (the RecurrentNetwork contract): obs [B, O] normalised,
        reset [B] bool -> (carry, (mean, log_std) [B, C * 48], value [B]).

        With :attr:`dn_noise` (a latent stage, :attr:`latent_size` = n_dn): the DNs' drive is
        ``center + gain * tanh(latent)``, ``latent`` [B, n_dn] drawn as ``readout + rho *
        deviation + exp(dn_log_std) * sqrt(1 - rho^2) * noise`` (held for the episode when
        rho = 1: see ``dn_noise_corr``; or given: the stored sample; neither: the readout),
        and the step returns (carry, (mean, log_std) [B, n_dn + C *
        48], value, latent), the latent's Gaussian given the carried deviation first."""
        vnc, dev, step = self._start(carry, reset)
        features = [obs, jnp.tanh(vnc.rates_hz / FEATURE_RATE_HZ)]
        if self.dn_noise_held:  # the critic sees the offset held for the episode (0 at a start)
            features.append(jax.lax.stop_gradient(dev))
        value = _mlp(params["value"], jnp.concatenate(features, axis=-1))[:, 0]
        pre = self.dn_readout(params, obs, vnc.rates_hz)
        if self.dn_noise_held:
            first = (step == self.draw_step)[:, None]
            if latent is None:  # the draw step draws the offset; other steps keep it (0 before)
                drawn = pre if noise is None else pre + jnp.exp(params["dn_log_std"]) * noise
                latent = jnp.where(first, drawn, pre + dev)
            # other steps: the latent is its own mean at unit std (log-ratio 0, no gradient)
            dn_mean = jnp.where(first, pre, jax.lax.stop_gradient(latent))
            dn_log_std = jnp.where(first, params["dn_log_std"], 0.0)
        elif self.dn_noise:
            rho = float(self.dn_noise_corr)
            dn_mean = pre + rho * dev  # the AR(1) noise continues from its last deviation
            innovation = jnp.full(reset.shape, 0.5 * math.log(1.0 - rho**2), jnp.float32)
            if self.dn_noise_stationary:  # the episode's first draw has the stationary std
                innovation = jnp.where(reset, 0.0, innovation)
            dn_log_std = jnp.broadcast_to(params["dn_log_std"] + innovation[:, None], pre.shape)
            if latent is None:
                latent = dn_mean if noise is None else dn_mean + jnp.exp(dn_log_std) * noise
        vnc, out = self.motor(params, vnc, self.drive(pre if latent is None else latent))
        low, high = self.joint_range_rad[:, 0], self.joint_range_rad[:, 1]
        unit = 2.0 * (out["joint_target_rad"] - low) / (high - low) - 1.0
        legs = out["motor_u"].reshape(*out["motor_u"].shape[:2], constants.N_ADHESION, -1)
        adhesion = jnp.tanh(params["adhesion_gain"] * (self.adhesion_threshold - legs.mean(-1)))
        mean = jnp.concatenate([unit, adhesion], axis=-1)  # [B, C, 48]
        mean = mean.reshape(obs.shape[0], self.action_size)
        log_std = params["log_std"]
        if not self.learn_action_std:
            log_std = jax.lax.stop_gradient(log_std)
        log_std = jnp.broadcast_to(log_std, mean.shape)
        if not self.dn_noise:
            return vnc, (mean, log_std), value
        mean = jnp.concatenate([dn_mean, mean], axis=-1)
        log_std = jnp.concatenate([dn_log_std, log_std], axis=-1)
        return NoisyCarry(vnc, latent - pre, step + 1), (mean, log_std), value, latent


def make(task: Any, trainable: tuple[str, ...] | None = None, **kwargs: Any) -> VNCWalkPolicy:
    """The policy for a task (``env.task`` of ``flyenvs.brax.make``, or
    ``registry.make_task``) in the ``"joints"`` action mode: its joint ranges, ``n_chunk`` and
    control period; on the embedded default VNC or, with ``manc_dir`` in ``kwargs``, the
    MANC-derived graph; ``wiring="shuffled"`` (with ``shuffle_seed``, default 0) rewires it
    preserving every neuron's degrees (:func:`flyenvs.connectome.vnc.shuffle.shuffled`, the
    control). ``trainable``: the VNC parameters that learn (None: all; ``()``: the VNC frozen,
    readout only). Other ``kwargs``: :class:`VNCWalkPolicy`'s options."""
    from flyenvs.connectome import vnc
    from flyenvs.tasks.action_modes.base import joint_range_rad

    config = task.config
    if config.action_mode != "joints":
        raise ValueError(
            "the connectome Walk policy drives the 'joints' action mode, got "
            f"{config.action_mode!r}"
        )
    valid = {f.name for f in dataclasses.fields(VNCWalkPolicy)} - {
        "circuit", "joint_range_rad", "n_chunk", "control_dt_s", "readout_mask", "readout_mirror",
    }  # fmt: skip
    valid |= {"manc_dir", "wiring", "shuffle_seed", "readout_obs", "readout_symmetry"}
    unknown = sorted(set(kwargs) - valid)
    if unknown:
        raise KeyError(f"unknown connectome policy options {unknown}; valid: {sorted(valid)}")
    mask, mirror = readout_columns(
        task, kwargs.pop("readout_obs", None), kwargs.pop("readout_symmetry", None)
    )
    kwargs.update(readout_mask=mask, readout_mirror=mirror)
    network = vnc.build(kwargs.pop("manc_dir", None) or None)
    wiring = kwargs.pop("wiring", "connectome")
    seed = kwargs.pop("shuffle_seed", 0)
    if wiring == "shuffled":
        from flyenvs.connectome.vnc.shuffle import shuffled

        network = shuffled(network, seed)
    elif wiring != "connectome":
        raise ValueError(f"wiring must be 'connectome' or 'shuffled', got {wiring!r}")
    circuit = VNCCircuit(network, trainable=trainable)
    return VNCWalkPolicy(
        circuit,
        joint_range_rad(task.model),
        n_chunk=int(config.action.joints.n_chunk),
        control_dt_s=float(config.control_dt_s),
        **kwargs,
    )

"""The visual connectome policy: eyes -> optic lobe -> descending neurons -> VNC -> joints.

A :class:`agents.recurrent_ppo.networks.RecurrentNetwork` for the recurrent PPO trainer, on a
visual task (VisualTaxis, Optomotor, Pursuit) in the ``"joints"`` action mode::

    obs["vision"] [2, 721] (luminance, flyvis column order, left eye first)
      -> optic lobe: both eyes of every env as one batch [2B]; per control step,
                     n_steps = control_dt_s / 5 ms Euler steps with the eye frame held
                     (the eyes refresh once per control step, 50 Hz: docs/visual_connectome.md)
      -> features:   per eye, readout type and retinal region k (a grid of n_azimuth x
                     n_elevation regions of the column lattice; the eyes are mirror images, so
                     region k is the same part of the visual field in both eyes):
                     f = feature_scale * (mean over the region's columns of relu(V) - relu(V_grey))
                     [B, 2, T, K] (relu(V): a graded synapse's output; V_grey: the grey-adapted
                     voltage; feature_scale, 20 in the presets, brings the features to about the
                     unit scale of the normalised proprioception: docs/visual_connectome.md)
      -> the connectome Walk policy (:mod:`agents.connectome_walk`) on x = (normalised
         proprioception, f): readout onto the descending neurons -> VNC -> joint targets.

The optic lobe is a pretrained flyvis ensemble member (``pretrained``, default 0). Its 734
type-level parameters are **frozen** (``optic_lobe.trainable = []``, the default) or trained
end to end (a list of :data:`flyenvs.connectome.optic_lobe.circuit.PARAM_NAMES`), as changes
``d`` from the pretrained values: ``bias + d`` (voltage units), ``tau * exp(d)`` and
``strength * exp(d)`` (both stay positive).

Frozen, the optic lobe depends on nothing the trainer changes, so it runs once per env step
as part of the observation (:attr:`VisualConnectomePolicy.observation_encoder`: the trainer
wraps the env with :class:`agents.recurrent_ppo.encoded.EncodedObservation`, whose
observations are ``(proprioception, f)``), not again in every PPO epoch's re-evaluation.
Trained, it runs inside :meth:`VisualConnectomePolicy.apply` (its voltages part of the carry,
the policy gradient flows back through the unroll into its parameters). The features are
never normalised by the trainer (``raw_observation``), so both modes compute the same
function of the same parameters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from agents.connectome_walk import NoisyCarry, VNCWalkPolicy
from agents.optic_lobe_encoder import (
    N_EYES,
    OPPONENT_PAIRS,
    READOUT_TYPES,
    VISION_SIZE,
    OpticLobeEncoder,
    pooling_matrix,
)
from flyenvs.connectome.optic_lobe.circuit import OpticLobeCircuit
from flyenvs.connectome.optic_lobe.network import DEFAULT_DT_S
from flyenvs.connectome.vnc.network import VNCState

__all__ = [
    "DARK_TYPES",
    "N_EYES",
    "OPPONENT_PAIRS",
    "READOUT_TYPES",
    "VISION_SIZE",
    "OpticLobeEncoder",
    "VisualCarry",
    "VisualConnectomePolicy",
    "dark_object_readout",
    "handwired_policy",
    "handwired_state",
    "make",
    "optomotor_readout",
    "pooling_matrix",
]


class VisualCarry(NamedTuple):
    """Carry of the end-to-end policy: optic-lobe voltages [B, 2, N] and the Walk policy's
    carry (the VNC's state; with DN noise, a :class:`agents.connectome_walk.NoisyCarry`)."""

    optic_lobe: jax.Array
    vnc: VNCState | NoisyCarry


@dataclasses.dataclass(frozen=True, eq=False)
class VisualConnectomePolicy:
    """Optic lobe -> connectome Walk policy (see the module docstring).

    Args:
        walk: the DN readout -> VNC -> joints policy (its observation is ``(proprioception,
            features)``).
        encoder: the optic lobe and its feature readout.
        bilateral: constrain the DN readout to the fly's left-right symmetry: each eye's
            features drive its own side's DNs with weights ``same`` [C, K, 3] (C channels,
            K regions) and the other side's with ``other`` [C, K, 3], the same for both
            eyes, and both sides share one bias [3] (per leg pair). A mirror-image scene
            then gives mirror-image drives, and no constant turn can be learned: turning
            comes only from what the eyes see (and proprioception). These replace the Walk
            readout's bias and visual rows.
        proprio_readout: whether proprioception drives the DNs too (False: the DN readout
            sees only the eyes, its proprioceptive rows held at 0; the value head still sees
            proprioception).
    """

    walk: VNCWalkPolicy
    encoder: OpticLobeEncoder
    bilateral: bool = False
    proprio_readout: bool = True

    @property
    def train_optic_lobe(self) -> bool:
        return bool(self.encoder.circuit.trainable)

    @property
    def action_size(self) -> int:
        return self.walk.action_size

    @property
    def action_squash(self) -> str:
        return self.walk.action_squash

    @property
    def latent_size(self) -> int:
        return self.walk.latent_size

    @property
    def observation_encoder(self) -> OpticLobeEncoder | None:
        """The frozen optic lobe, run by the trainer as part of the observation (None when it
        trains: then :meth:`apply` runs it)."""
        return None if self.train_optic_lobe else self.encoder

    @property
    def raw_observation(self) -> tuple[int, int]:
        """(start, stop) of the observation entries the trainer passes unnormalised: the
        features (frozen) or the luminance (trained end to end)."""
        e = self.encoder
        if self.train_optic_lobe:
            return e.vision_start, e.obs_size
        return e.vision_start, e.encoded_size

    # ---------------------------------------------------------------- params
    def init(self, rng: jax.Array, obs_size: int) -> dict[str, Any]:
        """Fresh parameters; ``obs_size`` is the trainer's observation (encoded when frozen)."""
        e = self.encoder
        want = e.obs_size if self.train_optic_lobe else e.encoded_size
        if obs_size != want:
            raise ValueError(f"observation size {obs_size} != the policy's {want}")
        params: dict[str, Any] = {"walk": self.walk.init(rng, e.encoded_size)}
        if self.bilateral:
            zeros = jnp.zeros((e.n_channels, e.n_regions, 3), jnp.float32)
            params["bilateral"] = {"same": zeros, "other": zeros, "bias": jnp.zeros((3,))}
        if self.train_optic_lobe:
            params["optic_lobe"] = {k: jnp.zeros_like(v) for k, v in e.pretrained_params.items()}
        return params

    def optic_lobe_params(self, params: dict[str, Any]) -> dict[str, jax.Array]:
        """The optic lobe's parameters (flyvis units) from the policy's changes (frozen: the
        pretrained values)."""
        p0 = self.encoder.pretrained_params
        if not self.train_optic_lobe:
            return p0
        d = params["optic_lobe"]
        out = {
            "bias": p0["bias"] + d["bias"],
            "time_const_s": p0["time_const_s"] * jnp.exp(d["time_const_s"]),
            "strength": p0["strength"] * jnp.exp(d["strength"]),
        }
        return self.encoder.circuit.freeze(out)

    def initial_carry(self, batch: int) -> VisualCarry | VNCState | NoisyCarry:
        vnc = self.walk.initial_carry(batch)
        if not self.train_optic_lobe:
            return vnc
        return VisualCarry(self.encoder.initial_state(batch), vnc)

    # ---------------------------------------------------------------- step
    def walk_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """The Walk policy's parameters; with :attr:`bilateral`, its readout bias and visual
        rows built from the symmetric ``params["bilateral"]``; without
        :attr:`proprio_readout`, its proprioceptive rows 0 (no gradient reaches them)."""
        walk = params["walk"]
        if not self.proprio_readout:
            readout = walk["readout"]
            w = jnp.asarray(readout["w"]).at[: self.encoder.vision_start].set(0.0)
            walk = {**walk, "readout": {**readout, "w": w}}
        if not self.bilateral:
            return walk
        e, sym = self.encoder, params["bilateral"]
        same, other = sym["same"], sym["other"]
        # [eye, type, region, side, leg]: eye 0 = left drives side 0 (left DNs) with `same`
        left_eye = jnp.stack([same, other], axis=2)
        right_eye = jnp.stack([other, same], axis=2)
        w_vis = jnp.stack([left_eye, right_eye]).reshape(e.feature_size, 6)
        readout = walk["readout"]
        w = jnp.asarray(readout["w"]).at[e.vision_start :].set(w_vis)
        b = jnp.concatenate([sym["bias"], sym["bias"]])
        return {**walk, "readout": {**readout, "w": w, "b": b}}

    def _walk_input(self, params, carry, obs, reset):
        """(walk carry, walk observation, optic-lobe carry or None)."""
        if not self.train_optic_lobe:
            return carry, obs, None
        ol, x = self.encoder.observe(self.optic_lobe_params(params), carry.optic_lobe, obs, reset)
        return carry.vnc, x, ol

    def apply(
        self,
        params: dict[str, Any],
        carry: Any,
        obs: jax.Array,
        reset: jax.Array,
        noise: jax.Array | None = None,
        latent: jax.Array | None = None,
    ) -> tuple:
        """One control step (the RecurrentNetwork contract); ``obs`` [B, O] normalised except
        :attr:`raw_observation`; ``noise`` / ``latent`` and a fourth output with the Walk
        policy's DN noise (:meth:`VNCWalkPolicy.apply`)."""
        vnc, x, ol = self._walk_input(params, carry, obs, reset)
        walk = self.walk_params(params)
        if self.latent_size:
            vnc, out, value, z = self.walk.apply(walk, vnc, x, reset, noise=noise, latent=latent)
        else:
            vnc, out, value = self.walk.apply(walk, vnc, x, reset)
        carry = vnc if ol is None else VisualCarry(ol, vnc)
        return (carry, out, value, z) if self.latent_size else (carry, out, value)

    def activity(
        self, params: dict[str, Any], carry: Any, obs: jax.Array, reset: jax.Array
    ) -> dict[str, jax.Array]:
        """The Walk policy's ``dn_input`` and ``pool_rates_hz`` (:meth:`VNCWalkPolicy.activity`)
        and, trained end to end, ``readout_maps`` [B, 2, T, 721] (the readout types' voltages
        after this step's optic-lobe steps; frozen, the observation encoder gives them)."""
        vnc, x, ol = self._walk_input(params, carry, obs, reset)
        seen = self.walk.activity(self.walk_params(params), vnc, x, reset)
        if ol is not None:
            seen["readout_maps"] = self.encoder.readout_maps(ol)
        return seen


def _yaw_readout(
    policy: VisualConnectomePolicy, signs: dict[str, float], gain: float, regions: list[int]
) -> np.ndarray:
    """DN readout weights [encoded_size, 6] that turn the fly by ``gain * (s_left - s_right)``,
    where ``s_eye`` = sum over ``signs`` (channel -> sign) and ``regions`` of the eye's unscaled
    features: added to the right legs' DNg100 drive and subtracted from the left legs' (the
    VNC turns the fly towards the side with less drive: docs/connectome_walk.md), so a larger
    signal in the left eye turns the fly left."""
    e = policy.encoder
    channels = list(e.channels)
    missing = [t for t in signs if t not in channels]
    if missing:
        raise ValueError(f"this readout needs channels {missing}; the policy has {channels}")
    # eye, channel, region, side, leg
    w = np.zeros((N_EYES, e.n_channels, e.n_regions, 2, 3), np.float32)
    gain = gain / e.feature_scale
    for t, sign in signs.items():
        for eye, eye_sign in ((0, 1.0), (1, -1.0)):
            for side, side_sign in ((0, -1.0), (1, 1.0)):  # left legs -, right legs +
                w[eye, channels.index(t), regions, side] = gain * sign * eye_sign * side_sign
    out = np.zeros((e.encoded_size, 6), np.float32)
    out[e.vision_start :] = w.reshape(e.feature_size, 6)
    return out


def optomotor_readout(policy: VisualConnectomePolicy, gain: float = 1.0) -> np.ndarray:
    """A hand-wired optomotor readout: DN readout weights [encoded_size, 6] (the Walk policy's
    ``readout.w``; DNg100 L F/M/H, R F/M/H) from the T4/T5 features alone.

    Each eye's horizontal motion signal is T4a + T5a - T4b - T5b (a and b: the two horizontal
    preferred directions, summed over the eye's regions); the eyes' lattices are mirror images,
    so a yaw rotation of the world drives it with opposite signs in the two eyes, and
    ``yaw = left eye - right eye`` is positive for a world turning left (counter-clockwise from
    above). ``gain * yaw`` is added to the right legs' drive and subtracted from the left legs'
    (the VNC turns the fly towards the side with less drive: docs/connectome_walk.md), so the
    fly turns with the world: the optomotor response, the reference a trained readout is
    compared with. ``gain`` is per unit of the unscaled feature (the weights are divided by
    the encoder's ``feature_scale``). With opponent channels the same signal is
    ``(T4a-T4b) + (T5a-T5b)``."""
    if policy.encoder.opponent_pairs:
        signs = {"T4a-T4b": 1.0, "T5a-T5b": 1.0}
    else:
        signs = {"T4a": 1.0, "T5a": 1.0, "T4b": -1.0, "T5b": -1.0}
    return _yaw_readout(policy, signs, gain, list(range(policy.encoder.n_regions)))


#: The sustained OFF columnar cells: depolarised by a dark object whether it moves or not.
DARK_TYPES: tuple[str, ...] = ("Mi9", "Tm9")


def dark_object_readout(
    policy: VisualConnectomePolicy,
    gain: float = 2.0,
    dorsal_only: bool = True,
    back_gain: float | None = None,
) -> np.ndarray:
    """A hand-wired readout that turns the fly towards the eye that sees more of a dark object:
    DN readout weights [encoded_size, 6] from the Mi9 and Tm9 features (:data:`DARK_TYPES`),
    each eye's signal their sum over its regions (``dorsal_only``: the upper elevation band,
    where a pillar stands against the sky and the grey ground adds nothing), ``gain * (left -
    right)`` onto the DNs as :func:`optomotor_readout`. The reference the trained VisualTaxis
    and Pursuit readouts are compared with (docs/visual_connectome.md): the connectome's
    version of :func:`flyenvs.tasks.visual_taxis.steer_to_darker_eye`.

    ``back_gain`` (default ``gain``): the gain of the regions behind the front azimuth band
    (the last band, which looks ahead). An object far to the side fills few columns of a
    region, so it needs a larger gain to turn the fly hard, while a large gain on the front
    band makes the fly weave once it faces the object."""
    e = policy.encoder
    top = e.n_elevation - 1  # pooling_matrix's dorsal band
    front = e.n_azimuth - 1
    out = np.zeros((e.encoded_size, 6), np.float32)
    for r, (azimuth, band) in enumerate(zip(e.region_azimuths, e.region_elevations, strict=True)):
        if dorsal_only and band != top:
            continue
        g = gain if back_gain is None or azimuth == front else back_gain
        out += _yaw_readout(policy, dict.fromkeys(DARK_TYPES, 1.0), g, [r])
    return out


def handwired_state(
    preset: str,
    readout: Callable[[VisualConnectomePolicy], np.ndarray],
    episode_length: int | None = None,
    connectome: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(training state, meta)`` of ``preset``'s visual connectome network, untrained
    (pretrained optic lobe, the VNC at its connectome values), with its DN readout set by
    ``readout(network)`` (weights [encoded_size, 6], e.g. :func:`optomotor_readout`): what a
    checkpoint holds, so ``agents.checkpoints.save`` writes it as a run that
    ``agents.policies.load`` reads and ``scripts/train.py --init-from`` fine-tunes.

    A :attr:`VisualConnectomePolicy.bilateral` preset keeps its symmetric parameters
    (``same`` / ``other``), read off the readout, which must then be left-right symmetric.
    ``episode_length`` (control steps) replaces the preset's; ``connectome``: options merged
    into the preset's (e.g. an ascending pathway,
    :class:`agents.connectome_walk.VNCWalkPolicy`'s ``ascending_cell``).

    Raises:
        ValueError: a bilateral preset and a readout that is not left-right symmetric, or one
            with proprioceptive weights.
    """
    import json

    import flyenvs.brax
    from agents import ppo
    from agents.recurrent_ppo import driver

    env_options = {} if episode_length is None else {"episode_length": int(episode_length)}
    cfg = ppo.resolve_preset(preset, env=env_options)
    cfg["connectome"].update(connectome or {})
    env = flyenvs.brax.make(cfg["task"], backend="mujoco", **cfg["env"])
    net = driver.make_network(cfg, env.task, env.action_size)
    state = driver.state_template(
        net, driver.network_obs_size(net, env.task.observation_size), cfg["ppo"]
    )
    w = np.asarray(readout(net), np.float32)
    if net.bilateral:
        e = net.encoder
        if np.any(w[: e.vision_start]):
            raise ValueError("a bilateral readout has no proprioceptive weights")
        # read same / other off the left eye ([eye, channel, region, side, leg]; its own side
        # is side 0), then check the readout is the one walk_params builds from them
        v = w[e.vision_start :].reshape(N_EYES, e.n_channels, e.n_regions, 2, 3)
        state["network"]["bilateral"] = {
            **state["network"]["bilateral"], "same": jnp.asarray(v[0, :, :, 0]),
            "other": jnp.asarray(v[0, :, :, 1]),
        }  # fmt: skip
        built = np.asarray(net.walk_params(state["network"])["readout"]["w"])
        if not np.allclose(built[e.vision_start :], w[e.vision_start :]):
            raise ValueError("a bilateral preset needs a left-right symmetric readout")
    else:
        state["network"]["walk"]["readout"]["w"] = jnp.asarray(w)
    meta = json.loads(json.dumps(driver.run_meta(cfg, env)))  # as a checkpoint holds it
    return state, meta


def handwired_policy(
    preset: str,
    readout: Callable[[VisualConnectomePolicy], np.ndarray],
    episode_length: int,
    connectome: dict[str, Any] | None = None,
) -> Any:
    """The Gymnasium policy (:class:`agents.policies.RecurrentPolicy`) of
    :func:`handwired_state`'s network, for episodes of ``episode_length`` control steps: the
    hand-wired references (nothing trained)."""
    from agents import policies

    return policies.RecurrentPolicy(*handwired_state(preset, readout, episode_length, connectome))


def make(
    task: Any,
    trainable: tuple[str, ...] | None = None,
    optic_lobe: dict[str, Any] | None = None,
    **kwargs: Any,
) -> VisualConnectomePolicy:
    """The policy for a visual task (``env.task``) in the ``"joints"`` action mode.

    Args:
        trainable: the VNC parameters that learn (as :func:`agents.connectome_walk.make`).
        optic_lobe: ``trainable`` (names of the optic lobe's parameters that learn; default
            ``[]``, frozen), ``pretrained`` (ensemble member, default 0), ``readout_types``
            (default :data:`READOUT_TYPES`), ``n_azimuth``, ``n_elevation`` (default 4, 2),
            ``elevation_bands`` (default all), ``feature_scale`` (default 1), ``opponent``
            (default False; True, or a list of channel names; all
            :class:`OpticLobeEncoder`'s), ``wiring``: ``"connectome"`` (default) or
            ``"shuffled"``, the control with its edges rewired, degrees preserved
            (:func:`flyenvs.connectome.optic_lobe.shuffle.shuffled`, with ``shuffle_seed``,
            default 0; the same 734 parameters and pretrained values).
        kwargs: ``bilateral`` (default False), ``proprio_readout`` (default True; both
            :class:`VisualConnectomePolicy`'s) and the Walk
            policy's options (:func:`agents.connectome_walk.make`).
    """
    from agents import connectome_walk
    from flyenvs.connectome import optic_lobe as ol

    spec = task.observation_spec
    names = list(spec)
    if "vision" not in spec or names[-1] != "vision":
        raise ValueError(
            f"the visual connectome policy needs a visual task (last observation entry "
            f"'vision'), got entries {names}"
        )
    options = dict(optic_lobe or {})
    valid = {"trainable", "pretrained", "readout_types", "n_azimuth", "n_elevation",
             "elevation_bands", "feature_scale", "opponent", "wiring", "shuffle_seed"}  # fmt: skip
    unknown = sorted(set(options) - valid)
    if unknown:
        raise KeyError(f"unknown optic_lobe options {unknown}; valid: {sorted(valid)}")
    control_dt_s = float(task.config.control_dt_s)
    n_steps = control_dt_s / DEFAULT_DT_S
    if abs(n_steps - round(n_steps)) > 1e-6:
        raise ValueError(
            f"the control step ({control_dt_s} s) must be a whole number of optic-lobe steps "
            f"({DEFAULT_DT_S} s)"
        )
    wiring = options.get("wiring", "connectome")
    if wiring == "connectome":
        network = ol.build()
    elif wiring == "shuffled":
        from flyenvs.connectome.optic_lobe.shuffle import shuffled

        network = ol.OpticLobe(shuffled(ol.compile_connectome(), options.get("shuffle_seed", 0)))
    else:
        raise ValueError(f"optic_lobe wiring must be 'connectome' or 'shuffled', got {wiring!r}")
    circuit = OpticLobeCircuit(
        network,
        readout_types=tuple(options.get("readout_types", READOUT_TYPES)),
        trainable=tuple(options.get("trainable", ())),
        pretrained=int(options.get("pretrained", 0)),
    )
    encoder = OpticLobeEncoder(
        circuit,
        obs_size=int(task.observation_size),
        n_steps=round(n_steps),
        n_azimuth=int(options.get("n_azimuth", 4)),
        n_elevation=int(options.get("n_elevation", 2)),
        elevation_bands=options.get("elevation_bands"),
        feature_scale=float(options.get("feature_scale", OpticLobeEncoder.feature_scale)),
        opponent=options.get("opponent", False),
    )
    bilateral = bool(kwargs.pop("bilateral", False))
    proprio_readout = bool(kwargs.pop("proprio_readout", True))
    walk = connectome_walk.make(task, trainable=trainable, **kwargs)
    return VisualConnectomePolicy(
        walk, encoder, bilateral=bilateral, proprio_readout=proprio_readout
    )

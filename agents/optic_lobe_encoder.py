"""The visual connectome policy's encoder: eye frames -> optic-lobe voltages -> readout features.

:class:`OpticLobeEncoder` runs the flyvis optic lobe (both eyes of every env as one batch, the
eye frame held for the control step's Euler steps) and pools its readout types' rectified
voltages per retinal region (:func:`pooling_matrix`), optionally as the lobula plate's opponent
channels (:data:`OPPONENT_PAIRS`). :mod:`agents.connectome_visual` puts it in front of the Walk
policy; shapes and units are in that module's docstring.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from flyenvs.connectome.optic_lobe.circuit import OpticLobeCircuit
from flyenvs.connectome.optic_lobe.network import DEFAULT_DT_S
from flyenvs.connectome.optic_lobe.tuning import T4, T5
from flyenvs.vision.lattice import N_OMMATIDIA, hex_coords, lattice_xy

#: Default readout: the motion detectors T4a-d (ON) and T5a-d (OFF), and the four columnar
#: inputs whose responses carry luminance and contrast where nothing moves (Mi1 and Tm1:
#: transient ON / OFF; Mi9 and Tm9: sustained, the dark-object signal a fixating fly needs).
READOUT_TYPES: tuple[str, ...] = (*T4, *T5, "Mi1", "Tm1", "Mi9", "Tm9")
N_EYES = 2
VISION_SIZE = N_EYES * N_OMMATIDIA
#: The lobula plate's opponent pairs: layers 1/2 (a: front-to-back, b: back-to-front) and 3/4
#: (c: upward, d: downward), of T4 (ON) and T5 (OFF).
OPPONENT_PAIRS: tuple[tuple[str, str], ...] = (
    ("T4a", "T4b"), ("T4c", "T4d"), ("T5a", "T5b"), ("T5c", "T5d"),
)  # fmt: skip


def pooling_matrix(n_azimuth: int, n_elevation: int) -> np.ndarray:
    """[721, n_azimuth * n_elevation] float32: column -> region averaging weights (each region's
    column sums to 1). Regions split the lattice into equal-width bands of its horizontal
    coordinate (azimuth, posterior -> anterior: band ``n_azimuth - 1`` looks ahead) times bands of
    its vertical one (elevation, ventral -> dorsal: band ``n_elevation - 1`` sees the sky),
    region index ``a * n_elevation + e`` (tested against rendered scenes)."""
    if int(n_azimuth) < 1 or int(n_elevation) < 1:
        raise ValueError(f"n_azimuth and n_elevation must be >= 1, got {n_azimuth}, {n_elevation}")
    x, y = lattice_xy(*hex_coords())
    band = lambda q, n: np.minimum(  # noqa: E731
        ((q - q.min()) / (q.max() - q.min()) * n).astype(int), n - 1
    )
    region = band(x, n_azimuth) * n_elevation + band(y, n_elevation)
    pool = np.zeros((N_OMMATIDIA, n_azimuth * n_elevation), np.float32)
    pool[np.arange(N_OMMATIDIA), region] = 1.0
    return pool / pool.sum(axis=0, keepdims=True)


@dataclasses.dataclass(frozen=True, eq=False)
class OpticLobeEncoder:
    """Eye frames -> optic-lobe voltages -> pooled readout features (see the module docstring).

    Args:
        circuit: the optic lobe (its ``readout_types`` are the feature types).
        obs_size: size of the raw flat observation, whose last :data:`VISION_SIZE` entries are
            ``vision`` [2, 721].
        n_steps: optic-lobe Euler steps per control step (the frame held for all of them).
        dt_s: optic-lobe step (s; flyvis's 5 ms).
        n_azimuth, n_elevation: the retinal region grid (:func:`pooling_matrix`).
        elevation_bands: the grid's elevation bands read out (0 = ventral ... ``n_elevation -
            1`` = dorsal; None, the default: all). ``(1,)`` of 2 reads only the upper half of
            each eye, where a pillar stands against the sky and the uniform ground, whose
            image the fly's own stride moves, adds nothing.
        feature_scale: the features' fixed gain (dimensionless, > 0; default 1, as runs saved
            before it existed were trained). At 20, the visual presets' value, they have about
            unit scale: on Optomotor their per-type std is 0.2-2.6 (unscaled 0.011-0.13), where
            the trainer's normalised proprioception has 1 (the features are not normalised).
        opponent: read out the lobula plate's motion opponency instead of each type: one
            channel per pair of :data:`OPPONENT_PAIRS` (``T4a - T4b``, ...), the difference of
            the two layers' features, as lobula plate tangential cells combine a layer's
            excitation with the opposite layer's inhibition. A grating drives every T4/T5 type
            (on Optomotor the types' mean feature is 2 at 0.5 s) while only the differences
            tell its direction; the readout types must hold all eight. A tuple of channel
            names (e.g. ``("T4a-T4b", "T5a-T5b")``, the horizontal pairs that horizontal-system
            cells pool) reads out only those pairs, whose types the readout must hold.
    """

    circuit: OpticLobeCircuit
    obs_size: int
    n_steps: int = 4
    dt_s: float = DEFAULT_DT_S
    n_azimuth: int = 4
    n_elevation: int = 2
    elevation_bands: tuple[int, ...] | list[int] | None = None
    feature_scale: float = 1.0
    opponent: bool | tuple[str, ...] | list[str] = False

    def __post_init__(self) -> None:
        if self.obs_size <= VISION_SIZE:
            raise ValueError(
                f"obs_size must exceed the vision entry's {VISION_SIZE}, got {self.obs_size}"
            )
        if int(self.n_steps) < 1:
            raise ValueError(f"n_steps must be >= 1, got {self.n_steps}")
        if not float(self.feature_scale) > 0:
            raise ValueError(f"feature_scale must be > 0, got {self.feature_scale}")
        if isinstance(self.opponent, list):  # a config's JSON list of channel names
            object.__setattr__(self, "opponent", tuple(self.opponent))
        pairs = self._parse_opponent()
        object.__setattr__(self, "_pairs", pairs)
        types = list(self.circuit.readout_types)
        if pairs:
            missing = [t for pair in pairs for t in pair if t not in types]
            if missing:
                raise ValueError(f"opponent channels need readout types {missing}")
            mix = np.zeros((len(pairs), len(types)), np.float32)
            for i, (a, b) in enumerate(pairs):
                mix[i, types.index(a)], mix[i, types.index(b)] = 1.0, -1.0
        else:
            mix = np.eye(len(types), dtype=np.float32)
        object.__setattr__(self, "_mix", jnp.asarray(mix))  # [C, T]: types -> channels
        bands = range(self.n_elevation) if self.elevation_bands is None else self.elevation_bands
        bands = tuple(int(b) for b in bands)
        valid = set(range(self.n_elevation))
        if not bands or len(set(bands)) != len(bands) or not set(bands) <= valid:
            raise ValueError(
                f"elevation_bands must be distinct bands of range({self.n_elevation}), got "
                f"{self.elevation_bands!r}"
            )
        object.__setattr__(self, "_bands", bands)
        keep = [a * self.n_elevation + e for a in range(self.n_azimuth) for e in bands]
        pool = pooling_matrix(self.n_azimuth, self.n_elevation)[:, keep]
        p0 = self.circuit.init_params(None)
        grey = np.asarray(self.circuit.init_state(p0, 1, self.dt_s)[0])
        object.__setattr__(self, "_pool", jnp.asarray(pool))
        object.__setattr__(self, "_grey", grey)
        object.__setattr__(self, "_p0", p0)
        base = self._pooled(jnp.asarray(grey)[None, None])[0, 0]
        object.__setattr__(self, "_base", base)  # [T, K]

    # ------------------------------------------------------------------ sizes
    @property
    def n_types(self) -> int:
        return len(self.circuit.readout_types)

    @property
    def n_regions(self) -> int:
        return self.n_azimuth * len(self._bands)  # type: ignore[attr-defined]

    @property
    def region_elevations(self) -> tuple[int, ...]:
        """The elevation band of each region read out, [n_regions] (region ``a * len(bands) +
        i`` is azimuth band ``a`` and elevation band ``bands[i]``)."""
        return self._bands * self.n_azimuth  # type: ignore[attr-defined]

    @property
    def region_azimuths(self) -> tuple[int, ...]:
        """The azimuth band of each region read out, [n_regions] (band ``n_azimuth - 1`` looks
        ahead; the order of :attr:`region_elevations`)."""
        n = len(self._bands)  # type: ignore[attr-defined]
        return tuple(a for a in range(self.n_azimuth) for _ in range(n))

    @property
    def opponent_pairs(self) -> tuple[tuple[str, str], ...]:
        """The opponent pairs read out (:attr:`opponent`): all of :data:`OPPONENT_PAIRS`, the
        named ones, or none."""
        return self._pairs  # type: ignore[attr-defined]

    def _parse_opponent(self) -> tuple[tuple[str, str], ...]:
        """:attr:`opponent_pairs` from :attr:`opponent` (once, at construction).

        Raises:
            ValueError: a name that is not one of the pairs (the message lists them).
        """
        if isinstance(self.opponent, bool):
            return OPPONENT_PAIRS if self.opponent else ()
        by_name = {f"{a}-{b}": (a, b) for a, b in OPPONENT_PAIRS}
        names = [self.opponent] if isinstance(self.opponent, str) else list(self.opponent)
        unknown = [n for n in names if n not in by_name]
        if unknown or not names or len(set(names)) != len(names):
            raise ValueError(
                f"opponent must be a bool or distinct channel names of {list(by_name)}, "
                f"got {self.opponent!r}"
            )
        return tuple(by_name[n] for n in names)

    @property
    def channels(self) -> tuple[str, ...]:
        """The feature channels per eye and region: the readout types, or with
        :attr:`opponent` the pairs' differences (``"T4a-T4b"``, ...)."""
        if self.opponent_pairs:
            return tuple(f"{a}-{b}" for a, b in self.opponent_pairs)
        return tuple(self.circuit.readout_types)

    @property
    def n_channels(self) -> int:
        return len(self.channels)

    @property
    def feature_size(self) -> int:
        """F = 2 eyes x channels x regions."""
        return N_EYES * self.n_channels * self.n_regions

    @property
    def vision_start(self) -> int:
        return self.obs_size - VISION_SIZE

    @property
    def encoded_size(self) -> int:
        """Size of ``(proprioception, features)``."""
        return self.vision_start + self.feature_size

    @property
    def pretrained_params(self) -> dict[str, jax.Array]:
        """The optic lobe's starting (pretrained) parameters."""
        return self._p0  # type: ignore[attr-defined]

    # ---------------------------------------------------------------- dynamics
    def initial_state(self, batch: int) -> jax.Array:
        """Grey-adapted voltages [batch, 2, N] (the pretrained network's; an episode start)."""
        grey = jnp.asarray(self._grey)  # type: ignore[attr-defined]
        return jnp.broadcast_to(grey, (int(batch), N_EYES, grey.shape[0]))

    def _pooled(self, v: jax.Array) -> jax.Array:
        """[B, 2, N] voltages -> [B, 2, T, K] region means of relu(V) of the readout types."""
        r = jax.nn.relu(self.circuit.readout(v))  # [B, 2, T * 721]
        r = r.reshape(*v.shape[:2], self.n_types, N_OMMATIDIA)
        return r @ self._pool  # type: ignore[attr-defined]

    def features(self, v: jax.Array) -> jax.Array:
        """[B, 2, N] voltages -> features [B, F] (eye-major, then channel, then region)."""
        f = self.feature_scale * (self._pooled(v) - self._base)  # type: ignore[attr-defined]
        f = jnp.einsum("ct,betk->beck", self._mix, f)  # type: ignore[attr-defined]
        return f.reshape(v.shape[0], self.feature_size)

    def step(
        self, params: dict[str, jax.Array], state: jax.Array, vision: jax.Array, reset: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """One control step: voltages [B, 2, N] and luminance ``vision`` [B, 1442] (raw, the
        flat ``obs["vision"]``) -> (voltages, features [B, F]). Rows with ``reset`` start from
        the grey-adapted state (their episode starts at this frame)."""
        batch = vision.shape[0]
        # constant (frozen) parameters would let XLA constant-fold the 1.5 M-edge weight
        # gather at compile time (minutes); the barrier keeps it a run-time op
        params = jax.lax.optimization_barrier(params)
        state = jnp.where(reset[:, None, None], self.initial_state(batch), state)
        flat = state.reshape(batch * N_EYES, -1)
        lum = vision.reshape(batch * N_EYES, N_OMMATIDIA)
        flat = self.circuit.advance(params, flat, lum, self.n_steps, self.dt_s)
        state = flat.reshape(batch, N_EYES, -1)
        return state, self.features(state)

    def readout_maps(self, state: jax.Array) -> jax.Array:
        """Voltages of the readout types at every column, [B, 2, T, 721] (for the videos)."""
        r = self.circuit.readout(state)
        return r.reshape(*state.shape[:2], self.n_types, N_OMMATIDIA)

    def encode(self, obs: jax.Array, features: jax.Array) -> jax.Array:
        """Raw flat obs [B, O] and features [B, F] -> ``(proprioception, features)``."""
        return jnp.concatenate([obs[:, : self.vision_start], features], axis=-1)

    def observe(
        self, params: dict[str, jax.Array], state: jax.Array, obs: jax.Array, reset: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """:meth:`step` on the raw flat obs [B, O]'s luminance, then :meth:`encode`:
        (voltages [B, 2, N], ``(proprioception, features)`` [B, encoded_size])."""
        state, features = self.step(params, state, obs[:, self.vision_start :], reset)
        return state, self.encode(obs, features)

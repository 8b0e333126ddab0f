"""Connectome-constrained networks of the fly's nervous system, pure JAX (one home for both).

- :mod:`flyenvs.connectome.optic_lobe`: the flyvis optic lobe (65 cell types, 45,669 neurons,
  1.5 M synapses) with its pretrained ensemble; its columns follow the eye's lattice order
  (:func:`flyenvs.vision.lattice.hex_coords`).
- :mod:`flyenvs.connectome.vnc`: the ventral nerve cord (embedded default from the Pugliese et
  al. 2025 core CPG, or the MANC DN -> IN -> MN graph from tables).

- :mod:`flyenvs.connectome.circuit`: the one controller interface both implement
  (``init_params(key)``, ``init_state(params, batch)``, ``step(params, state, inputs, dt_s) ->
  (state, outputs)``, a named ``trainable`` subset):
  :class:`~flyenvs.connectome.vnc.circuit.VNCCircuit` and
  :class:`~flyenvs.connectome.optic_lobe.circuit.OpticLobeCircuit`.

Layer: below the tasks (``flyenvs.tasks.action_modes.vnc`` runs the VNC as the ``"vnc"`` action
mode) and below ``agents`` (which trains them inside policies). Both networks are frozen,
validated connectome data with pure step functions; see docs/vnc.md and docs/optic_lobe.md.
"""

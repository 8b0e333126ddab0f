"""flyenvs.sim."""

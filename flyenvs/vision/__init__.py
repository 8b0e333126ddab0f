"""flyenvs.vision."""

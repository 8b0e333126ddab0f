"""flyenvs.body."""

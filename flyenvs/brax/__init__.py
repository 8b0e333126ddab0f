"""flyenvs.brax."""

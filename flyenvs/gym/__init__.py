"""flyenvs.gym."""

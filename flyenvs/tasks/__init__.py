"""flyenvs.tasks."""

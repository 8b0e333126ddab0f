"""Controllers: connectome-constrained networks and policies."""

"""Controllers: connectome-constrained networks and policies."""

# Every agents module uses brax, which imports mujoco.mjx: import MJX first, without its
# warp-probe lines (flyenvs.sim._mjx_import).
from flyenvs.sim import _mjx_import  # noqa: F401

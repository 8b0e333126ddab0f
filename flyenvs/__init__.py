"""flyenvs: reinforcement-learning environments with an embodied Drosophila.

Importing ``flyenvs`` registers every Gymnasium id (``flyenvs/...``) once the task modules exist.
"""

__version__ = "0.1.0"

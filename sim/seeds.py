"""Child seed sequences that never change their parent.

``SeedSequence.spawn`` counts the children it has handed out *on the parent object*, so calling a
function twice with the same seed object would give two different runs. :func:`children` derives
the same children a fresh sequence's ``spawn(n)`` would, without touching the parent.
"""

from __future__ import annotations

import numpy as np


def children(seed: np.random.SeedSequence, n: int) -> list[np.random.SeedSequence]:
    """The ``n`` children ``seed.spawn(n)`` gives on a sequence that has spawned none, leaving
    ``seed`` itself unchanged (so the same seed object always gives the same streams)."""
    return [
        np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, i), pool_size=seed.pool_size)
        for i in range(n)
    ]

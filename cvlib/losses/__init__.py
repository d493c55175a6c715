"""Losses of the course, one module per family, all importable from ``cvlib.losses``.

- ``siamese``: binary cross-entropy on pairs, contrastive (Hadsell, Chopra and LeCun),
  triplet, and in-batch triplet mining (all, hard, semi-hard) — notebook 08;
- ``siamfc``: the balanced logistic loss over a SiamFC score map — notebook 10.

Each loss comes as a function and as a ``keras.losses.Loss`` registered for ``.keras`` saving,
written with ``keras.ops`` so it runs on any Keras backend.
"""

from cvlib.losses.siamese import *  # noqa: F403 - each module's __all__ is its public API
from cvlib.losses.siamfc import *  # noqa: F403

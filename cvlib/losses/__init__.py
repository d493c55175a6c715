"""Losses of the course, one module per family, all importable from ``cvlib.losses``.

- ``boxes``: box regression, the L2 loss on the vertices, smooth L1 and 1 - GIoU — notebook 02;
- ``dense``: DensePose's UV regression, masked to each pixel's true part — notebook 16;
- ``interactive``: the hindsight loss over M diverse outputs with Li et al.'s click term, relaxed Jaccard —
  notebook 15;
- ``siamese``: binary cross-entropy on pairs, contrastive (Hadsell, Chopra and LeCun),
  triplet, and in-batch triplet mining (all, hard, semi-hard) — notebook 08;
- ``siamfc``: the balanced logistic loss over a SiamFC score map — notebook 10;
- ``segmentation``: soft Dice, and cross-entropy plus Dice, for U-Net — notebook 11;
- ``yolo``: YOLO's coordinate, objectness, no-object and class terms — notebook 05.

Each loss comes as a function and as a ``keras.losses.Loss`` registered for ``.keras`` saving,
written with ``keras.ops`` so it runs on any Keras backend.
"""

from cvlib.losses.boxes import *  # noqa: F403
from cvlib.losses.dense import *  # noqa: F403
from cvlib.losses.interactive import *  # noqa: F403
from cvlib.losses.segmentation import *  # noqa: F403
from cvlib.losses.siamese import *  # noqa: F403 - each module's __all__ is its public API
from cvlib.losses.siamfc import *  # noqa: F403
from cvlib.losses.yolo import *  # noqa: F403

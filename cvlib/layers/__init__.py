"""Keras layers of the course, each registered as serializable so models save and load as ``.keras``.

- ``cvlib.layers.atrous``: ``dilated_conv2d_reference`` (the dilated convolution in NumPy) and ``ASPP``
  (DeepLabv3's atrous spatial pyramid pooling), notebook 13; ``IACBlock`` (NEED's Inception-Atrous-Collation
  block), notebook 15; ``DilatedConv2D``, ``Conv2D`` with its dilated case computed by TensorFlow's own op.
- ``cvlib.layers.normalization``: ``FusedBatchNormalization``, Keras's ``BatchNormalization`` trained with
  TensorFlow's fused kernel (faster on a CPU).
- ``cvlib.layers.correlation``: ``CrossCorrelation``, SiamFC's score map; notebook 10.
- ``cvlib.layers.roi``: ``RoIPool`` (Fast R-CNN) and ``RoIAlign`` (Mask R-CNN), equal to torchvision's, and
  ``boxes_to_rois``; notebooks 04 and 12.
"""

from cvlib.layers.atrous import ASPP, DilatedConv2D, IACBlock, dilated_conv2d_reference
from cvlib.layers.correlation import CrossCorrelation
from cvlib.layers.normalization import FusedBatchNormalization
from cvlib.layers.roi import RoIAlign, RoIPool, boxes_to_rois, roi_align, roi_pool

__all__ = [
    "ASPP",
    "CrossCorrelation",
    "DilatedConv2D",
    "FusedBatchNormalization",
    "IACBlock",
    "RoIAlign",
    "RoIPool",
    "boxes_to_rois",
    "dilated_conv2d_reference",
    "roi_align",
    "roi_pool",
]

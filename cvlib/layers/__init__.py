"""Keras layers of the course, each registered as serializable so models save and load as ``.keras``.

- ``cvlib.layers.atrous``: ``dilated_conv2d_reference`` (the dilated convolution in NumPy) and ``ASPP``
  (DeepLabv3's atrous spatial pyramid pooling); notebook 13.
"""

from cvlib.layers.atrous import ASPP, dilated_conv2d_reference
from cvlib.layers.correlation import CrossCorrelation

__all__ = ["ASPP", "CrossCorrelation", "dilated_conv2d_reference"]

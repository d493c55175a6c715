"""cvlib: the library behind the cvlib course (advanced computer vision with Keras 3).

Submodules are imported on demand (``import cvlib.boxes``) so that importing
``cvlib`` does not start TensorFlow.
"""

__version__ = "0.1.0"

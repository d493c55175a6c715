"""Models of the course, one module per family (``cvlib.models.cnn3d``, ...).

Import the module you need (``from cvlib.models import cnn3d``); this package imports
nothing eagerly, so ``import cvlib.models`` does not load TensorFlow.
"""

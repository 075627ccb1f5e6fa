"""U-Net image segmentation from scratch in TensorFlow/Keras (Carvana and CARLA).

Importing the package registers its Keras losses and metrics, so that
`keras.models.load_model("best.keras")` works without `custom_objects`.
"""

import sys

__version__ = "0.1.0"

# `python -m unet --help` must answer without loading TensorFlow (seconds). While `-m` locates
# the package, Python sets sys.argv[0] to "-m"; the command line imports what it needs itself.
if not (sys.argv and sys.argv[0] == "-m"):
    from unet import losses, metrics  # noqa: F401  (registration on import)

"""U-Net image segmentation from scratch in TensorFlow/Keras (Carvana and CARLA).

Importing the package registers its Keras losses and metrics, so that
`keras.models.load_model("best.keras")` works without `custom_objects`.
"""

from unet import losses, metrics  # noqa: F401  (registration on import)

__version__ = "0.1.0"

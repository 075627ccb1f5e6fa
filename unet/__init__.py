"""U-Net image segmentation from scratch in TensorFlow/Keras (Carvana and CARLA).

Importing the package loads no TensorFlow. Loading a model through `unet.checkpoints` registers
the package's Keras losses and metrics; to call `keras.models.load_model("best.keras")` directly,
`import unet.losses, unet.metrics` first.
"""

__version__ = "0.1.0"

"""U-Net image segmentation from scratch in TensorFlow/Keras (Carvana and CARLA).

Importing the package loads no TensorFlow. Loading a model through `unet.checkpoints` registers
the package's Keras losses and metrics; to call `keras.models.load_model("best.keras")` directly,
`import unet.losses, unet.metrics` first. TensorFlow, once a module loads it, is quiet: its
C++ start-up lines are hidden and its log level is errors only, unless `TF_CPP_MIN_LOG_LEVEL`
says otherwise (`unet.files.quiet_tensorflow_import`).
"""

from unet import files as _files

_files.quiet_tensorflow_import()

__version__ = "0.1.0"

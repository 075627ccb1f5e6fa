"""Prediction with a trained model at each image's own size: test-time augmentation, a model
rebuilt at another input size, the batching stream, and the input a model expects.

Images stream through `tf.data` (decoded while the previous batch is predicted); logits go back
to each image's own size through `postprocess`.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from unet import postprocess
from unet.config import TTA_MODES, binary_model, check_car_mask_classes
from unet.data import pipeline
from unet.errors import UsageError
from unet.run_folder import RunFolder


def check_tta(tta) -> str | None:
    """`None`/`"none"` -> `None`, `"flip"` -> `"flip"`; anything else raises `ValueError`."""
    if tta is not None and tta not in TTA_MODES:
        raise UsageError(f"tta must be one of {TTA_MODES}; received {tta!r}.")
    return None if tta in (None, "none") else tta


def model_at_size(model, size) -> keras.Model:
    """`model` taking `(height, width, 3)` images: itself, or a copy with its weights rebuilt at
    that input size (a U-Net is fully convolutional).

    Raises:
        UsageError: a size the model cannot take: a layer refuses it, or its down-sampling does
            not divide it, so that the masks would come out smaller (Keras's shape inference,
            which runs nothing).
    """
    size = tuple(int(s) for s in size)
    current = tuple(model.input_shape[1:3])
    if current == size:
        return model
    try:
        resized = model if current == (None, None) else keras.models.clone_model(
            model, input_tensors=keras.Input((*size, 3)))
        out = tuple(resized.compute_output_shape((1, *size, 3))[1:3])
    except Exception as error:  # Keras raises several kinds for shapes a layer cannot take
        out, reason = None, f" ({error})"
    else:
        reason = f" (its masks would come out at {out[0]}x{out[1]})"
    if out != size:
        raise UsageError(f"the model cannot predict at {size[0]}x{size[1]}{reason}; choose a "
                         "size divisible by 2**depth.") from None
    if resized is not model:
        resized.set_weights(model.get_weights())
    return resized


def predict_logits(model, images, tta: str | None = None):
    """Logits for a batch at the model's size; `tta="flip"` averages in the horizontal flip's."""
    tta = check_tta(tta)
    logits = tf.cast(model(images, training=False), tf.float32)
    if tta == "flip":
        flipped = tf.cast(model(tf.reverse(images, axis=[2]), training=False), tf.float32)
        logits = (logits + tf.reverse(flipped, axis=[2])) / 2
    return logits.numpy()


def predict_images(model, paths, spec: InputSpec, *, batch_size: int = 8,
                   tta: str | None = None, skip_errors: bool = False):
    """Yields `(path, probabilities)` for image files, `(H, W, C)` at each image's own size.

    Images stream through `tf.data` in order; nothing is held beyond one batch. With
    `skip_errors`, images that fail to decode are left out instead of stopping.
    """
    paths = list(paths)
    if not paths:
        return
    model = model_at_size(model, spec.input_size)
    inputs = pipeline.image_inputs(paths, image_size=spec.input_size,
                                   resize_mode=spec.resize_mode, skip_errors=skip_errors)
    stream = ((pixels, native_size, paths[index]) for pixels, native_size, index in inputs)
    yield from predict_stream(model, stream, num_classes=spec.num_classes,
                              batch_size=batch_size, resize_mode=spec.resize_mode, tta=tta)


def predict_items(model, source: pipeline.Source, *, image_size, num_classes: int,
                  batch_size: int = 8, resize_mode: str = "resize", tta: str | None = None,
                  prediction_size=None, images: bool = False):
    """Yields `(pipeline.Labelled, probabilities)` for each example of `source`, in order: its
    name, true labels (and image, with `images`) and probabilities `(H, W, C)`, all at the
    example's own size (a TFDS split's stored size).

    Args:
        source: Image files with masks (`sources.FolderSource`) or a TFDS split.
        image_size: The size the model was trained at.
        prediction_size: Predict at this `(height, width)` instead of `image_size` (the model
            is rebuilt to take it).
    """
    if not len(source):
        return
    size = tuple(int(side) for side in (prediction_size or image_size))
    stream = source.native_inputs(input_size=size, resize_mode=resize_mode, images=images)
    yield from predict_stream(model_at_size(model, size), stream, num_classes=num_classes,
                              batch_size=batch_size, resize_mode=resize_mode, tta=tta)


def predict_stream(model, stream, *, num_classes: int, batch_size: int = 8,
                   resize_mode: str = "resize", tta: str | None = None):
    """The one path from model inputs to probabilities at each image's own size, for image
    files (`predict_images`) and sources (`predict_items`).

    Args:
        model: A Keras model returning logits, taking the inputs' size (`model_at_size`).
        stream: `(input, (height, width), key)` triples: an image scaled to [0, 1] at the
            model's size, its image's native size, and anything that names it.
        resize_mode: How the inputs were fitted (`"resize"` or `"pad"`).

    Returns:
        A generator of `(key, probabilities)`, `(H, W, C)` float32, in the stream's order.
    """
    batch = []

    def flush():
        logits = predict_logits(model, tf.stack([inputs for inputs, _, _ in batch]), tta)
        for values, (_, native_size, key) in zip(logits, batch):
            native = postprocess.to_native_size(values, native_size, resize_mode)
            yield key, postprocess.probabilities_from_logits(native, num_classes).numpy()

    for entry in stream:
        batch.append(entry)
        if len(batch) == batch_size:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """How a model expects its input.

    Attributes:
        image_size: The training size `(height, width)`.
        resize_mode: `"resize"` or `"pad"`, as in training.
        num_classes: 1 for binary.
        prediction_size: The size to predict at when not the training size (a U-Net is fully
            convolutional: a larger size keeps more of a photo's outline).
        binary: The labels are a car mask ({0, 1}, car = 1). Default: `config.binary_model`,
            1 or 2 output classes (CARLA's have 23).
    """

    image_size: tuple[int, int]
    resize_mode: str = "resize"
    num_classes: int = 1
    prediction_size: tuple[int, int] | None = None
    binary: bool | None = None

    def __post_init__(self):
        if self.binary is None:
            object.__setattr__(self, "binary", binary_model(self.num_classes))
        elif self.binary:
            check_car_mask_classes(self.num_classes)

    @property
    def input_size(self) -> tuple[int, int]:
        """The size images are fitted to before the model sees them."""
        return tuple(self.prediction_size or self.image_size)


def input_spec_for(model_path, model, image_size=None, prediction_size=None) -> InputSpec:
    """How to feed `model`: from the run's `config.json` beside it, else from the model itself.

    Args:
        model_path: The `.keras` file `model` was loaded from.
        model: The loaded model (its input and output shapes serve when no config is found).
        image_size: The training size, overriding what the config or the model says.
        prediction_size: The size to predict at (default: the training size).

    Returns:
        `InputSpec`; `binary` is the run's `DataConfig.binary`, or `InputSpec`'s default.

    Raises:
        UsageError: no `config.json`, no `image_size`, and a model without a fixed input size;
            a prediction size that is not two positive numbers.
    """
    folder = RunFolder.of_model(model_path)
    num_classes = int(model.output_shape[-1])
    resize_mode = "resize"
    binary = None
    if folder.config.is_file():
        config = folder.read_config()
        resize_mode = config.data.resize_mode
        image_size = image_size or config.data.image_size
        binary = config.data.binary
    if image_size is None:
        height, width = model.input_shape[1:3]
        if height is None or width is None:
            raise UsageError(
                f"{model_path}: no config.json beside it and no fixed input size; "
                "give the training size (--image-size H W).")
        image_size = (height, width)
    image_size = tuple(int(s) for s in image_size)
    if prediction_size is not None:
        prediction_size = tuple(int(s) for s in prediction_size)
        if len(prediction_size) != 2 or min(prediction_size) <= 0:
            raise UsageError(f"the prediction size must be two positive numbers; received "
                             f"{prediction_size}.")
    if prediction_size == image_size:
        prediction_size = None
    for size, flag in ((image_size, "--image-size"), (prediction_size, "--prediction-size")):
        if size is not None:
            _check_model_takes(model_path, model, size, flag)
    return InputSpec(image_size, resize_mode, num_classes, prediction_size, binary)


def _check_model_takes(model_path, model, size, flag: str) -> None:
    """Raises `UsageError` naming `flag` when `model` cannot take `size` images, even rebuilt
    at that size (`model_at_size`'s rule)."""
    try:
        model_at_size(model, size)
    except UsageError:
        raise UsageError(f"{model_path} cannot take {size[0]}x{size[1]} images ({flag}): its "
                         "down-sampling needs sizes divisible by 2**depth, e.g. the training "
                         "size.") from None


def auto_tta(model_path) -> tuple[str, str]:
    """Whether flip TTA helps this model: `("flip" or "none", a one-line reason)`.

    Training scores the validation split with and without it (`dice` and `dice_flip_tta` in
    the run's `metrics.json`, beside `best.keras`); flip is used where it scored higher.
    """
    folder = RunFolder.of_model(model_path)
    scored = folder.scores()
    if "dice_flip_tta" not in scored or "dice" not in scored:
        return "none", "Flip TTA off: no flip-TTA score beside the model (--tta flip turns it on)"
    helps = scored["dice_flip_tta"] > scored["dice"]
    return ("flip" if helps else "none",
            f"Flip TTA {'on' if helps else 'off'}: validation Dice {scored['dice']:.4f} without, "
            f"{scored['dice_flip_tta']:.4f} with ({folder.metrics})")


def predict_array(model, image, spec: InputSpec, *, tta=None, threshold: float = 0.5):
    """The mask of one RGB uint8 image `(H, W, 3)` at its own size (for the web demo)."""
    pixels = pipeline.model_input(image, spec.input_size, spec.resize_mode)
    [(_, probabilities)] = predict_stream(
        model_at_size(model, spec.input_size), [(pixels, image.shape[:2], None)],
        num_classes=spec.num_classes, resize_mode=spec.resize_mode, tta=tta)
    return postprocess.labels_from_probabilities(probabilities, spec.num_classes, threshold)

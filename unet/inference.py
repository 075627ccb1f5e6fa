"""Prediction at native size: the one logits -> probabilities -> labels path (used by
evaluation, export, the app and the Keras metrics), and on new images mask PNGs, overlays and
a Kaggle submission.

Images stream through `tf.data` (decoded while the previous batch is predicted); logits are
resized back to each image's own size (or cropped, for padded models), then thresholded.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image
from tqdm.auto import tqdm

from unet import checkpoints, files, viz
from unet.config import TTA_MODES, RunConfig, binary_model, check_car_mask_classes
from unet.data import carvana, image_files, pipeline
from unet.data.pairs import DataError
from unet.data.pipeline import make_image_dataset

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def native_logits(logits, native_size, resize_mode: str = "resize"):
    """Logits `([N,] h, w, C)` at the model's size -> the image's size, as a tensor (graph-safe:
    the exported SavedModel uses it). Padded inputs are cropped, resized ones resized back."""
    height, width = native_size[0], native_size[1]
    if resize_mode == "pad":
        top = (tf.shape(logits)[-3] - height) // 2
        left = (tf.shape(logits)[-2] - width) // 2
        return logits[..., top:top + height, left:left + width, :]
    return tf.image.resize(logits, tf.stack([height, width]), method="bilinear")


def to_native(values, native_size, resize_mode: str = "resize"):
    """Logits (or probabilities) `(h, w, C)` at the model's size -> `(H, W, C)` at the image's.

    Resizing logits and thresholding afterwards keeps the mask's edge where the model puts it,
    between pixels; resizing hard labels would give a staircase, and resizing probabilities
    blurs a sharp edge (the sigmoid saturates). Padded inputs are cropped instead.
    """
    height, width = native_size
    if resize_mode == "pad":
        top = (values.shape[0] - height) // 2
        left = (values.shape[1] - width) // 2
        return values[top:top + height, left:left + width]
    return tf.image.resize(values, (height, width), method="bilinear").numpy()


def probabilities_from_logits(logits, num_classes: int):
    """The one logits -> probabilities step: sigmoid (binary) or softmax over classes."""
    logits = tf.cast(logits, tf.float32)
    return tf.sigmoid(logits) if num_classes == 1 else tf.nn.softmax(logits, axis=-1)


def labels_from_probabilities(probabilities, num_classes: int, threshold: float = 0.5):
    """The one probabilities -> labels step: `(..., C)` -> `(...)` uint8, {0, 1} above
    `threshold` (binary) or the most probable class id. Tensors in, tensors out (graph-safe);
    arrays in, arrays out."""
    tensor = tf.convert_to_tensor(probabilities)
    if num_classes == 1:
        labels = tf.cast(tensor[..., 0] > threshold, tf.uint8)
    else:
        labels = tf.cast(tf.argmax(tensor, axis=-1), tf.uint8)
    return labels if tf.is_tensor(probabilities) else labels.numpy()



def check_tta(tta) -> str | None:
    """`None`/`"none"` -> `None`, `"flip"` -> `"flip"`; anything else raises `ValueError`."""
    if tta is not None and tta not in TTA_MODES:
        raise ValueError(f"tta must be one of {TTA_MODES}; received {tta!r}.")
    return None if tta in (None, "none") else tta


def model_at_size(model, size) -> keras.Model:
    """`model` taking `(height, width, 3)` images: itself, or a copy with its weights rebuilt at
    that input size (a U-Net is fully convolutional; `size` must suit its depth)."""
    size = tuple(int(s) for s in size)
    current = tuple(model.input_shape[1:3])
    if current == size or current == (None, None):
        return model
    try:
        resized = keras.models.clone_model(model, input_tensors=keras.Input((*size, 3)))
    except Exception as error:  # Keras raises several kinds for shapes a layer cannot take
        raise ValueError(f"the model cannot predict at {size[0]}x{size[1]} ({error}); choose a "
                         "size divisible by 2**depth.") from None
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


def predict_native(model, items, *, image_size, num_classes: int, batch_size: int = 8,
                   resize_mode: str = "resize", tta: str | None = None, prediction_size=None,
                   skip_errors: bool = False):
    """Yields `(item, probabilities)` with probabilities `(H, W, C)` at each image's own size.

    `items` are pairs or image paths. Images stream through `tf.data` in order (masks are not
    read); nothing is held beyond one batch. With `prediction_size`, images are fitted to that
    size instead of the training size `image_size`, and the model is rebuilt to take it. With
    `skip_errors`, items whose image fails to decode are left out instead of stopping.
    """
    items = list(items)
    if not items:
        return
    size = tuple(prediction_size or image_size)
    model = model_at_size(model, size)
    paths = [getattr(item, "image", item) for item in items]
    batches = make_image_dataset(paths, image_size=size, batch_size=batch_size,
                                 resize_mode=resize_mode, skip_errors=skip_errors)
    stream = ((image, (int(height), int(width)), items[index])
              for images, heights, widths, indices in batches
              for image, height, width, index in zip(images.numpy(), heights.numpy(),
                                                     widths.numpy(), indices.numpy()))
    yield from predict_stream(model, stream, num_classes=num_classes, batch_size=batch_size,
                              resize_mode=resize_mode, tta=tta)


def predict_stream(model, stream, *, num_classes: int, batch_size: int = 8,
                   resize_mode: str = "resize", tta: str | None = None):
    """The one path from model inputs to probabilities at each image's own size, for folders
    (`predict_native`) and TFDS splits (`tfds_source.predict_native`): batches of inputs
    through `predict_logits`, each back to its size by `to_native`, then
    `probabilities_from_logits`.

    Args:
        model: A Keras model returning logits, taking the inputs' size (`model_at_size`).
        stream: `(input, (height, width), key)` triples: an image scaled to [0, 1] at the
            model's size, its image's native size, and anything that names it.
        num_classes: The model's output channels.
        batch_size: Inputs per prediction batch (the last may be smaller).
        resize_mode: How the inputs were fitted (`"resize"` or `"pad"`).
        tta: `"flip"` to average in the horizontal flip's logits.

    Returns:
        A generator of `(key, probabilities)`, `(H, W, C)` float32, in the stream's order.
    """
    batch = []

    def flush():
        logits = predict_logits(model, tf.stack([inputs for inputs, _, _ in batch]), tta)
        for values, (_, native_size, key) in zip(logits, batch):
            native = to_native(values, native_size, resize_mode)
            yield key, probabilities_from_logits(native, num_classes).numpy()

    for entry in stream:
        batch.append(entry)
        if len(batch) == batch_size:
            yield from flush()
            batch = []
    if batch:
        yield from flush()


@dataclasses.dataclass(frozen=True)
class Settings:
    """How a model expects its input.

    Attributes:
        image_size: The training size `(height, width)`.
        resize_mode: `"resize"` or `"pad"`, as in training.
        num_classes: 1 for binary.
        prediction_size: The size to predict at when not the training size (a U-Net is fully
            convolutional: a larger size keeps more of a photo's outline).
        binary: The labels are a car mask ({0, 1}, car = 1). Default: `config.binary_model`,
            1 or 2 output classes (a 2-class model is Carvana's background and car; CARLA's
            have 23); `settings_for` takes the run's dataset instead where it is known.
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


def settings_for(model_path, model, image_size=None, prediction_size=None) -> Settings:
    """How to feed `model`: from the run's `config.json` beside it, else from the model itself.

    Args:
        model_path: The `.keras` file `model` was loaded from.
        model: The loaded model (its input and output shapes serve when no config is found).
        image_size: The training size, overriding what the config or the model says.
        prediction_size: The size to predict at (default: the training size).

    Returns:
        `Settings`. Its labels are a car mask (`binary`) when its run's dataset is one
        (`DataConfig.binary`), or, with no `config.json`, by `config.binary_model`: a model
        with 1 or 2 output classes (CARLA's have 23).

    Raises:
        ValueError: no `config.json`, no `image_size`, and a model without a fixed input size.
    """
    saved = Path(model_path).parent / "config.json"
    num_classes = int(model.output_shape[-1])
    resize_mode = "resize"
    binary = None  # Settings' rule, `config.binary_model`: 1 or 2 output classes
    if saved.is_file():
        config = RunConfig.load(saved)
        resize_mode = config.data.resize_mode
        image_size = image_size or config.data.image_size
        binary = config.data.binary
    if image_size is None:
        height, width = model.input_shape[1:3]
        if height is None or width is None:
            raise ValueError(
                f"{model_path}: no config.json beside it and no fixed input size; "
                "give the training size (--image-size H W).")
        image_size = (height, width)
    image_size = tuple(int(s) for s in image_size)
    if prediction_size is not None:
        prediction_size = tuple(int(s) for s in prediction_size)
        if len(prediction_size) != 2 or min(prediction_size) <= 0:
            raise ValueError(f"the prediction size must be two positive numbers; received "
                             f"{prediction_size}.")
    if prediction_size == image_size:
        prediction_size = None
    return Settings(image_size, resize_mode, num_classes, prediction_size, binary)


def auto_tta(model_path) -> tuple[str, str]:
    """Whether flip TTA helps this model: `("flip" or "none", a one-line reason)`.

    Training scores the validation split with and without it (`dice` and `dice_flip_tta` in
    the run's `metrics.json`, beside `best.keras`); flip is used where it scored higher.
    """
    scores = Path(model_path).with_name("metrics.json")
    scored = json.loads(scores.read_text()) if scores.is_file() else {}
    if "dice_flip_tta" not in scored or "dice" not in scored:
        return "none", "Flip TTA off: no flip-TTA score beside the model (--tta flip turns it on)"
    helps = scored["dice_flip_tta"] > scored["dice"]
    return ("flip" if helps else "none",
            f"Flip TTA {'on' if helps else 'off'}: validation Dice {scored['dice']:.4f} without, "
            f"{scored['dice_flip_tta']:.4f} with ({scores})")


def list_inputs(inputs, ignored: list | None = None) -> list[Path]:
    """Image files from folders and file names, sorted and unique.

    Folders are read one level deep; suffixes match in any case (`.JPG`). What a folder holds
    besides images (subfolders, hidden files such as macOS's `._x.jpg`, other suffixes) is
    appended to `ignored` as `"path (why)"`, so the caller can say what was left out.

    Raises:
        DataError: a name that does not exist, or no image at all.
    """
    paths = []
    for item in [inputs] if isinstance(inputs, (str, Path)) else inputs:
        item = Path(item)
        if item.is_dir():
            for path in sorted(item.iterdir()):
                why = ("folder" if path.is_dir() else "hidden file" if path.name.startswith(".")
                       else None if path.suffix.lower() in IMAGE_SUFFIXES
                       else f"not {'/'.join(IMAGE_SUFFIXES)}")
                if why is None:
                    paths.append(path)
                elif ignored is not None:
                    ignored.append(f"{path} ({why})")
        elif item.is_file():
            paths.append(item)
        else:
            raise DataError(f"{item}: no such file or folder.")
    if not paths:
        raise DataError(f"No .jpg or .png images in {inputs}.")
    return sorted(set(paths))


def check_distinct_outputs(paths, *, masks: bool, submission: bool) -> None:
    """Raises `DataError` when two inputs would write one output: `x.jpg` and `x.png` (one
    `x_mask.png`), or `same.jpg` in two folders (one submission row and one mask)."""
    keys = []
    if masks:
        keys.append(("mask", lambda path: path.stem))
    if submission:
        keys.append(("submission row", lambda path: path.name))
    for what, key in keys:
        seen = {}
        for path in paths:
            other = seen.setdefault(key(path), path)
            if other != path:
                raise DataError(f"{other} and {path} would write the same {what}; rename one or "
                                "predict them separately.")


def _failure(path) -> str:
    """Why an image cannot be predicted (header, size limit, or its pixels), or `""`."""
    try:
        image_files.inspect(path)
        image_files.decode(path)
    except DataError as error:
        return str(error)
    return ""


def predict_array(model, image, settings: Settings, *, tta=None, threshold: float = 0.5):
    """The mask of one RGB uint8 image `(H, W, 3)` at its own size (for the web demo)."""
    height, width = image.shape[:2]
    pixels = pipeline.scale(pipeline.model_input(image, settings.input_size,
                                                 settings.resize_mode))[None]
    model = model_at_size(model, settings.input_size)
    logits = predict_logits(model, pixels, tta)[0]
    native = to_native(logits, (height, width), settings.resize_mode)
    probabilities = probabilities_from_logits(native, settings.num_classes).numpy()
    return labels_from_probabilities(probabilities, settings.num_classes, threshold)


def predict_masks(model, paths, settings: Settings, *, batch_size: int = 4, tta=None,
                  threshold: float = 0.5, progress: bool = True, skip_errors: bool = False):
    """Yields `(path, mask)` for each image: uint8 {0, 1} or class ids, at the native size.

    With `skip_errors`, images that fail to decode are left out (not yielded).
    """
    paths = list(paths)
    predictions = predict_native(
        model, paths, image_size=settings.image_size, num_classes=settings.num_classes,
        batch_size=batch_size, resize_mode=settings.resize_mode, tta=tta,
        prediction_size=settings.prediction_size, skip_errors=skip_errors)
    for path, native in tqdm(predictions, total=len(paths), desc="predicting",
                             disable=not progress):
        yield path, labels_from_probabilities(native, settings.num_classes, threshold)


def predict_folder(model_path, inputs, output=None, *, overlay: bool = False, tta="auto",
                   threshold: float = 0.5, submission=None, batch_size: int = 4,
                   image_size=None, prediction_size=None, progress: bool = True) -> dict:
    """`python -m unet predict`: mask PNGs (and overlays) in `output`, and/or a submission.

    Args:
        model_path: A `.keras` file (its run's `config.json` gives the training size).
        inputs: A folder or image files.
        output: Folder for `<name>_mask.png` (0/255 car masks, also from a 2-class Carvana
            model, or class ids) and `<name>_overlay.jpg`.
        overlay: Also write overlays.
        tta: `"flip"` to average the horizontal flip's logits in, `"none"`, or `"auto"`
            (`auto_tta`: flip where the run's validation scored higher with it).
        threshold: Probability threshold (one-channel models; 2-class ones take the argmax).
        submission: Path of a Kaggle `img,rle_mask` file (`.csv.gz`), resumable.
        batch_size: Images per prediction batch.
        image_size: The training size, when no `config.json` lies beside the model.
        prediction_size: Predict at this size instead of the training size.
        progress: Show a progress bar.

    A bad image anywhere in the input (unreadable, damaged, over `image_files.MAX_PIXELS`) is
    named in `failed`, and every other image is still predicted; a submission then stays
    unfinished (Kaggle needs a row for every image) until the file is fixed and the command
    rerun, which predicts only what is missing. A finished submission is not redone.

    Returns:
        `{"images": predicted now, "skipped": already in the submission, "submission": path of
        the finished file or None, "failed": {path: reason}, "ignored": ["path (why)", ...]}`,
        and `"complete": True` when the submission was already finished (not rewritten).

    Raises:
        DataError: no images, a missing input, or two inputs that would write one output.
        ValueError: nothing to write, a submission from a model that is not a car mask's, or a
            finished
            submission that lacks some of the inputs.
    """
    if output is None and submission is None:
        raise ValueError("Nothing to write: give an output folder, a submission path, or both.")
    ignored = []
    paths = list_inputs(inputs, ignored)
    check_distinct_outputs(paths, masks=output is not None, submission=submission is not None)
    model = checkpoints.load_model(model_path, compile=False)
    settings = settings_for(model_path, model, image_size, prediction_size)
    tta = auto_tta(model_path)[0] if tta == "auto" else check_tta(tta)
    if submission is not None and not settings.binary:
        raise ValueError(f"{model_path}: a Carvana submission needs a car-mask model (one "
                         f"output channel, or two trained on Carvana); this one predicts "
                         f"{settings.num_classes} classes.")
    writer = None
    if submission is not None:
        from unet.submission import SubmissionWriter

        writer = SubmissionWriter(submission)
    try:
        return _predict_into(model, settings, paths, output, writer, overlay=overlay, tta=tta,
                             threshold=threshold, batch_size=batch_size, progress=progress,
                             ignored=ignored)
    finally:
        if writer is not None:
            writer.close()


def _predict_into(model, settings, paths, output, writer, *, overlay, tta, threshold,
                  batch_size, progress, ignored) -> dict:
    finished = None  # a submission already complete: named, not rewritten
    if writer is not None and writer.complete:
        missing = [p.name for p in paths if p.name not in writer.done]
        if missing:
            raise ValueError(f"{writer.path} is complete without {len(missing)} of the inputs "
                             f"(e.g. {missing[0]}); remove it to write it again.")
        if output is None:  # nothing to redo
            return {"images": 0, "skipped": len(paths), "submission": str(writer.path),
                    "failed": {}, "ignored": ignored, "complete": True}
        finished, writer = writer.path, None  # the masks are wanted; the submission is done
    todo = [p for p in paths if writer is None or p.name not in writer.done]
    skipped = len(paths) - len(todo)
    failed = {}
    for path in todo:  # headers only: cheap, and refuses decompression bombs before decoding
        try:
            image_files.inspect(path)
        except DataError as error:
            failed[str(path)] = str(error)
    todo = [p for p in todo if str(p) not in failed]
    if output is not None:
        output = Path(output)
        output.mkdir(parents=True, exist_ok=True)
    predicted = set()
    for path, mask in predict_masks(model, todo, settings, batch_size=batch_size, tta=tta,
                                    threshold=threshold, progress=progress, skip_errors=True):
        if output is not None:
            pixels = mask * 255 if settings.binary else mask
            with files.atomic_path(output / f"{path.stem}_mask.png") as partial:
                Image.fromarray(pixels.astype(np.uint8)).save(partial)
            if overlay:
                image = image_files.decode(path, "RGB", scan=False)
                picture = viz.overlay(image, mask) if settings.binary else viz.class_map(mask)
                with files.atomic_path(output / f"{path.stem}_overlay.jpg") as partial:
                    Image.fromarray(picture).save(partial, quality=90)
        if writer is not None:
            writer.write(path.name, carvana.rle_encode(mask))
            if (len(predicted) + 1) % batch_size == 0:
                writer.flush()  # once a batch: a kill loses at most the batch in flight
        predicted.add(path)
    for path in todo:
        if path not in predicted:
            failed[str(path)] = _failure(path) or f"{path}: could not be decoded."
    written = finished
    if writer is not None and not failed:
        written = writer.finish(expected=[p.name for p in paths])
    result = {"images": len(predicted), "skipped": skipped,
              "submission": str(written) if written else None, "failed": failed,
              "ignored": ignored}
    if finished is not None:
        result["complete"] = True
    return result

"""Scoring a model at native resolution: predict at the training size, resize the logits (not
the labels) back to each image's own size, then probabilities, labels, and the comparison with
the original mask: Dice, IoU, pixel accuracy and the outline's F-score."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from unet import checkpoints, metrics
from unet.config import RunConfig
from unet.data import carla, image_files, sources
from unet.data.pipeline import make_image_dataset


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


TTA_MODES = ("none", "flip")


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
    for images, heights, widths, indices in batches:
        logits = predict_logits(model, images, tta)
        for item, height, width, index in zip(logits, heights.numpy(), widths.numpy(),
                                              indices.numpy()):
            native = to_native(item, (int(height), int(width)), resize_mode)
            yield items[index], probabilities_from_logits(native, num_classes).numpy()


def evaluate(model, pairs, *, dataset: str, image_size, num_classes: int, batch_size: int = 8,
             resize_mode: str = "resize", threshold: float = 0.5, progress: bool = True,
             tta: str | None = None, prediction_size=None):
    """Scores `model` on `pairs` at each image's native resolution.

    Args:
        model: A Keras model returning logits.
        pairs: Validation pairs.
        dataset: `"carvana"`/`"synthetic"` (binary) or `"carla"` (multi-class).
        image_size: The size the model was trained at.
        num_classes: 1 for binary.
        batch_size: Prediction batch size.
        resize_mode: How the training pipeline fitted images (`"resize"` or `"pad"`).
        threshold: Probability threshold for binary masks.
        progress: Show a progress bar.
        tta: `"flip"` to average in the horizontally flipped image's logits (`None` or
            `"none"`: no test-time augmentation).
        prediction_size: Predict at this `(height, width)` instead of `image_size`.

    Returns:
        `(summary, rows)`: `summary` holds `dice`, `iou`, `pixel_accuracy`, `boundary_f` (binary:
        per image then averaged, empty-vs-empty scoring 1, Kaggle's rule; `boundary_f` is the
        outline F-score within 2 px, `metrics.boundary_f_score`) or `mean_dice`, `mean_iou`,
        `pixel_accuracy`, `per_class` (multi-class: pooled over the split, mean over classes
        present); `rows` holds one dict of scores per image.
    """
    # A binary dataset scored from 2-class logits: its labels are {0, 1}; Dice of the car class.
    scored_classes = 1 if dataset != "carla" else num_classes
    width = 1 if scored_classes == 1 else num_classes
    totals = np.zeros((3, width))
    rows = []
    predictions = predict_native(model, pairs, image_size=image_size, num_classes=num_classes,
                                 batch_size=batch_size, resize_mode=resize_mode, tta=tta,
                                 prediction_size=prediction_size)
    for pair, native in tqdm(predictions, total=len(pairs), desc="evaluating",
                             disable=not progress, leave=False):
        truth = sources.read_native_mask(pair, dataset)
        predicted = labels_from_probabilities(native, num_classes, threshold)
        counts = metrics.confusion_counts(truth[None].astype(np.int32),
                                          predicted[None].astype(np.int32), scored_classes)
        tp, fp, fn = (np.asarray(c)[0] for c in counts)
        totals += np.stack([tp, fp, fn])
        rows.append(_image_row(pair.name, tp, fp, fn, truth, predicted, scored_classes))
    return _summary(rows, totals, scored_classes), rows


def _image_row(name, tp, fp, fn, truth, predicted, num_classes):
    accuracy = float(np.mean(truth == predicted))
    boundary = metrics.boundary_f_score(truth, predicted, num_classes=num_classes)
    if num_classes == 1:
        dice = float(metrics.dice_from_counts(tp, fp, fn, 1.0)[0])
        iou = float(metrics.iou_from_counts(tp, fp, fn, 1.0)[0])
        return {"image": name, "dice": dice, "iou": iou, "boundary_f": boundary,
                "pixel_accuracy": accuracy}
    nan = float("nan")
    dice = np.asarray(metrics.dice_from_counts(tp, fp, fn, nan))
    iou = np.asarray(metrics.iou_from_counts(tp, fp, fn, nan))
    return {"image": name, "mean_dice": float(np.nanmean(dice)),
            "mean_iou": float(np.nanmean(iou)), "boundary_f": boundary,
            "pixel_accuracy": accuracy}


def _summary(rows, totals, num_classes):
    if not rows:
        raise ValueError("Nothing to evaluate: the split is empty.")
    accuracy = float(np.mean([row["pixel_accuracy"] for row in rows]))
    if num_classes == 1:
        return {"dice": float(np.mean([r["dice"] for r in rows])),
                "iou": float(np.mean([r["iou"] for r in rows])),
                "boundary_f": float(np.mean([r["boundary_f"] for r in rows])),
                "pixel_accuracy": accuracy, "images": len(rows)}
    nan = float("nan")
    tp, fp, fn = totals
    dice = np.asarray(metrics.dice_from_counts(tp, fp, fn, nan))
    iou = np.asarray(metrics.iou_from_counts(tp, fp, fn, nan))
    per_class = {
        carla.CLASS_NAMES[i] if i < len(carla.CLASS_NAMES) else str(i): {
            "dice": float(dice[i]), "iou": float(iou[i])}
        for i in range(num_classes) if not np.isnan(iou[i])
    }
    return {"mean_dice": float(np.nanmean(dice)), "mean_iou": float(np.nanmean(iou)),
            "boundary_f": float(np.mean([r["boundary_f"] for r in rows])),
            "pixel_accuracy": accuracy, "per_class": per_class, "images": len(rows)}


@dataclasses.dataclass(frozen=True)
class Example:
    """One image of a run's data with its true and predicted labels, all at native size."""

    name: str
    image: np.ndarray  # (H, W, 3) uint8
    truth: np.ndarray  # (H, W) {0, 1} or class ids
    prediction: np.ndarray  # (H, W), like `truth`
    num_classes: int


def examples(run_dir, names, threshold: float = 0.5) -> list[Example]:
    """The named images of a run's data, predicted by its `best.keras`, in the order of `names`.

    The one place where the report and notebook 03 get (image, truth, prediction) triples: the
    run's own configuration says where the data is and how the model sees it.
    """
    run_dir = Path(run_dir)
    config = RunConfig.load(run_dir / "config.json")
    train_pairs, val_pairs = sources.split_pairs(config.data, seed=config.train.seed)
    by_name = {pair.name: pair for pair in train_pairs + val_pairs}
    missing = [name for name in names if name not in by_name]
    if missing:
        raise ValueError(f"{run_dir}: no image named {missing[0]!r} in the run's data.")
    model = checkpoints.load_model(run_dir / "best.keras", compile=False)
    num_classes = config.model.num_classes
    predictions = predict_native(model, [by_name[name] for name in names],
                                 image_size=config.data.image_size, num_classes=num_classes,
                                 resize_mode=config.data.resize_mode)
    return [Example(pair.name, image_files.decode(pair.image, "RGB"),
                    sources.read_native_mask(pair, config.data.dataset),
                    labels_from_probabilities(probabilities, num_classes, threshold), num_classes)
            for pair, probabilities in predictions]

"""Scoring a model at native resolution: predict at the training size, resize the probabilities
(not the labels) back to each image's own size, threshold, and compare with the original mask."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from unet import checkpoints, metrics
from unet.config import RunConfig
from unet.data import carla, image_files, sources
from unet.data.pipeline import make_image_dataset


def to_native(probabilities, native_size, resize_mode: str = "resize"):
    """Probabilities `(h, w, C)` at the model's size -> `(H, W, C)` at the image's size.

    Resizing probabilities and thresholding afterwards keeps the mask's edge smooth; resizing
    hard labels would give a staircase. Padded inputs are cropped instead.
    """
    height, width = native_size
    if resize_mode == "pad":
        top = (probabilities.shape[0] - height) // 2
        left = (probabilities.shape[1] - width) // 2
        return probabilities[top:top + height, left:left + width]
    return tf.image.resize(probabilities, (height, width), method="bilinear").numpy()


def probabilities_from_logits(logits, num_classes: int):
    logits = tf.convert_to_tensor(logits, tf.float32)
    return tf.sigmoid(logits) if num_classes == 1 else tf.nn.softmax(logits, axis=-1)


def labels_from_probabilities(probabilities, num_classes: int, threshold: float = 0.5):
    if num_classes == 1:
        return (probabilities[..., 0] > threshold).astype(np.uint8)
    return probabilities.argmax(-1).astype(np.uint8)


def predict_probabilities(model, images, num_classes: int, tta: str | None = None):
    """Probabilities for a batch; `tta="flip"` averages in the horizontal flip's prediction."""
    probabilities = probabilities_from_logits(model(images, training=False), num_classes)
    if tta == "flip":
        flipped = model(tf.reverse(images, axis=[2]), training=False)
        probabilities = (probabilities + tf.reverse(
            probabilities_from_logits(flipped, num_classes), axis=[2])) / 2
    elif tta is not None:
        raise ValueError(f"tta must be None or 'flip'; received {tta!r}.")
    return probabilities.numpy()


def predict_native(model, items, *, image_size, num_classes: int, batch_size: int = 8,
                   resize_mode: str = "resize", tta: str | None = None):
    """Yields `(item, probabilities)` with probabilities `(H, W, C)` at each image's own size.

    `items` are pairs or image paths. Images stream through `tf.data` in order (masks are not
    read); nothing is held beyond one batch.
    """
    items = list(items)
    paths = [getattr(item, "image", item) for item in items]
    batches = make_image_dataset(paths, image_size=image_size, batch_size=batch_size,
                                 resize_mode=resize_mode)
    index = 0
    for images, heights, widths in batches:
        probabilities = predict_probabilities(model, images, num_classes, tta)
        for item, height, width in zip(probabilities, heights.numpy(), widths.numpy()):
            yield items[index], to_native(item, (int(height), int(width)), resize_mode)
            index += 1


def evaluate(model, pairs, *, dataset: str, image_size, num_classes: int, batch_size: int = 8,
             resize_mode: str = "resize", threshold: float = 0.5, progress: bool = True):
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

    Returns:
        `(summary, rows)`: `summary` holds `dice`, `iou`, `pixel_accuracy` (binary: per image then
        averaged, empty-vs-empty scoring 1, Kaggle's rule) or `mean_dice`, `mean_iou`,
        `pixel_accuracy`, `per_class` (multi-class: pooled over the split, mean over classes
        present); `rows` holds one dict of scores per image.
    """
    width = 1 if num_classes == 1 else num_classes
    totals = np.zeros((3, width))
    rows = []
    predictions = predict_native(model, pairs, image_size=image_size, num_classes=num_classes,
                                 batch_size=batch_size, resize_mode=resize_mode)
    for pair, native in tqdm(predictions, total=len(pairs), desc="evaluating",
                             disable=not progress, leave=False):
        truth = sources.read_native_mask(pair, dataset)
        predicted = labels_from_probabilities(native, num_classes, threshold)
        counts = metrics.confusion_counts(truth[None].astype(np.int32),
                                          predicted[None].astype(np.int32), num_classes)
        tp, fp, fn = (np.asarray(c)[0] for c in counts)
        totals += np.stack([tp, fp, fn])
        rows.append(_image_row(pair.name, tp, fp, fn, truth, predicted, num_classes))
    return _summary(rows, totals, num_classes), rows


def _image_row(name, tp, fp, fn, truth, predicted, num_classes):
    accuracy = float(np.mean(truth == predicted))
    if num_classes == 1:
        dice = float(metrics.dice_from_counts(tp, fp, fn, 1.0)[0])
        iou = float(metrics.iou_from_counts(tp, fp, fn, 1.0)[0])
        return {"image": name, "dice": dice, "iou": iou, "pixel_accuracy": accuracy}
    nan = float("nan")
    dice = np.asarray(metrics.dice_from_counts(tp, fp, fn, nan))
    iou = np.asarray(metrics.iou_from_counts(tp, fp, fn, nan))
    return {"image": name, "mean_dice": float(np.nanmean(dice)),
            "mean_iou": float(np.nanmean(iou)), "pixel_accuracy": accuracy}


def _summary(rows, totals, num_classes):
    if not rows:
        raise ValueError("Nothing to evaluate: the split is empty.")
    accuracy = float(np.mean([row["pixel_accuracy"] for row in rows]))
    if num_classes == 1:
        return {"dice": float(np.mean([r["dice"] for r in rows])),
                "iou": float(np.mean([r["iou"] for r in rows])),
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

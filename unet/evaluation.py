"""Scoring a model at native resolution: predictions come from `inference.predict_items` (logits
resized back to each image's own size, then probabilities and labels), and are compared with
the original masks: Dice, IoU, pixel accuracy and the outline's F-score."""

from __future__ import annotations

import dataclasses

import numpy as np
from tqdm.auto import tqdm

from unet import checkpoints, inference, metrics, postprocess
from unet.config import binary_dataset
from unet.data import carla, sources
from unet.errors import UsageError
from unet.run_folder import RunFolder


def scored_classes(binary: bool, num_classes: int) -> int:
    """The classes a model is scored on: 1 on binary masks (`DataConfig.binary`: a car mask,
    or a folder dataset's binary masks), from one logit or two (Dice of the foreground class);
    else the model's classes."""
    return 1 if binary or num_classes == 1 else num_classes


def evaluate(model, source, *, dataset: str, image_size, num_classes: int, batch_size: int = 8,
             resize_mode: str = "resize", threshold: float = 0.5, progress: bool = True,
             tta: str | None = None, prediction_size=None, ignore_index: int | None = None,
             class_names=None, binary: bool | None = None):
    """Scores `model` on `source` at each image's native resolution.

    Args:
        model: A Keras model returning logits.
        source: The examples (`sources.FolderSource`, or a TFDS split scored at its stored
            size).
        dataset: `"carvana"`/`"synthetic"` (binary) or `"carla"` (multi-class).
        image_size: The size the model was trained at.
        num_classes: The model's output channels.
        resize_mode: How the training pipeline fitted images (`"resize"` or `"pad"`).
        threshold: Probability threshold for binary masks.
        tta: `"flip"` to average in the horizontally flipped image's logits (`None` or
            `"none"`: no test-time augmentation).
        prediction_size: Predict at this `(height, width)` instead of `image_size`.
        ignore_index: The true label of void pixels (`config.VOID_LABEL`), left out of every
            score; `None`: no void.
        class_names: Names of the class ids in `per_class` (default: CARLA's for CARLA, else
            the ids).
        binary: Whether the masks are binary (`DataConfig.binary`); default: by `dataset`.

    Returns:
        `(summary, rows)`: `summary` holds `dice`, `iou`, `pixel_accuracy`, `boundary_f` (binary:
        per image then averaged, empty-vs-empty scoring 1, Kaggle's rule; `boundary_f` is the
        outline F-score within 2 px, `metrics.boundary_f_score`) or `mean_dice`, `mean_iou`,
        `pixel_accuracy`, `per_class` (multi-class: pooled over the split, mean over classes
        present); `rows` holds one dict of scores per image.
    """
    scored = scored_classes(binary_dataset(dataset) if binary is None else binary, num_classes)
    totals = np.zeros((3, scored))
    rows = []
    predictions = inference.predict_items(
        model, source, image_size=image_size, num_classes=num_classes, batch_size=batch_size,
        resize_mode=resize_mode, tta=tta, prediction_size=prediction_size)
    for example, native in tqdm(predictions, total=len(source), desc="evaluating",
                                disable=not progress, leave=False):
        truth = example.truth
        predicted = postprocess.labels_from_probabilities(native, num_classes, threshold)
        counts = metrics.confusion_counts(truth[None].astype(np.int32),
                                          predicted[None].astype(np.int32), scored, ignore_index)
        tp, fp, fn = (np.asarray(c)[0] for c in counts)
        totals += np.stack([tp, fp, fn])
        rows.append(_image_row(example.name, tp, fp, fn, truth, predicted, scored,
                               ignore_index))
    if not class_names and dataset != "carla":
        class_names = [str(i) for i in range(scored)]
    return _summary(rows, totals, scored, class_names), rows


def _dice_iou(tp, fp, fn, num_classes):
    """Dice and IoU arrays `(C,)`: an empty car mask scores 1, an absent class NaN."""
    empty = 1.0 if num_classes == 1 else float("nan")
    return (np.asarray(metrics.dice_from_counts(tp, fp, fn, empty)),
            np.asarray(metrics.iou_from_counts(tp, fp, fn, empty)))


def _image_row(name, tp, fp, fn, truth, predicted, num_classes, ignore_index=None):
    prefix = "" if num_classes == 1 else "mean_"
    dice, iou = _dice_iou(tp, fp, fn, num_classes)
    valid = truth != ignore_index if ignore_index is not None else np.ones(truth.shape, bool)
    accuracy = float(np.mean((truth == predicted)[valid])) if valid.any() else 1.0
    return {"image": name, f"{prefix}dice": float(np.nanmean(dice)),
            f"{prefix}iou": float(np.nanmean(iou)),
            "boundary_f": metrics.boundary_f_score(truth, predicted, num_classes=num_classes,
                                                   ignore_index=ignore_index),
            "pixel_accuracy": accuracy}


def _summary(rows, totals, num_classes, class_names=None):
    if not rows:
        raise UsageError("Nothing to evaluate: the split is empty.")
    mean = {key: float(np.mean([row[key] for row in rows]))
            for key in ("dice", "iou", "boundary_f", "pixel_accuracy") if key in rows[0]}
    if num_classes == 1:
        return {**mean, "images": len(rows)}
    dice, iou = _dice_iou(*totals, num_classes)
    name = (lambda i: class_names[i] if i < len(class_names) else str(i)) if class_names else (
        carla.class_name)
    per_class = {name(i): {"dice": float(dice[i]), "iou": float(iou[i])}
                 for i in range(num_classes) if not np.isnan(iou[i])}
    return {"mean_dice": float(np.nanmean(dice)), "mean_iou": float(np.nanmean(iou)),
            "boundary_f": mean["boundary_f"], "pixel_accuracy": mean["pixel_accuracy"],
            "per_class": per_class, "images": len(rows)}


@dataclasses.dataclass(frozen=True)
class Example:
    """One image of a run's data with its true and predicted labels, all at native size."""

    name: str
    image: np.ndarray  # (H, W, 3) uint8
    truth: np.ndarray  # (H, W) {0, 1} or class ids
    prediction: np.ndarray  # (H, W), like `truth`
    num_classes: int  # 1 for a car mask (also from a 2-class Carvana model), else the classes
    class_names: tuple | None = None  # a folder dataset's names of the class ids
    class_colors: tuple | None = None  # and their colours (default: CARLA's)


def examples(run_dir, names, threshold: float = 0.5) -> list[Example]:
    """The named images of a run's data, predicted by its `best.keras`, in the order of `names`.

    The one place where the report and notebook 03 get (image, truth, prediction) triples: the
    run's own configuration says where the data is and how the model sees it.
    """
    folder = RunFolder(run_dir)
    config = folder.read_config()
    train, val = sources.split(config.data, seed=config.train.seed)
    everything = train.concatenate(val)
    known = set(everything.names)
    missing = [name for name in names if name not in known]
    if missing:
        raise UsageError(f"{folder.path}: no image named {missing[0]!r} in the run's data.")
    model = checkpoints.load_model(folder.best, compile=False)
    num_classes = config.model.num_classes
    shown = scored_classes(config.data.binary, num_classes)
    predictions = inference.predict_items(
        model, everything.select(names), images=True, image_size=config.data.image_size,
        num_classes=num_classes, resize_mode=config.data.resize_mode)
    by_name = {example.name: Example(
                   example.name, example.image, example.truth,
                   postprocess.labels_from_probabilities(probabilities, num_classes, threshold),
                   shown, everything.class_names, everything.class_colors)
               for example, probabilities in predictions}
    return [by_name[name] for name in names]

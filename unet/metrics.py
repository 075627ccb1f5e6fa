"""Segmentation metrics: Dice, IoU and pixel accuracy as pure functions, with Keras wrappers.

Conventions, stated once:
- `y_true` holds labels: `(B, H, W)` or `(B, H, W, 1)`, values {0, 1} for binary, class ids for
  multi-class.
- `y_pred` holds scores: `(B, H, W, num_classes)` logits (`from_logits=True`, the default,
  which is what the models return) or probabilities (`from_logits=False`). Binary predictions are
  positive where the probability exceeds `threshold`; multi-class ones take the argmax.
- `aggregate="per_image"` scores each image and averages over images (Kaggle's Carvana rule);
  `aggregate="dataset"` sums true/false positives and false negatives over all images first.
- Binary: an image where both masks are empty scores `empty_score` (Kaggle counted it as 1).
  Multi-class: a class absent from both masks is left out of the mean over classes.
- `ignore_index`: true pixels labelled so (void) are left out of every count and score, whatever
  is predicted there.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from unet import postprocess
from unet.config import binary_model, check_car_mask_classes

AGGREGATES = ("per_image", "dataset")


def _check_aggregate(aggregate: str) -> None:
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}; received {aggregate!r}.")


def predicted_labels(y_pred, *, num_classes: int = 1, from_logits: bool = True,
                     threshold: float = 0.5) -> tf.Tensor:
    """Hard int32 labels `(B, H, W)` from logits or probabilities `(B, H, W, num_classes)`."""
    y_pred = tf.convert_to_tensor(y_pred)
    probabilities = (postprocess.probabilities_from_logits(y_pred, num_classes) if from_logits
                     else tf.cast(y_pred, tf.float32))
    labels = postprocess.labels_from_probabilities(probabilities, num_classes, threshold)
    return tf.cast(labels, tf.int32)


def confusion_counts(true, pred, num_classes: int = 1, ignore_index: int | None = None):
    """Per-image, per-class true positives, false positives and false negatives of int labels
    `true` and `pred` `(B, H, W)`: `(tp, fp, fn)`, each float32 `(B, C)`, C = 1 for binary
    (`num_classes=1`: only the positive class is counted), else `num_classes`. Pixels whose
    true label is `ignore_index` are not counted."""
    valid = postprocess.valid_pixels(true, ignore_index)[..., None]
    if num_classes == 1:
        true_hot = tf.cast(true > 0, tf.float32)[..., None] * valid
        pred_hot = tf.cast(pred > 0, tf.float32)[..., None] * valid
    else:
        true_hot = tf.one_hot(true, num_classes, dtype=tf.float32) * valid
        pred_hot = tf.one_hot(pred, num_classes, dtype=tf.float32) * valid
    tp = tf.reduce_sum(true_hot * pred_hot, axis=(1, 2))
    true_count = tf.reduce_sum(true_hot, axis=(1, 2))
    pred_count = tf.reduce_sum(pred_hot, axis=(1, 2))
    return tp, pred_count - tp, true_count - tp


def dice_from_counts(tp, fp, fn, empty_score):
    """Dice = 2 TP / (2 TP + FP + FN); `empty_score` where the denominator is 0."""
    denominator = 2.0 * tp + fp + fn
    return tf.where(denominator > 0, 2.0 * tp / tf.maximum(denominator, 1e-12), empty_score)


def iou_from_counts(tp, fp, fn, empty_score):
    """IoU = TP / (TP + FP + FN); `empty_score` where the denominator is 0."""
    denominator = tp + fp + fn
    return tf.where(denominator > 0, tp / tf.maximum(denominator, 1e-12), empty_score)


def _nanmean(values, axis):
    present = tf.logical_not(tf.math.is_nan(values))
    total = tf.reduce_sum(tf.where(present, values, 0.0), axis=axis)
    return total / tf.reduce_sum(tf.cast(present, values.dtype), axis=axis)


def score_from_counts(tp, fp, fn, *, score_fn, aggregate: str, empty_score: float):
    """Aggregates `(B, C)` counts into one score, following the module's conventions."""
    _check_aggregate(aggregate)
    if aggregate == "dataset":
        tp, fp, fn = (tf.reduce_sum(c, axis=0, keepdims=True) for c in (tp, fp, fn))
    if tp.shape[-1] == 1:
        per_image = score_fn(tp, fp, fn, empty_score)[:, 0]
    else:
        per_image = _nanmean(score_fn(tp, fp, fn, float("nan")), axis=1)
    return tf.reduce_mean(per_image)


def _overlap_score(score_fn, y_true, y_pred, num_classes, from_logits, threshold, aggregate,
                   empty_score):
    pred = predicted_labels(y_pred, num_classes=num_classes, from_logits=from_logits,
                            threshold=threshold)
    counts = confusion_counts(postprocess.true_labels(y_true), pred, num_classes)
    return score_from_counts(*counts, score_fn=score_fn, aggregate=aggregate,
                             empty_score=empty_score)


def dice(y_true, y_pred, *, num_classes: int = 1, from_logits: bool = True,
         threshold: float = 0.5, aggregate: str = "per_image", empty_score: float = 1.0):
    """Dice coefficient (F1 over pixels); see the module docstring for the conventions."""
    return _overlap_score(dice_from_counts, y_true, y_pred, num_classes, from_logits, threshold,
                          aggregate, empty_score)


def iou(y_true, y_pred, *, num_classes: int = 1, from_logits: bool = True,
        threshold: float = 0.5, aggregate: str = "per_image", empty_score: float = 1.0):
    """Intersection over union (Jaccard index); see the module docstring for the conventions."""
    return _overlap_score(iou_from_counts, y_true, y_pred, num_classes, from_logits, threshold,
                          aggregate, empty_score)


def pixel_accuracy(y_true, y_pred, *, num_classes: int = 1, from_logits: bool = True,
                   threshold: float = 0.5):
    """Fraction of pixels labelled correctly, per image then averaged over images.

    Images in one batch share a size, so this equals the fraction over all pixels of the batch.
    """
    return tf.reduce_mean(_pixel_accuracy_per_image(y_true, y_pred, num_classes, from_logits,
                                                    threshold))


def per_class_scores(y_true, y_pred, *, num_classes: int, from_logits: bool = True,
                     aggregate: str = "dataset"):
    """Dice and IoU of every class: `{"dice": (C,), "iou": (C,)}`, NaN for an absent class.

    With `aggregate="per_image"` a class's score is its mean over the images where it is present.
    """
    _check_aggregate(aggregate)
    pred = predicted_labels(y_pred, num_classes=num_classes, from_logits=from_logits)
    tp, fp, fn = confusion_counts(postprocess.true_labels(y_true), pred, num_classes)
    if aggregate == "dataset":
        tp, fp, fn = (tf.reduce_sum(c, axis=0, keepdims=True) for c in (tp, fp, fn))
    nan = float("nan")
    return {
        "dice": _nanmean(dice_from_counts(tp, fp, fn, nan), axis=0),
        "iou": _nanmean(iou_from_counts(tp, fp, fn, nan), axis=0),
    }


class _StreamingScore(keras.metrics.Metric):
    """Accumulates confusion counts (or per-image scores) over batches and scores them with
    `score_fn`; a subclass's `name` defaults to its `default_name`.

    `positive_class`: score only that class, as a binary mask (a binary dataset trained as 2
    classes: the car is class 1, and the background's Dice is left out, as in evaluation).
    """

    score_fn = None
    default_name = None

    def __init__(self, num_classes=1, from_logits=True, threshold=0.5, aggregate="per_image",
                 empty_score=1.0, name=None, dtype=None, positive_class=None,
                 ignore_index=None):
        super().__init__(name=name or self.default_name, dtype=dtype)
        _check_aggregate(aggregate)
        if positive_class is not None and not 0 < positive_class < num_classes:
            raise ValueError(f"positive_class must be a class id in [1, {num_classes}); "
                             f"received {positive_class!r}.")
        self.num_classes = num_classes
        self.from_logits = from_logits
        self.threshold = threshold
        self.aggregate = aggregate
        self.empty_score = empty_score
        self.positive_class = positive_class
        self.ignore_index = ignore_index
        width = 1 if num_classes == 1 or positive_class is not None else num_classes
        self.tp = self.add_variable(shape=(width,), initializer="zeros", name="tp")
        self.fp = self.add_variable(shape=(width,), initializer="zeros", name="fp")
        self.fn = self.add_variable(shape=(width,), initializer="zeros", name="fn")
        self.score_sum = self.add_variable(shape=(), initializer="zeros", name="score_sum")
        self.image_count = self.add_variable(shape=(), initializer="zeros", name="image_count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        pred = predicted_labels(y_pred, num_classes=self.num_classes,
                                from_logits=self.from_logits, threshold=self.threshold)
        true = postprocess.true_labels(y_true)
        if self.positive_class is None:
            tp, fp, fn = confusion_counts(true, pred, self.num_classes, self.ignore_index)
        else:
            if self.ignore_index is not None:  # void stays void in the one-class labels
                pred = tf.where(true == self.ignore_index, 0, pred)
            tp, fp, fn = confusion_counts(tf.cast(true == self.positive_class, tf.int32),
                                          tf.cast(pred == self.positive_class, tf.int32), 1)
        if self.aggregate == "dataset":
            for total, counts in ((self.tp, tp), (self.fp, fp), (self.fn, fn)):
                total.assign_add(tf.reduce_sum(counts, axis=0))
            return
        batch_mean = score_from_counts(tp, fp, fn, score_fn=type(self).score_fn,
                                       aggregate="per_image", empty_score=self.empty_score)
        batch_size = tf.cast(tf.shape(tp)[0], tf.float32)
        self.score_sum.assign_add(batch_mean * batch_size)
        self.image_count.assign_add(batch_size)

    def result(self):
        if self.aggregate == "dataset":
            return score_from_counts(self.tp[None], self.fp[None], self.fn[None],
                                     score_fn=type(self).score_fn, aggregate="dataset",
                                     empty_score=self.empty_score)
        return tf.math.divide_no_nan(self.score_sum, self.image_count)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_classes": self.num_classes,
                "from_logits": self.from_logits, "threshold": self.threshold,
                "aggregate": self.aggregate, "empty_score": self.empty_score,
                "positive_class": self.positive_class, "ignore_index": self.ignore_index}


@keras.saving.register_keras_serializable(package="unet")
class Dice(_StreamingScore):
    """Keras metric over `dice` (mean over classes present for multi-class, or the Dice of
    `positive_class` alone)."""

    score_fn = staticmethod(dice_from_counts)
    default_name = "dice"


@keras.saving.register_keras_serializable(package="unet")
class IoU(_StreamingScore):
    """Keras metric over `iou` (mean IoU over classes present for multi-class)."""

    score_fn = staticmethod(iou_from_counts)
    default_name = "iou"


@keras.saving.register_keras_serializable(package="unet")
class PixelAccuracy(keras.metrics.MeanMetricWrapper):
    """Keras metric over `pixel_accuracy` (per image, averaged over images)."""

    def __init__(self, num_classes=1, from_logits=True, threshold=0.5, name="pixel_accuracy",
                 dtype=None, ignore_index=None):
        super().__init__(_pixel_accuracy_per_image, name=name, dtype=dtype,
                         num_classes=num_classes, from_logits=from_logits, threshold=threshold,
                         ignore_index=ignore_index)
        self.num_classes = num_classes
        self.from_logits = from_logits
        self.threshold = threshold
        self.ignore_index = ignore_index

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "num_classes": self.num_classes,
                "from_logits": self.from_logits, "threshold": self.threshold,
                "ignore_index": self.ignore_index}


def _pixel_accuracy_per_image(y_true, y_pred, num_classes, from_logits, threshold,
                              ignore_index=None):
    pred = predicted_labels(y_pred, num_classes=num_classes, from_logits=from_logits,
                            threshold=threshold)
    true = postprocess.true_labels(y_true)
    correct = tf.cast(tf.equal(true, pred), tf.float32)
    if ignore_index is None:
        return tf.reduce_mean(correct, axis=(1, 2))
    valid = postprocess.valid_pixels(true, ignore_index)
    return tf.math.divide_no_nan(tf.reduce_sum(correct * valid, axis=(1, 2)),
                                 tf.reduce_sum(valid, axis=(1, 2)))


def training_metrics(num_classes: int, binary: bool | None = None,
                     ignore_index: int | None = None) -> list:
    """The metrics every model is compiled with: Dice, IoU and pixel accuracy.

    Args:
        num_classes: The model's output channels.
        binary: The dataset is binary (a car mask). Default: `config.binary_model`. A binary
            dataset trained as 2 classes (background 0, car 1) is scored on the car class
            alone, as the native-size evaluation scores it.
        ignore_index: The true label of void pixels, left out of every score.

    Returns:
        `[Dice, IoU, PixelAccuracy]`: binary scores per image (Kaggle's rule); multi-class ones
        accumulated over the dataset and averaged over the classes present.
    """
    binary = binary_model(num_classes) if binary is None else binary
    if binary:
        check_car_mask_classes(num_classes)
    aggregate = "per_image" if binary else "dataset"
    positive_class = 1 if binary and num_classes == 2 else None
    return [
        Dice(num_classes=num_classes, aggregate=aggregate, positive_class=positive_class,
             ignore_index=ignore_index),
        IoU(num_classes=num_classes, aggregate=aggregate, positive_class=positive_class,
            ignore_index=ignore_index),
        PixelAccuracy(num_classes=num_classes, ignore_index=ignore_index),
    ]


def boundary_f_score(truth, prediction, tolerance: float = 2, num_classes: int = 1,
                     ignore_index: int | None = None) -> float:
    """F-score of the outlines of two masks `(H, W)`, within `tolerance` pixels.

    The outline is the mask less its 3x3 erosion (the image's own border is not an outline).
    Precision is the share of predicted outline pixels within `tolerance` pixels (a Euclidean
    disk) of the true outline, recall the converse; F = 2PR / (P + R). Both empty scores 1, one
    empty 0. A blurred or shifted edge lowers it where Dice barely moves. Multi-class
    (`num_classes > 1`): the mean over the classes present in either mask, each scored as its
    own binary mask.

    `ignore_index`: pixels of `truth` labelled so (void) are outside both masks, whatever
    `prediction` holds there: never outline pixels, and a class's edge along void is its
    outline in both (VOC's void bands cover the true edges).
    """
    truth, prediction = np.asarray(truth), np.asarray(prediction)
    if truth.shape != prediction.shape:
        raise ValueError(f"masks differ in shape: {truth.shape} and {prediction.shape}.")
    void = truth == ignore_index if ignore_index is not None else np.zeros(truth.shape, bool)
    if num_classes != 1:
        present = np.union1d(np.unique(truth[~void]), np.unique(prediction[~void]))
        return float(np.mean([_boundary_f(truth == c, prediction == c, tolerance, void)
                              for c in present]))
    return _boundary_f(truth > 0, prediction > 0, tolerance, void)


def _boundary_f(truth, prediction, tolerance, void) -> float:
    """`boundary_f_score` of two binary masks, `void` pixels left out."""
    truth, prediction = truth & ~void, prediction & ~void
    true_outline = _outline(truth)
    predicted_outline = _outline(prediction)
    true_count, predicted_count = int(true_outline.sum()), int(predicted_outline.sum())
    if true_count == 0 and predicted_count == 0:
        return 1.0 if truth.any() == prediction.any() else 0.0
    if true_count == 0 or predicted_count == 0:
        return 0.0
    precision = float((predicted_outline & _near(true_outline, tolerance)).sum()) / predicted_count
    recall = float((true_outline & _near(predicted_outline, tolerance)).sum()) / true_count
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def _outline(mask) -> np.ndarray:
    """uint8 {0, 1}: pixels of `mask` with a neighbour outside it (8-neighbourhood)."""
    import cv2

    inside = (np.asarray(mask) > 0).astype(np.uint8)
    return inside - cv2.erode(inside, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)


def _near(outline, tolerance: float) -> np.ndarray:
    """uint8 {0, 1}: pixels within `tolerance` (Euclidean) of `outline`, by a disk dilation."""
    import cv2

    reach = int(np.floor(tolerance))
    offsets = np.arange(-reach, reach + 1)
    disk = (np.hypot(*np.meshgrid(offsets, offsets)) <= tolerance).astype(np.uint8)
    return cv2.dilate(outline, disk)

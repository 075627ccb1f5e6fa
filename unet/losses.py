"""Segmentation losses: BCE, soft Dice, BCE + Dice and sparse cross-entropy, with Keras wrappers
(registered as `unet>ClassName`, so saved models load them).

Every function takes `y_true` labels (`(B, H, W)` or `(B, H, W, 1)`) and `logits`
`(B, H, W, num_classes)` straight from the model (no sigmoid or softmax applied), and returns
one loss value per image, shape `(B,)`; Keras then averages over the batch. With
`ignore_index`, pixels labelled so (void) count nowhere: means are over the other pixels.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from unet import postprocess
from unet.config import LOSSES
from unet.errors import ConfigError


def _labels_and_weights(y_true, ignore_index):
    """`(labels (B, H, W) int32 with void as 0, float32 weights: 0 at void, else 1)`."""
    labels = postprocess.true_labels(y_true)
    weights = postprocess.valid_pixels(labels, ignore_index)
    return tf.where(weights > 0, labels, 0), weights


def _mean_over(pixel_loss, weights):
    """Each image's mean of `pixel_loss` over the pixels weighted 1 (0 when there are none)."""
    return tf.math.divide_no_nan(tf.reduce_sum(pixel_loss * weights, axis=(1, 2)),
                                 tf.reduce_sum(weights, axis=(1, 2)))


def binary_crossentropy(y_true, logits, *, ignore_index=None):
    """Mean pixel binary cross-entropy of each image, from logits (numerically stable)."""
    labels, weights = _labels_and_weights(y_true, ignore_index)
    logits = tf.cast(logits[..., 0], tf.float32)
    pixel_loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(labels, tf.float32),
                                                         logits=logits)
    if ignore_index is None:
        return tf.reduce_mean(pixel_loss, axis=(1, 2))
    return _mean_over(pixel_loss, weights)


def soft_dice_loss(y_true, logits, *, num_classes: int = 1, smooth: float = 1.0,
                   ignore_index=None):
    """1 - soft Dice of each image, from logits.

    Binary: on the sigmoid probabilities. Multi-class: on softmax probabilities against one-hot
    labels, averaged over classes. `smooth` keeps an empty-vs-empty image at loss 0.
    """
    labels, weights = _labels_and_weights(y_true, ignore_index)
    logits = tf.cast(logits, tf.float32)
    if num_classes == 1:
        probabilities = tf.sigmoid(logits)
        targets = tf.cast(labels, tf.float32)[..., None]
    else:
        probabilities = tf.nn.softmax(logits, axis=-1)
        targets = tf.one_hot(labels, num_classes, dtype=tf.float32)
    probabilities = probabilities * weights[..., None]
    targets = targets * weights[..., None]
    intersection = tf.reduce_sum(probabilities * targets, axis=(1, 2))
    total = tf.reduce_sum(probabilities, axis=(1, 2)) + tf.reduce_sum(targets, axis=(1, 2))
    per_class = (2.0 * intersection + smooth) / (total + smooth)
    return 1.0 - tf.reduce_mean(per_class, axis=-1)


def bce_dice_loss(y_true, logits, *, bce_weight: float = 1.0, dice_weight: float = 1.0,
                  ignore_index=None):
    """Binary cross-entropy plus soft Dice loss: the Carvana winners' choice."""
    bce = binary_crossentropy(y_true, logits, ignore_index=ignore_index)
    return bce_weight * bce + dice_weight * soft_dice_loss(y_true, logits,
                                                           ignore_index=ignore_index)


def sparse_categorical_crossentropy(y_true, logits, *, class_weights=None, ignore_index=None):
    """Mean pixel cross-entropy of each image against integer class ids, from logits.

    Args:
        class_weights: Optional weight per class (length `num_classes`); each pixel's loss is
            scaled by its true class's weight, and the weighted sum is divided by the weight total
            so that the loss stays on the scale of the unweighted one.
    """
    labels, valid = _labels_and_weights(y_true, ignore_index)
    logits = tf.cast(logits, tf.float32)
    pixel_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    if class_weights is None:
        if ignore_index is None:
            return tf.reduce_mean(pixel_loss, axis=(1, 2))
        return _mean_over(pixel_loss, valid)
    weights = tf.gather(tf.constant(class_weights, tf.float32), labels) * valid
    total = tf.maximum(tf.reduce_sum(weights, axis=(1, 2)), 1e-12)
    return tf.reduce_sum(pixel_loss * weights, axis=(1, 2)) / total


class _LossOver(keras.losses.Loss):
    """A Keras loss over the function `fn` (logits in); `options` go to it and to the config."""

    fn = None

    def __init__(self, name, reduction, dtype, **options):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.options = options

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.options)

    def get_config(self):
        return {**super().get_config(), **self.options}


@keras.saving.register_keras_serializable(package="unet")
class BinaryCrossentropy(_LossOver):
    fn = staticmethod(binary_crossentropy)

    def __init__(self, ignore_index=None, name="bce", reduction="sum_over_batch_size",
                 dtype=None):
        super().__init__(name, reduction, dtype, ignore_index=ignore_index)


@keras.saving.register_keras_serializable(package="unet")
class DiceLoss(_LossOver):
    fn = staticmethod(soft_dice_loss)

    def __init__(self, num_classes=1, smooth=1.0, ignore_index=None, name="dice_loss",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype, num_classes=num_classes, smooth=smooth,
                         ignore_index=ignore_index)


@keras.saving.register_keras_serializable(package="unet")
class BCEDiceLoss(_LossOver):
    fn = staticmethod(bce_dice_loss)

    def __init__(self, bce_weight=1.0, dice_weight=1.0, ignore_index=None, name="bce_dice",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype, bce_weight=bce_weight, dice_weight=dice_weight,
                         ignore_index=ignore_index)


@keras.saving.register_keras_serializable(package="unet")
class SparseCategoricalCrossentropy(_LossOver):
    fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(self, class_weights=None, ignore_index=None, name="sparse_ce",
                 reduction="sum_over_batch_size", dtype=None):
        if class_weights is not None:
            class_weights = [float(w) for w in class_weights]
        super().__init__(name, reduction, dtype, class_weights=class_weights,
                         ignore_index=ignore_index)


def get_loss(name: str, num_classes: int = 1, class_weights=None,
             ignore_index: int | None = None) -> keras.losses.Loss:
    """The Keras loss called `name` (one of `unet.config.LOSSES`), checked against `num_classes`;
    pixels labelled `ignore_index` (void) count in it nowhere."""
    if name not in LOSSES:
        raise ConfigError(f"loss must be one of {LOSSES}; received {name!r}.")
    if name in ("bce", "bce_dice") and num_classes != 1:
        raise ConfigError(
            f"loss {name!r} is binary but num_classes={num_classes}; use 'sparse_ce' or 'dice'."
        )
    if name == "sparse_ce" and num_classes == 1:
        raise ConfigError("loss 'sparse_ce' needs num_classes > 1; use 'bce' or 'bce_dice'.")
    if class_weights is not None and len(class_weights) != num_classes:
        raise ConfigError(
            f"class_weights needs {num_classes} values (one per class); "
            f"received {len(class_weights)}."
        )
    if name == "bce":
        return BinaryCrossentropy(ignore_index=ignore_index)
    if name == "dice":
        return DiceLoss(num_classes=num_classes, ignore_index=ignore_index)
    if name == "bce_dice":
        return BCEDiceLoss(ignore_index=ignore_index)
    return SparseCategoricalCrossentropy(class_weights=class_weights, ignore_index=ignore_index)

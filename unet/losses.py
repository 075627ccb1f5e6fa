"""Segmentation losses: BCE, soft Dice, BCE + Dice and sparse cross-entropy, with Keras wrappers
(registered as `unet>ClassName`, so saved models load them).

Every function takes `y_true` labels (`(B, H, W)` or `(B, H, W, 1)`) and `logits`
`(B, H, W, num_classes)` straight from the model (no sigmoid or softmax applied), and returns
one loss value per image, shape `(B,)`; Keras then averages over the batch.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from unet import postprocess
from unet.config import LOSSES
from unet.errors import ConfigError


def binary_crossentropy(y_true, logits):
    """Mean pixel binary cross-entropy of each image, from logits (numerically stable)."""
    targets = tf.cast(postprocess.label_plane(tf.convert_to_tensor(y_true), 3), tf.float32)
    logits = tf.cast(logits[..., 0], tf.float32)
    pixel_loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=logits)
    return tf.reduce_mean(pixel_loss, axis=(1, 2))


def soft_dice_loss(y_true, logits, *, num_classes: int = 1, smooth: float = 1.0):
    """1 - soft Dice of each image, from logits.

    Binary: on the sigmoid probabilities. Multi-class: on softmax probabilities against one-hot
    labels, averaged over classes. `smooth` keeps an empty-vs-empty image at loss 0.
    """
    labels = postprocess.label_plane(tf.convert_to_tensor(y_true), 3)
    logits = tf.cast(logits, tf.float32)
    if num_classes == 1:
        probabilities = tf.sigmoid(logits)
        targets = tf.cast(labels, tf.float32)[..., None]
    else:
        probabilities = tf.nn.softmax(logits, axis=-1)
        targets = tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=tf.float32)
    intersection = tf.reduce_sum(probabilities * targets, axis=(1, 2))
    total = tf.reduce_sum(probabilities, axis=(1, 2)) + tf.reduce_sum(targets, axis=(1, 2))
    per_class = (2.0 * intersection + smooth) / (total + smooth)
    return 1.0 - tf.reduce_mean(per_class, axis=-1)


def bce_dice_loss(y_true, logits, *, bce_weight: float = 1.0, dice_weight: float = 1.0):
    """Binary cross-entropy plus soft Dice loss: the Carvana winners' choice."""
    bce = binary_crossentropy(y_true, logits)
    return bce_weight * bce + dice_weight * soft_dice_loss(y_true, logits)


def sparse_categorical_crossentropy(y_true, logits, *, class_weights=None):
    """Mean pixel cross-entropy of each image against integer class ids, from logits.

    Args:
        class_weights: Optional weight per class (length `num_classes`); each pixel's loss is
            scaled by its true class's weight, and the weighted sum is divided by the weight total
            so that the loss stays on the scale of the unweighted one.
    """
    labels = tf.cast(postprocess.label_plane(tf.convert_to_tensor(y_true), 3), tf.int32)
    logits = tf.cast(logits, tf.float32)
    pixel_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    if class_weights is None:
        return tf.reduce_mean(pixel_loss, axis=(1, 2))
    weights = tf.gather(tf.constant(class_weights, tf.float32), labels)
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

    def __init__(self, name="bce", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype)


@keras.saving.register_keras_serializable(package="unet")
class DiceLoss(_LossOver):
    fn = staticmethod(soft_dice_loss)

    def __init__(self, num_classes=1, smooth=1.0, name="dice_loss",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype, num_classes=num_classes, smooth=smooth)


@keras.saving.register_keras_serializable(package="unet")
class BCEDiceLoss(_LossOver):
    fn = staticmethod(bce_dice_loss)

    def __init__(self, bce_weight=1.0, dice_weight=1.0, name="bce_dice",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name, reduction, dtype, bce_weight=bce_weight, dice_weight=dice_weight)


@keras.saving.register_keras_serializable(package="unet")
class SparseCategoricalCrossentropy(_LossOver):
    fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(self, class_weights=None, name="sparse_ce", reduction="sum_over_batch_size",
                 dtype=None):
        if class_weights is not None:
            class_weights = [float(w) for w in class_weights]
        super().__init__(name, reduction, dtype, class_weights=class_weights)


def get_loss(name: str, num_classes: int = 1, class_weights=None) -> keras.losses.Loss:
    """The Keras loss called `name` (one of `unet.config.LOSSES`), checked against `num_classes`."""
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
        return BinaryCrossentropy()
    if name == "dice":
        return DiceLoss(num_classes=num_classes)
    if name == "bce_dice":
        return BCEDiceLoss()
    return SparseCategoricalCrossentropy(class_weights=class_weights)

"""From a model's logits to masks: native size, probabilities, labels, and mask pixel values.

The one logits -> probabilities -> labels path of evaluation, prediction, export, the app and
the Keras metrics. Tensors in, tensors out (graph-safe).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def to_native_size(logits, native_size, resize_mode: str = "resize"):
    """Logits (or probabilities) `([N,] h, w, C)`, array or tensor, at the model's size -> a
    float tensor `([N,] height, width, C)` at the image's `native_size` (ints or scalar
    tensors), resized or cropped as the input was fitted (`resize_mode`: "resize" or "pad").

    Resizing logits and thresholding afterwards keeps the mask's edge where the model puts it,
    between pixels; resizing hard labels would give a staircase, and resizing probabilities
    blurs a sharp edge (the sigmoid saturates).
    """
    logits = tf.convert_to_tensor(logits)
    height, width = native_size[0], native_size[1]
    if resize_mode == "pad":
        top = (tf.shape(logits)[-3] - height) // 2
        left = (tf.shape(logits)[-2] - width) // 2
        return logits[..., top:top + height, left:left + width, :]
    return tf.image.resize(logits, tf.stack([height, width]), method="bilinear")


def probabilities_from_logits(logits, num_classes: int):
    """Logits -> probabilities: sigmoid (binary, one channel) or softmax over classes."""
    logits = tf.cast(logits, tf.float32)
    return tf.sigmoid(logits) if num_classes == 1 else tf.nn.softmax(logits, axis=-1)


def labels_from_probabilities(probabilities, num_classes: int, threshold: float = 0.5):
    """Probabilities `(..., C)` -> labels `(...)` uint8: {0, 1} above `threshold` (binary) or
    the most probable class id. Tensors in, tensors out; arrays in, arrays out."""
    tensor = tf.convert_to_tensor(probabilities)
    if num_classes == 1:
        labels = tf.cast(tensor[..., 0] > threshold, tf.uint8)
    else:
        labels = tf.cast(tf.argmax(tensor, axis=-1), tf.uint8)
    return labels if tf.is_tensor(probabilities) else labels.numpy()


def mask_values(mask, binary: bool) -> np.ndarray:
    """A mask's pixels as saved or shown, uint8: 0/255 for a car mask (`binary`, labels
    {0, 1}), the class ids otherwise."""
    mask = np.asarray(mask)
    return (mask * 255 if binary else mask).astype(np.uint8)


def label_plane(labels, rank: int):
    """`labels` (array or tensor) without a trailing channel axis: `(..., 1)` of rank
    `rank + 1` -> rank `rank`, e.g. `(B, H, W, 1)` -> `(B, H, W)` with `rank=3`."""
    return labels[..., 0] if len(labels.shape) == rank + 1 else labels


def true_labels(y_true) -> tf.Tensor:
    """A batch of true labels as int32 `(B, H, W)`, dropping a trailing channel axis of size 1:
    what every loss and metric reads."""
    return tf.cast(label_plane(tf.convert_to_tensor(y_true), 3), tf.int32)


def valid_pixels(true, ignore_index: int | None) -> tf.Tensor:
    """float32, the shape of `true`: 0 where the true label is `ignore_index` (void), else 1.
    The one rule by which losses and metrics leave void out."""
    if ignore_index is None:
        return tf.ones_like(true, tf.float32)
    return tf.cast(tf.not_equal(true, ignore_index), tf.float32)

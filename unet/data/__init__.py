"""Datasets: readers of the real on-disk layouts, generated look-alikes, the tf.data pipeline."""

from unet.data.pairs import CheckReport, DataError, Pair, split_by_group  # noqa: F401

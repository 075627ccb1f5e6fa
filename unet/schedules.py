"""Learning-rate schedules: constant, or a linear warm-up then cosine decay (Keras' own)."""

from __future__ import annotations

import keras


def learning_rate_for(train_config, steps_per_epoch: int):
    """The optimizer's learning rate for a `TrainConfig`: a float, or a Keras schedule.

    `warmup_cosine` rises linearly from a tenth of `learning_rate` to `learning_rate` over
    `warmup_epochs`, then follows a cosine to 1% of it at the last epoch (Keras'
    `CosineDecay` with `warmup_target`): large early steps without the early instability, and
    small late steps that settle the boundary pixels.
    """
    if train_config.schedule == "constant":
        return train_config.learning_rate
    warmup = max(1, train_config.warmup_epochs * steps_per_epoch)
    total = max(warmup + 1, train_config.epochs * steps_per_epoch)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=train_config.learning_rate / 10, decay_steps=total - warmup,
        alpha=0.01, warmup_target=train_config.learning_rate, warmup_steps=warmup)

"""The learning rate of a run: constant, or a linear warm-up then a cosine decay to zero."""

from __future__ import annotations

import keras

from unet.config import TrainConfig


def learning_rate_for(train_config: TrainConfig, steps_per_epoch: int):
    """What Adam gets as `learning_rate` for `train_config`.

    `schedule="constant"`: the float `learning_rate`. `schedule="cosine"`: Keras' `CosineDecay`
    with its built-in warm-up, rising linearly from 0 to `learning_rate` over `warmup_epochs`
    epochs, then following half a cosine down to 0 at the end of the last epoch. A warm-up
    longer than the run is cut to leave at least one step of decay (a one-epoch smoke run of a
    preset with two warm-up epochs still trains).

    The schedule counts optimizer steps, so it is fixed by the epochs asked for: a run continued
    to more epochs keeps the schedule it was saved with (at 0 after its old last epoch).

    Args:
        train_config: The run's `TrainConfig` (`learning_rate`, `schedule`, `warmup_epochs`,
            `epochs`).
        steps_per_epoch: Optimizer steps in one epoch (batches, or `train.steps_per_epoch`).

    Returns:
        A float, or a `keras.optimizers.schedules.LearningRateSchedule`.
    """
    if train_config.schedule == "constant":
        return train_config.learning_rate
    if steps_per_epoch <= 0:
        raise ValueError(f"steps_per_epoch must be positive; received {steps_per_epoch}.")
    total_steps = train_config.epochs * steps_per_epoch
    warmup_steps = min(train_config.warmup_epochs * steps_per_epoch, total_steps - 1)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=total_steps - warmup_steps,
        alpha=0.0,
        warmup_target=train_config.learning_rate,
        warmup_steps=warmup_steps,
    )

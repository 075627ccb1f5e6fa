"""Training one run: data, model, `model.fit` with resumable callbacks, native-size evaluation.

A run folder holds `config.json`, `history.csv`, `best.keras`, `last.keras`, `logs/`
(TensorBoard), then `metrics.json` and `per_image.csv` once finished. Rerunning a finished run
returns its metrics; rerunning an interrupted one resumes from its last completed epoch.
"""

from __future__ import annotations

import json
import math
import shutil
import statistics
import time
from pathlib import Path

import keras
import tensorflow as tf

from unet import callbacks, checkpoints, environment, evaluation, losses, metrics
from unet.config import RunConfig
from unet.data import sources
from unet.data.pipeline import Augmentation, make_dataset
from unet.model import build_model


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message says where and what to change."""


def select_strategy(devices=None) -> tf.distribute.Strategy:
    """The distribution strategy for this machine: a Colab TPU, all GPUs when there are several
    (`MirroredStrategy`), else the default one-device strategy. `devices` forces a
    `MirroredStrategy` over those devices (e.g. two logical CPUs in tests)."""
    if devices:
        return tf.distribute.MirroredStrategy(devices)
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.NotFoundError):
        pass  # no TPU here
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def precision_policy(mixed_precision: bool, strategy=None) -> str:
    """float16 on GPUs, bfloat16 on TPUs, float32 otherwise (CPUs gain nothing from it)."""
    if not mixed_precision:
        return "float32"
    if isinstance(strategy, tf.distribute.TPUStrategy):
        return "mixed_bfloat16"
    if tf.config.list_logical_devices("GPU"):
        return "mixed_float16"
    print("Mixed precision asked for, but there is no GPU or TPU: training in float32.")
    return "float32"


class _HParams(keras.callbacks.Callback):
    """Records the run's hyperparameters for TensorBoard's HParams dashboard."""

    def __init__(self, log_dir, hparams: dict, trial_id: str):
        super().__init__()
        self.log_dir, self.hparams, self.trial_id = str(log_dir), hparams, trial_id

    def on_train_begin(self, logs=None):
        from tensorboard.plugins.hparams import api as hp

        with tf.summary.create_file_writer(self.log_dir).as_default():
            hp.hparams(self.hparams, trial_id=self.trial_id)


def _write_json(path, values) -> None:
    callbacks.write_text_atomic(path, json.dumps(values, indent=2, sort_keys=True) + "\n")


def _claim_run_dir(config: RunConfig, run_dir: Path) -> None:
    saved = run_dir / "config.json"
    if saved.is_file():
        previous = RunConfig.load(saved)
        if previous != config:
            raise ValueError(
                f"{run_dir} holds a run of another configuration ({saved}); "
                "use another --run-dir or delete that folder."
            )
        return
    _write_json(saved, config.to_dict())


def train(config: RunConfig, run_dir, *, verbose="auto", strategy=None, evaluate=True) -> dict:
    """Trains (or resumes, or skips) the run `config` describes, in `run_dir`.

    Args:
        config: The run's configuration.
        run_dir: Its folder (created). A folder holding another configuration is refused.
        verbose: Keras' `fit` verbosity (1 progress bars, 2 one line per epoch, 0 silent).
        strategy: A `tf.distribute.Strategy`; default: `select_strategy()`.
        evaluate: Score `best.keras` at native resolution on the validation split afterwards.

    Returns:
        The contents of `metrics.json`.

    Raises:
        TrainingDiverged: the loss became NaN; the last good checkpoint is kept.

    Example:
    >>> from unet.config import preset
    >>> metrics = train(preset("smoke"), "memory/runs/smoke")
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    finished = run_dir / "metrics.json"
    if finished.is_file():
        return json.loads(finished.read_text())
    diverged = run_dir / "diverged.json"
    if diverged.is_file():
        raise TrainingDiverged(json.loads(diverged.read_text())["message"])
    _claim_run_dir(config, run_dir)
    model_config, data_config, train_config = config.model, config.data, config.train
    expected_classes = sources.num_classes_of(data_config)
    if model_config.num_classes != expected_classes:
        raise ValueError(
            f"dataset {data_config.dataset!r} has {expected_classes} class(es) but the model "
            f"has num_classes={model_config.num_classes}."
        )

    # 1. Data: split by car (or by frame blocks), streamed through tf.data.
    train_pairs, val_pairs = sources.split_pairs(data_config, seed=train_config.seed)
    common = {"image_size": data_config.image_size, "batch_size": train_config.batch_size,
              "num_classes": model_config.num_classes, "resize_mode": data_config.resize_mode,
              "cache": "memory" if data_config.cache else None}
    train_data = make_dataset(train_pairs, training=True, seed=train_config.seed,
                              augmentation=Augmentation() if data_config.augment else None,
                              **common)
    val_data = make_dataset(val_pairs, **common)

    # 2. Model, built and compiled under the strategy and precision policy.
    keras.utils.set_random_seed(train_config.seed)
    strategy = strategy or select_strategy()
    policy = precision_policy(train_config.mixed_precision, strategy)
    keras.mixed_precision.set_global_policy(policy)
    try:
        with strategy.scope():
            model = build_model(model_config, input_shape=(*data_config.image_size, 3))
            model.compile(
                optimizer=keras.optimizers.Adam(train_config.learning_rate),
                loss=losses.get_loss(train_config.loss, model_config.num_classes),
                metrics=metrics.training_metrics(model_config.num_classes),
                jit_compile=train_config.jit_compile,
            )

        # 3. Callbacks: NaN guard first, so nothing after it saves a diverged model.
        guard = callbacks.StopOnNaN()
        monitor = "val_dice"
        run_callbacks = [
            guard,
            callbacks.RunCheckpoints(run_dir, monitor=monitor, guard=guard),
            callbacks.HistoryCSV(run_dir / "history.csv"),
            callbacks.AtomicBackupAndRestore(str(run_dir / "backup")),
            keras.callbacks.TensorBoard(str(run_dir / "logs")),
            _HParams(run_dir / "logs", {
                "learning_rate": train_config.learning_rate, "batch_size": train_config.batch_size,
                "kernel_size": model_config.kernel_size}, config.name),
        ]
        if train_config.reduce_lr_patience:
            run_callbacks.append(keras.callbacks.ReduceLROnPlateau(
                monitor=monitor, mode="max", factor=0.5, patience=train_config.reduce_lr_patience))
        if train_config.early_stopping_patience:
            run_callbacks.append(keras.callbacks.EarlyStopping(
                monitor=monitor, mode="max", patience=train_config.early_stopping_patience))

        # 4. Fit (resumes from backup/ when a previous attempt was killed).
        model.fit(train_data, validation_data=val_data, epochs=train_config.epochs,
                  steps_per_epoch=train_config.steps_per_epoch, callbacks=run_callbacks,
                  shuffle=False, verbose=verbose)  # the dataset shuffles itself
    finally:
        keras.mixed_precision.set_global_policy("float32")

    if guard.diverged_at is not None:
        epoch, batch = guard.diverged_at
        last = checkpoints.find_checkpoint(run_dir, "last")
        kept = (f"the last good checkpoint, {last}, is kept" if last
                else "no epoch finished before it, so there is no checkpoint")
        message = (
            f"Training diverged: the loss became NaN at epoch {epoch}, batch {batch}, with "
            f"learning rate {train_config.learning_rate:g}. Lower the learning rate; {kept}."
        )
        shutil.rmtree(run_dir / "backup", ignore_errors=True)  # holds the diverged weights
        _write_json(diverged, {"epoch": epoch, "batch": batch, "message": message})
        raise TrainingDiverged(message)

    # 5. Native-resolution evaluation of the best checkpoint, then the run is finished.
    history = callbacks.read_history(run_dir / "history.csv")
    epoch_seconds = [row["seconds"] for row in history]
    steady = epoch_seconds[1:] or epoch_seconds  # the first epoch also traces and caches
    train_images = (train_config.steps_per_epoch * train_config.batch_size
                    if train_config.steps_per_epoch else len(train_pairs))
    result = {
        "run": config.name,
        "epochs": len(history),
        "best_epoch": max(history, key=lambda r: r.get(monitor, -math.inf))["epoch"],
        "best_val_dice_at_training_size": max(r.get(monitor, -math.inf) for r in history),
        "train_seconds": round(sum(epoch_seconds), 2),
        "train_images_per_second": round(train_images / statistics.median(steady), 2),
        "parameters": model.count_params(),
        "train_images": len(train_pairs),
        "val_images": len(val_pairs),
        "precision": policy,
        "environment": environment.describe(),
    }
    if evaluate:
        best = checkpoints.load_model(run_dir / "best.keras", compile=False)
        started = time.perf_counter()
        summary, rows = evaluation.evaluate(
            best, val_pairs, dataset=data_config.dataset, image_size=data_config.image_size,
            num_classes=model_config.num_classes, batch_size=train_config.batch_size,
            resize_mode=data_config.resize_mode, progress=verbose != 0)
        summary["seconds"] = round(time.perf_counter() - started, 2)
        result.update(summary)
        callbacks.write_csv_atomic(run_dir / "per_image.csv", rows, rows[0])
    _write_json(finished, result)
    return result

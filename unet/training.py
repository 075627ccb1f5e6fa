"""Training one run: data, model, `model.fit` with resumable callbacks, native-size evaluation.

The run folder's files are `unet.run_folder`'s. Rerunning a finished run of the same
configuration returns its metrics (and says so); an interrupted one resumes from its last
completed epoch; a trained one is only scored again; asking for more epochs continues it.
"""

from __future__ import annotations

import math
import shutil
import statistics
import time

import keras
import tensorflow as tf

from unet import callbacks, checkpoints, environment, evaluation, files, losses, metrics
from unet.config import CAR_MASK_CLASSES, RunConfig, format_epochs
from unet.data import pairs, sources
from unet.data.pipeline import Augmentation
from unet.errors import (
    CheckpointError,
    ConfigError,
    RunConflict,
    StorageError,
    TrainingDiverged,
)
from unet.model import build_model, check_image_size
from unet.run_folder import MONITOR, RunFolder
from unet.schedules import learning_rate_for
from unet.tensorboard_images import log_native_scores, prediction_image_callbacks


def select_strategy(devices=None, mirrored: bool = False) -> tf.distribute.Strategy:
    """The distribution strategy for this machine: a Colab TPU, all GPUs when there are several
    (`MirroredStrategy`), else the default one-device strategy. `devices` forces a
    `MirroredStrategy` over those devices (e.g. two logical CPUs in tests), `mirrored` one over
    all GPUs (the CPU on a machine without)."""
    if devices or mirrored:
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


def check_config(config: RunConfig) -> None:
    """Refuses a configuration that cannot train, before anything is read or written."""
    expected_classes = sources.num_classes_of(config.data)
    if config.data.dataset == "folder" and config.data.mask_encoding is None:
        sources.mask_format(config.data)  # refuses a folder config not completed from its data
    # A binary dataset also trains as 2 classes (background 0, car 1): one logit per class.
    allowed = CAR_MASK_CLASSES if config.data.binary else (
        range(2, 256) if expected_classes is None else (expected_classes,))
    if config.model.num_classes not in allowed:
        if expected_classes is None:  # the data does not fix the count: 2-255 classes
            raise ConfigError(
                f"num_classes={config.model.num_classes}: dataset {config.data.dataset!r} "
                f"takes 2-255 classes (class ids 0-254; 255 marks void).",
                field="model.num_classes")
        raise ConfigError(
            f"dataset {config.data.dataset!r} has {expected_classes} class(es) but the model "
            f"has num_classes={config.model.num_classes}.")
    if config.model.num_classes == 2 and config.data.binary and config.train.loss != "sparse_ce":
        raise ConfigError("num_classes=2 on a binary dataset needs loss 'sparse_ce' (softmax over "
                         f"background and car); received {config.train.loss!r}.")
    losses.get_loss(config.train.loss, config.model.num_classes,
                    ignore_index=config.data.void_label)
    for size, field in ((config.data.image_size, "data.image_size"),
                        (config.data.crop_size, "data.crop_size")):
        if size:
            check_image_size(config.model, size, field)


def train(config: RunConfig, run_dir, *, verbose="auto", strategy=None) -> dict:
    """Trains (or resumes, continues, or skips) the run `config` describes, in `run_dir`.

    Args:
        config: The run's configuration.
        run_dir: Its folder (created). A folder holding another configuration is refused.
        verbose: Keras' `fit` verbosity (1 progress bars, 2 one line per epoch, 0 silent).
        strategy: A `tf.distribute.Strategy`; default: `select_strategy()`.

    Returns:
        The contents of `metrics.json`.

    Raises:
        TrainingDiverged: the loss became NaN or exploded; the last good checkpoint is kept.
        RunConflict: `run_dir` holds another configuration, or more epochs, or its data no
            longer splits as its `split.json` recorded.
        DataError: a problem in the data (named), found before anything is written, or in the
            first epoch of a new run, whose folder is then removed again (a failed start
            leaves no run behind).
        Locked: another process is training in `run_dir` (all four in `unet.errors`).
    """
    folder = RunFolder(run_dir)
    run_dir = folder.path
    # 1. Everything is checked before anything is written: a failed start claims no folder.
    check_config(config)
    if folder.state(config) == "finished":  # nothing to list, split or lock
        return _skip_finished(config, folder)
    train_source, val_source = sources.split(config.data, seed=config.train.seed)

    created = _first_missing(run_dir)  # what a start that fails removes again
    try:
        return _train_locked(config, folder, train_source, val_source, verbose, strategy)
    except TrainingDiverged:
        raise  # recorded in the folder
    except Exception:
        if created is not None and not folder.config.is_file():
            _remove_empty(folder.path, created)
        raise


def _check_same_split(folder: RunFolder, split: dict) -> None:
    """Refuses to go on with a run whose data no longer splits as `split.json` recorded: the
    epochs trained and those to come would have seen two data sets."""
    recorded = files.read_json(folder.split, "delete it to record the split anew")
    change = pairs.split_change(recorded, split)
    if change:
        raise RunConflict(
            f"{folder.split} records the split this run trained on, and the data now splits "
            f"otherwise: {change}. Restore the data the run started with, or train in a new "
            "--run-dir.")


def _train_locked(config, folder: RunFolder, train_source, val_source, verbose,
                  strategy) -> dict:
    """`train` under the run folder's lock: record the run, train, score."""
    run_dir = folder.path
    with files.lock(run_dir, "run folder"):
        state = folder.state(config)  # again, now that no other process can change it
        removed = files.remove_partials(run_dir, recursive=True)
        if removed:
            print(f"Removed {len(removed)} partial file(s) of an interrupted write in {run_dir}.")
        if state == "finished":
            return _skip_finished(config, folder)
        if state == "diverged":
            raise TrainingDiverged(folder.divergence()["message"])
        kept = {path.name for path in run_dir.iterdir()}
        try:
            files.write_json(folder.config, config.to_dict())
            split = {"train": sorted({p.group for p in train_source.items}),
                     "val": sorted({p.group for p in val_source.items})}
            if train_source.split_by:
                split["by"] = train_source.split_by
            if state != "new" and folder.split.is_file():
                _check_same_split(folder, split)
            files.write_json(folder.split, split)
            if state in ("new", "interrupted"):
                _train_epochs(config, folder, state, train_source, val_source, verbose,
                              strategy)
        except TrainingDiverged:
            raise  # recorded in the folder
        except Exception:
            if state == "new" and not folder.read_history():
                _unclaim(run_dir, kept)
            raise
        best = checkpoints.load_model(folder.best, compile=False)
        result = _summary(config, folder, train_source, val_source, best.count_params())
        result.update(_evaluate_best(config, best, folder, val_source, verbose))
        log_native_scores(folder.logs, result)
        files.write_json(folder.metrics, result)
        return result


def _skip_finished(config, folder: RunFolder) -> dict:
    """The scores of a finished run, which is not trained again (the console says so)."""
    print(f"Skipped {folder.path}: finished ({config.train.epochs} epochs, "
          f"{RunFolder.metrics}).")
    return folder.scores()


def _first_missing(path):
    """The highest folder of `path` (itself included) that does not exist yet, or `None`."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            return missing
        missing = folder
    return missing


def _remove_empty(run_dir, created) -> None:
    """Removes `run_dir`, left holding only its lock file, and the empty folders above it up to
    `created` (the highest one this process made)."""
    (run_dir / ".lock").unlink(missing_ok=True)
    for folder in (run_dir, *run_dir.parents):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty: another run's, or something the user put there
        if folder == created:
            return


def _unclaim(run_dir, kept: set) -> None:
    """Removes what a new run wrote before failing in its first epoch (a refused dataset, a
    model that cannot be built), so that the folder does not read as an interrupted run."""
    for path in run_dir.iterdir():
        if path.name not in kept and path.name != ".lock":
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _train_epochs(config, folder: RunFolder, state, train_source, val_source, verbose,
                  strategy) -> None:
    """Trains the epochs not yet done, then records it in `trained.json`: from then on the run
    is only scored, never trained again."""
    if folder.trained.is_file():  # trained before, for fewer epochs
        print(f"Continuing {folder.path} to {config.train.epochs} epochs.")
    policy = _fit_epochs(config, folder, train_source, val_source, state, verbose, strategy)
    # Scores of fewer epochs go first: `trained.json` beside an old `metrics.json` would read
    # as finished.
    folder.metrics.unlink(missing_ok=True)
    files.write_json(folder.trained, {"epochs": config.train.epochs,
                                      "epochs_done": len(folder.read_history()),
                                      "precision": policy})


def _epochs_in(model: keras.Model, steps: int) -> int:
    """The epochs a checkpoint's weights have trained: its optimizer's step count over the
    steps of an epoch."""
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations)) // steps


def _compiled_model(config: RunConfig, folder: RunFolder, from_last: bool, strategy,
                    steps: int) -> keras.Model:
    """A new model, or with `from_last` the last checkpoint with its optimizer state."""
    model_config, train_config = config.model, config.train
    with strategy.scope():
        if from_last:
            try:
                return checkpoints.load_model(folder.last, compile=True)
            except CheckpointError as error:
                raise CheckpointError(f"{error} Remove it to train the run again from epoch 1 "
                                      "(the epochs it held are lost).") from None
        # Trained on crops, scored on whole images: a U-Net takes any size divisible by 2**depth.
        input_shape = (None, None, 3) if config.data.crop_size else (*config.data.image_size, 3)
        model = build_model(model_config, input_shape=input_shape)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate_for(train_config, steps)),
            loss=losses.get_loss(train_config.loss, model_config.num_classes,
                                 ignore_index=config.data.void_label),
            metrics=metrics.training_metrics(
                model_config.num_classes, binary=config.data.binary,
                ignore_index=config.data.void_label),
            jit_compile=train_config.jit_compile,
        )
        return model


def _fit_epochs(config, folder: RunFolder, train_source, val_source, state, verbose,
                strategy) -> str:
    """`model.fit` with the run's callbacks; resumes from `last.keras` after a kill. Returns the
    precision policy it trained under."""
    model_config, data_config, train_config = config.model, config.data, config.train
    # 1. Data: split by car (or by frame blocks), streamed through tf.data.
    common = {"image_size": data_config.image_size, "batch_size": train_config.batch_size,
              "num_classes": model_config.num_classes, "resize_mode": data_config.resize_mode,
              "cache": "memory" if data_config.cache else None}
    # With `steps_per_epoch`, an epoch is that many full batches of an endless stream: Keras
    # cuts an epoch short (with a warning) wherever a finite dataset runs out.
    train_data = train_source.make_dataset(
        training=True, seed=train_config.seed,
        augmentation=Augmentation() if data_config.augment else None,
        crop_size=data_config.crop_size, repeat=bool(train_config.steps_per_epoch), **common)
    val_data = val_source.make_dataset(**common)

    # 2. Model, built and compiled under the strategy and precision policy.
    keras.utils.set_random_seed(train_config.seed)
    strategy = strategy or select_strategy()
    policy = precision_policy(train_config.mixed_precision, strategy)
    keras.mixed_precision.set_global_policy(policy)
    try:
        steps = train_config.steps_per_epoch or math.ceil(len(train_source)
                                                          / train_config.batch_size)
        history = folder.read_history()
        # An older version's Keras backup: its state is also in last.keras.
        shutil.rmtree(folder.backup, ignore_errors=True)
        from_last = state != "new" and bool(history) and folder.last.is_file()
        if history and not from_last:
            # Nothing holds the trained weights: the recorded epochs are trained again, and
            # their rows (and best score) go, so that best.keras follows the new epochs.
            print(f"{folder.path}: {RunFolder.history} records "
                  f"{format_epochs(len(history))} but there is no {RunFolder.last} to resume "
                  "from; training starts again from epoch 1.")
            folder.history.unlink()
        model = _compiled_model(config, folder, from_last, strategy, steps)
        # The epochs last.keras holds: the history's, or one fewer when a kill came between an
        # epoch's history row and its checkpoint (that epoch is trained again, its row
        # replaced).
        initial_epoch = min(_epochs_in(model, steps), len(history)) if from_last else 0

        # 3. Callbacks: the divergence guard first, so nothing after it saves a diverged model.
        guard = callbacks.StopOnDivergence()
        run_callbacks = [
            guard,
            # The history row first: a kill before the checkpoints are saved leaves last.keras
            # an epoch behind, and that epoch is trained again (a kill the other way round
            # would leave weights ahead of the history, and the schedule an epoch ahead).
            callbacks.HistoryCSV(folder.history),
            callbacks.RunCheckpoints(folder.path, monitor=MONITOR, guard=guard,
                                     initial_epoch=initial_epoch),
            keras.callbacks.TensorBoard(str(folder.logs)),
            # The trial is the run's folder under the runs root: unique across presets, data.
            _HParams(folder.logs, {
                "learning_rate": train_config.learning_rate, "batch_size": train_config.batch_size,
                "kernel_size": model_config.kernel_size}, config.folder.as_posix()),
            *prediction_image_callbacks(config, folder.path, val_source, png=True),
        ]
        if train_config.reduce_lr_patience:
            run_callbacks.append(keras.callbacks.ReduceLROnPlateau(
                monitor=MONITOR, mode="max", factor=0.5, patience=train_config.reduce_lr_patience))
        if train_config.early_stopping_patience:
            run_callbacks.append(keras.callbacks.EarlyStopping(
                monitor=MONITOR, mode="max", patience=train_config.early_stopping_patience))

        # 4. Fit, from the epoch last.keras holds (a resumed or continued run).
        if initial_epoch >= train_config.epochs:
            print(f"{folder.path}: all {format_epochs(initial_epoch)} had been trained when it "
                  f"was stopped; scoring {RunFolder.best} without training again.")
        else:
            try:
                with files.writing(folder.path):  # TensorBoard's logs, besides atomic writes
                    model.fit(train_data, validation_data=val_data, epochs=train_config.epochs,
                              initial_epoch=initial_epoch,
                              steps_per_epoch=train_config.steps_per_epoch,
                              callbacks=run_callbacks, shuffle=False, verbose=verbose)
            except StorageError as error:
                last = checkpoints.find_checkpoint(folder.path, "last")
                kept = (f" The last good checkpoint, {last}, is intact: rerun to resume from it."
                        if last else "")
                raise StorageError(f"{error}{kept}") from error
    finally:
        keras.mixed_precision.set_global_policy("float32")
    if guard.diverged_at is not None:
        _record_divergence(config, folder, guard)
    return policy


def _record_divergence(config, folder: RunFolder, guard) -> None:
    epoch, batch = guard.diverged_at
    last = checkpoints.find_checkpoint(folder.path, "last")
    kept = (f"the last good checkpoint, {last}, is kept" if last
            else "no epoch finished before it, so there is no checkpoint")
    message = (f"Training diverged: the loss {guard.reason} at epoch {epoch}, batch {batch}, "
               f"with learning rate {config.train.learning_rate:g}. Lower the learning rate; "
               f"{kept}.")
    files.write_json(folder.diverged, {"epoch": epoch, "batch": batch, "message": message})
    raise TrainingDiverged(message)


def images_per_epoch(train_config, train_images: int) -> int:
    """The images an epoch trains on: all `train_images` once, or with `steps_per_epoch` that
    many full batches of the repeated data (`make_dataset(repeat=True)`)."""
    if train_config.steps_per_epoch:
        return train_config.steps_per_epoch * train_config.batch_size
    return train_images


def train_throughput(history: list[dict], train_images: int, batch_size: int) -> float:
    """Training images per second: the median over epochs of the images of each epoch's steps
    after its first (the first traces the step) over their time (`steps_seconds`), leaving out
    the first epoch (which also fills the cache) where there are others. Rows recorded
    without `steps_seconds` are timed by their whole epoch.

    Args:
        history: `history.csv`'s rows.
        train_images: The images an epoch trains on (`images_per_epoch`).
        batch_size: The batch size (the first step's images, at most `train_images`).

    Returns:
        Images per second, rounded to 2 decimals; 0.0 where no step was timed.
    """
    after_first = train_images - min(batch_size, train_images)
    rates = [after_first / row["steps_seconds"] if row.get("steps_seconds")
             else train_images / row["seconds"] for row in history]
    steady = rates[1:] or rates
    return round(statistics.median(steady), 2) if steady else 0.0


def _summary(config, folder: RunFolder, train_source, val_source, parameters: int) -> dict:
    """What the history says of the training: epochs, best epoch, time, speed, size."""
    history = folder.read_history()
    epoch_seconds = [row["seconds"] for row in history]
    train_images = images_per_epoch(config.train, len(train_source))
    best = max(history, key=lambda r: r.get(MONITOR, -math.inf))
    return {
        "run": config.name,
        "epochs": len(history),
        "best_epoch": best["epoch"],
        "best_val_dice_at_training_size": best.get(MONITOR),
        "train_seconds": round(sum(epoch_seconds), 2),
        "train_images_per_second": train_throughput(history, train_images,
                                                    config.train.batch_size),
        "parameters": parameters,
        "train_images": len(train_source),
        "train_images_per_epoch": train_images,
        "val_images": len(val_source),
        "precision": folder.training_record().get("precision", "float32"),
        "environment": environment.describe(),
    }


def _evaluate_best(config, best, folder: RunFolder, val_source, verbose) -> dict:
    """Native-resolution scores of `best` (the run's `best.keras`) on the validation split;
    writes `per_image.csv`, each image with its group (car, or block of frames)."""
    started = time.perf_counter()
    common = {"dataset": config.data.dataset, "binary": config.data.binary,
              "image_size": config.data.image_size,
              "num_classes": config.model.num_classes, "batch_size": config.train.batch_size,
              "resize_mode": config.data.resize_mode, "progress": verbose != 0,
              "ignore_index": config.data.void_label,
              "class_names": val_source.class_names}
    summary, rows = evaluation.evaluate(best, val_source, **common)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    if config.data.binary:  # a car mask, from 1 or 2 output classes
        # The same with flip TTA: `predict` uses it by default where it scored higher here.
        flipped, _ = evaluation.evaluate(best, val_source, tta="flip", **common)
        summary.update({f"{key}_flip_tta": flipped[key] for key in ("dice", "boundary_f")})
    groups = {item.name: item.group for item in val_source.items}
    rows = [{"image": row["image"], "group": groups[row["image"]], **row} for row in rows]
    files.write_csv(folder.per_image, rows, rows[0])
    return summary

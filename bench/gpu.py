"""The GPU presets measured in a few minutes: training images/s of `colab_gpu` and `full` in
float32, mixed precision and mixed precision with XLA, peak GPU memory, the input pipeline's
images/s alone, and whether each preset fits a T4's 15 GB.

    python bench/gpu.py                        # on a GPU; at most about 6 minutes
    python bench/gpu.py --data-dir data/carvana --out gpu.json
    python bench/gpu.py --tiny                 # tiny images, 2 steps: a check that runs on a CPU
    python bench/gpu.py --presets colab_gpu    # one preset

Training is what `unet.training` does: the model from `build_model`, the preset's loss, metrics
and schedule, batches from the project's pipeline (`Source.make_dataset`, with the preset's
crops and augmentation) and `model.fit`; the first steps (graph tracing, XLA compilation, the
pipeline filling up) are left out of the timing. The pipeline is also timed alone: when it gives
fewer images/s than training takes, the GPU waits for data.

"Fits a T4" is tested, not estimated: on a GPU with more memory the preset trains a few steps in
a process whose GPU is capped at 15 GB (`tf.config.set_logical_device_configuration`); on a GPU
of 16 GB or less the uncapped run answers. Each measurement runs in its own process (a memory
cap can only be set before the GPU is first used), bounded by what is left of `--budget-s`.
Prints one table and writes everything to `--out` as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PRESETS = ("colab_gpu", "full")
VARIANTS = {  # name: (mixed precision, XLA)
    "fp32": (False, False), "mixed": (True, False), "mixed_xla": (True, True)}
T4_MEMORY_MIB = 15 * 1024  # what Colab's T4 leaves usable
# --tiny: the presets' structure at a size a CPU trains in seconds.
TINY = {"model": {"filters": 4, "depth": 2},
        "data": {"image_size": (64, 96), "crop_size": (32, 48)},
        "train": {"batch_size": 2}}


def bench_config(name: str, tiny: bool):
    """The preset `name`, or with `tiny` the same at tiny sizes."""
    from unet.config import preset

    config = preset(name)
    if tiny:
        config = config.override(**{section: dict(values) for section, values in TINY.items()})
    return config


def train_source(data_dir: str):
    """All pairs of the Carvana folder `data_dir`, as training reads them."""
    from unet.data import carvana, sources

    folder = Path(data_dir)
    mask_source = "csv" if (folder / "train_masks.csv").is_file() else "auto"
    return sources.FolderSource(carvana.list_pairs(folder, mask_source=mask_source), "carvana")


def training_batches(config, source):
    """The preset's training batches, repeated: crops, augmentation and all."""
    from unet.data.pipeline import Augmentation

    data, train = config.data, config.train
    return source.make_dataset(
        image_size=data.image_size, batch_size=train.batch_size,
        num_classes=config.model.num_classes, training=True, seed=train.seed,
        augmentation=Augmentation() if data.augment else None, resize_mode=data.resize_mode,
        crop_size=data.crop_size, drop_remainder=True).repeat()


def pipeline_images_per_s(config, source, warmup: int, steps: int) -> float:
    """Images/s of the input pipeline alone (no model), after `warmup` batches."""
    batches = iter(training_batches(config, source))
    for _ in range(warmup):
        next(batches)
    started = time.perf_counter()
    for _ in range(steps):
        next(batches)
    return steps * config.train.batch_size / (time.perf_counter() - started)


def training_run(config, source, *, mixed: bool, xla: bool, warmup: int, steps: int) -> dict:
    """Trains `warmup + steps` steps with `model.fit`; images/s over the last `steps`."""
    import keras
    import tensorflow as tf

    from unet import losses, metrics, training
    from unet.model import build_model
    from unet.schedules import learning_rate_for

    class Clock(keras.callbacks.Callback):
        """Times the steps after the warm-up; reading the loss waits for the device."""

        def on_train_batch_end(self, batch, logs=None):
            if batch == warmup - 1:
                float(logs["loss"])
                self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.started

    gpu = bool(tf.config.list_logical_devices("GPU"))
    policy = training.precision_policy(mixed)
    keras.mixed_precision.set_global_policy(policy)
    if gpu:
        tf.config.experimental.reset_memory_stats("GPU:0")
    result = {"policy": policy, "xla": xla}
    try:
        model = build_model(config.model)
        model.compile(
            optimizer=keras.optimizers.Adam(learning_rate_for(config.train, warmup + steps)),
            loss=losses.get_loss(config.train.loss, config.model.num_classes),
            metrics=metrics.training_metrics(config.model.num_classes,
                                             binary=config.data.binary),
            jit_compile=xla)
        clock = Clock()
        model.fit(training_batches(config, source), epochs=1, steps_per_epoch=warmup + steps,
                  callbacks=[clock], shuffle=False, verbose=0)
        result.update(status="ok", images_per_s=steps * config.train.batch_size / clock.seconds)
    except tf.errors.ResourceExhaustedError:
        result.update(status="out of memory", images_per_s=None)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] if gpu else None
    result["peak_memory_mib"] = round(peak / 2**20) if peak is not None else None
    keras.backend.clear_session()
    return result


def worker(task: dict) -> dict:
    """One process's measurements: `task["kind"]` is `"measure"` (the pipeline, then each
    variant) or `"fits_t4"` (the preset as configured, under a 15 GB cap)."""
    import tensorflow as tf

    config = bench_config(task["preset"], task["tiny"])
    if task["kind"] == "fits_t4":
        gpus = tf.config.list_physical_devices("GPU")
        tf.config.set_logical_device_configuration(
            gpus[0], [tf.config.LogicalDeviceConfiguration(memory_limit=T4_MEMORY_MIB)])
    source = train_source(task["data_dir"])
    warmup, steps = task["warmup"], task["steps"]
    if task["kind"] == "fits_t4":
        run = training_run(config, source, mixed=config.train.mixed_precision,
                           xla=config.train.jit_compile, warmup=warmup, steps=1)
        return {"fits": run["status"] == "ok", "how": f"capped at {T4_MEMORY_MIB} MiB",
                "peak_memory_mib": run["peak_memory_mib"]}
    result = {"pipeline_images_per_s": pipeline_images_per_s(config, source, warmup, steps),
              "training": {}}
    for name, (mixed, xla) in VARIANTS.items():
        result["training"][name] = training_run(config, source, mixed=mixed, xla=xla,
                                                warmup=warmup, steps=steps)
    return result


def run_worker(task: dict, timeout: float) -> dict:
    """`worker(task)` in a new process, within `timeout` seconds."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "result.json"
        command = [sys.executable, __file__, "--worker", json.dumps(task), "--result", str(out)]
        try:
            process = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"status": f"not finished within the time left ({timeout:.0f} s)"}
        if process.returncode != 0 or not out.is_file():
            lines = (process.stderr or process.stdout).strip().splitlines() or ["no output"]
            return {"status": f"failed (exit {process.returncode}): {lines[-1]}"}
        return json.loads(out.read_text())


def gpu_memory_mib() -> int | None:
    """The first GPU's memory (nvidia-smi), or `None` when it cannot be asked."""
    if not shutil.which("nvidia-smi"):
        return None
    answer = subprocess.run(["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,"
                             "nounits"], capture_output=True, text=True)
    try:
        return int(answer.stdout.split()[0])
    except (IndexError, ValueError):
        return None


def table(results: dict) -> str:
    """The results as one Markdown table."""
    def number(value, digits=1):
        return "-" if value is None else f"{value:.{digits}f}"

    lines = ["| preset | size (crops) | batch | variant | policy | images/s | peak GPU MiB "
             "| pipeline images/s | fits a T4 (15 GB) |", "|---|---|---|---|---|---|---|---|---|"]
    for name, entry in results["presets"].items():
        size = "x".join(map(str, entry["image_size"]))
        crops = f" ({'x'.join(map(str, entry['crop_size']))})" if entry["crop_size"] else ""
        fits = entry.get("fits_t4", {})
        fits_text = ("yes" if fits.get("fits") else "no") if "fits" in fits else fits.get(
            "status", "-")
        measured = entry.get("measure", {})
        for variant in VARIANTS:
            run = measured.get("training", {}).get(variant, {})
            lines.append(
                f"| {name} | {size}{crops} | {entry['batch_size']} | {variant} | "
                f"{run.get('policy', '-')} | {number(run.get('images_per_s'))} "
                f"{'' if run.get('status', 'ok') == 'ok' else '(' + run['status'] + ')'}| "
                f"{number(run.get('peak_memory_mib'), 0)} | "
                f"{number(measured.get('pipeline_images_per_s'))} | {fits_text} |")
        if "status" in measured:
            lines.append(f"| {name} | | | all | | {measured['status']} | | | |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true",
                        help="tiny images and 2 steps, on whatever device there is (a CPU)")
    parser.add_argument("--presets", nargs="+", choices=PRESETS, default=list(PRESETS))
    parser.add_argument("--data-dir", help="a Carvana folder (default: a generated one)")
    parser.add_argument("--out", default="gpu_bench.json", help="the JSON written")
    parser.add_argument("--budget-s", type=float, default=330,
                        help="the whole run's time limit in seconds")
    parser.add_argument("--steps", type=int, help="timed steps (default 10; --tiny 2)")
    parser.add_argument("--warmup", type=int, help="untimed first steps (default 3; --tiny 1)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        result = worker(json.loads(args.worker))
        Path(args.result).write_text(json.dumps(result))
        return 0

    started = time.monotonic()
    import tensorflow as tf

    if not args.tiny and not tf.config.list_physical_devices("GPU"):
        print("No GPU here: bench/gpu.py measures the GPU presets; run it on a GPU, or with "
              "--tiny for a quick check on a CPU.")
        return 0
    from unet import paths
    from unet.data import synthetic

    # Two generated cars at Kaggle's size (32 photos, read again every epoch), else tiny ones.
    data_dir = args.data_dir or str(synthetic.generated_dir(
        paths.data_root(), "carvana", 1 if args.tiny else 2, (64, 96) if args.tiny else None,
        progress=False))
    memory = None if args.tiny else gpu_memory_mib()
    steps = args.steps or (2 if args.tiny else 10)
    warmup = max(1, args.warmup or (1 if args.tiny else 3))
    results = {"device": tf.config.list_physical_devices("GPU")[0].name if not args.tiny
               else "CPU (--tiny)", "gpu_memory_mib": memory, "tiny": args.tiny,
               "steps": steps, "warmup": warmup, "data_dir": data_dir, "presets": {}}
    for name in args.presets:
        config = bench_config(name, args.tiny)
        entry = results["presets"][name] = {
            "image_size": list(config.data.image_size),
            "crop_size": list(config.data.crop_size) if config.data.crop_size else None,
            "batch_size": config.train.batch_size, "depth": config.model.depth,
            "filters": config.model.filters}
        task = {"preset": name, "tiny": args.tiny, "data_dir": data_dir, "steps": steps,
                "warmup": warmup}
        for kind in ("measure", "fits_t4"):
            left = args.budget_s - (time.monotonic() - started)
            if kind == "fits_t4" and args.tiny:
                entry[kind] = {"status": "not tested (no GPU)"}
            elif kind == "fits_t4" and memory is not None and memory <= 16 * 1024:
                # The preset as configured (mixed precision, no XLA) trained uncapped here.
                run = entry["measure"].get("training", {}).get("mixed", {})
                entry[kind] = ({"fits": run["status"] == "ok", "how": f"this GPU has {memory} MiB",
                                "peak_memory_mib": run["peak_memory_mib"]}
                               if "status" in run else {"status": "not measured"})
            elif left < 20:
                entry[kind] = {"status": "skipped: the time budget is spent"}
            else:
                entry[kind] = run_worker({**task, "kind": kind}, timeout=left)
            print(f"{name} {kind}: done after {time.monotonic() - started:.0f} s", flush=True)
    results["seconds"] = round(time.monotonic() - started, 1)
    print(table(results))
    Path(args.out).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.out} ({results['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

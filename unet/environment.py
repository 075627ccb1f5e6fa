"""What a result was measured with: library versions, device and the code's commit."""

from __future__ import annotations

import os
import platform
import subprocess


def gpu_count() -> int:
    """How many GPUs TensorFlow sees."""
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU"))


def describe() -> dict:
    """TensorFlow, Keras and Python versions, the device, and the git commit (or "unknown")."""
    import keras
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = f"{len(gpus)} x GPU ({details.get('device_name', 'unknown')})"
    else:
        device = f"CPU only ({os.cpu_count()} cores, {platform.machine()})"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {"tensorflow": tf.__version__, "keras": keras.__version__,
            "python": platform.python_version(), "device": device, "commit": commit}

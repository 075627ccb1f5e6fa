"""The named presets, as the values they set in each section of a run configuration.

`unet.config.preset(name)` builds the `RunConfig`; fields not named keep their defaults. How
the `cpu` and `colab_gpu` values were chosen: README, "Results".
"""

PRESETS: dict[str, dict] = {
    # Seconds on a CPU: for tests, CI and notebooks in smoke mode.
    "smoke": {
        "model": {"filters": 4, "depth": 3, "batch_norm_momentum": 0.9},
        "data": {"image_size": (32, 48), "synthetic_cars": 3, "synthetic_image_size": (64, 96),
                 "val_fraction": 0.34, "augment": False},
        "train": {"epochs": 1, "batch_size": 4, "learning_rate": 1e-3},
    },
    # The README's demo, about 7 minutes on 2 CPU cores: 128x192 crops of 192x288 images.
    "cpu": {
        "model": {"filters": 16, "depth": 4, "batch_norm_momentum": 0.99},
        "data": {"image_size": (192, 288), "crop_size": (128, 192), "synthetic_cars": 12,
                 "synthetic_image_size": (1280, 1918), "val_fraction": 0.34},
        "train": {"epochs": 40, "batch_size": 8, "learning_rate": 1e-3,
                  "schedule": "warmup_cosine"},
    },
    # A free Colab T4, mixed precision: the canonical U-Net on 256x384 crops of 512x768 images;
    # no cache (5,088 images at 512x768 would fill most of Colab's RAM).
    # Not yet measured on a GPU: `python bench/gpu.py` measures its images/s, memory and T4 fit.
    "colab_gpu": {
        "model": {"filters": 64, "depth": 4},
        "data": {"dataset": "carvana", "image_size": (512, 768), "crop_size": (256, 384),
                 "cache": False, "synthetic_cars": 48, "synthetic_image_size": (1280, 1918)},
        "train": {"epochs": 20, "batch_size": 16, "learning_rate": 5e-4,
                  "mixed_precision": True, "schedule": "warmup_cosine"},
    },
    # Native resolution (1918 padded to 1920) on an A100/H100-class GPU: the winners' setting;
    # no cache (about 50 GB at native size).
    # Not yet measured on a GPU either (`python bench/gpu.py`).
    "full": {
        "model": {"filters": 64, "depth": 5},
        "data": {"dataset": "carvana", "image_size": (1280, 1920), "resize_mode": "pad",
                 "crop_size": (512, 768), "cache": False, "synthetic_cars": 48,
                 "synthetic_image_size": (1280, 1918)},
        "train": {"epochs": 30, "batch_size": 8, "learning_rate": 3e-4, "mixed_precision": True,
                  "schedule": "warmup_cosine", "early_stopping_patience": 8},
    },
}

"""Test-session environment, for the tests and the notebooks that nbval runs.

Generated data, runs and reports go to temporary folders, never into the checkout's `data/`,
`runs/` and `memory/` (which holds the committed demo report), and notebooks run in smoke mode.
"""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["UNET_DATA_ROOT"] = tempfile.mkdtemp(prefix="unet-test-data-")
os.environ["UNET_MEMORY_DIR"] = tempfile.mkdtemp(prefix="unet-test-memory-")
os.environ["UNET_RUNS_DIR"] = tempfile.mkdtemp(prefix="unet-test-runs-")
os.environ.setdefault("UNET_SMOKE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

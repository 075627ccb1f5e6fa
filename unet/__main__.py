"""`python -m unet ...`: the command line."""

import signal

from unet.cli import main

if __name__ == "__main__":
    code = main()
    # Done: a Ctrl-C or SIGTERM while the interpreter shuts down (TensorFlow takes seconds)
    # changes neither the result nor the exit code.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(code)

"""`python -m unet ...`: the command line."""

from unet.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

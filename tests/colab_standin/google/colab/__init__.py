"""A stand-in for Colab's `google.colab` package in the test suite's simulated Colab runtime.

Only the parts the notebooks touch: `drive.mount` and `userdata.get`. The folder `colab_standin`
is put on the simulated runtime's path and this package is imported before any cell runs, as
Colab does. (`google` stays a namespace package, so `google.protobuf` is still found.)
"""

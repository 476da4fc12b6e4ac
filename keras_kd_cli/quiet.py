"""Keeps TensorFlow's logging out of the ``keras-kd`` command's output.

For the command line only: importing the library changes no logging. Part of
TensorFlow's start-up logging (oneDNN, CUDA drivers, CPU features) is written
before absl logging is initialized, where no log level reaches it, and the
TFLite converter and interpreters print to the process's stderr from C++. So
besides setting TensorFlow's log level, the command points file descriptor 2
at a temporary file while it works; it reports its own errors after the
block, on the real stderr.
"""

import contextlib
import os
import sys
import tempfile

# Hides the C++ INFO, WARNING and ERROR lines logged after absl is initialized
# (errors that matter reach Python as exceptions). Read when TensorFlow starts.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3"}


@contextlib.contextmanager
def _stderr_to_temporary_file():
    for stream in (sys.stderr, sys.__stderr__):
        if stream is not None:
            stream.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as log:
            os.dup2(log.fileno(), 2)
            try:
                yield
            finally:
                if sys.stderr is not None:
                    sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


@contextlib.contextmanager
def tensorflow_quiet(verbose=False):
    """Keeps whatever is written to the process's stderr inside the block out of sight.

    Enter it before TensorFlow is imported for the start-up logging to be
    hidden too. With ``verbose`` it changes nothing.

    Args:
        verbose: show everything (the ``--verbose`` flag).
    """
    if verbose:
        yield
        return
    if "tensorflow" not in sys.modules:
        os.environ.update(QUIET_ENVIRONMENT)
    with _stderr_to_temporary_file():
        yield

"""Progress of the long operations that are not `fit`, with Keras's ``verbose`` values.

``verbose`` is ``"auto"``, 0, 1 or 2, as for `keras.Model.fit`: 0 prints
nothing, 1 a `keras.utils.Progbar` under the stage's name, 2 one line per
stage (and, within a long stage, at most one line every
`LINE_INTERVAL_SECONDS`). ``"auto"`` is 1 on a terminal and 2 when standard
output is not one or the ``CI`` environment variable is set, so that logs
get a few lines, not a bar redrawn per image.
"""

import contextlib
import os
import sys
import time

import keras

LINE_INTERVAL_SECONDS = 30.0
VERBOSE_VALUES = ("auto", 0, 1, 2)


def resolve_verbose(verbose):
    """The verbosity ``verbose`` means here: 0, 1 or 2.

    Args:
        verbose: ``"auto"``, 0, 1 or 2.

    Returns:
        0, 1 or 2; ``"auto"`` gives 1 on a terminal outside CI, else 2.

    Example:
        ```python
        resolve_verbose("auto")  # 2 in a CI log, 1 in a terminal
        ```
    """
    if verbose == "auto" and isinstance(verbose, str):
        terminal = hasattr(sys.stdout, "isatty") and sys.stdout.isatty()
        return 1 if terminal and not os.environ.get("CI") else 2
    if isinstance(verbose, str) or verbose not in VERBOSE_VALUES:
        raise ValueError(
            f"`verbose` must be one of {VERBOSE_VALUES}. Received: verbose={verbose!r}"
        )
    return int(verbose)


def say(message, verbose):
    """Prints ``message`` on a line of its own unless ``verbose`` is 0.

    Args:
        message: one stage's line, e.g. ``"generation 2 of 3"``.
        verbose: ``"auto"``, 0, 1 or 2.

    Example:
        ```python
        say("[bench] row 3 of 16: kd", verbose)
        ```
    """
    if resolve_verbose(verbose):
        print(message, flush=True)


class Progress:
    """Counts the steps of one named stage; `close` ends it.

    The stream is the standard output of the moment it is made, so a stage
    that runs while the TFLite converter's prints are redirected still reaches
    the user.

    Args:
        label: the stage's name, e.g. ``"LiteRT check"``.
        total: the number of steps, or None when unknown.
        verbose: ``"auto"``, 0, 1 or 2.
        unit: the name of one step (``"image"``, ``"sample"``).

    Example:
        ```python
        progress = Progress("LiteRT check", len(x), verbose, unit="image")
        for i in range(len(x)):
            ...
            progress.update(i + 1)
        progress.close()  # verbose=2: "LiteRT check 256/256 - 1s - 4ms/image"
        ```
    """

    def __init__(self, label, total, verbose="auto", unit="step"):
        self.label, self.total, self.unit = label, total, unit
        self.verbose = resolve_verbose(verbose)
        self.done = 0
        self._stream = sys.stdout
        self._start = self._last_line = time.monotonic()
        self._bar = None
        if self.verbose == 1:
            print(label, file=self._stream, flush=True)
            with contextlib.redirect_stdout(self._stream):
                self._bar = keras.utils.Progbar(total, verbose=1, unit_name=unit)

    def update(self, done):
        """Records that ``done`` steps are finished.

        Args:
            done: the steps finished so far.
        """
        self.done = done
        if self._bar is not None:
            with contextlib.redirect_stdout(self._stream):
                self._bar.update(done, finalize=False)
        elif self.verbose == 2 and time.monotonic() - self._last_line >= LINE_INTERVAL_SECONDS:
            self._print_line()

    def close(self):
        """Ends the stage: the bar's last state, or its one line (verbose 2)."""
        if self._bar is not None:
            with contextlib.redirect_stdout(self._stream):
                self._bar.update(self.done, finalize=True)
        elif self.verbose == 2:
            self._print_line()

    def _print_line(self):
        self._last_line = time.monotonic()
        seconds = self._last_line - self._start
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done}"
        line = f"{self.label} {count} - {seconds:.0f}s"
        if self.done:
            line += f" - {1000 * seconds / self.done:.0f}ms/{self.unit}"
        print(line, file=self._stream, flush=True)

"""A row's wall-clock seconds summed over every process that worked on it.

A benchmark row can outlive the process that started it (a session ends, the
runner resumes the row from its last epoch). Timing only the process that
finishes would under-report such a row, so the elapsed time is saved to disk
every few seconds and the next process starts counting from it.
"""

import json
import os
import threading
import time

from keras_kd._io import write_json_atomically


class RowClock:
    """Context manager: ``seconds`` is the time spent on the row by earlier
    processes (read from ``path``) plus this one's; saved to ``path`` every
    ``period`` seconds while inside, so a process killed mid-row still counts
    up to its last save. `remove` deletes the file once the row is recorded.

    Args:
        path: the JSON file holding ``{"seconds": float}``.
        period: seconds between saves.
    """

    def __init__(self, path, period=30.0):
        self.path, self.period = path, period
        self.earlier = 0.0
        if os.path.exists(path):
            with open(path) as f:
                self.earlier = float(json.load(f)["seconds"])
        self._start = self._end = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._save_periodically, daemon=True)

    @property
    def seconds(self):
        if self._start is None:
            return self.earlier
        return self.earlier + (self._end or time.time()) - self._start

    def _save(self):
        write_json_atomically({"seconds": self.seconds}, self.path)

    def _save_periodically(self):
        while not self._stop.wait(self.period):
            self._save()

    def __enter__(self):
        self._start = time.time()
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join()
        self._end = time.time()
        self._save()
        return False

    def remove(self):
        if os.path.exists(self.path):
            os.remove(self.path)

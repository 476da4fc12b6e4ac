import json
import time

from keras_kd_cli.bench.clock import RowClock


def _saved(path):
    with open(path) as f:
        return json.load(f)["seconds"]


def test_a_process_ended_mid_row_leaves_its_time_for_the_next(tmp_path):
    path = tmp_path / "kd-clock.json"
    path.write_text(json.dumps({"seconds": 100.0}))  # two earlier processes' time
    with RowClock(str(path), period=0.01) as clock:
        deadline = time.time() + 10
        while _saved(path) == 100.0 and time.time() < deadline:
            time.sleep(0.01)
        # What a process killed here leaves on disk: the time up to its last save.
        assert 100.0 < _saved(path) <= clock.seconds
    final = clock.seconds
    assert final == clock.seconds  # frozen once the row's work has ended
    assert _saved(path) == final

    resumed = RowClock(str(path))
    assert resumed.seconds == final
    resumed.remove()
    assert not path.exists()
    assert RowClock(str(path)).seconds == 0.0

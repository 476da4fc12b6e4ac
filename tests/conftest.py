import gc
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if "PYTEST_XDIST_WORKER" in os.environ:
    # One thread per op and one op at a time per worker: the workers already
    # keep the cores busy, and TensorFlow's default pools (a thread per core in
    # each worker) only add switching between the tiny ops of the tests.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

# Files whose tests run a subprocess, an example or several fits (10 to 40 s
# each in `--durations`): started first, so that with two workers neither is
# left running one of them alone at the end (`--dist worksteal` balances the rest).
LONG_FIRST = (
    "tests/test_examples.py",
    "tests/cli/bench/test_runner.py",
    "tests/cli/test_cli.py",
    "tests/cli/test_distill.py",
    "tests/distillers/test_distribution.py",
    "tests/distillers/test_resume.py",
    "tests/distillers/test_guard.py",
    "tests/test_safe_loading.py",
    "tests/export/test_tokens_and_recurrent.py",
    "tests/distillers/test_dense_methods.py",
)


def pytest_collection_modifyitems(config, items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return LONG_FIRST.index(path) if path in LONG_FIRST else len(LONG_FIRST)

    items.sort(key=rank)


def pytest_runtest_teardown(item, nextitem):
    # What is alive after a test (compiled fixtures, Keras and TensorFlow
    # state) is not scanned again by the garbage collector: on a worker's
    # heap after hundreds of tests a full collection took seconds, and
    # tests late in a worker's life ran 10 to 50 times slower than alone.
    gc.freeze()

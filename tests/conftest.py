import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if "PYTEST_XDIST_WORKER" in os.environ:
    # One thread per op and one op at a time per worker: the workers already
    # keep the cores busy, and TensorFlow's default pools (a thread per core in
    # each worker) only add switching between the tiny ops of the tests.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

"""``python -m keras_kd_cli``: the `keras-kd` command."""

import sys

from keras_kd_cli import main

sys.exit(main())

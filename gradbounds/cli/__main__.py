"""``python -m gradbounds.cli``: the ``gradbounds`` command (paper/build.py runs it this way)."""

import sys

from gradbounds.cli._main import main

sys.exit(main())

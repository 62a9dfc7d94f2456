"""Benchmarks (``make bench`` = ``python -m bench.run``); see bench/run.py.

OpenBLAS is kept to one thread before numpy, scipy or jaxlib load it: jaxlib's
LAPACK kernels run inside XLA's threads, and OpenBLAS threads of their own
spin against them (a 512 x 512 QR was about ten times slower on 2 cores).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

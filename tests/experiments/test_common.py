"""Keys and sampling summaries that every experiment shares."""

import jax
import numpy as np

from gradbounds.experiments._common import experiment_key, quantiles


def _bits(k):
    return np.asarray(jax.random.key_data(k)).tolist()


def test_experiment_keys_are_reproducible_and_distinct():
    assert _bits(experiment_key(0, "spectra", 1, 2)) == _bits(experiment_key(0, "spectra", 1, 2))
    keys = [experiment_key(s, name, i) for s in (0, 1) for name in ("spectra", "typical", "rnn") for i in range(4)]
    assert len({tuple(_bits(k)) for k in keys}) == len(keys)
    # not the old scheme: key(seed + 70) of two experiments was the same key
    assert _bits(experiment_key(0, "spectra")) != _bits(experiment_key(0, "rnn"))


def test_quantiles_median_and_interval():
    q = quantiles(np.arange(101.0))
    assert q == {"median": 50.0, "lo": 10.0, "hi": 90.0, "n": 101}

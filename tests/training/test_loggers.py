"""Loggers: train and the monitor report each record as it comes, to a callback, JSON lines, CSV and TensorBoard."""

import json
import struct
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest
from tensorboardX.proto import event_pb2
from tensorboardX.record_writer import masked_crc32c

import gradbounds as gb
from gradbounds import training
from gradbounds.cli import main
from gradbounds.training import loggers as lg


def _data(n=40):
    k1, k2 = jax.random.split(jax.random.key(0))
    x = np.asarray(jax.random.uniform(k1, (n, 5)))
    labels = np.asarray(jax.random.randint(k2, (n,), 0, 3))
    return training.Dataset("toy", x[:30], labels[:30], x[30:], labels[30:], (5,), 3)


def _protocol():
    p = training.preset("nielsen-ch5", steps=6, record_every=2, detail_every=4, n_train=None, n_eval=None)
    return p.with_hidden(2, 4)


def read_events(logdir):
    """Every scalar of the TensorBoard event files under ``logdir``: {tag: [(step, value)]}, CRCs checked."""
    out = {}
    files = sorted(logdir.rglob("events.out.tfevents.*"))
    assert files, f"no event file under {logdir}"
    for path in files:
        data = path.read_bytes()
        i = 0
        while i < len(data):
            header = data[i : i + 8]
            (n,) = struct.unpack("Q", header)
            assert struct.unpack("I", data[i + 8 : i + 12])[0] == masked_crc32c(header)
            body = data[i + 12 : i + 12 + n]
            assert struct.unpack("I", data[i + 12 + n : i + 16 + n])[0] == masked_crc32c(body)
            i += 16 + n
            ev = event_pb2.Event.FromString(body)
            for v in ev.summary.value:
                out.setdefault(v.tag, []).append((ev.step, v.simple_value))
    return out


def test_train_reports_every_record_to_every_logger(tmp_path):
    got = []
    with lg.JSONLinesLogger(tmp_path / "run.jsonl") as jl, lg.CSVLogger(tmp_path / "run.csv") as cl:
        tb = lg.TensorBoardLogger(tmp_path / "tb")
        r = training.train(_data(), _protocol(), seed=0, loggers=[jl, cl, tb, lambda s, m: got.append((s, m))])
        tb.close()
    assert list(r.steps) == [0, 2, 4]
    lines = [json.loads(t) for t in (tmp_path / "run.jsonl").read_text().splitlines()]
    speed = [(d["step"], d["speed"]) for d in lines if "speed" in d]
    # every recorded step's speeds, then the final ones
    assert [s for s, _ in speed] == [0, 2, 4, 6]
    np.testing.assert_array_equal(np.array([v for _, v in speed[:3]]), r.speeds)
    np.testing.assert_array_equal(speed[3][1], r.final["speeds"])
    details = [d for d in lines if "accuracy" in d]
    assert [d["step"] for d in details] == [0, 4, 6] and details[-1]["accuracy"] == r.final["accuracy"]
    assert details[0]["log10_E"] == r.details[0]["log10_E"]
    # the callback saw the same records
    assert [(s, m.get("speed")) for s, m in got] == [(d["step"], d.get("speed")) for d in lines]
    # CSV, long format, pivots back to the speed matrix
    df = pd.read_csv(tmp_path / "run.csv")
    assert list(df.columns) == ["step", "metric", "value"]
    sp = df[df.metric.str.startswith("speed/")].pivot(index="step", columns="metric", values="value")
    np.testing.assert_array_equal(sp.loc[[0, 2, 4], ["speed/1", "speed/2", "speed/3"]].to_numpy(float), r.speeds)
    # TensorBoard: the same scalars, read back from the event file (float32 there)
    ev = read_events(tmp_path / "tb")
    for layer in (1, 2, 3):
        steps, vals = zip(*ev[f"speed/{layer}"])
        assert list(steps) == [0, 2, 4, 6]
        np.testing.assert_allclose(vals[:3], r.speeds[:, layer - 1], rtol=1e-6)
    assert [s for s, _ in ev["accuracy"]] == [0, 4, 6]


def test_a_crash_mid_run_keeps_the_lines_written_so_far(tmp_path):
    def boom(step, metrics):
        if step >= 4 and "speed" in metrics:
            raise RuntimeError("stop at step 4")

    full = training.train(_data(), _protocol(), seed=0)
    with lg.JSONLinesLogger(tmp_path / "run.jsonl") as jl, pytest.raises(RuntimeError, match="stop at step 4"):
        training.train(_data(), _protocol(), seed=0, loggers=[jl, boom])
    # read while nothing closed the file on purpose: each record was flushed when written
    lines = [json.loads(t) for t in (tmp_path / "run.jsonl").read_text().splitlines()]
    speed = [d for d in lines if "speed" in d]
    assert [d["step"] for d in speed] == [0, 2, 4]  # step 4 was written before the callback raised
    np.testing.assert_array_equal([d["speed"] for d in speed], full.speeds)


def test_cli_train_logs_as_it_goes(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(training, "load_dataset", lambda spec: _data())
    code = main(
        ["train", "--hidden", "2", "--width", "4", "--steps", "4", "--record-every", "2", "--detail-every", "4",
         "--n-train", "0", "--n-eval", "0", "--quiet", "--log-jsonl", str(tmp_path / "l.jsonl"),
         "--csv", str(tmp_path / "l.csv"), "--tensorboard", str(tmp_path / "tb"), "--json", str(tmp_path / "r.json")]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["schema_version"] == gb.io.SCHEMA_VERSION and res["gradbounds_version"] == gb.__version__
    lines = [json.loads(t) for t in (tmp_path / "l.jsonl").read_text().splitlines()]
    speed = [d["speed"][:-1] for d in lines if "speed" in d][:-1]  # hidden layers, without the final record
    np.testing.assert_array_equal(speed, res["speeds"])
    assert set(pd.read_csv(tmp_path / "l.csv").step) == {0, 2, 4}
    assert [s for s, _ in read_events(tmp_path / "tb")["speed/1"]] == [0, 2, 4]


def _setup(seed=0, widths=(6, 5, 5, 3), n=12):
    net = gb.init_network(jax.random.key(seed), widths)
    kx, ky = jax.random.split(jax.random.key(seed + 100))
    x = jax.random.uniform(kx, (n, widths[0]), jnp.float64)
    y = jax.nn.one_hot(jax.random.randint(ky, (n,), 0, widths[-1]), widths[-1], dtype=jnp.float64)
    return net, x, y


def test_monitor_reports_to_loggers_and_needs_the_step(tmp_path):
    net, x, y = _setup()
    got = []
    with lg.JSONLinesLogger(tmp_path / "m.jsonl") as jl:
        rep = training.monitor(net, x, y, step=5, loggers=[jl, lambda s, m: got.append((s, m))], warn=False)
    line = json.loads((tmp_path / "m.jsonl").read_text())
    assert line["step"] == 5 and line["speed"] == rep.speeds.tolist() and line["log10_E"] == rep.statistics["log10_E"]
    assert got[0][0] == 5 and got[0][1]["speed"] == rep.speeds.tolist()
    with pytest.raises(ValueError, match="step: expected the step number when loggers are given"):
        training.monitor(net, x, y, loggers=[jl])


def test_speed_monitor_reports_every_check_step_under_jit():
    net, x, y = _setup(1)
    got = []
    tx = optax.chain(
        training.speed_monitor(fraction=0.0, every=2, loggers=lambda s, m: got.append((s, m))), optax.sgd(0.0)
    )

    def loss(p):
        return jnp.mean(jax.vmap(lambda a, b: jnp.sum((gb.forward(p, a).a[-1] - b) ** 2) / 2)(x, y))

    @jax.jit
    def step(p, s):
        u, s = tx.update(jax.grad(loss)(p), s, p)
        return optax.apply_updates(p, u), s

    state, p = tx.init(net), net
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # fraction 0: never slow, never a warning; still reported
        for _ in range(5):
            p, state = step(p, state)
        jax.effects_barrier()
    assert [s for s, _ in got] == [0, 2, 4]
    np.testing.assert_allclose(got[-1][1]["speed"], training.speeds(net, x, y, cost="quadratic"), rtol=1e-12)


def test_as_loggers_rejects_what_is_not_a_logger():
    assert lg.as_loggers(None) == []
    with pytest.raises(TypeError, match="loggers: expected a logger"):
        lg.as_loggers(3)
    assert lg.flatten_metrics({"speed": [1.0, 2.0], "verdict": "holds"}) == {
        "speed/1": 1.0,
        "speed/2": 2.0,
        "verdict": "holds",
    }

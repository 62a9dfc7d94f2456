"""Cells: closed-form state Jacobians = jax.jacrev, BPTT = jax.grad of the unrolled loss, PyTorch state dicts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradbounds import rnn
from gradbounds.testing import rnn_cells as cells_and_sequences


@settings(max_examples=12)
@given(cells_and_sequences(max_steps=4))
def test_closed_form_state_jacobian_equals_jacrev(case):
    cell, xs, _ = case
    ss = rnn.run(cell, xs)
    for t in range(xs.shape[0]):
        J = rnn.state_jacobian(cell, ss[t], xs[t])
        J_ad = jax.jacrev(lambda s, t=t: rnn.step(cell, s, xs[t]))(ss[t])
        np.testing.assert_allclose(J, J_ad, rtol=1e-12, atol=1e-14)


@pytest.mark.slow  # eager jax.grad of unrolled losses, one compile per drawn shape
@settings(max_examples=12)
@given(cells_and_sequences(max_steps=5))
def test_E_k_is_the_norm_of_jax_grad_wrt_the_state(case):
    cell, xs, y = case
    T = xs.shape[0]
    ss = rnn.run(cell, xs)

    def tail_loss(s_k, k):  # C as a function of s_k, the remaining steps unrolled
        s = s_k
        for t in range(k, T):
            s = rnn.step(cell, s, xs[t])
        r = rnn.readout(cell, s) - y
        return 0.5 * jnp.sum(r * r)

    E = np.asarray(rnn.point_levels(cell, xs, y)["E"])
    for k in range(T + 1):
        gk = jax.grad(tail_loss)(ss[k], k)
        with np.errstate(divide="ignore"):  # log 0 = -inf: a dead relu's exact zero gradient
            ref = np.log(np.linalg.norm(np.asarray(gk)))
        assert E[k] == ref or abs(E[k] - ref) <= 1e-10 * (1 + abs(ref)), (k, E[k], ref)  # -inf: a dead relu
    # and dC/dh_0 through the whole unrolled loss (jax.grad of rnn.loss with respect to h0)
    g0 = jax.grad(lambda h0: rnn.loss(type(cell)(**{**cell.__dict__, "h0": h0}), xs, y))(cell.h0)
    if cell.kind != "lstm":
        np.testing.assert_allclose(np.linalg.norm(g0), np.exp(E[0]), rtol=1e-10, atol=1e-300)


torch = pytest.importorskip("torch")


def _torch_model(kind, n_in, H, seed):
    torch.manual_seed(seed)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    return cls(n_in, H, batch_first=True).double()


@pytest.mark.parametrize("kind", rnn.CELLS)
@pytest.mark.parametrize("suffix", [True, False])
def test_torch_state_dict_loads_and_matches_torch_forward(kind, suffix):
    n_in, H, T = 3, 5, 7
    m = _torch_model(kind, n_in, H, seed=1)
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    if not suffix:
        sd = {k.removesuffix("_l0"): v for k, v in sd.items()}
    cell = rnn.cell_from_arrays(sd, kind)
    x = np.random.default_rng(0).normal(size=(T, n_in))
    out, _ = m(torch.from_numpy(x)[None])
    hs = np.asarray(rnn.run(cell, jnp.asarray(x)))[1:, :H]
    np.testing.assert_allclose(hs, out[0].detach().numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", rnn.CELLS)
def test_torch_state_dict_from_a_pt_file_with_a_module_prefix(kind, tmp_path):
    m = _torch_model(kind, 2, 4, seed=2)
    sd = {f"rnn.{k}": v for k, v in m.state_dict().items()}
    sd["W_out"] = torch.ones(1, 4, dtype=torch.float64)
    torch.save(sd, tmp_path / "m.pt")
    cell = rnn.load_cell(tmp_path / "m.pt", kind)
    assert cell.hidden == 4 and cell.W_out.shape == (1, 4) and cell.dtype == jnp.float64


def test_bias_false_gives_zero_biases_and_npz_loads():
    m = torch.nn.GRU(2, 3, bias=False).double()
    sd = {k: v.detach().numpy() for k, v in m.state_dict().items()}
    cell = rnn.cell_from_arrays(sd, "gru")
    assert not np.any(np.asarray(cell.bias_ih)) and cell.bias_hh.shape == (9,)


@pytest.mark.parametrize(
    ("kind", "arrays", "msg"),
    [
        ("rnn", {"weight_ih_l0": np.ones((3, 2))}, "missing array weight_hh"),
        ("lstm", {"weight_ih_l0": np.ones((9, 2)), "weight_hh_l0": np.ones((9, 3))}, "expected (4H, H)"),
        ("gru", {"weight_ih": np.ones((8, 2)), "weight_hh": np.ones((9, 3))}, "weight_ih: expected (9, n_in)"),
        (
            "rnn",
            {"weight_ih": np.ones((3, 2)), "weight_hh": np.ones((3, 3)), "bias_ih": np.ones(3)},
            "missing array bias_hh",
        ),
        (
            "rnn",
            {"weight_ih": np.ones((3, 2)), "weight_hh": np.ones((3, 3)), "W_out": np.ones((2, 4))},
            "W_out: expected",
        ),
        ("rnn", {"weight_ih": np.ones((3, 2)), "weight_hh": np.ones((3, 3)), "h0": np.ones(4)}, "h0: expected (3,)"),
        ("tree", {}, "cell: expected one of"),
    ],
)
def test_bad_state_dicts_are_one_line_errors(kind, arrays, msg):
    with pytest.raises(ValueError) as e:
        rnn.cell_from_arrays(arrays, kind)
    assert msg in str(e.value) and "\n" not in str(e.value)


@settings(max_examples=10)
@given(st.sampled_from(rnn.CELLS), st.integers(1, 4))
def test_matched_init_draws_the_same_gate_stack(kind, H):
    c = rnn.init_cell(jax.random.key(0), kind, hidden=H, inputs=2, outputs=1)
    assert c.weight_hh.shape == (rnn.GATES[kind] * H, H) and c.state_size == (2 * H if kind == "lstm" else H)

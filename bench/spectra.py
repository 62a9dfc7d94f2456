"""Benchmark (b): log-norms and the full log-singular spectrum of a depth-1000, width-512 product.

The product is the input-output Jacobian ``J = Σ'(z^L)W^L ⋯ Σ'(z^1)W^1`` of a
tanh network of 1000 layers of 512 units (``W ~ N(0, 1.5/512)``, ``b ~ N(0,
0.05)``), float64.  The floor is the bare chain of the same 1000 matrix
products ``A_l P`` (``A_l = Σ'(z^l)W^l`` formed beforehand, no rescaling, one
jitted ``lax.scan``), which any method that touches every factor once must
pay.

* exact log-norms: :func:`gradbounds.input_output_spectrum` with
  ``method="svd"``: the chain with a power-of-two rescaling every step, then
  one SVD: ``log ‖J‖`` to rounding and every ``log σ_j`` above ``ε σ_1``;
* the full log-singular spectrum: the default QR sweeps (``qr_every="auto"``),
  all 512 values to ``tol``, which no single product can give (they span
  thousands of e-folds).  A sweep is a forward and a backward pass with a QR
  of a 512 x 512 frame per block of factors; the values converge like
  ``(σ_{j+1}/σ_j)^{2·sweeps}``.

Checks: ``log σ_1`` of the floor's product (numpy SVD) equals the log-norm,
and the QR values equal the SVD method's where ``σ_j > 1e-6 σ_1``.
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import timeit


def problem(width: int, depth: int, seed: int = 0, sw2: float = 1.5, sb2: float = 0.05):
    """The network of ``init_network(..., init="gaussian", sw2, sb2)``'s law, drawn in one call (faster)."""
    import jax
    import jax.numpy as jnp

    import gradbounds as gb

    kw, kb, kx = jax.random.split(jax.random.key(seed), 3)
    W = jax.random.normal(kw, (depth, width, width), jnp.float64) * np.sqrt(sw2 / width)
    b = jax.random.normal(kb, (depth, width), jnp.float64) * np.sqrt(sb2)
    W, b = np.asarray(W), np.asarray(b)
    net = gb.network_from_arrays(list(W), list(b), "tanh")
    return net, jax.random.normal(kx, (width,), jnp.float64)


def _factors(net, x):
    import jax
    import jax.numpy as jnp

    from gradbounds.core import segments
    from gradbounds.spectra import _products

    runs, _ = _products._runs(segments(net), x, "J", 1, False)
    A = jnp.concatenate([r.post[:, :, None] * r.W * r.pre[:, None, :] for r in runs])
    return jax.block_until_ready(A)


def _floor_fn():
    import jax
    import jax.numpy as jnp

    @jax.jit
    def chain(A):
        return jax.lax.scan(lambda P, a: (a @ P, None), jnp.eye(A.shape[-1], dtype=A.dtype), A)[0]

    return chain


def run(*, quick: bool = False, log=print, full: bool = False) -> dict:
    import jax

    from gradbounds import spectra

    width, depth = (128, 1000) if quick else (512, 1000)
    max_sweeps = 30 if (quick or full) else 3
    t0 = time.perf_counter()
    net, x = problem(width, depth)
    A = _factors(net, x)
    log(f"network and factors: {time.perf_counter() - t0:.1f} s")
    chain = _floor_fn()
    t_floor = timeit(lambda: jax.block_until_ready(chain(A)), repeats=3)
    P = np.asarray(chain(A))
    log(f"floor {t_floor['median']:.2f} s")

    svd = lambda: jax.block_until_ready(spectra.input_output_spectrum(net, x, method="svd"))  # noqa: E731
    t_svd = timeit(svd, repeats=3)
    sp_svd = svd()
    top_floor = float(np.log(np.linalg.svd(P, compute_uv=False)[0]))
    d_top = abs(top_floor - float(sp_svd.log_sv[0]))
    assert d_top < 1e-9 * (1 + abs(top_floor)), (top_floor, float(sp_svd.log_sv[0]))
    log(f"log-norms {t_svd['median']:.2f} s")
    from gradbounds.core import segments
    from gradbounds.spectra import _products

    t_seg = timeit(lambda: jax.block_until_ready(segments(net)), repeats=1, warmup=0)
    del P

    # compilation of the sweeps, timed apart (the QR run below is timed once: it is minutes long)
    runs, _ = _products._runs(segments(net), x, "J", 1, False)
    Q0 = _products._frame(width, width, x.dtype, None)
    t = time.perf_counter()
    block, allowed = _products._probe_block(runs, Q0)
    for b in sorted({block, 1}):
        _products._sweep.lower(runs, Q0, block=b).compile()
    t_compile = time.perf_counter() - t
    del runs, Q0
    t = time.perf_counter()
    sp = spectra.input_output_spectrum(net, x, max_sweeps=max_sweeps)
    t_qr = time.perf_counter() - t
    log(f"full spectrum {t_qr:.1f} s, {sp.sweeps} sweeps, converged {sp.converged}, QR every {sp.qr_every}")
    qr_v, svd_v = np.asarray(sp.log_sv), np.asarray(sp_svd.log_sv)
    ok = svd_v - svd_v[0] > np.log(1e-6)
    d_vals = float(np.max(np.abs(qr_v[ok] - svd_v[ok])))
    if sp.converged:
        assert d_vals < 1e-7, d_vals
        agree = (
            f"the converged QR spectrum = the SVD method's on the {int(ok.sum())} values above 1e-6 σ_1 to {d_vals:.1e}"
        )
    else:
        agree = (
            f"after {sp.sweeps} sweeps (capped; `--full` allows 30, which at width 512 took 18 minutes and still "
            f"missed tol = 4096 eps by a near-degenerate pair) the QR values above 1e-6 σ_1 are "
            f"still {d_vals:.1e} from the SVD method's (converged runs agree to 1e-13: tests/test_spectra.py)"
        )
    checks = (
        f"log σ_1 of the floor's plain product (numpy SVD) = the log-norm to {d_top:.1e}; {agree}; the spectrum "
        f"spans log σ from {qr_v[0]:.1f} to {qr_v[-1]:.1f}"
    )
    log(checks)
    per_sweep = t_qr / (sp.sweeps + (1 if sp.qr_every != block else 0))
    rows = [
        ("floor: bare chain of 1000 products A_l P (jit scan)", t_floor["median"], f"{width} x {width}, float64"),
        ("exact log-norms: input_output_spectrum(method='svd')", t_svd["median"], "rescaled chain + one SVD"),
        (
            "  of which: _segments.segments(net)",
            t_seg["median"],
            "stacks the 1000 layers (2 GB): one copy, into an aligned buffer JAX takes as it is",
        ),
        (
            f"full log-spectrum: QR sweeps, {sp.sweeps} sweeps" + (" (converged)" if sp.converged else " (capped)"),
            t_qr,
            f"all {width} values; QR every {sp.qr_every} factor(s); run once; compilation ({t_compile:.0f} s) apart",
        ),
        ("  one sweep (forward + backward pass)", per_sweep, "the QR method's unit of work"),
    ]
    goals = [
        dict(what="log-norms vs the bare chain", ratio=t_svd["median"] / t_floor["median"], goal="<= 2x (time ratio)"),
        dict(what="full spectrum vs the bare chain", ratio=t_qr / t_floor["median"], goal="<= 2x (time ratio)"),
        dict(what="one QR sweep vs the bare chain", ratio=per_sweep / t_floor["median"], goal="<= 2x (time ratio)"),
    ]
    for g in goals:
        g["met"] = g["ratio"] <= 2
    why = WHY.format(sweeps=sp.sweeps, conv="converged" if sp.converged else "not yet converged: capped")
    why += WHY_NORM.format(
        seg=t_seg["median"],
        rest=(t_svd["median"] - t_seg["median"]) / t_floor["median"],
        ratio=t_svd["median"] / t_floor["median"],
    )
    return dict(
        setup=f"tanh network of depth {depth}, width {width}, W ~ N(0, 1.5/n), b ~ N(0, 0.05), float64; "
        "ratios here are time / floor (smaller is better; goal: at most 2).",
        rows=rows,
        checks=checks,
        goals=goals,
        why=why,
    )


WHY = """Why the full spectrum misses the 2x goal: the floor multiplies each factor once; the spectrum needs
every factor at least three times (forward, backward, forward: the sweeps are subspace iteration on
J^T J, and one forward pass alone gives Lyapunov volumes, not singular values) plus a QR of the 512 x 512
frame, which on this CPU costs about five matrix products (LAPACK geqrf + orgqr, one core, against XLA's
two-core matmul).  Re-orthonormalising less often (qr_every) is only safe while a block of factors
cancels no more of a column than one factor already does; Gaussian 512-wide layers are themselves
ill-conditioned (each QR already cancels e^5 to e^12 of a column), so "auto" keeps a QR per factor here
(it blocks well-conditioned chains, e.g. orthogonal weights with sigmoid, see tests/test_spectra.py).
Neighbouring singular values near the top are only about one e-fold apart at depth 1000, so the sweeps
converge slowly ({sweeps} sweeps, {conv})."""

WHY_NORM = """

The exact log-norm needs one rescaled chain and one SVD ({ratio:.1f}x the floor).  Of its time,
{seg:.1f} s go to cutting the network into runs of identical layers (gradbounds.core.segments: one
copy of the 2 GB of weights, into a 64-byte aligned host buffer that jax.device_put takes without a
second copy; it was three copies through numpy and a compiled kernel, 2.5 s); the rest (validation,
one jitted forward pass for the scale vectors, the rescaled chain, the SVD) is {rest:.2f}x the floor.
A fresh 2 GB buffer is paid in page faults, which on this virtual machine vary from run to run."""


if __name__ == "__main__":
    import jax

    jax.config.update("jax_enable_x64", True)
    print(run(quick=True))

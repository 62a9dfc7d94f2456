"""Spectra of J^l, B^l and their products: closed forms vs SVD, the QR (Lyapunov) method vs a
direct SVD at moderate depth and vs 700-digit arithmetic at depth 1000, and exact facts."""

import math

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

import gradbounds as gb
from gradbounds import spectra


def _net(depth, width, *, activation="tanh", init="gaussian", sw2=1.5, sb2=0.05, seed=0):
    return gb.init_network(
        jax.random.key(seed), (width,) * (depth + 1), activation=activation, init=init, sw2=sw2, sb2=sb2
    )


def _x(n, seed=1):
    return jax.random.normal(jax.random.key(seed), (n,))


@pytest.mark.slow
def test_layer_singular_values_equal_svd_of_the_jacobians():
    net = gb.init_network(jax.random.key(3), (5, 7, 7, 7, 4, 3), activation="sigmoid", init="nielsen")
    x = _x(5)
    for got, J in zip(spectra.layer_singular_values(net, x), gb.layer_jacobians(net, x, method="jacfwd")):
        np.testing.assert_allclose(got, np.linalg.svd(np.asarray(J), compute_uv=False), rtol=1e-13)
    got_B = spectra.error_singular_values(net, x)
    assert len(got_B) == len(net) - 1
    for got, B in zip(got_B, gb.error_jacobians(net, x, method="jacrev")):
        np.testing.assert_allclose(got, np.linalg.svd(np.asarray(B), compute_uv=False), rtol=1e-13)


@pytest.mark.slow
def test_qr_sweeps_agree_with_direct_svd_at_moderate_depth():
    # Depth 20, width 6: the direct SVD resolves σ_j down to ≈ ε σ_1, so compare where σ_j/σ_1 > 1e-6.
    net, x = _net(20, 6), _x(6)
    qr = spectra.input_output_spectrum(net, x)
    ref = np.log(np.linalg.svd(np.asarray(gb.input_output_jacobian(net, x)), compute_uv=False))
    assert qr.converged and qr.method == "qr"
    ok = ref - ref[0] > math.log(1e-6)
    assert ok.sum() >= 3
    np.testing.assert_allclose(np.asarray(qr.log_sv)[ok], ref[ok], atol=1e-9)
    sv = spectra.input_output_spectrum(net, x, method="svd")
    np.testing.assert_allclose(np.asarray(sv.log_sv)[ok], ref[ok], atol=1e-9)
    # the per-layer stretches add up to the log singular values
    np.testing.assert_allclose(np.sum(qr.log_stretch, 0), qr.log_sv, atol=1e-12)
    # singular vectors, J v_j = σ_j u_j: they converge linearly in the sweeps while the values
    # converge quadratically, so they are accurate to about √tol = 1e-6 (relative to σ_1)
    J = np.asarray(gb.input_output_jacobian(net, x))
    for j in np.flatnonzero(ok):
        resid = J @ np.asarray(qr.right[:, j]) - math.exp(qr.log_sv[j]) * np.asarray(qr.left[:, j])
        assert np.linalg.norm(resid) <= 1e-5 * math.exp(qr.log_sv[0])


@pytest.mark.slow
def test_qr_method_at_depth_1000_matches_700_digit_arithmetic():
    # Depth 1000, width 4: the singular values span e^-160 .. e^-1900, far beyond a float64
    # product; the reference multiplies the same float64 matrices diag(σ'(z^l)) W^l in mpmath.
    L, n = 1000, 4
    net, x = _net(L, n, sw2=1.5, sb2=0.05), _x(n)
    qr = spectra.input_output_spectrum(net, x)
    assert qr.converged
    fw = gb.forward(net, x)
    mpmath.mp.dps = 700
    P = mpmath.eye(n)
    for layer, z in zip(net, fw.z):
        d, W = np.asarray(layer.act.deriv(z)), np.asarray(layer.W)
        P = (
            mpmath.matrix([[mpmath.mpf(float(d[i])) * mpmath.mpf(float(W[i, j])) for j in range(n)] for i in range(n)])
            * P
        )
    ref = sorted((float(mpmath.log(v)) for v in mpmath.svd_r(P, compute_uv=False)), reverse=True)
    assert ref[-1] < -1000
    np.testing.assert_allclose(np.asarray(qr.log_sv), ref, rtol=1e-12, atol=1e-10)


@pytest.mark.slow
def test_log_determinant_and_lyapunov_volume_bound_at_depth_2000():
    # Σ_j log σ_j = Σ_l log|det J^l| exactly (square layers); one QR pass gives p-volumes, a lower
    # bound on Σ_{j≤p} log σ_j, and the same total.
    L, n = 2000, 5
    net, x = _net(L, n, sw2=1.2, sb2=0.1), _x(n)
    qr = spectra.input_output_spectrum(net, x)
    logdet = sum(np.linalg.slogdet(np.asarray(J))[1] for J in gb.layer_jacobians(net, x))
    assert float(jnp.sum(qr.log_sv)) == pytest.approx(logdet, rel=1e-12)
    ly = spectra.lyapunov_exponents(net, x)
    assert float(jnp.sum(ly.exponents)) * L == pytest.approx(logdet, rel=1e-12)
    partial = np.cumsum(np.sum(np.asarray(ly.log_stretch), 0))  # volumes of span(e_1..e_p)
    assert np.all(partial <= np.cumsum(np.asarray(qr.log_sv)) + 1e-9 * np.abs(partial))


@pytest.mark.slow
def test_linear_orthogonal_network_has_every_singular_value_sw_to_the_depth():
    # W^l = σ_w · orthogonal and σ = identity: J = σ_w^L · orthogonal, at depth 3000 where
    # σ_w^L = 0.5^3000 underflows float64.
    L, n, sw2 = 3000, 6, 0.25
    net, x = _net(L, n, activation="linear", init="orthogonal", sw2=sw2, sb2=0.3), _x(n)
    qr = spectra.input_output_spectrum(net, x)
    np.testing.assert_allclose(np.asarray(qr.log_sv), L * 0.5 * math.log(sw2), rtol=1e-12)
    assert qr.converged and 0.5**L == 0.0


@pytest.mark.slow
def test_product_spectrum_is_level_P_of_the_bounds():
    # P_l = σ_1(B^l ⋯ B^{L-1} Σ'(z^L)) ‖a^L − y‖ (quadratic cost, docs/design.md §2).
    net = gb.init_network(jax.random.key(4), (6, 8, 8, 8, 8, 5), activation="tanh", init="gaussian", sw2=1.3, sb2=0.1)
    x, y = _x(6), jax.random.uniform(jax.random.key(2), (5,))
    lv = jax.jit(gb.bounds.levels)(net, x, y)
    fw = gb.forward(net, x)
    log_g = math.log(float(jnp.linalg.norm(fw.a[-1] - y)))
    for l in (1, 4, 5):  # 5 = L: Π_L = Σ'(z^L)
        top = spectra.product_spectrum(net, x, l, output=True).log_sv[0]
        assert float(top) + log_g == pytest.approx(float(lv.P[l - 1]), abs=1e-11)
    # without M_L, against the explicit product B^l ⋯ B^{L-1}
    Bs = gb.error_jacobians(net, x)
    for l in (1,):
        Pi = np.linalg.multi_dot([np.asarray(B) for B in Bs[l - 1 :]])
        sp = spectra.product_spectrum(net, x, l)
        np.testing.assert_allclose(np.asarray(sp.log_sv), np.log(np.linalg.svd(Pi, compute_uv=False)), atol=1e-10)
        # right singular vectors live in δ^L-space: Π v_j = σ_j u_j
        np.testing.assert_allclose(
            Pi @ np.asarray(sp.right[:, 0]), math.exp(sp.log_sv[0]) * np.asarray(sp.left[:, 0]), atol=1e-10
        )


def test_directions_of_expansion_and_shrinkage():
    A = jnp.asarray(np.diag([3.0, 1.5, 0.5, 0.1]) @ np.linalg.qr(np.random.default_rng(0).normal(size=(4, 4)))[0])
    d = spectra.directions(A)
    assert d.expanding.shape == (4, 2) and d.shrinking.shape == (4, 2)
    for v in d.expanding.T:
        assert float(jnp.linalg.norm(A @ v)) > 1.0
    for v in d.shrinking.T:
        assert float(jnp.linalg.norm(A @ v)) < 1.0
    net = _net(3, 5)
    sp = spectra.input_output_spectrum(net, _x(5))
    assert sp.expanding.shape[1] + sp.shrinking.shape[1] == 5
    J = gb.input_output_jacobian(net, _x(5))
    assert np.all(np.linalg.norm(np.asarray(J @ sp.expanding), axis=0) > 1)
    assert np.all(np.linalg.norm(np.asarray(J @ sp.shrinking), axis=0) < 1)
    ld = spectra.layer_directions(net, _x(5), 2, which="B")
    B = gb.core.error_jacobian(net, _x(5), 2)
    np.testing.assert_allclose(jnp.linalg.norm(B @ ld.right, axis=0), ld.singular_values, rtol=1e-12)


def test_bad_arguments_raise():
    net, x = _net(3, 4), _x(4)
    with pytest.raises(ValueError, match="k"):
        spectra.input_output_spectrum(net, x, k=5)
    with pytest.raises(ValueError, match="method"):
        spectra.input_output_spectrum(net, x, method="lu")
    with pytest.raises(ValueError, match="layer index"):
        spectra.product_spectrum(net, x, 0)
    with pytest.raises(ValueError, match="x"):
        spectra.input_output_spectrum(net, jnp.ones(3))


@pytest.mark.slow
def test_qr_every_k_factors_gives_the_every_factor_spectrum():
    """Fast path: a QR after every k factors (k fixed, or chosen from the conditioning) against one
    after every factor; the blocked triangular factor is the product of the single-step ones."""
    for act, sw2, sb2, every in (("tanh", 1.5, 0.05, (3, 7, "auto")), ("sigmoid", 1.2, 0.5, (5, "auto"))):
        net = _net(300, 6, activation=act, init="orthogonal", sw2=sw2, sb2=sb2)
        x = _x(6)
        plain = spectra.input_output_spectrum(net, x, qr_every=1)
        assert plain.converged and plain.qr_every == 1
        for k in every:
            sp = spectra.input_output_spectrum(net, x, qr_every=k)
            assert sp.converged
            np.testing.assert_allclose(np.asarray(sp.log_sv), np.asarray(plain.log_sv), rtol=1e-12, atol=1e-11)
            np.testing.assert_allclose(np.sum(sp.log_stretch, 0), sp.log_sv, atol=1e-10)  # rows still add up
    # well-conditioned sigmoid steps: "auto" re-orthonormalises less often than every factor
    assert spectra.input_output_spectrum(net, x).qr_every > 1
    with pytest.raises(ValueError, match="qr_every"):
        spectra.input_output_spectrum(net, x, qr_every=0)

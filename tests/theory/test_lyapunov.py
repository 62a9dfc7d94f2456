"""Products of random matrices: Newman's top Lyapunov exponent against Monte-Carlo products, the
Bai–Yin edge against sampled norms, and the submultiplicativity rate's limits."""

import math

import numpy as np
import pytest
from scipy import special

from gradbounds import theory


def _product_log_growth(rng, n, sw2, p, steps):
    """Per-factor ``log ‖D_t W_t u_{t-1}‖`` of an explicit product applied to a vector (renormalised each step)."""
    u = rng.normal(size=n)
    u /= np.linalg.norm(u)
    out = np.empty(steps)
    for t in range(steps):
        W = rng.normal(scale=math.sqrt(sw2 / n), size=(n, n))
        d = np.zeros(n)
        while not d.any():  # top_lyapunov conditions on a mask that keeps a unit
            d = (rng.random(n) < p).astype(float)
        v = d * (W @ u)
        out[t] = math.log(np.linalg.norm(v))
        u = v / np.linalg.norm(v)
    return out


@pytest.mark.parametrize(("n", "sw2", "p", "seed"), [(8, 1.5, 1.0, 0), (6, 2.0, 0.5, 1), (24, 0.7, 0.5, 2)])
def test_top_lyapunov_matches_a_monte_carlo_product(n, sw2, p, seed):
    # the growth of ||P_t u|| is the mean of i.i.d. per-step logs (rotation invariance): its standard error is
    # their sample standard deviation / sqrt(steps); 4 standard errors (two-sided 6e-5), seeded
    rng = np.random.default_rng(seed)
    logs = _product_log_growth(rng, n, sw2, p, 3000)
    se = logs.std(ddof=1) / math.sqrt(logs.size)
    assert abs(logs.mean() - theory.top_lyapunov(n, sw2, active=p)) < 4 * se


def test_top_lyapunov_is_newmans_formula_and_its_limits():
    # p = 1: Newman 1986, lambda_1 = log sigma_w + (psi(n/2) - log(n/2)) / 2
    for n, sw2 in ((1, 1.0), (2, 1.0), (30, 2.0), (1000, 0.5)):
        want = 0.5 * math.log(sw2) + 0.5 * (special.digamma(n / 2) - math.log(n / 2))
        assert theory.top_lyapunov(n, sw2) == pytest.approx(want, rel=1e-14, abs=1e-15)
    # n = 1: E log|g| for g ~ N(0, 1) is -(gamma + log 2) / 2
    assert theory.top_lyapunov(1) == pytest.approx(-(np.euler_gamma + math.log(2)) / 2, rel=1e-14)
    # infinite width: lambda_1 -> log(sigma_w sqrt(p)) (psi(x) = log x - 1/(2x) + ...), O(1/n)
    for p in (1.0, 0.5):
        lam = theory.top_lyapunov(100_000, 2.0, active=p)
        assert abs(lam - 0.5 * math.log(2.0 * p)) < 5 / 100_000


def test_factor_norms_approach_the_bai_yin_edge():
    # ||D W^T|| for a mask keeping K ~ Bin(n, 1/2) rows of an n x n Gaussian: -> sigma_w (1 + sqrt p); at n = 400
    # the mean log-norm of 20 draws lies below the edge by the Tracy-Widom shift, O(n^(-2/3)) = 0.018
    rng = np.random.default_rng(3)
    n, sw2, p = 400, 2.0, 0.5
    logs = []
    for _ in range(20):
        W = rng.normal(scale=math.sqrt(sw2 / n), size=(n, n))
        d = rng.random(n) < p
        logs.append(math.log(np.linalg.norm(W[d], 2)))
    edge = theory.product_rate(n, sw2, active=p).log_norm
    assert -2 * n ** (-2 / 3) < np.mean(logs) - edge < 0.5 * n ** (-2 / 3)


def test_product_rate_limits_and_a_monte_carlo_product_of_norms():
    r = theory.product_rate(10**6, 1.0)
    assert r.limit == pytest.approx(math.log(2), rel=1e-15)
    assert r.rate == pytest.approx(r.limit, abs=1e-5)
    relu = theory.product_rate(10**6, 2.0, active=0.5)
    assert relu.limit == pytest.approx(math.log(1 + math.sqrt(2)), rel=1e-15)
    assert relu.rate == pytest.approx(relu.limit, abs=1e-5)
    assert relu.rate / math.log(10) == pytest.approx(0.3828, abs=1e-4)  # decades per layer
    # sigma_w cancels from the rate
    assert theory.product_rate(50, 3.0).rate == pytest.approx(theory.product_rate(50, 0.3).rate, rel=1e-12)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n:"):
        theory.top_lyapunov(0)
    with pytest.raises(ValueError, match="sw2"):
        theory.top_lyapunov(4, -1.0)
    with pytest.raises(ValueError, match="active"):
        theory.product_rate(4, 1.0, active=0.0)

"""The toolkit beside published closed forms (Schoenholz et al. 2017, Pennington et al. 2017), recomputed
independently by adaptive quadrature and Brent's method (gradbounds.experiments._references)."""

import math

import pytest

from gradbounds import theory
from gradbounds.experiments import _references as ref
from gradbounds.experiments._theory import _max_rel, phase_tables, references


@pytest.fixture(scope="module")
def table():
    return references(depth=12)


def test_toolkit_agrees_with_the_independent_closed_forms(table):
    # Gauss-Hermite rules and the toolkit's root finder against scipy.integrate.quad and brentq: both
    # converge to ~1e-12 (measured largest relative difference 3e-13); 1e-9 leaves room for either's rounding
    assert _max_rel(table) < 1e-9
    # Pennington et al. 2017: sigma^2_{JJ^T} = L(mu2/mu1^2 - 1 - s1) at criticality, exactly L, 0, 2L, L
    assert {k: d["ref"] for k, d in table["variance"].items()} == {
        "linear.gaussian": 1.0,
        "linear.orthogonal": 0.0,
        "relu.gaussian": 2.0,
        "relu.orthogonal": 1.0,
    }
    assert table["edge"]["ref"] == pytest.approx(13**13 / 12**12, rel=1e-15)  # Fuss-Catalan, L = 12
    # the critical line of tanh starts at sigma_w^2 = 1 (q* -> 0, chi_1 -> sigma_w^2) and rises with sigma_b^2
    assert ref.quad_critical_sw2(0.0) == 1.0
    assert 1.0 < table["critical"]["0.05"]["ref"] < table["critical"]["0.3"]["ref"]


def test_the_comparison_would_catch_a_plausible_bug(table):
    # s1 of the wrong ensemble (orthogonal for Gaussian weights) moves sigma^2/L by 1: far outside 1e-9
    wrong = dict(table, variance=dict(table["variance"]))
    wrong["variance"]["relu.gaussian"] = {
        "ours": table["variance"]["relu.gaussian"]["ours"],
        "ref": ref.pennington_variance("relu", "orthogonal"),
    }
    assert _max_rel(wrong) == pytest.approx(1.0)  # |2 - 1| / 1
    # xi_c from chi_1 of the ordered phase: 1/log instead of -1/log would flip the sign
    q = ref.quad_mean_field(1.5, 0.05)
    assert q["xi_c"] == pytest.approx(-1 / math.log(theory.chi1("tanh", 1.5, 0.05)), rel=1e-10) and q["xi_c"] > 0


def test_the_table_has_one_row_per_comparison(table):
    tex = phase_tables({"references": table})["references"]
    assert tex.count("\\\\\n") == 1 + 2 + 4 + 4 + 1  # header, critical points, scales, variances, edge
    assert "Pennington et al. 2017" in tex and "Schoenholz et al. 2017" in tex

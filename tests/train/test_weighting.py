"""Min-norm solver against an independent QP solve (scipy), and the loss weightings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize, nnls

from mtlspec.errors import MtlspecError
from mtlspec.train.shared import gram_matrix
from mtlspec.train.weighting import (
    gradient_normalizers,
    make_weighting,
    min_norm,
    min_norm_solve,
)


def slsqp_reference(gram: np.ndarray) -> float:
    """min wᵀGw over the simplex with SLSQP from the centre and three vertices."""
    t = len(gram)
    best = np.inf
    for w0 in [np.full(t, 1.0 / t), *np.eye(t)[:3]]:
        res = minimize(lambda w: w @ gram @ w, w0, jac=lambda w: 2 * gram @ w, method="SLSQP",
                       bounds=[(0.0, 1.0)] * t,
                       constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0,
                                     "jac": lambda w: np.ones(t)}],
                       options={"ftol": 1e-15, "maxiter": 2000})
        w = np.clip(res.x, 0, None)
        best = min(best, float(w @ gram @ w) / w.sum() ** 2)
    return best


def nnls_reference(gram: np.ndarray, penalty: float = 1e4) -> float:
    """The same QP as a non-negative least-squares problem (Lawson-Hanson active set):
    min ‖R w‖² + M²(1ᵀw − 1)² over w ≥ 0 with RᵀR = G, then w / Σw."""
    scale = np.max(np.diag(gram))
    lam, q = np.linalg.eigh(gram / scale)
    r = np.sqrt(np.clip(lam, 0, None))[:, None] * q.T
    a = np.vstack([r, penalty * np.ones((1, len(gram)))])
    b = np.zeros(len(gram) + 1)
    b[-1] = penalty
    w = nnls(a, b, maxiter=10_000)[0]
    w /= w.sum()
    return float(w @ gram @ w)


def vectors(kind: str, t: int, d: int, rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=(t, d))
    if kind == "conflicting":  # pairs pointing in nearly opposite directions
        v[1::2] = -v[0::2][: t // 2] + 0.01 * rng.normal(size=(t // 2, d))
    elif kind == "collinear":
        v = rng.normal(size=(t, 1)) * rng.normal(size=(1, d))
    elif kind == "duplicate_zero":
        v[1] = v[0]
        v[t - 1] = 0.0
    elif kind == "common_direction":  # optimum in the interior of a face, far from 0
        v = v + 8.0 * rng.normal(size=(1, d))
    elif kind == "scaled":  # norms spanning 8 orders of magnitude
        v = v * np.logspace(-4, 4, t)[:, None]
    return v


KINDS = ["random", "conflicting", "collinear", "duplicate_zero", "common_direction", "scaled"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("t", [2, 3, 5, 12, 40])
def test_min_norm_matches_an_independent_qp_solve(kind, t):
    rng = np.random.default_rng(t * 31 + KINDS.index(kind))
    v = vectors(kind, t, int(rng.integers(3, 60)), rng)
    gram = v @ v.T
    res = min_norm_solve(gram)
    w = res.weights
    assert w.dtype == np.float64 and (w >= 0).all() and abs(w.sum() - 1) < 1e-12
    scale = np.max(np.diag(gram))
    assert res.converged and res.gap <= 1e-8 * scale
    norm2 = float(w @ gram @ w)
    assert abs(norm2 - res.norm2) <= 1e-9 * scale
    assert abs(norm2 - nnls_reference(gram)) <= 1e-9 * scale
    if t <= 12:  # SLSQP is slow at T = 40 and stops early on conflicting cases
        assert norm2 <= slsqp_reference(gram) + 1e-9 * scale
    # optimality certificate: no vertex lies on the far side of the min-norm point
    assert (gram @ w).min() >= norm2 - 1e-8 * scale


def test_exact_at_a_vertex_without_clipping():
    gram_vectors = np.array([[1.0, 0.0], [1.0, 1.0], [2.0, -0.5]])
    w = min_norm(gram_vectors @ gram_vectors.T)
    assert w.tolist() == [1.0, 0.0, 0.0]
    w2 = min_norm(np.array([[1.0, 2.0], [2.0, 5.0]]))  # v2 = v1 + something orthogonal-ish
    assert w2.tolist() == [1.0, 0.0]
    zero = np.diag([3.0, 0.0, 2.0])
    assert min_norm(zero).tolist() == [0.0, 1.0, 0.0]


def test_two_tasks_use_the_closed_form():
    rng = np.random.default_rng(0)
    for _ in range(20):
        v = rng.normal(size=(2, 4))
        grid = np.linspace(0, 1, 100001)
        points = grid[:, None] * v[0] + (1 - grid[:, None]) * v[1]
        brute = (points ** 2).sum(1).min()
        w = min_norm(v @ v.T)
        assert float(w @ (v @ v.T) @ w) <= brute + 1e-12


def test_opposite_vectors_reach_the_origin():
    v = np.array([[1.0, 2.0, 3.0], [-2.0, -4.0, -6.0], [0.5, 0.1, 0.0]])
    res = min_norm_solve(v @ v.T)
    assert res.norm2 < 1e-12
    assert np.allclose(res.weights[:2], [2 / 3, 1 / 3]) and abs(res.weights[2]) <= 1e-12


def test_iteration_cap_is_honoured_and_reported():
    rng = np.random.default_rng(1)
    v = vectors("conflicting", 40, 80, rng)
    with pytest.warns(RuntimeWarning, match="gap"):
        res = min_norm_solve(v @ v.T, max_iter=2)
    assert not res.converged and res.iterations <= 2
    assert (res.weights >= 0).all() and abs(res.weights.sum() - 1) < 1e-12


def test_all_zero_and_bad_inputs():
    assert min_norm(np.zeros((4, 4))).tolist() == [0.25] * 4
    with pytest.raises(ValueError):
        min_norm(np.ones((2, 3)))
    with pytest.raises(ValueError):
        min_norm(np.array([[np.nan]]))


def test_gram_matrix_is_float64_and_exact_enough():
    g = torch.randn(5, 50_003)
    exact = g.double() @ g.double().T
    got = gram_matrix(g, chunk=4096)
    assert got.dtype == torch.float64
    assert torch.allclose(got, exact, rtol=1e-5, atol=1e-3)


def test_mgda_weights_give_the_min_norm_direction_of_normalised_gradients():
    rng = np.random.default_rng(2)
    g = rng.normal(size=(3, 10)) * np.array([[1.0], [10.0], [0.1]])
    losses = torch.tensor([0.5, 2.0, 1.0])
    gram = g @ g.T
    for norm in ("none", "l2", "loss", "loss+"):
        w = make_weighting("mgda", normalization=norm)
        w.bind(["a", "b", "c"])
        weights = w.weights(losses, gram).double().numpy()
        n = gradient_normalizers(gram, losses.numpy(), norm)
        direction = weights @ g
        alpha = min_norm((g / n[:, None]) @ (g / n[:, None]).T)
        assert np.allclose(direction, alpha @ (g / n[:, None]), atol=1e-6)
    assert np.allclose(gradient_normalizers(gram, losses.numpy(), "l2"),
                       np.linalg.norm(g, axis=1))


def test_rlw_draws_normalised_uniform_weights_and_resumes_its_sequence():
    w = make_weighting("rlw", seed=4)
    w.bind(["a", "b", "c"])
    losses = torch.ones(3)
    first = w.weights(losses)
    state = w.state_dict()
    later = [w.weights(losses) for _ in range(3)]
    assert torch.isclose(first.sum(), torch.tensor(1.0)) and (first >= 0).all()
    assert not torch.equal(later[0], later[1])
    again = make_weighting("rlw", seed=99)
    again.load_state_dict(state)
    assert all(torch.equal(a, again.weights(losses)) for a in later)


def test_uniform_and_fixed():
    u = make_weighting("uniform")
    u.bind(["a", "b"])
    assert u.weights(torch.tensor([3.0, 1.0])).tolist() == [0.5, 0.5]
    f = make_weighting("fixed", weights={"b": 2.0})
    f.bind(["a", "b"])
    assert f.weights(torch.tensor([3.0, 1.0])).tolist() == [1.0, 2.0]
    with pytest.raises(MtlspecError, match=r"unknown task.*c"):
        make_weighting("fixed", weights={"c": 1.0}).bind(["a", "b"])


@pytest.mark.parametrize(("name", "kwargs", "message"), [
    ("adam", {}, "unknown weighting"),
    ("fixed", {}, "needs per-task weights"),
    ("rlw", {"weights": {"a": 1.0}}, "need weighting 'fixed'"),
    ("uniform", {"normalization": "l2"}, "applies to mgda"),
    ("mgda", {"normalization": "l3"}, "unknown gradient normalization"),
    ("fixed", {"weights": {"a": -1.0}}, "finite and ≥ 0"),
])
def test_make_weighting_rejects_bad_settings(name, kwargs, message):
    with pytest.raises(MtlspecError, match=message):
        make_weighting(name, **kwargs)


def test_mgda_defaults_to_loss_plus_normalisation_and_the_rest_to_none():
    # Unnormalised MGDA-UB stalls the slower tasks on MultiDigits (see make_weighting).
    assert make_weighting("mgda").normalization == "loss+"
    assert make_weighting("mgda-ub").normalization == "loss+"
    assert make_weighting("mgda-ub", normalization="none").normalization == "none"
    assert make_weighting("rlw").name == "rlw"  # no normalisation error for the default

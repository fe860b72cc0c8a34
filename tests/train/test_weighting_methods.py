"""Every weighting method against a value worked out by hand from its paper's definition
(two or three gradients / losses where the answer is known in closed form)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mtlspec.train.weighting import METHODS, make_weighting

HAS_CVXPY = all(__import__("importlib.util").util.find_spec(m) for m in ("cvxpy", "clarabel",
                                                                          "ecos"))
needs_cvxpy = pytest.mark.skipif(not HAS_CVXPY, reason="needs the extra mtlspec[cvxpy]")


def bound(name: str, t: int, **options):
    w = make_weighting(name, **options)
    w.bind([f"t{i}" for i in range(t)])
    return w


def weights(name: str, g: list[list[float]] | np.ndarray, losses=None, **options) -> np.ndarray:
    """One call of method `name` on gradients g (rows), returning its float64 weights."""
    g = np.asarray(g, dtype=np.float64)
    w = bound(name, len(g), **options)
    loss = torch.tensor(losses if losses is not None else [1.0] * len(g), dtype=torch.float64)
    return w.weights(loss, g @ g.T).numpy()


# ---------------------------------------------------------------- gradient methods


def test_pcgrad_projects_conflicting_pairs_and_leaves_agreeing_ones():
    # g1·g2 = −1: g1 − (−1/2) g2 = (½, ½), g2 − (−1/1) g1 = (0, 1); the sum is 2 g1 + 1.5 g2
    assert np.allclose(weights("pcgrad", [[1, 0], [-1, 1]]), [2.0, 1.5])
    assert np.allclose(weights("pcgrad", [[1, 0], [1, 1]]), [1.0, 1.0])


def test_gradvac_starts_as_pcgrad_then_aims_at_the_averaged_cosine():
    g = np.array([[1.0, 0.0], [-1.0, 1.0]])
    w = bound("gradvac", 2, beta=0.5)
    loss = torch.ones(2, dtype=torch.float64)
    assert np.allclose(w.weights(loss, g @ g.T).numpy(), [2.0, 1.5], atol=1e-6)
    # targets now φ̂ = 0.5·φ with φ = −1/√2; each gradient is raised to cosine φ̂ (Eq. 6):
    # w_ij = ‖g_i‖ (φ̂ √(1−φ²) − φ √(1−φ̂²)) / (‖g_j‖ √(1−φ̂²))
    phi, target = -1 / math.sqrt(2), -0.5 / math.sqrt(2)
    shift = (target * math.sqrt(1 - phi**2) - phi * math.sqrt(1 - target**2)) / math.sqrt(
        1 - target**2)
    w01 = 1.0 * shift / math.sqrt(2)  # ‖g0‖ = 1, ‖g1‖ = √2
    w10 = math.sqrt(2) * shift / 1.0
    assert np.allclose(w.weights(loss, g @ g.T).numpy(), [1 + w10, 1 + w01], atol=1e-6)


def test_imtl_g_gives_equal_projections_on_every_unit_gradient():
    # orthogonal g1 = (2, 0), g2 = (0, 1): d = (2a, b) with 2a = b and a + b = 1
    assert np.allclose(weights("imtl-g", [[2, 0], [0, 1]]), [1 / 3, 2 / 3])
    g = np.random.default_rng(0).normal(size=(3, 6))
    w = weights("imtl-g", g)
    d = w @ g
    projections = g @ d / np.linalg.norm(g, axis=1)
    assert abs(w.sum() - 1) < 1e-9 and np.ptp(projections) < 1e-9


@needs_cvxpy
def test_cagrad_moves_c_times_the_mean_norm_towards_the_worst_task():
    # orthogonal equal-norm gradients: by symmetry w = (½, ½), so g = g0 + c g0 → weights ½ + c/2
    assert np.allclose(weights("cagrad", [[1, 0], [0, 1]], c=0.4), [0.7, 0.7], atol=1e-4)
    assert np.allclose(weights("cagrad", [[3, 1], [-1, 2]], c=0.0), [0.5, 0.5])


@needs_cvxpy
def test_nash_mtl_solves_g_alpha_equals_one_over_alpha():
    # G = diag(4, 1): α_t = 1/‖g_t‖ = (½, 1); max_norm 1 then scales ‖Σ α g‖ = √2 down to 1
    assert np.allclose(weights("nash-mtl", [[2, 0], [0, 1]], max_norm=0.0), [0.5, 1.0],
                       atol=1e-3)
    assert np.allclose(weights("nash-mtl", [[2, 0], [0, 1]]), [0.5 / math.sqrt(2),
                                                              1 / math.sqrt(2)], atol=1e-3)


def test_aligned_mtl_scales_every_component_to_the_smallest_singular_value():
    # G = diag(9, 1): B = σ_min V Σ⁻¹ Vᵀ = diag(1/3, 1), weights B·(½, ½)
    assert np.allclose(weights("aligned-mtl", [[3, 0], [0, 1]]), [1 / 6, 1 / 2])


def test_upgrad_projects_each_gradient_onto_the_dual_cone_and_averages():
    # g1 = (1, 0), g2 = (−3, 1): the cone is {x ≥ 0, y ≥ 3x}; g1 projects to (0.1, 0.3),
    # g2 to (0, 1); half their sum (0.05, 0.65) = 2.0 g1 + 0.65 g2
    assert np.allclose(weights("upgrad", [[1, 0], [-3, 1]]), [2.0, 0.65], atol=2e-3)
    # torchjd's documented example
    assert np.allclose(weights("upgrad", [[-4, 1, 1], [6, 1, 1]]), [1.1109, 0.7894], atol=1e-3)


def test_upgrad_and_dualproj_never_point_against_a_task():
    rng = np.random.default_rng(3)
    for _ in range(5):
        g = rng.normal(size=(4, 6))
        g[1] = -g[0] + 0.1 * rng.normal(size=6)  # a strong conflict
        for name in ("upgrad", "dualproj"):
            w = weights(name, g)
            assert (g @ (w @ g) >= -1e-3 * np.abs(g @ g.T).max()).all(), name


def test_dualproj_projects_the_mean_onto_the_dual_cone():
    # mean of (1, 0) and (−3, 1) is (−1, ½); its projection (0, ½) = 1.5 g1 + 0.5 g2
    assert np.allclose(weights("dualproj", [[1, 0], [-3, 1]]), [1.5, 0.5], atol=2e-3)
    assert np.allclose(weights("dualproj", [[1, 0], [-1, 1]]), [0.5, 0.5], atol=2e-3)


def test_config_has_equal_cosines_and_the_summed_length():
    # units (1, 0), (0, 1) → direction (1, 1)/√2, length Σ g·u = 3/√2 → (1.5, 1.5)
    assert np.allclose(weights("config", [[2, 0], [0, 1]]), [0.75, 1.5])
    from torchjd.aggregation import ConFIG

    g = np.random.default_rng(1).normal(size=(3, 7))
    d = weights("config", g) @ g
    cosines = g @ d / np.linalg.norm(g, axis=1) / np.linalg.norm(d)
    assert np.ptp(cosines) < 1e-9
    assert np.allclose(d, ConFIG()(torch.from_numpy(g)).numpy(), atol=1e-9)


def test_fairgrad_solves_g_w_equals_w_to_the_minus_one_over_alpha():
    # G = diag(4, 1): 4 w1 = w1^(−1/α), w2 = 1 → α = 1: w1 = ½; α = 2: w1 = 4^(−2/3)
    assert np.allclose(weights("fairgrad", [[2, 0], [0, 1]], alpha=1.0), [0.5, 1.0], atol=1e-5)
    assert np.allclose(weights("fairgrad", [[2, 0], [0, 1]]), [4 ** (-2 / 3), 1.0], atol=1e-5)


def test_imtl_is_imtl_g_on_learnt_loss_scales():
    w = bound("imtl", 2, lr=0.1)
    g = np.array([[2.0, 0.0], [0.0, 1.0]])
    loss = torch.tensor([2.0, 0.5], dtype=torch.float64)
    assert np.allclose(w.weights(loss, g @ g.T).numpy(), [1 / 3, 2 / 3])  # s = 0: IMTL-G
    # ∂/∂s = e^s L − 1 = (1, −0.5): Adam's first step moves s by −0.1·sign
    assert torch.allclose(w.param.detach(), torch.tensor([-0.1, 0.1], dtype=torch.float64))
    # IMTL-G on the orthogonal e_t g_t (norms a = 2e₀, b = e₁): α = (b, a)/(a + b); w = α e
    e = np.exp([-0.1, 0.1])
    alpha = np.array([e[1], 2 * e[0]]) / (2 * e[0] + e[1])
    assert np.allclose(w.weights(loss, g @ g.T).numpy(), alpha * e)


def test_graddrop_keeps_one_sign_per_coordinate():
    w = bound("graddrop", 2)
    loss = torch.ones(2)
    # coordinate 0: both positive (purity 1, always kept); coordinate 1: +1 and −1 (purity ½)
    g = torch.tensor([[1.0, 1.0], [2.0, -1.0]])
    torch.manual_seed(5)
    u = torch.rand(2)
    torch.manual_seed(5)
    head_weights, direction = w.aggregate(loss, g)
    assert head_weights.tolist() == [1.0, 1.0]
    assert direction.tolist() == [3.0, 1.0 if u[1] < 0.5 else -1.0]


def test_graddrop_on_the_representation_sums_signed_gradients_over_the_batch():
    w = bound("graddrop", 2, rep_grad=True)
    loss = torch.ones(2)
    # batch of 2 items, 1 unit; activations +1 and −1 flip the second item's sign:
    # task 0: 1·1 + (−1)(−1) = 2 > 0; task 1: (−3)·1 + 1·(−1) = −4 < 0; purity ½(1 − 2/6) = ⅓
    per_item = torch.tensor([[1.0, -1.0], [-3.0, 1.0]])
    rep = torch.tensor([[1.0], [-1.0]])
    torch.manual_seed(0)
    u = float(torch.rand(1))
    torch.manual_seed(0)
    _, direction = w.aggregate(loss, per_item, rep)
    kept = per_item[0] if u < 1 / 3 else per_item[1]
    assert torch.allclose(direction, kept)
    # one positive item: the paper's rule is torchjd's GradDrop
    g = torch.randn(2, 5)
    torch.manual_seed(1)
    _, on_rep = w.aggregate(loss, g, torch.ones(1, 5))
    torch.manual_seed(1)
    _, on_params = bound("graddrop", 2).aggregate(loss, g)
    assert torch.allclose(on_rep, on_params)


# ----------------------------------------------------- gradient-magnitude balancing


def test_gradnorm_first_update_follows_the_target():
    # G = diag(4, 1), L = L(0): r = 1, G_t = (2, 1), target Ḡ = 1.5; ∂|G−target|/∂w = (2, −1);
    # through w = 2·softmax(ŵ): ∂/∂ŵ_j = 2 z_j (∂_j − Σ z ∂) = (1.5, −1.5) → Adam: ŵ = ∓lr
    w = bound("gradnorm", 2, lr=0.1)
    g = np.diag([4.0, 1.0])
    loss = torch.tensor([1.0, 2.0], dtype=torch.float64)
    assert np.allclose(w.weights(loss, g).numpy(), [1.0, 1.0])
    assert torch.allclose(w.param.detach(), torch.tensor([-0.1, 0.1], dtype=torch.float64))
    assert np.allclose(w.weights(loss, g).numpy(), 2 * torch.softmax(
        torch.tensor([-0.1, 0.1]), 0).numpy())


def _gradnorm_after(alpha: float, steps: int = 800) -> np.ndarray:
    w = bound("gradnorm", 2, alpha=alpha, lr=0.01)
    g = np.diag([4.0, 1.0])  # ‖g‖ = (2, 1)
    w.weights(torch.tensor([1.0, 1.0], dtype=torch.float64), g)  # L(0)
    for _ in range(steps):
        got = w.weights(torch.tensor([0.5, 1.0], dtype=torch.float64), g).numpy()
    return got


def test_gradnorm_settles_where_weighted_norms_match_the_training_rates():
    # L/L(0) = (0.5, 1): r = (2/3, 4/3). α = 1: mean r^α = 1, so every G_t = Ḡ r_t is
    # reachable: w ∝ r/‖g‖ = (1/3, 4/3), Σ w = 2 → (0.4, 1.6)
    assert np.allclose(_gradnorm_after(1.0), [0.4, 1.6], rtol=0.02)
    # α = 1.5: mean r^α ≠ 1, no w meets both targets; the L1 loss is minimised where the task
    # with the larger norm meets its own: 2 w₀ = Ḡ r₀^α, Ḡ = (2 w₀ + (2 − w₀))/2
    k = (2 / 3) ** 1.5
    w0 = k / (2 - k / 2)
    assert np.allclose(_gradnorm_after(1.5), [w0, 2 - w0], rtol=0.02)


def test_db_mtl_scales_averaged_log_gradients_to_the_largest_norm():
    w = bound("db-mtl", 2)
    loss = torch.tensor([1.0, 0.5])
    g = torch.tensor([[2.0, 0.0], [0.0, 4.0]])  # ∇ log L = (2, 0) and (0, 8)
    head_weights, direction = w.aggregate(loss, g)
    # averages 0.1·(2, 0) and 0.1·(0, 8): norms 0.2, 0.8 → α = (4, 1)
    assert torch.allclose(head_weights, 1 / (loss + 1e-8))
    assert torch.allclose(direction, torch.tensor([0.8, 0.8]))
    _, direction = w.aggregate(loss, g)  # averages 0.19·(2, 0), 0.19·(0, 8)
    assert torch.allclose(direction, torch.tensor([0.19 * 8, 0.19 * 8]))


# ---------------------------------------------------------------- loss methods


def _losses(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_uncertainty_weighting_reaches_its_closed_form():
    w = bound("uw", 2, lr=0.05)
    assert np.allclose(w.weights(_losses(0.5, 2.0)).numpy(), [0.5, 0.5])  # σ = 1
    for _ in range(2000):
        got = w.weights(_losses(0.5, 2.0)).numpy()
    assert np.allclose(got, [1 / (2 * 0.5), 1 / (2 * 2.0)], rtol=0.02)  # 1/(2σ²), σ² = L


def test_imtl_l_scales_every_loss_to_one():
    w = bound("imtl-l", 2, lr=0.05)
    for _ in range(2000):
        got = w.weights(_losses(0.5, 4.0)).numpy()
    assert np.allclose(got, [2.0, 0.25], rtol=0.02)  # e^s L → 1


def test_dwa_weights_are_the_softmax_of_loss_ratios():
    w = bound("dwa", 2)
    for epoch_losses in ([1.0, 2.0], [0.5, 2.0]):  # two epochs of weight 1
        assert w.weights(_losses(*epoch_losses)).tolist() == [1.0, 1.0]
        w.end_epoch()
    ratios = torch.tensor([0.5, 1.0])
    expected = 2 * torch.softmax(ratios / 2.0, 0)
    assert np.allclose(w.weights(_losses(9.0, 9.0)).numpy(), expected.numpy())
    assert np.allclose(expected.numpy(), [0.8756, 1.1244], atol=1e-4)


def test_gls_is_the_gradient_of_the_geometric_mean():
    assert np.allclose(weights("gls", np.eye(2), losses=[1.0, 4.0]), [1.0, 0.25])
    loss = torch.tensor([0.3, 2.0, 5.0], dtype=torch.float64, requires_grad=True)
    loss.prod().pow(1 / 3).backward()
    assert np.allclose(weights("gls", np.eye(3), losses=[0.3, 2.0, 5.0]), loss.grad.numpy())


def test_famo_weights_and_its_logit_update():
    w = bound("famo", 2)
    # z = (½, ½), L = (1, 3): c = ½(1 + ⅓) = ⅔, w = z / (c L) = (0.75, 0.25)
    assert np.allclose(w.weights(_losses(1.0, 3.0)).numpy(), [0.75, 0.25])
    # task 0 improved (δ = (log 2, 0)): ξ moves by ∓lr (Adam's first step) away from it
    w.observe(_losses(0.5, 3.0))
    assert torch.allclose(w.param.detach(), torch.tensor([-0.025, 0.025], dtype=torch.float64),
                          atol=1e-7)


@pytest.mark.parametrize("dist", ["normal", "uniform", "dirichlet"])
def test_rlw_softmax_variants_match_their_draws(dist):
    w = bound("rlw", 3, dist=dist, seed=7)
    rng = np.random.default_rng(7)
    raw = {"normal": lambda: rng.normal(size=3), "uniform": lambda: rng.uniform(size=3),
           "dirichlet": lambda: rng.dirichlet(np.ones(3))}[dist]()
    assert np.allclose(w.weights(_losses(1, 1, 1)).numpy(), np.exp(raw) / np.exp(raw).sum())


def test_rlw_bernoulli_and_one_hot():
    w = bound("rlw", 3, dist="bernoulli", seed=0)
    draws = [w.weights(_losses(1, 1, 1)).numpy() for _ in range(50)]
    assert all(set(d.tolist()) <= {0.0, 1.0} and d.sum() >= 1 for d in draws)
    assert len({tuple(d) for d in draws}) == 7  # every non-empty subset of 3 tasks
    w = bound("rlw", 3, dist="one-hot", seed=0)
    draws = [w.weights(_losses(1, 1, 1)).numpy() for _ in range(30)]
    assert all(d.sum() == 1 and d.max() == 1 for d in draws)


def test_every_method_is_covered_here():
    tested = {"uniform", "fixed", "rlw", "mgda", "mgda-ub"}  # in test_weighting.py
    source = Path(__file__).read_text()
    tested |= {n for n in METHODS if f'"{n}"' in source}
    assert tested == set(METHODS) and len(METHODS) >= 20

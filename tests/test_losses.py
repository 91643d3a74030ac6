"""Losses: patch BCE, signed distance convention, asymmetric SDF penalty, total loss."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from partpoint.errors import DataError
from partpoint.losses import (
    LossConfig,
    inside_mass_loss,
    patch_bce,
    pointer_loss,
    sdf_loss,
    sdf_penalty,
    signed_distance,
)
from partpoint.pointer import PointerOutput


def square_mask(size=9, lo=3, hi=6):
    mask = np.zeros((size, size), dtype=bool)
    mask[lo:hi, lo:hi] = True
    return mask


def test_signed_distance_sign_convention_and_units():
    mask = square_mask()
    dist = signed_distance(mask)
    assert (dist[mask] < 0).all() and (dist[~mask] > 0).all()
    assert dist[4, 4] == pytest.approx(
        -1.5
    )  # centre of a 3x3 part: 2 cells to the outside, minus half a cell
    assert dist[3, 4] == pytest.approx(-0.5) and dist[2, 4] == pytest.approx(0.5)  # boundary is between cells
    assert dist[0, 4] == pytest.approx(2.5)
    assert np.argmin(dist) == 4 * 9 + 4  # the innermost cell is the minimum
    np.testing.assert_allclose(signed_distance(mask, unit=4), dist / 4)


def test_signed_distance_full_and_empty_masks():
    full = signed_distance(np.ones((5, 5), dtype=bool))
    assert (full < 0).all() and np.unravel_index(np.argmin(full), full.shape) == (2, 2)
    assert full[0, 0] == pytest.approx(-0.5)  # the image border counts as outside
    with pytest.raises(DataError, match="empty mask"):
        signed_distance(np.zeros((4, 4), dtype=bool))


@pytest.mark.parametrize("tau,gamma", [(1.0, 4.0), (2.0, 4.0), (4.0, 10.0)])
def test_sdf_penalty_monotone_positive_asymmetric(tau, gamma):
    x = torch.linspace(-5, 5, 1001)
    f = sdf_penalty(x, tau=tau, gamma=gamma)
    assert (f > 0).all()
    assert (f[1:] > f[:-1]).all()  # strictly increasing: deeper inside always costs less
    d = torch.linspace(0.25, 5, 20)
    outside, inside = sdf_penalty(d, tau=tau, gamma=gamma), sdf_penalty(-d, tau=tau, gamma=gamma)
    assert (outside > inside).all()
    ratio = outside / inside
    assert (ratio[1:] > ratio[:-1]).all() and float(ratio[3]) > gamma  # d = 1: at least gamma times
    slope_out = sdf_penalty(torch.tensor(5.0), tau=tau, gamma=gamma) - sdf_penalty(torch.tensor(4.0),
                                                                                   tau=tau, gamma=gamma)
    assert float(slope_out) == pytest.approx(gamma, rel=0.05)  # grows like gamma * x outside


def test_sdf_loss_prefers_innermost_over_boundary_over_outside():
    dist = torch.from_numpy(signed_distance(square_mask()))[None]  # (1, 9, 9)

    def peaked_at(row, col):
        logits = torch.full((1, 9, 9), -20.0)
        logits[0, row, col] = 20.0
        return sdf_loss(logits, dist)

    assert peaked_at(4, 4) < peaked_at(3, 4) < peaked_at(2, 4) < peaked_at(0, 0)


def test_sdf_loss_gradient_pulls_mass_inward():
    dist = torch.from_numpy(signed_distance(square_mask()))[None]
    logits = torch.zeros(1, 9, 9, requires_grad=True)
    sdf_loss(logits, dist).backward()
    assert logits.grad[0, 4, 4] < 0 < logits.grad[0, 0, 0]  # raising the centre lowers the loss


def test_patch_bce_values_and_valid_mask():
    logits = torch.tensor([[[10.0, -10.0, 0.0]]])  # (1, 1, 3)
    target = torch.tensor([[1.0, 0.0, 1.0]])
    full = patch_bce(logits, target)
    assert float(full) == pytest.approx(np.log(2) / 3, rel=1e-3)
    only_confident = patch_bce(logits, target, valid=torch.tensor([[True, True, False]]))
    assert float(only_confident) < 1e-3
    two_heads = patch_bce(logits.repeat(2, 2, 1), target.repeat(2, 1))
    assert float(two_heads) == pytest.approx(float(full))


def test_pointer_loss_combines_terms_and_sdf_ablation():
    logits = torch.randn(2, 3, 16)
    heat = torch.randn(2, 8, 8, requires_grad=True)
    dist = torch.from_numpy(np.stack([signed_distance(square_mask(8, 2, 5))] * 2))
    out = PointerOutput(patch_logits=logits, attn=logits.softmax(-1), heatmap=heat)
    target = torch.rand(2, 16)
    paper = LossConfig(sdf_cap=None, inside_slope=0.0)  # sdf_loss's own defaults: unbounded, no slope
    terms = pointer_loss(out, target, dist, replace(paper, lam=0.5))
    expected = patch_bce(logits, target) + 0.5 * sdf_loss(heat, dist)
    assert float(terms.total.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    ablated = pointer_loss(out, target, dist, replace(paper, use_sdf=False, lam=1.0))
    assert float(ablated.sdf) == pytest.approx(float(inside_mass_loss(heat, dist < 0).detach()))
    ablated.total.backward()
    assert heat.grad.abs().sum() > 0


def test_cached_hit_and_outside_distance_of_points():
    """A point inside the part hits with distance 0; one 3 patches right of it misses by about 3 patches."""
    from partpoint.backbones import GridGeometry
    from partpoint.pointer import SampleFeatures
    from partpoint.training import hit_rate, mean_outside_distance
    from partpoint.training.hits import distance_at
    from partpoint.training.items import FINE_SCALE

    scale, grid = 4, (8, 8)
    mask = np.zeros((32, 32), dtype=bool)
    mask[8:16, 8:16] = True  # patches 2..3 (rows and columns) at 4 cells per patch
    fine = mask.repeat(FINE_SCALE // scale, 0).repeat(FINE_SCALE // scale, 1)
    geometry = GridGeometry(sx=1.0, ox=0.0, sy=1.0, oy=0.0, grid=grid, input_size=(8, 8), cell_px=(1.0, 1.0))
    item = SampleFeatures(q_text=None, k_image=None, v_image=None, attn_last=None, attn_mass=None,
                          geometry=geometry,
                          image_size=(8, 8), masks={FINE_SCALE: torch.from_numpy(np.packbits(fine.ravel()))},
                          distance=torch.from_numpy(signed_distance(mask, unit=scale)))
    inside, outside = (3.0, 3.0), (7.0, 3.0)
    assert distance_at(item, *inside) < 0 and distance_at(item, *outside) == pytest.approx(3.0, abs=0.2)
    assert hit_rate([item, item], [inside, outside]) == 0.5
    assert mean_outside_distance([item, item], [inside, outside]) == pytest.approx(1.5, abs=0.1)


def test_capped_penalty_is_bounded_and_inside_slope_pulls_deeper():
    distance = torch.tensor([[[-3.0, -0.5, 0.5, 2.0, 9.0]]])  # (1, 1, 5)

    def cost_at(index, **kwargs):
        logits = torch.full((1, 1, 5), -30.0)
        logits[0, 0, index] = 30.0  # all mass on one cell
        return float(sdf_loss(logits, distance, **kwargs))

    assert cost_at(4) > cost_at(3) > cost_at(2)  # unbounded: far outside costs more
    capped = pytest.approx(float(sdf_penalty(torch.tensor(1.0))))
    assert cost_at(4, cap=1.0) == pytest.approx(cost_at(3, cap=1.0)) == capped
    assert cost_at(2, cap=1.0) == pytest.approx(cost_at(2))  # below the cap nothing changes
    assert cost_at(0, cap=100.0) == pytest.approx(cost_at(0))
    flat = cost_at(1) - cost_at(0)
    assert cost_at(1, inside_slope=0.1) - cost_at(0,
                                                  inside_slope=0.1) == pytest.approx(flat + 0.25)  # 0.1 * 2.5

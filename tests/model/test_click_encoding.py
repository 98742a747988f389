"""Click encoding: binary disks (RITM) and distance maps (the ablation)."""

import math

import numpy as np
import pytest
import torch

from ritm_lite.clicks import Click, points_tensor
from ritm_lite.model import build_model, disk_maps, distance_maps


def test_a_disk_holds_exactly_the_pixels_within_radius_5():
    points = points_tensor([[Click(x=20, y=15, is_positive=True)]])
    maps = disk_maps(points, 40, 50, radius=5)
    assert maps.shape == (1, 2, 40, 50)
    rows, cols = np.mgrid[:40, :50]
    expected = (rows - 15) ** 2 + (cols - 20) ** 2 <= 25
    assert np.array_equal(maps[0, 0].numpy().astype(bool), expected)
    assert int(maps[0, 0].sum()) == 81  # lattice points in a disk of radius 5 (incl. the boundary)
    assert maps[0, 1].sum() == 0  # no negative click


def test_disks_of_several_clicks_are_a_union_and_padding_is_ignored():
    clicks = [Click(5, 5, True, 0), Click(30, 20, True, 1), Click(10, 30, False, 2)]
    maps = disk_maps(points_tensor([clicks], num_points=4), 40, 50)
    single = [disk_maps(points_tensor([[c]]), 40, 50)[0] for c in clicks]
    assert torch.equal(maps[0, 0], torch.maximum(single[0][0], single[1][0]))
    assert torch.equal(maps[0, 1], single[2][1])
    assert single[2][0].sum() == 0 and single[2][1].sum() == 81


def test_sub_pixel_clicks_use_euclidean_distance():
    maps = disk_maps(points_tensor([[Click(x=10.5, y=10.5, is_positive=True)]]), 30, 30, radius=1)
    assert maps[0, 0].sum() == 4  # the four pixels around the centre, at distance sqrt(0.5)


def test_distance_map_formula():
    points = points_tensor([[Click(x=3, y=4, is_positive=False)]])
    maps = distance_maps(points, 10, 12, norm_radius=260)
    rows, cols = np.mgrid[:10, :12]
    expected = np.tanh(2 * np.hypot(rows - 4, cols - 3) / 260)
    np.testing.assert_allclose(maps[0, 1].numpy(), expected, rtol=1e-5, atol=1e-6)
    assert torch.allclose(maps[0, 0], torch.full((10, 12), math.tanh(2 * 1000.0)))  # empty = far


def test_a_new_click_changes_a_disk_map_only_near_it_but_a_distance_map_everywhere():
    """The paper's argument for disks (Sec. 3.1)."""
    first = [Click(10, 10, True, 0)]
    second = first + [Click(40, 30, True, 1)]
    disk_change = disk_maps(points_tensor([second]), 48, 64) - disk_maps(points_tensor([first]), 48, 64)
    dist_change = distance_maps(points_tensor([second]), 48, 64) - distance_maps(points_tensor([first]), 48, 64)
    changed_disk = disk_change[0, 0] != 0
    assert int(changed_disk.sum()) == 81  # only the new disk
    rows, cols = torch.nonzero(changed_disk, as_tuple=True)
    assert torch.all((rows - 30) ** 2 + (cols - 40) ** 2 <= 25)
    assert (dist_change[0, 0] != 0).float().mean() > 0.5  # most of the image moves


def test_points_must_be_b_2n_3():
    with pytest.raises(ValueError, match=r"\(B, 2N, 3\)"):
        disk_maps(torch.zeros(1, 3, 3), 10, 10)


def test_coordinate_features_match_the_original(reference_dir):
    ref = torch.load(reference_dir / "ritm_hrnet18s_reference.pt", weights_only=True)
    model = build_model("hrnet18s", init=False)
    features = model.coord_features(ref["input"], ref["points"])
    assert torch.equal(features, ref["coord_features"])


def test_click_maps_are_disks_of_their_radius_with_no_switch_to_another_encoding():
    from ritm_lite.model.click_encoding import ClickMaps

    points = torch.tensor([[[10.0, 12.0, 0.0], [-1.0, -1.0, -1.0]]])
    maps = ClickMaps(radius=3.0)(torch.zeros(1, 4, 24, 24), points)
    torch.testing.assert_close(maps, disk_maps(points, 24, 24, radius=3.0))
    with pytest.raises(TypeError):
        ClickMaps(radius=5.0, use_disks=False)
    with pytest.raises(ValueError, match="positive"):
        ClickMaps(radius=0)


def test_distance_maps_module_has_its_own_radius_and_the_original_formula():
    """``DistanceMaps``: tanh(2 d / R) with the original's R = 260 by default, two clicks of
    one sign giving the distance to the nearer one."""
    from ritm_lite.model import DistanceMaps

    clicks = [Click(x=3, y=4, is_positive=True, index=0), Click(x=9, y=1, is_positive=True, index=1)]
    maps = DistanceMaps()(torch.zeros(1, 4, 10, 12), points_tensor([clicks]))
    rows, cols = np.mgrid[:10, :12]
    nearest = np.minimum(np.hypot(rows - 4, cols - 3), np.hypot(rows - 1, cols - 9))
    np.testing.assert_allclose(maps[0, 0].numpy(), np.tanh(2 * nearest / 260), rtol=1e-5, atol=1e-6)
    assert DistanceMaps().norm_radius == 260.0 and DistanceMaps(100.0).norm_radius == 100.0
    with pytest.raises(ValueError, match="positive"):
        DistanceMaps(0)


def test_the_traced_slot_reduction_gives_the_eager_maps_bit_for_bit(monkeypatch):
    """While traced (ONNX export) the minimum over slots is one reduction; in eager a running
    loop. Both must give the same disks and distance maps exactly."""
    from ritm_lite.model import click_encoding

    rng = np.random.default_rng(0)
    clicks = [Click(x=float(rng.uniform(0, 40)), y=float(rng.uniform(0, 30)), is_positive=bool(k % 3), index=k)
              for k in range(7)]
    points = points_tensor([clicks, clicks[:2]])  # the second sample is -1 padded
    eager = (disk_maps(points, 30, 40), distance_maps(points, 30, 40))
    monkeypatch.setattr(click_encoding, "_tracing", lambda: True)
    traced = (disk_maps(points, 30, 40), distance_maps(points, 30, 40))
    assert eager[0].sum() > 0
    for a, b in zip(eager, traced):
        assert torch.equal(a, b)

# %% 01.radius
from ritm_lite.clicks import points_tensor
from ritm_lite.model import disk_maps


def answer(before, after, height, width, radius):
    old, new = (disk_maps(points_tensor([clicks]), height, width, radius=radius)[0, 0] for clicks in (before, after))
    return float((old != new).float().mean())

"""Ray casting of the procedural scenes: spheres, boxes and cylinders on a ground plane.

A pinhole camera (60° vertical field of view) at height h looks down by a pitch angle over an
infinite floor with a checkerboard; the sky shows above the horizon. Every pixel casts one ray
(numpy, all pixels at once); the nearest hit gives the class, the depth (camera z, the
z-buffer), the analytic surface normal and the colour (Lambert shading under a directional
light, with cast shadows found by a second ray towards the light).

Conventions (those of the NYUv2 preprocessed data): depth in scene units (metres), 0 where
there is none (sky, floor beyond `MAX_DEPTH`); normals in the camera frame, x right, y up,
z towards the camera, all zero where there is none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHAPES = ("sphere", "box", "cylinder")
COLOURS = {"red": (0.85, 0.22, 0.16), "yellow": (0.92, 0.8, 0.2), "green": (0.25, 0.68, 0.3),
           "blue": (0.2, 0.36, 0.86), "purple": (0.6, 0.3, 0.76)}
FLOOR, SKY = 0, 1
CLASSES = 2 + len(SHAPES) * len(COLOURS)  # floor, sky, then one class per (shape, colour)
MAX_DEPTH = 20.0
FOV = np.deg2rad(60.0)
_EPS = 1e-4


def object_class(shape: int, colour: int) -> int:
    """The segmentation class of an object: 2 + shape * 5 + colour."""
    return 2 + shape * len(COLOURS) + colour


@dataclass(frozen=True)
class Thing:
    """One object: shape and colour indices, base centre (x, z), sizes, yaw (boxes)."""

    shape: int
    colour: int
    x: float
    z: float
    size: tuple[float, float, float]  # sphere (r, -, -); box half extents; cylinder (r, h, -)
    yaw: float = 0.0

    @property
    def footprint(self) -> float:
        """Radius of the floor area it covers (for placing objects apart)."""
        a, _, c = self.size
        return float(np.hypot(a, c)) if self.shape == 1 else a


@dataclass(frozen=True)
class Scene:
    height: float  # camera height above the floor
    pitch: float  # radians, looking down
    light: np.ndarray  # unit vector towards the light
    floor_tint: np.ndarray  # RGB
    things: tuple[Thing, ...]
    albedo: tuple[np.ndarray, ...]  # per thing


def sample_scene(rng: np.random.Generator, max_objects: int) -> Scene:
    """A random scene: camera, light, floor colour and 0..max_objects objects apart."""
    things: list[Thing] = []
    for _ in range(int(rng.integers(max_objects + 1))):
        for _try in range(50):
            thing = _sample_thing(rng)
            if all(np.hypot(thing.x - o.x, thing.z - o.z) > thing.footprint + o.footprint + 0.05
                   for o in things):
                things.append(thing)
                break
    elevation, azimuth = rng.uniform(np.deg2rad(35), np.deg2rad(70)), rng.uniform(-np.pi, np.pi)
    light = np.array([np.cos(elevation) * np.sin(azimuth), np.sin(elevation),
                      np.cos(elevation) * np.cos(azimuth)])
    palette = list(COLOURS.values())
    albedo = tuple(np.clip(np.array(palette[t.colour]) * rng.uniform(0.85, 1.1), 0, 1)
                   for t in things)
    return Scene(float(rng.uniform(1.3, 2.0)), float(np.deg2rad(rng.uniform(12, 25))), light,
                 rng.uniform(0.45, 0.75) * np.array([1.0, 0.97, 0.9]), tuple(things), albedo)


def _sample_thing(rng: np.random.Generator) -> Thing:
    shape, colour = int(rng.integers(len(SHAPES))), int(rng.integers(len(COLOURS)))
    z = rng.uniform(3.0, 8.0)
    x = rng.uniform(-0.45, 0.45) * z
    if shape == 0:
        size = (rng.uniform(0.3, 0.7), 0.0, 0.0)
    elif shape == 1:
        size = (rng.uniform(0.25, 0.55), rng.uniform(0.2, 0.6), rng.uniform(0.25, 0.55))
    else:
        size = (rng.uniform(0.2, 0.45), rng.uniform(0.5, 1.5), 0.0)
    return Thing(shape, colour, float(x), float(z), tuple(float(s) for s in size),
                 float(rng.uniform(0, np.pi)))


def _camera(scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Camera origin and its right, up, forward axes in the world."""
    s, c = np.sin(scene.pitch), np.cos(scene.pitch)
    return (np.array([0.0, scene.height, 0.0]), np.array([1.0, 0.0, 0.0]),
            np.array([0.0, c, s]), np.array([0.0, -s, c]))


def _rays(scene: Scene, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, float]:
    """Per pixel a world direction whose camera-z component is 1 (so t is depth)."""
    height, width = size
    focal = (height / 2) / np.tan(FOV / 2)
    v, u = np.mgrid[0:height, 0:width] + 0.5
    _, right, up, forward = _camera(scene)
    xc, yc = (u - width / 2) / focal, -(v - height / 2) / focal
    d = xc.reshape(-1, 1) * right + yc.reshape(-1, 1) * up + forward
    return d, focal, np.array([xc.ravel(), yc.ravel()])


def _sphere(o, d, t: Thing):
    r = t.size[0]
    oc = o - np.array([t.x, r, t.z])
    a = (d * d).sum(1)
    b = 2 * (d * oc).sum(1)
    c = (oc * oc).sum(1) - r * r
    disc = b * b - 4 * a * c
    hit = disc >= 0
    dist = np.where(hit, (-b - np.sqrt(np.where(hit, disc, 0))) / (2 * a), np.inf)
    dist = np.where(dist > _EPS, dist, np.inf)
    normal = (o + dist[:, None] * d - np.array([t.x, r, t.z])) / r
    return dist, normal


def _box(o, d, t: Thing):
    half = np.array(t.size)
    cos, sin = np.cos(t.yaw), np.sin(t.yaw)

    def local(v):  # world → box frame (rotation about y by -yaw)
        return np.stack([cos * v[:, 0] - sin * v[:, 2], v[:, 1], sin * v[:, 0] + cos * v[:, 2]],
                        1)

    ol, dl = local(o - np.array([t.x, half[1], t.z])), local(d)
    dl = np.where(np.abs(dl) < 1e-12, 1e-12, dl)
    t1, t2 = (-half - ol) / dl, (half - ol) / dl
    near, far = np.minimum(t1, t2), np.maximum(t1, t2)
    enter, leave = near.max(1), far.min(1)
    dist = np.where((enter <= leave) & (enter > _EPS), enter, np.inf)
    axis = near.argmax(1)
    n_local = np.zeros_like(dl)
    n_local[np.arange(len(dl)), axis] = -np.sign(dl[np.arange(len(dl)), axis])
    normal = np.stack([cos * n_local[:, 0] + sin * n_local[:, 2], n_local[:, 1],
                       -sin * n_local[:, 0] + cos * n_local[:, 2]], 1)
    return dist, normal


def _cylinder(o, d, t: Thing):
    r, h = t.size[0], t.size[1]
    ox, oz = o[:, 0] - t.x, o[:, 2] - t.z
    a = d[:, 0] ** 2 + d[:, 2] ** 2
    b = 2 * (ox * d[:, 0] + oz * d[:, 2])
    c = ox * ox + oz * oz - r * r
    disc = b * b - 4 * a * c
    ok = (disc >= 0) & (a > 1e-12)
    side = np.where(ok, (-b - np.sqrt(np.where(ok, disc, 0))) / (2 * np.where(ok, a, 1)), np.inf)
    y = o[:, 1] + side * d[:, 1]
    side = np.where((side > _EPS) & (y >= 0) & (y <= h), side, np.inf)
    dy = np.where(np.abs(d[:, 1]) < 1e-12, 1e-12, d[:, 1])
    top = (h - o[:, 1]) / dy
    px, pz = ox + top * d[:, 0], oz + top * d[:, 2]
    top = np.where((top > _EPS) & (px * px + pz * pz <= r * r), top, np.inf)
    dist = np.minimum(side, top)
    p = o + np.where(np.isfinite(dist), dist, 0)[:, None] * d
    side_normal = np.stack([(p[:, 0] - t.x) / r, np.zeros(len(d)), (p[:, 2] - t.z) / r], 1)
    normal = np.where((top <= side)[:, None], np.array([0.0, 1.0, 0.0]), side_normal)
    return dist, normal


_INTERSECT = (_sphere, _box, _cylinder)


def _nearest(o, d, things):
    """Distance, normal and object index (-1: none) of the nearest object hit per ray."""
    dist = np.full(len(d), np.inf)
    normal = np.zeros((len(d), 3))
    index = np.full(len(d), -1)
    for i, thing in enumerate(things):
        t, n = _INTERSECT[thing.shape](o, d, thing)
        closer = t < dist
        dist, index = np.where(closer, t, dist), np.where(closer, i, index)
        normal[closer] = n[closer]
    return dist, normal, index


def render(scene: Scene, size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Image [3, H, W] and every target of one scene (see the module docstring)."""
    with np.errstate(all="ignore"):  # misses are inf distances; they never reach the output
        return _render(scene, size)


def _render(scene: Scene, size: tuple[int, int]) -> dict[str, np.ndarray]:
    height, width = size
    d, focal, (_, yc) = _rays(scene, size)
    origin, right, up, forward = _camera(scene)
    o = origin[None, :]
    dist, normal, index = _nearest(o, d, scene.things)
    floor_t = np.where(d[:, 1] < 0, -origin[1] / np.where(d[:, 1] < 0, d[:, 1], -1), np.inf)
    on_floor = floor_t < dist
    dist = np.where(on_floor, floor_t, dist)
    normal[on_floor] = (0.0, 1.0, 0.0)
    index = np.where(on_floor, -1, index)
    sky = ~np.isfinite(dist)
    index = np.where(sky, -2, index)
    classes = np.full(len(d), FLOOR)
    classes[sky] = SKY
    for i, thing in enumerate(scene.things):
        classes[index == i] = object_class(thing.shape, thing.colour)
    colour = _shade(scene, o + np.where(sky, 0, dist)[:, None] * d, normal, index, sky, yc)
    depth = np.where(sky | (dist > MAX_DEPTH), 0.0, dist)
    cam_normal = np.stack([normal @ right, normal @ up, -(normal @ forward)], 1)
    cam_normal[sky] = 0.0
    grid = (height, width)
    ids, zbuf = index.reshape(grid), np.where(sky, np.inf, dist).reshape(grid)
    return {
        "image": colour.T.reshape(3, *grid).astype(np.float32),
        "segment": classes.reshape(grid).astype(np.int64),
        "depth": depth.reshape(1, *grid).astype(np.float32),
        "normal": cam_normal.T.reshape(3, *grid).astype(np.float32),
        "edge": _occlusion_edges(ids, zbuf)[None].astype(np.float32),
        "keypoint": _keypoints(scene, zbuf, focal, (origin, right, up, forward))[None],
    }


def _shade(scene, points, normal, index, sky, yc):
    """Lambert shading with shadows; a checkerboard floor; a sky gradient."""
    albedo = np.zeros((len(points), 3))
    floor = index == -1
    checker = (np.floor(points[:, 0]) + np.floor(points[:, 2])) % 2
    albedo[floor] = scene.floor_tint * np.where(checker[floor] > 0, 1.0, 0.78)[:, None]
    for i, colour in enumerate(scene.albedo):
        albedo[index == i] = colour
    lit = np.clip(normal @ scene.light, 0.0, None)
    if scene.things:
        solid = ~sky
        start = points[solid] + 1e-3 * normal[solid]
        blocked, _, _ = _nearest(start, np.broadcast_to(scene.light, start.shape), scene.things)
        shadow = np.zeros(len(points), dtype=bool)
        shadow[solid] = np.isfinite(blocked)
        lit = np.where(shadow, 0.0, lit)
    colour = albedo * (0.3 + 0.7 * lit)[:, None]
    sky_colour = np.array([0.55, 0.7, 0.95]) + np.clip(yc, 0, 1)[:, None] * np.array(
        [-0.25, -0.22, -0.12])
    return np.clip(np.where(sky[:, None], sky_colour, colour), 0.0, 1.0)


def _occlusion_edges(ids: np.ndarray, zbuf: np.ndarray) -> np.ndarray:
    """1 on pixels in front of a neighbour that belongs to another surface (Taskonomy's
    occlusion edges: the occluding side of each boundary)."""
    edge = np.zeros(ids.shape, dtype=bool)
    pad_id = np.pad(ids, 1, mode="edge")
    pad_z = np.pad(zbuf, 1, mode="edge")
    h, w = ids.shape
    for dy, dx in ((0, 1), (1, 0), (2, 1), (1, 2)):
        other_id, other_z = pad_id[dy:dy + h, dx:dx + w], pad_z[dy:dy + h, dx:dx + w]
        edge |= (other_id != ids) & (zbuf < other_z)
    return edge


def _keypoint_candidates(thing: Thing, origin: np.ndarray) -> np.ndarray:
    """3D keypoints of an object: box corners, cylinder top centre and rim, the sphere point
    nearest the camera."""
    if thing.shape == 0:
        r = thing.size[0]
        centre = np.array([thing.x, r, thing.z])
        towards = origin - centre
        return (centre + r * towards / np.linalg.norm(towards))[None]
    if thing.shape == 1:
        a, b, c = thing.size
        cos, sin = np.cos(thing.yaw), np.sin(thing.yaw)
        corners = np.array([[sx * a, sy * b + b, sz * c] for sx in (-1, 1) for sy in (-1, 1)
                            for sz in (-1, 1)])
        return np.stack([thing.x + cos * corners[:, 0] + sin * corners[:, 2], corners[:, 1],
                         thing.z - sin * corners[:, 0] + cos * corners[:, 2]], 1)
    r, h = thing.size[0], thing.size[1]
    angles = np.arange(4) * np.pi / 2
    rim = np.stack([thing.x + r * np.cos(angles), np.full(4, h), thing.z + r * np.sin(angles)],
                   1)
    return np.vstack([[thing.x, h, thing.z], rim])


def _keypoints(scene: Scene, zbuf: np.ndarray, focal: float, camera) -> np.ndarray:
    """Heatmap: a Gaussian (sigma = H/64 px) at every visible keypoint, max-combined."""
    origin, right, up, forward = camera
    h, w = zbuf.shape
    heat = np.zeros((h, w), dtype=np.float32)
    sigma = h / 64
    reach = int(np.ceil(3 * sigma)) + 1  # the blob is < 1 % beyond 3 sigma
    for thing in scene.things:
        rel = _keypoint_candidates(thing, origin) - origin
        z = rel @ forward
        pu, pv = focal * (rel @ right) / z + w / 2, -focal * (rel @ up) / z + h / 2
        for zi, ui, vi in zip(z, pu, pv, strict=True):
            if zi <= 0 or not (0 <= ui < w and 0 <= vi < h):
                continue
            if zi > zbuf[int(vi), int(ui)] * 1.03 + 0.02:  # hidden behind something
                continue
            top, left = max(int(vi) - reach, 0), max(int(ui) - reach, 0)
            v, u = np.mgrid[top:min(int(vi) + reach + 1, h), left:min(int(ui) + reach + 1, w)]
            blob = np.exp(-((u + 0.5 - ui) ** 2 + (v + 0.5 - vi) ** 2) / (2 * sigma ** 2))
            window = heat[top:top + blob.shape[0], left:left + blob.shape[1]]
            np.maximum(window, blob.astype(np.float32), out=window)
    return heat

"""Generated look-alikes of Carvana and CARLA, written in exactly the real on-disk formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from tqdm.auto import tqdm

from unet import files
from unet.config import VOID_COLOR
from unet.data import carla, carvana

# Raised whenever a generator's output changes: cached sets carry it in their folder name.
CARVANA_VERSION = 3
CARLA_VERSION = 1

PAINTS = {  # name: RGB; the neutral ones, close to the studio's greys, are the hard cases
    "white": (232, 233, 230), "pearl": (216, 214, 206), "light_grey": (200, 201, 200),
    "silver": (176, 179, 184), "grey": (128, 130, 134), "dark_grey": (74, 76, 80),
    "black": (22, 22, 25), "red": (150, 22, 26), "blue": (28, 56, 130), "navy": (26, 32, 60),
    "green": (36, 80, 56), "beige": (190, 172, 136), "brown": (90, 62, 44),
    "orange": (210, 100, 30), "yellow": (214, 176, 40),
}
_NEUTRAL = ("white", "pearl", "light_grey", "silver", "grey", "dark_grey", "black")

# Body types: length, width and height ranges (metres), ground clearance, wheel radius, wheelbase
# as a fraction of the length, the belt line as a fraction of the height, and the side profile's
# top edge from the rear (-1) to the front (+1) as (position, fraction of the height).
BODY_TYPES = {  # in the order cars take them, so any six cars show all six
    "sedan": dict(length=(4.5, 5.0), width=(1.78, 1.9), height=(1.38, 1.48), clearance=(0.13, 0.17),
                  radius=(0.31, 0.34), wheelbase=0.59, belt=0.66,
                  top=[(-1, .46), (-.97, .62), (-.85, .68), (-.55, .71), (-.28, .97), (.1, 1.0),
                       (.36, .69), (.85, .61), (.97, .55), (1, .42)]),
    "hatchback": dict(length=(3.9, 4.35), width=(1.72, 1.82), height=(1.44, 1.54),
                      clearance=(0.13, 0.17), radius=(0.30, 0.33), wheelbase=0.63, belt=0.62,
                      top=[(-1, .5), (-.97, .74), (-.9, .9), (-.78, 1.0), (.05, 1.0), (.36, .66),
                           (.86, .59), (1, .44)]),
    "coupe": dict(length=(4.3, 4.8), width=(1.8, 1.9), height=(1.28, 1.38), clearance=(0.11, 0.14),
                  radius=(0.32, 0.35), wheelbase=0.6, belt=0.66,
                  top=[(-1, .46), (-.96, .64), (-.8, .70), (-.45, .9), (-.12, 1.0), (.12, .98),
                       (.4, .67), (.9, .56), (1, .40)]),
    "suv": dict(length=(4.4, 4.95), width=(1.84, 1.98), height=(1.66, 1.8), clearance=(0.19, 0.24),
                radius=(0.36, 0.39), wheelbase=0.6, belt=0.6,
                top=[(-1, .52), (-.98, .84), (-.93, .97), (-.8, 1.0), (.2, 1.0), (.46, .64),
                     (.92, .6), (1, .46)]),
    "pickup": dict(length=(5.2, 5.8), width=(1.9, 2.02), height=(1.8, 1.92), clearance=(0.22, 0.26),
                   radius=(0.38, 0.41), wheelbase=0.63, belt=0.6,
                   top=[(-1, .52), (-.98, .61), (-.26, .61), (-.22, .97), (-.18, 1.0), (.1, 1.0),
                        (.34, .64), (.94, .61), (1, .48)]),
    "van": dict(length=(4.8, 5.3), width=(1.9, 2.0), height=(1.9, 2.02), clearance=(0.16, 0.2),
                radius=(0.33, 0.36), wheelbase=0.62, belt=0.52,
                top=[(-1, .5), (-.99, .95), (-.95, 1.0), (.52, 1.0), (.74, .6), (.95, .53),
                     (1, .42)]),
}
_STATIONS = 56  # cross-sections along the car
_RING = 13  # points around each cross-section
_SUPERSAMPLE = 2  # the car is drawn at twice the size, then averaged down (soft edges)
_LIGHT = np.array([0.25, 1.0, 0.55]) / np.linalg.norm([0.25, 1.0, 0.55])
# The back wall carries one word in every photo, as the real studio's does: a model may learn that
# this lettering is background (it could on real photos), but not from letters it never saw.
STUDIO_WORD = "CARVANA"
_GLYPHS = {  # stroke letters in a unit box (x right, y up), for the studio's back-wall lettering
    "C": [[(0.5 + 0.5 * np.cos(t), 0.5 + 0.5 * np.sin(t)) for t in np.linspace(0.7, 5.6, 24)]],
    "A": [[(0, 0), (0.5, 1), (1, 0)]],
    "R": [[(0, 0), (0, 1), (0.55, 1)] + [(0.55 + 0.27 * np.sin(t), 0.725 + 0.275 * np.cos(t))
                                         for t in np.linspace(0, np.pi, 12)] + [(0, 0.45)],
          [(0.45, 0.45), (0.9, 0)]],
    "V": [[(0, 1), (0.5, 0), (1, 1)]],
    "N": [[(0, 0), (0, 1), (1, 0), (1, 1)]],
    "O": [[(0.5 + 0.5 * np.cos(t), 0.5 + 0.5 * np.sin(t)) for t in np.linspace(0, 6.3, 30)]],
    "T": [[(0, 1), (1, 1)], [(0.5, 1), (0.5, 0)]],
    "E": [[(1, 1), (0, 1), (0, 0), (1, 0)], [(0, 0.5), (0.8, 0.5)]],
}


# --- Carvana-like: the car --------------------------------------------------------------------

def _smooth_profile(points, u, sigma=0.035):
    """A smooth curve through control points (position, value), sampled at `u` in [-1, 1]."""
    dense = np.linspace(-1, 1, 801)
    values = np.interp(dense, *np.array(points, float).T)
    radius = int(3 * sigma / (dense[1] - dense[0]))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) * (dense[1] - dense[0]) / sigma) ** 2)
    padded = np.pad(values, radius, mode="edge")
    smooth = np.convolve(padded, kernel / kernel.sum(), mode="valid")
    return np.interp(u, dense, smooth)


class _Mesh:
    """Faces (polygons over shared vertices) and thin lines, each with a colour and a role."""

    def __init__(self):
        self.vertices, self.faces, self.lines = [], [], []

    def add_vertices(self, points):
        start = len(self.vertices)
        self.vertices.extend(np.asarray(points, float))
        return list(range(start, start + len(points)))

    def face(self, points, color, role="body", alpha=1.0, gloss=0.25, cull=True, parent=None,
             outward=None):
        """Adds a polygon; `parent` makes it a decal drawn right after (and only with) that face."""
        self.faces.append(dict(index=self.add_vertices(points), color=np.asarray(color, float),
                               role=role, alpha=alpha, gloss=gloss, cull=cull, parent=parent,
                               outward=outward))
        return len(self.faces) - 1

    def finish(self):
        """Arrays for rendering: vertices, and each face's centre and outward unit normal."""
        self.vertices = np.asarray(self.vertices)
        centers, normals = [], []
        for face in self.faces:
            points = self.vertices[face["index"]]
            normal = np.zeros(3)
            for i in range(1, len(points) - 1):
                normal += np.cross(points[i] - points[0], points[i + 1] - points[0])
            center = points.mean(0)
            if face["outward"] is not None and normal @ (center - face["outward"]) < 0:
                normal = -normal
            centers.append(center)
            normals.append(normal / max(np.linalg.norm(normal), 1e-12))
        self.centers, self.normals = np.array(centers), np.array(normals)
        self.colors = np.array([face["color"] for face in self.faces])
        self.gloss = np.array([face["gloss"] for face in self.faces])
        return self

    def line(self, start, end, thickness, color, role="thin", bias=0.0):
        self.lines.append(dict(index=self.add_vertices([start, end]), thickness=thickness,
                               color=np.asarray(color, float), role=role, bias=bias))


def _annulus(center, radius, outer, inner, start, stop, count):
    """A disc sector (or ring sector when `inner` > 0) in the plane z = center z."""
    angles = np.linspace(start, stop, count)
    points = [center + radius * outer * np.array([np.cos(a), np.sin(a), 0]) for a in angles]
    if inner:
        points += [center + radius * inner * np.array([np.cos(a), np.sin(a), 0])
                   for a in angles[::-1]]
    return points


def _make_car(rng, body_type, paint):
    """Builds one car as a `_Mesh` in metres: x forward, y up, z to the car's right."""
    spec = BODY_TYPES[body_type]
    length, width, height = (rng.uniform(*spec[key]) for key in ("length", "width", "height"))
    clearance, radius = rng.uniform(*spec["clearance"]), rng.uniform(*spec["radius"])
    top_points = [(u, v * (1 + rng.uniform(-0.02, 0.02))) for u, v in spec["top"]]
    belt_fraction = spec["belt"] + rng.uniform(-0.02, 0.02)
    roundness = rng.uniform(4, 7)
    stations = np.linspace(-length / 2, length / 2, _STATIONS)
    u = 2 * stations / length
    top = height * _smooth_profile(top_points, u)
    belt = np.minimum(top, height * (belt_fraction - 0.03 * u))
    half = width / 2 * (1 - np.minimum(np.abs(u), 0.985) ** roundness) ** (1 / roundness)
    greenhouse = np.clip((top - belt) / (0.25 * height), 0, 1)
    roof_half = half * (0.9 - 0.17 * greenhouse)
    wheelbase = spec["wheelbase"] * length * rng.uniform(0.97, 1.03)
    axles = np.array([-wheelbase / 2, wheelbase / 2]) + rng.uniform(-0.05, 0.05) * length
    arch = radius + 0.06
    bottom = np.full(_STATIONS, clearance)
    for axle in axles:
        inside = np.abs(stations - axle) < arch
        bottom[inside] = np.maximum(bottom[inside], radius + np.sqrt(
            arch ** 2 - (stations[inside] - axle) ** 2))
    bottom = np.minimum(bottom, belt - 0.12)
    crown = 0.025 * greenhouse + 0.015
    rings = np.zeros((_STATIONS, _RING, 3))
    for s in range(_STATIONS):
        w, yb, ys, yt, gw = half[s], bottom[s], belt[s], top[s], roof_half[s]
        glass_z, glass_y = 0.96 * w + 0.82 * (gw - 0.96 * w), ys + 0.82 * (yt - ys)
        zy = [(-0.9 * w, yb), (0.9 * w, yb), (0.98 * w, yb + 0.15 * (ys - yb)),
              (w, yb + 0.6 * (ys - yb)), (0.96 * w, ys), (glass_z, glass_y), (gw, yt),
              (0, yt + crown[s]), (-gw, yt), (-glass_z, glass_y), (-0.96 * w, ys),
              (-w, yb + 0.6 * (ys - yb)), (-0.98 * w, yb + 0.15 * (ys - yb))]
        rings[s] = [(stations[s], y, z) for z, y in zy]

    mesh = _Mesh()
    trim = np.array([28, 28, 30]) if rng.random() < 0.6 else np.asarray(paint) * 0.8
    cladding = body_type in ("suv", "pickup") and rng.random() < 0.6
    dark_frame = rng.random() < 0.3
    glass_tint = np.array(rng.uniform([20, 26, 30], [45, 52, 58]))
    glass_alpha = rng.uniform(0.3, 0.55)
    slope = np.gradient(top, stations)
    has_greenhouse = top - belt > 0.08
    glass_start = stations[has_greenhouse].min() if has_greenhouse.any() else 0.0
    glass_end = stations[has_greenhouse].max() if has_greenhouse.any() else 0.0
    pillars = [glass_start + 0.06, glass_end - 0.06, (glass_start + glass_end) / 2 + 0.1]
    light_color = np.array([215, 218, 222])
    tail_color = np.array([150, 22, 28])
    for s in range(_STATIONS - 1):
        middle = (stations[s] + stations[s + 1]) / 2
        center = np.array([middle, (bottom[s] + top[s]) / 2, 0])
        both_greenhouse = has_greenhouse[s] and has_greenhouse[s + 1]
        for edge in range(_RING):
            nxt = (edge + 1) % _RING
            quad = [rings[s, edge], rings[s, nxt], rings[s + 1, nxt], rings[s + 1, edge]]
            color, role, alpha, gloss = np.asarray(paint, float), "body", 1.0, 0.25
            if edge == 0:
                color = np.array([35, 35, 38])
            elif edge in (1, 12) and cladding:
                color = np.array([45, 45, 48])
            elif edge in (4, 9) and both_greenhouse:
                if min(abs(middle - p) for p in pillars) < 0.06 or not (
                        pillars[0] < middle < pillars[1]):
                    color = trim
                else:
                    color, role, alpha, gloss = glass_tint, "glass", glass_alpha, 0.35
            elif edge in (5, 8) and both_greenhouse and dark_frame:
                color = trim
            elif edge in (6, 7) and both_greenhouse and abs(slope[s]) > 0.45 and abs(
                    slope[s + 1]) > 0.3:
                color, role, alpha, gloss = glass_tint, "glass", glass_alpha, 0.4
            if edge in (3, 10) and middle > length / 2 - 0.3:
                color, gloss = light_color, 0.5
            if edge in (3, 10) and middle < -length / 2 + 0.22:
                color, gloss = tail_color, 0.4
            mesh.face(quad, color, role, alpha, gloss, outward=center)
    for end, sign in ((0, -1), (_STATIONS - 1, 1)):  # front and rear caps with their details
        ring = rings[end]
        cap = mesh.face(ring, paint, outward=ring.mean(0) - [sign, 0, 0])
        x = ring[0, 0] + sign * 0.012
        w, yb, yt = half[end], bottom[end], top[end]
        span = yt - yb
        rectangles = [(side * 0.5 * w, side * 0.92 * w, yb + 0.62 * span, yb + 0.88 * span,
                       light_color if sign > 0 else tail_color, 0.5) for side in (-1, 1)]
        if sign > 0:  # the grille
            rectangles.append((-0.36 * w, 0.36 * w, yb + 0.35 * span, yb + 0.62 * span,
                               (30, 31, 34), 0.3))
        plate = yb + 0.16 * span  # the number plate and a dark line of text on it
        rectangles += [(-0.27, 0.27, plate, plate + 0.12, (226, 226, 222), 0.3),
                       (-0.2, 0.2, plate + 0.05, plate + 0.07, (60, 60, 70), 0.3)]
        for z0, z1, y0, y1, color, gloss in rectangles:
            mesh.face([(x, y0, z0), (x, y0, z1), (x, y1, z1), (x, y1, z0)], color, gloss=gloss,
                      parent=cap, outward=ring.mean(0) - [sign, 0, 0])
    # Wheels: dark tyres (a 20-sided cylinder), lighter rims with spokes, dark wheel wells.
    tyre = np.array(rng.uniform(24, 38, 3).mean().repeat(3))
    rim = np.array([rng.uniform(140, 205)] * 3) if rng.random() < 0.75 else np.array([55, 56, 58])
    spokes = int(rng.integers(5, 11))
    tyre_width = 0.2 + 0.02 * (width - 1.7) / 0.3
    angles = np.linspace(0, 2 * np.pi, 21)[:-1]
    for axle in axles:
        w_axle = np.interp(axle, stations, half)
        for side in (-1, 1):
            outer_z = side * (0.97 * w_axle - 0.02)
            inner_z = outer_z - side * tyre_width
            well_z = outer_z - side * (tyre_width + 0.06)
            well = [(axle + arch * np.cos(t), radius + arch * np.sin(t), well_z)
                    for t in np.linspace(0, np.pi, 16)]
            well += [(axle - arch, 0.6 * radius, well_z), (axle + arch, 0.6 * radius, well_z)]
            mesh.face(well, (18, 18, 20), gloss=0.0, cull=False)
            circle = np.stack([axle + radius * np.cos(angles), radius + radius * np.sin(angles)],
                              1)
            hub_center = np.array([axle, radius, outer_z])
            outer = mesh.face([(x, y, outer_z) for x, y in circle], tyre, "wheel", gloss=0.05,
                              outward=hub_center - [0, 0, side])
            mesh.face([(x, y, inner_z) for x, y in circle[::-1]], tyre, "wheel", gloss=0.05,
                      outward=hub_center + [0, 0, side])
            for i in range(20):
                j = (i + 1) % 20
                mesh.face([(*circle[i], outer_z), (*circle[j], outer_z), (*circle[j], inner_z),
                           (*circle[i], inner_z)], tyre, "wheel", gloss=0.05,
                          outward=np.array([axle, radius, (outer_z + inner_z) / 2]))
            face = hub_center + [0, 0, side * 0.01]
            inward = hub_center - [0, 0, side]
            phase = rng.uniform(0, 2 * np.pi)
            discs = [(0.68, rim, 0.0, 2 * np.pi, 0.0, 16)]
            for k in range(spokes):  # the dark gaps between the spokes
                a0 = phase + 2 * np.pi * k / spokes + 0.5 / spokes
                discs.append((0.6, rim * 0.22, a0, a0 + 2 * np.pi / spokes - 1.0 / spokes, 0.24,
                              6))
            discs.append((0.14, rim * 0.7, 0.0, 2 * np.pi, 0.0, 16))
            for fraction, color, start, stop, inner, count in discs:
                mesh.face(_annulus(face, radius, fraction, inner, start, stop, count), color,
                          "wheel", gloss=0.3, parent=outer, outward=inward)
    # Side mirrors at the foot of the windscreen.
    for side in (-1, 1):
        w_m = np.interp(glass_end, stations, half)
        y_m = np.interp(glass_end, stations, belt) + 0.03
        x0, y0, z0 = glass_end - 0.24, y_m, 0.93 * w_m
        x1, y1, z1 = glass_end - 0.05, y_m + 0.14, 1.0 * w_m + 0.16
        if side < 0:
            z0, z1 = -z1, -z0
        corners = np.array([(x, y, z) for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)])
        corners[corners[:, 1] == y1, 0] -= 0.05  # a raked top
        mirror_color = paint if rng.random() < 0.6 else trim
        mid = corners.mean(0)
        for face in ([0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4],
                     [1, 5, 7, 3]):
            mesh.face(corners[face], mirror_color, outward=mid)
    # Thin parts: an antenna on many cars, roof rails on the taller bodies.
    roof = np.flatnonzero(top > top.max() - 0.03)
    if rng.random() < 0.55:
        s = roof[0] if body_type != "pickup" else roof[len(roof) // 2]
        base = np.array([stations[s] + 0.05, top[s] + crown[s], 0.0])
        lean = np.radians(rng.uniform(15, 45))
        mast = rng.uniform(0.25, 0.7)
        mesh.line(base, base + mast * np.array([-np.sin(lean), np.cos(lean), 0]),
                  rng.uniform(0.005, 0.01), (25, 25, 27), "antenna")
    if body_type in ("suv", "van", "hatchback", "pickup") and rng.random() < 0.6 and len(
            roof) > 3:
        rail_color = (30, 30, 32) if rng.random() < 0.6 else (170, 172, 176)
        for side in (-1, 1):
            xs = stations[roof[[0, len(roof) // 2, -1]]]
            points = [(x, np.interp(x, stations, top) + 0.07,
                       side * 0.8 * np.interp(x, stations, roof_half)) for x in xs]
            for a, b in zip(points, points[1:]):
                mesh.line(a, b, 0.03, rail_color, "thin")
            for p in points[::2]:
                mesh.line(p, (p[0], p[1] - 0.07, p[2]), 0.045, rail_color, "thin")
    # Door seams: darker lines on both flanks (drawn a little nearer, over their panel).
    if has_greenhouse.any():
        for x in np.linspace(glass_start + 0.1, glass_end - 0.15, 3):
            s = int(np.argmin(np.abs(stations - x)))
            for side in (-1, 1):
                z = side * 1.005 * half[s]
                mesh.line((x, belt[s] - 0.02, z), (x, bottom[s] + 0.06, z), 0.006,
                          np.asarray(paint) * 0.45, "body", bias=0.4)
    return mesh.finish(), dict(length=length, width=width, axles=axles, radius=radius, half=half,
                      stations=stations)


# --- Carvana-like: the studio and the camera --------------------------------------------------

class _Camera:
    """A pinhole camera at `position` looking at `target` (y up)."""

    def __init__(self, position, target, focal, size):
        self.position = np.asarray(position, float)
        forward = np.asarray(target, float) - self.position
        self.forward = forward / np.linalg.norm(forward)
        right = np.cross(self.forward, [0, 1, 0])
        self.right = right / np.linalg.norm(right)
        self.up = np.cross(self.right, self.forward)
        self.focal = focal
        self.center = np.array([size[1] / 2, size[0] / 2])

    def project(self, points):
        """Screen (x, y) and distance of world points (N, 3)."""
        relative = np.asarray(points, float) - self.position
        depth = relative @ self.forward
        x = self.center[0] + self.focal * (relative @ self.right) / depth
        y = self.center[1] - self.focal * (relative @ self.up) / depth
        return np.stack([x, y], 1), depth

    def rays(self, size):
        height, width = size
        x = (np.arange(width) + 0.5 - self.center[0]) / self.focal
        y = (np.arange(height) + 0.5 - self.center[1]) / self.focal
        return (self.forward + x[None, :, None] * self.right - y[:, None, None] * self.up).astype(
            np.float32)


def _lettering(rng, height_px):
    """The studio word in big dark stroke letters as a coverage image (0-1)."""
    glyph_w, gap, stroke = 0.8, 0.3, rng.uniform(0.12, 0.16)
    scale = height_px * 0.8
    width = int(scale * len(STUDIO_WORD) * (glyph_w + gap)) + height_px
    canvas = Image.new("L", (width, height_px), 0)
    draw = ImageDraw.Draw(canvas)
    for i, letter in enumerate(STUDIO_WORD):
        x0 = height_px * 0.1 + i * scale * (glyph_w + gap)
        for stroke_points in _GLYPHS[letter]:
            points = [(x0 + px * glyph_w * scale, height_px * 0.9 - py * scale)
                      for px, py in stroke_points]
            draw.line(points, fill=255, width=max(1, int(stroke * scale)), joint="curve")
    return np.asarray(canvas, np.float32) / 255


def _studio(rng, size):
    """The fixed part of a car's 16 photos: camera, and the backdrop (wall, lettering, floor)."""
    height, width = size
    distance = rng.uniform(6.6, 7.2)
    camera = _Camera((rng.uniform(-0.1, 0.1), rng.uniform(2.4, 2.8), distance),
                     (0, rng.uniform(0.35, 0.55), 0), width * rng.uniform(1.1, 1.2), size)
    rays = camera.rays(size)
    origin = camera.position
    wall_z, disc_radius = -rng.uniform(3.8, 4.4), rng.uniform(3.3, 3.7)
    with np.errstate(divide="ignore", invalid="ignore"):
        t_floor = np.where(rays[..., 1] < 0, -origin[1] / rays[..., 1], np.inf)
        t_wall = (wall_z - origin[2]) / rays[..., 2]
    on_floor = t_floor < t_wall
    floor_x = origin[0] + t_floor * rays[..., 0]
    floor_z = origin[2] + t_floor * rays[..., 2]
    wall_x = origin[0] + t_wall * rays[..., 0]
    wall_y = origin[1] + t_wall * rays[..., 1]
    wall_level, disc_level = rng.uniform(216, 236), rng.uniform(118, 160)
    floor_level = disc_level + rng.uniform(-10, 25)
    wall = wall_level - 14 * np.clip(1.0 - wall_y, 0, 1) + 12 * np.clip((wall_y - 1.5) / 2, 0, 1)
    letter_height = rng.uniform(1.0, 1.2)  # metres
    letter_bottom = rng.uniform(0.1, 0.3)
    metres_per_pixel = letter_height / 400
    letters = _lettering(rng, int(letter_height / metres_per_pixel))
    left = -letters.shape[1] * metres_per_pixel / 2 + rng.uniform(-0.3, 0.3)
    column = ((wall_x - left) / metres_per_pixel).astype(int)
    row = ((letter_bottom + letter_height - wall_y) / metres_per_pixel).astype(int)
    inside = ~on_floor & (column >= 0) & (column < letters.shape[1]) & (row >= 0) & (
        row < letters.shape[0])
    coverage = np.zeros(size, np.float32)
    coverage[inside] = letters[row[inside], column[inside]]
    letter_level = rng.uniform(65, 90)
    wall = wall + (letter_level - wall) * coverage
    radial = np.hypot(floor_x, floor_z)
    disc = disc_level * (1.06 - 0.12 * np.clip(radial / disc_radius, 0, 1) ** 2)
    floor = np.where(radial < disc_radius, disc, floor_level * (1.0 - 0.03 * np.clip(
        radial - disc_radius, 0, 4)))
    rim = np.exp(-0.5 * ((radial - disc_radius) / 0.03) ** 2)
    floor = floor + 35 * rim
    cove = np.exp(-np.clip(wall_z - floor_z, 0, None) / 0.5)  # the floor lightens into the wall
    floor = floor + (wall_level - 25 - floor) * 0.6 * np.where(np.isfinite(cove), cove, 0)
    tone = np.where(on_floor, floor, wall)
    ys, xs = np.mgrid[0:height, 0:width]
    vignette = 1 - 0.16 * (((xs - width / 2) / (width / 2)) ** 2 + ((ys - height / 2) / (
        height / 2)) ** 2) / 2
    tint = rng.uniform(-3, 3, 3)
    pixels = tone[..., None] * vignette[..., None] + tint
    pixels = np.asarray(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(0.4 * width / 960)), np.float32)
    pixels += rng.normal(0, 1.6, pixels.shape).astype(np.float32)
    return camera, pixels


# --- Carvana-like: one photo ------------------------------------------------------------------

def _shade(colors, normals, positions, camera, gloss):
    """Flat shading: a diffuse top light plus the studio reflected (bright above, grey below)."""
    diffuse = np.clip(normals @ _LIGHT, 0, 1)
    view = positions - camera.position
    view /= np.linalg.norm(view, axis=1, keepdims=True)
    reflected = view - 2 * np.sum(view * normals, 1, keepdims=True) * normals
    up = reflected[:, 1]
    environment = np.where(up > 0.12, 232, np.where(up > -0.02, 95, 150))[:, None]
    base = colors * (0.3 + 0.7 * diffuse[:, None])
    return np.clip(base * (1 - gloss[:, None]) + environment * gloss[:, None], 0, 255)


def _render_view(car, camera, backdrop, azimuth, rng, parts=False):
    """Draws one photo: returns (RGB uint8, {0,1} mask[, per-pixel part names and shadow])."""
    mesh, info = car
    height, width = backdrop.shape[:2]
    sin_a, cos_a = np.sin(azimuth), np.cos(azimuth)
    rotation = np.array([[sin_a, 0, -cos_a], [0, 1, 0], [cos_a, 0, sin_a]])
    world = mesh.vertices @ rotation.T
    screen, _ = camera.project(world)
    # The contact shadow: a blurred footprint, darkest under the wheels (never car in the mask).
    small = 4
    shadow = Image.new("L", (width // small + 1, height // small + 1), 0)
    draw = ImageDraw.Draw(shadow)
    length, car_width = info["length"], info["width"]
    t = np.linspace(0, 2 * np.pi, 40)
    footprint = np.stack([0.55 * length * np.sign(np.cos(t)) * np.abs(np.cos(t)) ** 0.3,
                          np.zeros_like(t),
                          0.6 * car_width * np.sign(np.sin(t)) * np.abs(np.sin(t)) ** 0.3], 1)
    draw.polygon([tuple(p) for p in camera.project(footprint @ rotation.T)[0] / small], fill=150)
    for axle in info["axles"]:
        for side in (-1, 1):
            z = side * (np.interp(axle, info["stations"], info["half"]) - 0.12)
            patch = np.stack([axle + 0.3 * np.cos(t), 0 * t, z + 0.16 * np.sin(t)], 1)
            draw.polygon([tuple(p) for p in camera.project(patch @ rotation.T)[0] / small],
                         fill=255)
    blur = float(0.15 * camera.focal / np.linalg.norm(camera.position) / small)
    shadow = np.asarray(shadow.filter(ImageFilter.GaussianBlur(blur)).resize(
        (width, height), Image.BILINEAR), np.float32)[:height, :width] / 255
    base = backdrop * (1 - 0.7 * shadow[..., None])

    # Faces: cull those facing away, shade, sort far to near (decals right after their face).
    faces = mesh.faces
    centers, normals = mesh.centers @ rotation.T, mesh.normals @ rotation.T
    facing = np.sum(normals * (centers - camera.position), 1) < 0
    colors = _shade(mesh.colors, normals, centers, camera, mesh.gloss)
    distance = np.linalg.norm(centers - camera.position, axis=1)
    items = []  # (distance, order, kind, index)
    for i, f in enumerate(faces):
        owner = f["parent"] if f["parent"] is not None else i
        if faces[owner]["cull"] and not facing[owner]:
            continue
        items.append((distance[owner], i, "face", i))
    for i, line in enumerate(mesh.lines):
        middle = world[line["index"]].mean(0)
        items.append((np.linalg.norm(middle - camera.position) - line["bias"], 0, "line", i))
    items.sort(key=lambda item: (-item[0], item[1]))

    ss = _SUPERSAMPLE
    margin = 4
    x0, y0 = np.floor(screen.min(0)).astype(int) - margin
    x1, y1 = np.ceil(screen.max(0)).astype(int) + margin
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    box_w, box_h = max(x1 - x0, 1), max(y1 - y0, 1)
    layer = Image.new("RGBA", (box_w * ss, box_h * ss), (0, 0, 0, 0))
    cover = Image.new("L", layer.size, 0)
    labels = Image.new("L", layer.size, 0) if parts else None
    draws = [ImageDraw.Draw(layer), ImageDraw.Draw(cover)] + (
        [ImageDraw.Draw(labels)] if parts else [])
    codes = {"body": 1, "wheel": 1, "glass": 2, "thin": 3, "antenna": 4}
    local = (screen - [x0, y0]) * ss
    for _, _, kind, i in items:
        if kind == "face":
            f = faces[i]
            xy = [tuple(p) for p in local[f["index"]]]
            rgba = tuple(int(c) for c in colors[i]) + (int(255 * f["alpha"]),)
            for draw, fill in zip(draws, (rgba, 255, codes[f["role"]])):
                draw.polygon(xy, fill=fill)
        else:
            line = mesh.lines[i]
            a, b = line["index"]
            depth = np.linalg.norm(world[a] - camera.position)
            thickness = max(1, int(round(line["thickness"] * camera.focal / depth * ss)))
            rgba = tuple(int(c) for c in line["color"]) + (255,)
            xy = [tuple(local[a]), tuple(local[b])]
            for draw, fill in zip(draws, (rgba, 255, codes[line["role"]])):
                draw.line(xy, fill=fill, width=thickness)
    # Box-average the premultiplied colours ("RGBa") and the coverage down to the photo's size.
    rgba = np.asarray(layer.convert("RGBa").reduce(ss), np.float32) / 255
    coverage = np.asarray(cover.reduce(ss), np.float32) / 255
    image = base.copy()
    region = image[y0:y0 + box_h, x0:x0 + box_w]
    rgba = rgba[:region.shape[0], :region.shape[1]]
    region[:] = rgba[..., :3] * 255 + (1 - rgba[..., 3:]) * region
    region += rng.normal(0, 1.2, region.shape).astype(np.float32) * rgba[..., 3:]
    mask = np.zeros((height, width), np.uint8)
    mask[y0:y0 + box_h, x0:x0 + box_w] = (coverage > 0.49)[:region.shape[0], :region.shape[1]]
    pixels = np.clip(image, 0, 255).astype(np.uint8)
    if not parts:
        return pixels, mask
    names = np.zeros((height, width), np.uint8)
    names[y0:y0 + box_h, x0:x0 + box_w] = np.asarray(labels)[::ss, ::ss][
        :region.shape[0], :region.shape[1]]
    return pixels, mask, dict(shadow=shadow, backdrop=backdrop, glass=names == 2,
                              thin=names >= 3, antenna=names == 4)


def _write_gif_mask(mask, path):
    image = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.astype(np.uint8).tobytes())
    image.putpalette([0, 0, 0, 255, 255, 255] + [0, 0, 0] * 254)  # index 1 shows white
    image.save(path, format="GIF", optimize=False)


def _car_spec(rng, car_index):
    """A car's body type (the six in turn) and paint name (mostly achromatic)."""
    body_type = list(BODY_TYPES)[car_index % len(BODY_TYPES)]
    neutral = rng.random() < 0.65  # most real cars are white, grey, silver or black
    names = [n for n in sorted(PAINTS) if (n in _NEUTRAL) == neutral]
    return body_type, str(rng.choice(names))


def render_car_views(seed, car_index, image_size, parts=False, views=None):
    """The turntable photos of car `car_index` of a set (views 1-16, 22.5 degrees apart).

    Args:
        image_size: (height, width) of the photos.
        parts: Also return a dict per view: `glass`, `thin` and `antenna` (boolean maps of
            the visible glass, thin parts and antenna), `shadow` (0-1) and `backdrop` (the
            studio without the car).
        views: View numbers to draw (default all 16).

    Returns:
        (car id, body type, paint name, list of (image, mask[, parts]) per view).
    """
    rng = np.random.default_rng([seed, car_index])
    car_id = rng.bytes(6).hex()
    body_type, paint_name = _car_spec(rng, car_index)
    car = _make_car(rng, body_type, PAINTS[paint_name])
    camera, backdrop = _studio(rng, image_size)
    views = range(1, carvana.VIEWS + 1) if views is None else views
    photos = [_render_view(car, camera, backdrop, (view - 1) * 2 * np.pi / carvana.VIEWS,
                           np.random.default_rng([seed, car_index, view]), parts)
              for view in views]
    return car_id, body_type, paint_name, photos


def make_carvana_like(out, cars: int = 4, image_size=carvana.IMAGE_SIZE, seed: int = 0,
                      test_cars: int = 0, progress: bool = True) -> Path:
    """Writes a Carvana-like folder: `train/`, `train_masks/`, `train_masks.csv`, `metadata.csv`.

    Args:
        cars: Number of cars; each gets 16 views (`<12 hex>_01.jpg` .. `_16.jpg`).
        seed: Same seed, same files.
        test_cars: Cars written to `test/` without masks (for submissions).
    """
    out = Path(out)
    for folder in ("train", "train_masks") + (("test",) if test_cars else ()):
        (out / folder).mkdir(parents=True, exist_ok=True)
    rows, metadata = [], []
    for car_index in tqdm(range(cars + test_cars), desc="generating cars",
                          disable=not progress):
        car_id, body_type, paint_name, views = render_car_views(seed, car_index, image_size)
        quality = 90 + car_index * 7 % 6  # Kaggle's JPEGs are of quality about 90-95
        is_test = car_index >= cars
        for view, (image, mask) in enumerate(views, start=1):
            name = f"{car_id}_{view:02d}.jpg"
            folder = out / ("test" if is_test else "train")
            Image.fromarray(image).save(folder / name, quality=quality)
            if not is_test:
                _write_gif_mask(mask, out / "train_masks" / carvana.mask_name(name))
                rows.append((name, carvana.rle_encode(mask)))
        metadata.append((car_id, "Synthetic", body_type, paint_name))
    files.write_csv(out / "train_masks.csv",
                    [{"img": name, "rle_mask": rle} for name, rle in rows], ("img", "rle_mask"))
    files.write_csv(out / "metadata.csv",
                    [dict(zip(("id", "make", "model", "paint"), row)) for row in metadata],
                    ("id", "make", "model", "paint"))
    return out


def generated_dir(root, dataset: str, count: int, image_size=None,
                  progress: bool = True) -> Path:
    """The generated look-alike of `dataset` (`"carvana"` or `"carla"`) under `root`, made on
    first use (atomically), with `count` cars (and one more in `test/`) or frames, at
    `image_size` (default: the real data's), seed 0.

    The folder's name carries the generator's version, the count and the size (e.g.
    `synthetic_carvana_v3_8cars_320x480`), so a set made by an older generator or with other
    settings is never taken for this one.
    """
    if dataset not in ("carvana", "carla"):
        raise ValueError(f"dataset must be 'carvana' or 'carla'; received {dataset!r}.")
    carvana_like = dataset == "carvana"
    height, width = image_size or (carvana.IMAGE_SIZE if carvana_like else carla.IMAGE_SIZE)
    version, unit = (CARVANA_VERSION, "cars") if carvana_like else (CARLA_VERSION, "frames")
    folder = Path(root) / f"synthetic_{dataset}_v{version}_{count}{unit}_{height}x{width}"
    if folder.is_dir():
        return folder

    def make(partial):
        print(f"Generating {count} {dataset.capitalize()}-like {unit} in {folder} (once)...")
        if carvana_like:
            make_carvana_like(partial, cars=count, image_size=(height, width), seed=0,
                              test_cars=1, progress=progress)
        else:
            make_carla_like(partial, count=count, image_size=(height, width), seed=0,
                            progress=progress)

    # One process generates, the others wait for it: a second generation would replace the
    # folder under the first one's readers.
    generate(folder, make, wait=True)
    return folder


def generate(out, make, *, wait: bool) -> bool:
    """Runs `make(partial)` to write a data set into a sibling of `out`, renamed to `out` once
    whole, under a lock on `out`: a stopped or a concurrent generation never leaves a
    half-written set, or two sets mixed in one folder. Partial sets of killed generations
    beside `out` are removed first.

    Args:
        out: The data set's folder; it may exist if empty.
        make: Writes the set into the folder it is given.
        wait: Wait for another generation of `out` to finish instead of refusing
            (`errors.Locked`).

    Returns:
        `False` without generating when `out` exists and is not an empty folder (another
        generation made it meanwhile, or it holds other files), else `True`.
    """
    out = Path(out)
    with files.lock(out.parent, "generated data set", out.name, wait=wait):
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            return False
        files.remove_partials(out.parent)
        with files.atomic_path(out) as partial:
            make(partial)
    return True


# --- CARLA-like --------------------------------------------------------------------------------

_CARLA_IDS = {name: i for i, name in enumerate(carla.CLASS_NAMES)}
_SCENE_COLORS = {  # what each class looks like in the photo (not CARLA's palette)
    "sky": (150, 190, 230), "building": (120, 110, 100), "vegetation": (60, 110, 50),
    "terrain": (120, 130, 80), "sidewalk": (170, 165, 160), "road": (80, 80, 84),
    "road_line": (230, 225, 200), "vehicle": (40, 60, 120), "pole": (90, 90, 90),
    "traffic_sign": (200, 180, 30), "pedestrian": (140, 60, 60), "wall": (150, 140, 130),
    "fence": (110, 90, 70),
}


def _jitter(rng, color, amount=25):
    return tuple(int(np.clip(c + rng.uniform(-amount, amount), 0, 255)) for c in color)


def _render_scene(rng, size):
    height, width = size
    image = Image.new("RGB", (width, height))
    labels = Image.new("L", (width, height), 0)
    draw, label_draw = ImageDraw.Draw(image), ImageDraw.Draw(labels)

    def paint(shape, xy, name, color=None, **kwargs):
        color = color or _jitter(rng, _SCENE_COLORS[name])
        getattr(draw, shape)(xy, fill=color, **kwargs)
        getattr(label_draw, shape)(xy, fill=_CARLA_IDS[name], **kwargs)

    horizon = height * rng.uniform(0.42, 0.5)
    vx = width * rng.uniform(0.42, 0.58)

    def on_ground(s, edge):  # (x, y) a fraction s of the way from the horizon to `edge`
        return vx + (edge - vx) * s, horizon + (height - horizon) * s

    paint("rectangle", [0, 0, width, horizon + 2], "sky")
    for side in (-1, 1):  # buildings and walls along both sides
        x = vx + side * width * 0.05
        while 0 < x < width:
            step = width * rng.uniform(0.08, 0.2)
            top = horizon - height * rng.uniform(0.1, 0.4)
            x_next = x + side * step
            kind = "wall" if rng.random() < 0.15 else "building"
            paint("rectangle", [min(x, x_next), top, max(x, x_next), horizon + 4], kind)
            x = x_next
    for _ in range(rng.integers(2, 7)):  # trees
        cx = rng.uniform(0, width)
        r = height * rng.uniform(0.04, 0.1)
        cy = horizon - r * rng.uniform(0.3, 1.2)
        paint("ellipse", [cx - r, cy - r, cx + r, cy + r], "vegetation")
    paint("rectangle", [0, horizon, width, height], "terrain")
    road_left, road_right = width * rng.uniform(-0.1, 0.15), width * rng.uniform(0.85, 1.1)
    walk = width * rng.uniform(0.15, 0.3)
    paint("polygon", [(vx - 4, horizon), (vx + 4, horizon), (road_right + walk, height),
                      (road_left - walk, height)], "sidewalk")
    paint("polygon", [(vx - 2, horizon), (vx + 2, horizon), (road_right, height),
                      (road_left, height)], "road")
    centre_bottom = (road_left + road_right) / 2
    t = 0.05
    while t < 1:  # dashed centre line, longer dashes nearer the camera
        t_end = min(1.0, t + 0.06 + 0.08 * t)
        (x0, y0), h0 = on_ground(t, centre_bottom), width * 0.012 * t
        (x1, y1), h1 = on_ground(t_end, centre_bottom), width * 0.012 * t_end
        paint("polygon", [(x0 - h0, y0), (x0 + h0, y0), (x1 + h1, y1), (x1 - h1, y1)],
              "road_line")
        t = t_end + 0.05 + 0.05 * t
    vehicles = sorted(rng.uniform(0.15, 0.9, rng.integers(1, 4)))
    for s in vehicles:  # far to near: nearer ones cover farther ones
        lane = rng.uniform(-0.35, 0.35)
        y = horizon + (height - horizon) * s
        x = vx + ((road_left + road_right) / 2 - vx + lane * (road_right - road_left)) * s
        w, h = width * 0.28 * s, height * 0.22 * s
        body = _jitter(rng, _SCENE_COLORS["vehicle"], 60)
        paint("rectangle", [x - w / 2, y - h, x + w / 2, y], "vehicle", body)
        paint("rectangle", [x - w / 3, y - h * 1.35, x + w / 3, y - h * 0.9], "vehicle", body)
        draw.rectangle([x - w / 3.6, y - h * 1.28, x + w / 3.6, y - h * 0.95], fill=(30, 35, 45))
    for side in (-1, 1):  # poles with signs, pedestrians on the sidewalks
        for _ in range(rng.integers(0, 3)):
            s = rng.uniform(0.3, 0.95)
            x, y = on_ground(s, road_right + walk * 0.5 if side > 0 else road_left - walk * 0.5)
            pole_h, pole_w = height * 0.5 * s, max(2, width * 0.008 * s)
            paint("rectangle", [x - pole_w, y - pole_h, x + pole_w, y], "pole")
            sign = width * 0.03 * s
            paint("rectangle", [x - sign, y - pole_h - sign, x + sign, y - pole_h + sign],
                  "traffic_sign")
        if rng.random() < 0.7:
            s = rng.uniform(0.3, 0.9)
            x, y = on_ground(s, road_right + walk * 0.3 if side > 0 else road_left - walk * 0.3)
            ph, pw = height * 0.25 * s, width * 0.02 * s
            paint("ellipse", [x - pw, y - ph, x + pw, y], "pedestrian")
            paint("ellipse", [x - pw * 0.7, y - ph * 1.25, x + pw * 0.7, y - ph * 0.9],
                  "pedestrian")
    pixels = np.asarray(image, np.float32)
    shade = np.linspace(1.05, 0.9, height)[:, None, None]
    pixels = np.clip(pixels * shade + rng.normal(0, 5, pixels.shape), 0, 255).astype(np.uint8)
    return pixels, np.asarray(labels, np.uint8)


def make_carla_like(out, count: int = 20, image_size=carla.IMAGE_SIZE, seed: int = 0,
                    progress: bool = True) -> Path:
    """Writes `CameraRGB/` and `CameraMask/` with `count` RGBA PNG pairs (`000000.png` ...).

    Masks carry the CARLA class id in the red channel (green and blue 0, alpha 255).
    """
    out = Path(out)
    (out / "CameraRGB").mkdir(parents=True, exist_ok=True)
    (out / "CameraMask").mkdir(parents=True, exist_ok=True)
    for index in tqdm(range(count), desc="generating scenes", disable=not progress):
        rng = np.random.default_rng([seed, index])
        image, labels = _render_scene(rng, image_size)
        alpha = np.full(labels.shape, 255, np.uint8)
        zeros = np.zeros_like(labels)
        name = f"{index:06d}.png"
        Image.fromarray(np.dstack([image, alpha]), "RGBA").save(out / "CameraRGB" / name)
        Image.fromarray(np.dstack([labels, zeros, zeros, alpha]), "RGBA").save(
            out / "CameraMask" / name)
    return out


# A generated folder dataset's classes: CARLA scene classes folded into six.
FOLDER_CLASSES = (("background", (0, 0, 0)), ("road", (128, 64, 128)),
                  ("sidewalk", (244, 35, 232)), ("vehicle", (0, 0, 142)),
                  ("vegetation", (107, 142, 35)), ("sky", (70, 130, 180)))
FOLDER_ENCODINGS = ("binary", "ids", "ids16", "palette", "rgb")


def _folder_labels(carla_labels: np.ndarray) -> np.ndarray:
    """CARLA ids -> `FOLDER_CLASSES` ids (everything else background)."""
    table = np.zeros(256, np.uint8)
    for folder_id, name in enumerate(n for n, _ in FOLDER_CLASSES):
        if folder_id:
            table[_CARLA_IDS[name]] = folder_id
    table[_CARLA_IDS["road_line"]] = 1
    return table[carla_labels]


def make_folder_like(out, count: int = 6, image_size=(96, 128), seed: int = 0, *,
                     encoding: str = "palette", layout: str = "images-masks",
                     void_band: int = 0, mixed_sizes: bool = False, groups: int = 0,
                     progress: bool = True) -> Path:
    """Writes a folder dataset (`unet.data.folder`) of generated street scenes.

    Args:
        count: Images.
        encoding: `binary` (0/255 vehicle masks), `ids` (8-bit class ids), `ids16` (16-bit),
            `palette` (palette PNGs, VOC's colours), or `rgb` (colours, with `labelmap.txt`).
        layout: `images-masks` (`images/*.jpg` + `masks/*.png`) or `voc` (`JPEGImages/` +
            `SegmentationClass/` + `ImageSets/Segmentation/{train,val}.txt`).
        void_band: Width in pixels of a 255 band along every class edge (VOC's void outlines).
        mixed_sizes: Every other image is a quarter larger.
        groups: Name images `<group>_<n>` with this many groups (`--group-by '^(g\\d+)_'`).

    Returns:
        `out`.
    """
    if encoding not in FOLDER_ENCODINGS:
        raise ValueError(f"encoding must be one of {FOLDER_ENCODINGS}; received {encoding!r}.")
    out = Path(out)
    voc = layout == "voc"
    images = out / ("JPEGImages" if voc else "images")
    masks = out / ("SegmentationClass" if voc else "masks")
    for folder in (images, masks):
        folder.mkdir(parents=True, exist_ok=True)
    palette = [c for _, rgb in FOLDER_CLASSES for c in rgb] + [0, 0, 0] * (256 - len(
        FOLDER_CLASSES))
    palette[3 * 255:3 * 256] = VOID_COLOR
    names = []
    for index in tqdm(range(count), desc="generating images", disable=not progress):
        rng = np.random.default_rng([seed, index])
        size = image_size if not (mixed_sizes and index % 2) else (
            image_size[0] * 5 // 4, image_size[1] * 5 // 4)
        image, carla_labels = _render_scene(rng, size)
        labels = _folder_labels(carla_labels)
        if void_band:
            import cv2

            kernel = np.ones((2 * void_band + 1,) * 2, np.uint8)
            edges = cv2.dilate(labels, kernel) != cv2.erode(labels, kernel)
            labels[edges] = 255
        name = f"g{index % groups}_{index:04d}" if groups else f"scene_{index:04d}"
        names.append(name)
        Image.fromarray(image).save(images / f"{name}.jpg", quality=92)
        path = masks / f"{name}.png"
        if encoding == "binary":
            Image.fromarray(np.where(labels == 3, 255, 0).astype(np.uint8)).save(path)
        elif encoding == "ids":
            Image.fromarray(labels).save(path)
        elif encoding == "ids16":
            Image.fromarray(labels.astype(np.uint16)).save(path)
        elif encoding == "palette":
            picture = Image.fromarray(labels, "P")
            picture.putpalette(palette)
            picture.save(path)
        else:
            colors = np.array(palette, np.uint8).reshape(256, 3)
            Image.fromarray(colors[labels]).save(path)
    if encoding == "rgb" or voc:  # CVAT's VOC export writes one beside its masks too
        lines = ["# label:color_rgb:parts:actions"] + [
            f"{name}:{r},{g},{b}::" for name, (r, g, b) in FOLDER_CLASSES]
        if void_band and encoding == "rgb":  # void is a colour: --ignore-index names its class
            lines.append("void:{},{},{}::".format(*VOID_COLOR))
        files.write_text(out / "labelmap.txt", "\n".join(lines) + "\n")
    if voc:
        lists = out / "ImageSets" / "Segmentation"
        lists.mkdir(parents=True, exist_ok=True)
        cut = max(1, len(names) * 4 // 5)
        files.write_text(lists / "train.txt", "\n".join(names[:cut]) + "\n")
        files.write_text(lists / "val.txt", "\n".join(names[cut:] or names[-1:]) + "\n")
    return out

"""Generated look-alikes of Carvana and CARLA, written in exactly the real on-disk formats.

Tests, CI, the demo and users without Kaggle read these files through the real readers.

- Carvana-like: the studio of the real photos (a light back wall with huge dark lettering that
  the car overlaps, a grey floor and turntable disc, a soft dark contact shadow that is not car
  in the mask) and a car of one of six body types (sedan, hatchback, coupe, SUV, pickup, van)
  with tapered bonnet and boot, wheels with dark tyres and light rims, side mirrors, a thin
  antenna and, on some, roof rails (all car in the mask), glass that shows the studio behind it,
  and paint that is mostly grey, silver, white or black, close to the background. 16 turntable
  views per car, 22.5 degrees apart, in one studio.
- CARLA-like: perspective road scenes with the real CARLA class ids in the masks' red channel.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from tqdm.auto import tqdm

from unet.data import carla, carvana

PAINTS = {  # name: RGB; the greys, silvers, white and black (most real cars) are the hard cases
    "white": (236, 236, 232), "silver": (176, 178, 182), "light_grey": (200, 200, 198),
    "grey": (140, 142, 146), "black": (28, 28, 32), "dark_grey": (80, 82, 86),
    "red": (150, 24, 28), "blue": (30, 60, 140), "green": (40, 90, 60), "beige": (200, 180, 140),
}
# Real Carvana paints are mostly achromatic: three cars in four here.
PAINT_WEIGHTS = {"white": 3, "silver": 3, "light_grey": 2, "grey": 3, "black": 3,
                 "dark_grey": 3, "red": 2, "blue": 2, "green": 1, "beige": 1}
BODY_TYPES = ("sedan", "hatchback", "coupe", "suv", "pickup", "van")
GLASS_TINT = np.array([30.0, 36.0, 44.0])
_LIGHT = np.array([0.35, 0.85, 0.4]) / np.linalg.norm([0.35, 0.85, 0.4])


# --- Carvana-like ------------------------------------------------------------------------------

def _box(x0, x1, y0, y1, z0, z1, top_x0=None, top_x1=None, top_z=None):
    """Vertices and quad faces of a box; the top face may be narrower (a cabin)."""
    tx0, tx1 = top_x0 if top_x0 is not None else x0, top_x1 if top_x1 is not None else x1
    tz0, tz1 = (-top_z, top_z) if top_z is not None else (z0, z1)
    vertices = np.array([
        [x0, y0, z0], [x1, y0, z0], [x1, y0, z1], [x0, y0, z1],
        [tx0, y1, tz0], [tx1, y1, tz0], [tx1, y1, tz1], [tx0, y1, tz1],
    ])
    faces = {"bottom": [0, 1, 2, 3], "top": [4, 5, 6, 7], "left": [0, 1, 5, 4],
             "right": [3, 2, 6, 7], "rear": [0, 3, 7, 4], "front": [1, 2, 6, 5]}
    return vertices, faces


def _wheel(x, z, radius, width, sides=14):
    angles = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = np.stack([x + radius * np.cos(angles), radius + radius * np.sin(angles)], 1)
    inner_z = z - np.sign(z) * width
    vertices = np.concatenate([np.c_[ring, np.full(sides, z)],
                               np.c_[ring, np.full(sides, inner_z)]])
    faces = {"outer": list(range(sides)), "inner": list(range(2 * sides - 1, sides - 1, -1))}
    for i in range(sides):
        j = (i + 1) % sides
        faces[f"tread{i}"] = [i, j, sides + j, sides + i]
    return vertices, faces


def _car_parts(rng, body_type: str):
    """The car as (role, vertices, faces) polyhedra, in metres, x forward, y up, z across;
    plus its length, width and antenna (two 3D points, drawn as a thin line)."""
    shape = {  # length, body height, clearance, cabin height, cabin start/end (of length)
        "sedan": ((4.4, 4.9), (0.55, 0.7), (0.16, 0.22), (0.42, 0.52), (-0.32, 0.18)),
        "hatchback": ((3.8, 4.3), (0.55, 0.7), (0.16, 0.22), (0.48, 0.58), (-0.46, 0.15)),
        "coupe": ((4.3, 4.7), (0.5, 0.6), (0.13, 0.18), (0.36, 0.44), (-0.28, 0.12)),
        "suv": ((4.5, 5.0), (0.7, 0.85), (0.25, 0.34), (0.55, 0.68), (-0.46, 0.2)),
        "pickup": ((5.2, 5.8), (0.75, 0.9), (0.28, 0.36), (0.55, 0.65), (-0.08, 0.26)),
        "van": ((4.8, 5.3), (0.8, 0.95), (0.2, 0.28), (0.8, 1.0), (-0.48, 0.3)),
    }[body_type]
    length = rng.uniform(*shape[0])
    width = rng.uniform(1.75, 2.0)
    body_height = rng.uniform(*shape[1])
    clearance = rng.uniform(*shape[2])
    cabin_height = rng.uniform(*shape[3])
    cabin_start = (shape[4][0] + rng.uniform(-0.03, 0.03)) * length
    cabin_end = (shape[4][1] + rng.uniform(-0.03, 0.03)) * length
    boxy = body_type in ("suv", "van", "hatchback")
    top_start = cabin_start + rng.uniform(0.02, 0.06 if boxy else 0.18) * length
    top_end = cabin_end - rng.uniform(0.1, 0.2) * length
    radius = rng.uniform(0.3, 0.36) + (0.05 if body_type in ("suv", "pickup") else 0.0)
    half = width / 2
    y_top = clearance + body_height
    # The body's top face is shorter than its bottom: a sloping bonnet and boot, not a box.
    front_slope = rng.uniform(0.12, 0.3)
    rear_slope = rng.uniform(0.05, 0.2) if body_type != "pickup" else 0.02
    parts = [
        ("body", *_box(-length / 2, length / 2, clearance, y_top, -half, half,
                       -length / 2 + rear_slope, length / 2 - front_slope, 0.96 * half)),
        ("cabin", *_box(cabin_start, cabin_end, y_top, y_top + cabin_height, -0.46 * width,
                        0.46 * width, top_start, top_end, 0.4 * width)),
    ]
    axle = 0.33 * length if body_type != "pickup" else 0.35 * length
    for x in (-axle, axle * 0.92):
        for z in (-half + 0.02, half - 0.02):
            parts.append(("wheel", *_wheel(x, z, radius, 0.24)))
    lamp_y0, lamp_y1 = y_top - 0.22, y_top - 0.08
    for side in (-1, 1):
        z0, z1 = side * 0.28 * width, side * 0.44 * width
        zl, zh = min(z0, z1), max(z0, z1)
        parts.append(("headlight", *_box(length / 2, length / 2 + 0.02, lamp_y0, lamp_y1, zl, zh)))
        parts.append(("taillight", *_box(-length / 2 - 0.02, -length / 2, lamp_y0, lamp_y1, zl,
                                         zh)))
        # Side mirrors stick out beside the windscreen's foot.
        mz0, mz1 = side * (half - 0.02), side * (half + 0.2)
        parts.append(("mirror", *_box(cabin_end - 0.22, cabin_end - 0.06, y_top + 0.06,
                                      y_top + 0.22, min(mz0, mz1), max(mz0, mz1))))
    roof = y_top + cabin_height
    if body_type in ("suv", "van") or (body_type == "hatchback" and rng.random() < 0.4):
        for side in (-1, 1):  # roof rails
            z0, z1 = side * 0.3 * width, side * 0.34 * width
            parts.append(("rail", *_box(top_start + 0.1, top_end - 0.1, roof, roof + 0.07,
                                        min(z0, z1), max(z0, z1))))
    # A thin whip antenna on the roof's rear, raked back (0.3-0.6 m): car in the mask.
    foot = np.array([top_start + 0.15, roof, rng.uniform(-0.1, 0.1)])
    tip = foot + [-rng.uniform(0.1, 0.3), rng.uniform(0.3, 0.6), 0.0]
    return parts, length, width, (foot, tip)


def _shade(color, normal, role):
    diffuse = max(0.0, float(normal @ _LIGHT))
    base = np.asarray(color, float) * (0.5 + 0.55 * diffuse)
    if role in ("body", "cabin") and normal[1] > 0.7:  # roof and bonnet catch the studio lights
        base = base * 0.6 + 255 * 0.4
    return tuple(int(v) for v in np.clip(base, 0, 255))


def _render_car(rng, backdrop, azimuth, car, paint, elevation, scale, center):
    """Draws one view of `car` in front of `backdrop`: returns (RGB image, {0,1} mask)."""
    width, height = backdrop.size
    parts, _, _, antenna = car
    cos_a, sin_a = np.cos(azimuth), np.sin(azimuth)
    rotation = np.array([[cos_a, 0, -sin_a], [0, 1, 0], [sin_a, 0, cos_a]])
    up = np.array([0.0, np.cos(elevation), -np.sin(elevation)])
    view = np.array([0.0, -np.sin(elevation), -np.cos(elevation)])  # from the camera

    def to_screen(points):
        sx = center[0] + scale * points[:, 0]
        sy = center[1] - scale * (points @ up)
        return np.stack([sx, sy], 1)

    polygons = []  # (depth, role, face name, screen points, normal)
    for role, vertices, faces in parts:
        world = vertices @ rotation.T
        middle = world.mean(0)
        for face_name, index in faces.items():
            points = world[index]
            normal = np.cross(points[1] - points[0], points[2] - points[0])
            if np.linalg.norm(normal) < 1e-9:
                normal = np.cross(points[2] - points[0], points[3] - points[0])
            normal = normal / np.linalg.norm(normal)
            if normal @ (points.mean(0) - middle) < 0:
                normal = -normal
            if normal @ view >= 0:  # facing away from the camera
                continue
            depth = float(points.mean(0) @ view)
            polygons.append((depth, role, face_name, to_screen(points), normal))
    polygons.sort(key=lambda item: -item[0])  # far first

    # A soft contact shadow on the disc, darkest under the car: not car in the mask.
    shadow = Image.new("L", (width, height), 0)
    body = parts[0][1][:4]
    halo = to_screen((body * [1.12, 0, 1.25]) @ rotation.T)
    core = to_screen((body * [0.98, 0, 1.02]) @ rotation.T)
    shadow_draw = ImageDraw.Draw(shadow)
    shadow_draw.polygon([tuple(p) for p in halo], fill=110)
    shadow = shadow.filter(ImageFilter.GaussianBlur(max(2, width * 0.025)))
    tight = Image.new("L", (width, height), 0)
    ImageDraw.Draw(tight).polygon([tuple(p) for p in core], fill=200)
    tight = tight.filter(ImageFilter.GaussianBlur(max(1, width * 0.006)))
    shadow = Image.fromarray(np.maximum(np.asarray(shadow), np.asarray(tight)))
    image = Image.composite(Image.new("RGB", (width, height), (34, 34, 38)), backdrop, shadow)

    mask = Image.new("L", (width, height), 0)
    glass = Image.new("L", (width, height), 0)  # visible window pixels, in painter's order
    draw, mask_draw, glass_draw = ImageDraw.Draw(image), ImageDraw.Draw(mask), ImageDraw.Draw(glass)
    for _, role, face_name, points, normal in polygons:
        xy = [tuple(p) for p in points]
        if role == "wheel":
            color = _shade((34, 34, 36) if face_name != "outer" else (26, 26, 28), normal, role)
        elif role == "headlight":
            color = (235, 235, 215)
        elif role == "taillight":
            color = (150, 20, 20)
        elif role == "rail":
            color = _shade((40, 40, 44), normal, role)
        else:
            color = _shade(paint, normal, role)
        draw.polygon(xy, fill=color)
        mask_draw.polygon(xy, fill=1)
        glass_draw.polygon(xy, fill=0)
        if role == "cabin" and face_name not in ("top", "bottom"):
            # Glass in the frame: what is behind shows through (composited below).
            inner = points.mean(0) + (points - points.mean(0)) * 0.82
            glass_draw.polygon([tuple(p) for p in inner], fill=255)
        if role == "wheel" and face_name == "outer":
            rim = points.mean(0) + (points - points.mean(0)) * 0.62
            draw.polygon([tuple(p) for p in rim], fill=(168, 170, 174))
            hub = points.mean(0) + (points - points.mean(0)) * 0.2
            draw.polygon([tuple(p) for p in hub], fill=(90, 90, 94))
        if role == "body" and face_name in ("left", "right"):
            # A reflection line along the flank.
            a, b, c, d = points
            band = [a + (d - a) * 0.55, b + (c - b) * 0.55, b + (c - b) * 0.65, a + (d - a) * 0.65]
            draw.polygon([tuple(p) for p in band], fill=_shade(np.minimum(
                np.asarray(paint) + 45, 255), normal, role))
    # The antenna: a line a pixel or two wide at native size, drawn on top (it rises above
    # the roof); car in the mask.
    line_width = max(1, round(width / 1100))
    ends = [tuple(p) for p in to_screen(np.stack(antenna) @ rotation.T)]
    draw.line(ends, fill=(24, 24, 26), width=line_width)
    mask_draw.line(ends, fill=1, width=line_width)
    glass_draw.line(ends, fill=0, width=line_width)

    pixels = np.asarray(image, np.float32)
    see_through = np.asarray(glass, np.float32)[..., None] / 255.0
    behind = np.asarray(backdrop, np.float32)
    glazed = 0.45 * behind + 0.55 * GLASS_TINT
    pixels = pixels * (1 - see_through) + glazed * see_through
    image = Image.fromarray(pixels.astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(0.6 * width / 960))
    pixels = np.asarray(image, np.float32) + rng.normal(0, 2.0, (height, width, 3))
    return np.clip(pixels, 0, 255).astype(np.uint8), np.asarray(mask, np.uint8)


def _studio_backdrop(rng, size, center):
    """The studio of one car's 16 photos: a light back wall with huge dark lettering, a grey
    floor and a slightly different grey turntable disc under the car, soft top light."""
    height, width = size
    horizon = rng.uniform(0.36, 0.44) * height
    rows = np.arange(height)[:, None].astype(np.float32)
    wall = 232 - 22 * rows / horizon
    floor = 176 - 26 * (rows - horizon) / (height - horizon)
    tone = np.where(rows < horizon, wall, floor) * np.ones((1, width), np.float32)
    columns = (np.arange(width)[None, :] - width / 2) / (width / 2)
    tone = tone - 14 * columns**2  # light falls off to the sides
    tint = rng.uniform(-3, 3, 3)
    pixels = np.clip(tone[..., None] + tint, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    draw = ImageDraw.Draw(image)
    # The turntable: an ellipse in perspective around the car's centre, with a darker rim.
    disc = rng.uniform(-10, 6)
    rx, ry = width * rng.uniform(0.55, 0.62), height * rng.uniform(0.2, 0.25)
    cx, cy = center[0], center[1] + height * 0.03
    box = [cx - rx, cy - ry, cx + rx, cy + ry]
    draw.ellipse(box, fill=tuple(int(v) for v in np.clip(166 + disc + tint, 0, 255)),
                 outline=(120, 120, 124), width=max(1, width // 480))
    # Huge dark lettering on the wall, partly behind the car.
    font_size = max(8, int(height * rng.uniform(0.2, 0.25)))
    font = ImageFont.load_default(size=font_size)
    text = "CARVANA"
    stroke = max(1, font_size // 16)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    x = (width - (right - left)) / 2 + rng.uniform(-0.04, 0.04) * width
    y = horizon - (bottom - top) * rng.uniform(1.0, 1.15)  # standing on the floor line
    draw.text((x - left, y - top), text, fill=(70, 70, 74), font=font, stroke_width=stroke,
              stroke_fill=(70, 70, 74))
    return image.filter(ImageFilter.GaussianBlur(max(0.5, width / 1600)))


def _write_gif_mask(mask, path):
    image = Image.frombytes("P", (mask.shape[1], mask.shape[0]), mask.astype(np.uint8).tobytes())
    image.putpalette([0, 0, 0, 255, 255, 255] + [0, 0, 0] * 254)  # index 1 shows white
    image.save(path, format="GIF", optimize=False)


def make_carvana_like(out, cars: int = 4, image_size=carvana.IMAGE_SIZE, seed: int = 0,
                      test_cars: int = 0, progress: bool = True) -> Path:
    """Writes a Carvana-like folder: `train/`, `train_masks/`, `train_masks.csv`, `metadata.csv`.

    Args:
        out: The folder to fill (created).
        cars: Number of cars; each gets 16 views (`<12 hex>_01.jpg` .. `_16.jpg`).
        image_size: (height, width); Carvana's is (1280, 1918).
        seed: Same seed, same files.
        test_cars: Cars written to `test/` without masks (for submissions).
        progress: Show a progress bar.

    Returns:
        `out` as a `Path`.
    """
    out = Path(out)
    for folder in ("train", "train_masks") + (("test",) if test_cars else ()):
        (out / folder).mkdir(parents=True, exist_ok=True)
    rows, metadata = [], []
    paint_names = sorted(PAINTS)
    weights = np.array([PAINT_WEIGHTS[name] for name in paint_names], float)
    total = cars + test_cars
    for car_index in tqdm(range(total), desc="generating cars", disable=not progress):
        rng = np.random.default_rng([seed, car_index])
        car_id = rng.bytes(6).hex()
        paint_name = paint_names[rng.choice(len(paint_names), p=weights / weights.sum())]
        body_type = BODY_TYPES[car_index % len(BODY_TYPES)]
        car = _car_parts(rng, body_type)
        height, width = image_size
        scale = width * rng.uniform(0.6, 0.7) / car[1]
        center = (width * rng.uniform(0.47, 0.53), height * rng.uniform(0.58, 0.64))
        elevation = np.radians(rng.uniform(8, 14))
        backdrop = _studio_backdrop(rng, image_size, center)
        is_test = car_index >= cars
        for view in range(1, carvana.VIEWS + 1):
            azimuth = -np.pi / 2 + (view - 1) * 2 * np.pi / carvana.VIEWS
            image, mask = _render_car(rng, backdrop, azimuth, car, PAINTS[paint_name],
                                      elevation, scale, center)
            name = f"{car_id}_{view:02d}.jpg"
            folder = out / ("test" if is_test else "train")
            Image.fromarray(image).save(folder / name, quality=92)
            if not is_test:
                _write_gif_mask(mask, out / "train_masks" / carvana.mask_name(name))
                rows.append((name, carvana.rle_encode(mask)))
        metadata.append((car_id, "Synthetic", body_type, paint_name))
    with (out / "train_masks.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["img", "rle_mask"])
        writer.writerows(rows)
    with (out / "metadata.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "make", "model", "paint"])
        writer.writerows(metadata)
    return out


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

        def at(s, half):
            y = horizon + (height - horizon) * s
            x = vx + (centre_bottom - vx) * s
            return x, y, half * s

        x0, y0, h0 = at(t, width * 0.012)
        x1, y1, h1 = at(t_end, width * 0.012)
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
            y = horizon + (height - horizon) * s
            edge = road_right + walk * 0.5 if side > 0 else road_left - walk * 0.5
            x = vx + (edge - vx) * s
            pole_h, pole_w = height * 0.5 * s, max(2, width * 0.008 * s)
            paint("rectangle", [x - pole_w, y - pole_h, x + pole_w, y], "pole")
            sign = width * 0.03 * s
            paint("rectangle", [x - sign, y - pole_h - sign, x + sign, y - pole_h + sign],
                  "traffic_sign")
        if rng.random() < 0.7:
            s = rng.uniform(0.3, 0.9)
            y = horizon + (height - horizon) * s
            edge = road_right + walk * 0.3 if side > 0 else road_left - walk * 0.3
            x = vx + (edge - vx) * s
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

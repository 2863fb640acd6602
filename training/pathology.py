"""Procedural H&E-like pathology tiles for the semi-synthetic cohort (GENERATED, not real slides).

``render_tile(subtype, seed, size=256) -> np.uint8 array (size, size, 3)``

Each BTXRD subtype gets a recipe built from its textbook histology (docs/cohort.md lists the
descriptions and parameters). Tissue is painted as stain concentration maps (haematoxylin H,
eosin E, red-cell R) and turned into RGB by Beer-Lambert absorption with per-tile stain vectors,
so colours vary the way H&E batches do. Stain strength, magnification, cell density, nuclear
size and noise are drawn per tile from ranges that overlap between subtypes, as real slides do.
The field of view does not depend on ``size``: a 128 tile is the same tissue as the 256 tile,
rendered at half the resolution (up to sampling).

Deterministic: the same (subtype, seed, size) gives the same bytes (numpy PCG64 + scipy).
Normal radiographs (no tumour) get no slide; ``render_tile`` refuses them.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

SUBTYPES = (
    "osteosarcoma", "giant cell tumor", "osteochondroma", "multiple osteochondromas",
    "synovial osteochondroma", "simple bone cyst", "osteofibroma", "other bt", "other mt",
)

# Optical density per unit stain, RGB: the H and E reference vectors used with Macenko et al.
# 2009 stain normalisation (estimated from scanned H&E slides); the red-cell vector is our
# choice for the orange-red of erythrocytes.
H_VEC = np.array([0.5626, 0.7201, 0.4062])
E_VEC = np.array([0.2159, 0.8012, 0.5581])
R_VEC = np.array([0.090, 0.750, 0.650])


class Canvas:
    """Stain concentration maps of one tile; lengths are in 256-tile pixels times ``unit``."""

    def __init__(self, size: int, rng: np.random.Generator, zoom: float):
        self.size = size
        self.rng = rng
        self.unit = size / 256.0 * zoom  # pixels per reference pixel
        self.H = np.zeros((size, size), np.float32)
        self.E = np.zeros((size, size), np.float32)
        self.R = np.zeros((size, size), np.float32)
        yy, xx = np.mgrid[0:size, 0:size]
        self.yy = yy.astype(np.float32)
        self.xx = xx.astype(np.float32)

    # ---- fields
    def noise(self, cell: float, order: int = 1) -> np.ndarray:
        """Smooth noise, zero mean, unit variance, correlation length ~cell (reference px).

        A coarse Gaussian lattice interpolated separably (two small matrix products):
        order 1 = linear (tent) kernel, order 3 = cubic B-spline (smoother).
        """
        S = self.size
        cell_px = max(cell * self.unit, 1.0)
        n = int(math.ceil(S / cell_px)) + 6
        low = self.rng.standard_normal((n, n)).astype(np.float32)
        off = self.rng.random(2)
        taps = ((0, 1) if order < 3 else (-1, 0, 1, 2))
        out = low
        for axis, o in enumerate(off):  # separable: rows, then columns; gathers, no BLAS
            t = np.arange(S, dtype=np.float32) / cell_px + 1.5 + o
            base = np.floor(t).astype(np.int64)
            acc = None
            for k in taps:
                a = np.abs(t - (base + k))
                if order >= 3:
                    w = np.where(a < 1, 2 / 3 - a * a + a ** 3 / 2, np.where(a < 2, (2 - a) ** 3 / 6, 0.0))
                else:
                    w = np.clip(1.0 - a, 0.0, None)
                w = w.astype(np.float32)
                part = (out[base + k, :] * w[:, None]) if axis == 0 else (out[:, base + k] * w[None, :])
                acc = part if acc is None else acc + part
            out = acc
        sd = float(out.std()) or 1.0
        return (out - float(out.mean())) / sd

    def fibers(self, theta: float, period: float, warp: float, warp_cell: float) -> np.ndarray:
        """Wavy parallel collagen bundles in [0, 1] along angle theta."""
        w = self.noise(warp_cell, order=1)
        k = 2 * math.pi / (period * self.unit)
        phase = k * (self.xx * math.cos(theta) + self.yy * math.sin(theta)) + warp * w
        return 0.5 + 0.5 * np.sin(phase)

    def streaks(self, theta: float, along: float, across: float, warp: float = 0.0) -> np.ndarray:
        """Anisotropic noise (unit variance) elongated along theta: collagen, fascicles."""
        u = self.xx * math.cos(theta) + self.yy * math.sin(theta)
        v = self.yy * math.cos(theta) - self.xx * math.sin(theta)
        if warp:
            v = v + warp * self.unit * self.noise(60)
        n = 64
        grid = self.rng.standard_normal((n, n)).astype(np.float32)
        out = ndimage.map_coordinates(grid, [v / (across * self.unit), u / (along * self.unit)],
                                      order=1, mode="wrap", prefilter=False)
        return (out - out.mean()) / (out.std() + 1e-6)

    # ---- points
    def uniform_points(self, n: int) -> np.ndarray:
        return self.rng.random((max(n, 0), 2)).astype(np.float32) * self.size

    def jittered_grid(self, n: int, jitter: float = 0.35) -> np.ndarray:
        g = max(1, int(round(math.sqrt(max(n, 1)))))
        step = self.size / g
        iy, ix = np.mgrid[0:g, 0:g]
        pts = np.stack([iy.ravel(), ix.ravel()], 1).astype(np.float32) + 0.5
        pts += (self.rng.random(pts.shape).astype(np.float32) - 0.5) * 2 * jitter
        return pts * step

    def points_in(self, mask: np.ndarray, n: int) -> np.ndarray:
        ys, xs = np.nonzero(mask)
        if len(ys) == 0 or n <= 0:
            return np.zeros((0, 2), np.float32)
        idx = self.rng.integers(0, len(ys), n)
        pts = np.stack([ys[idx], xs[idx]], 1).astype(np.float32)
        return pts + self.rng.random(pts.shape).astype(np.float32) - 0.5

    # ---- cells
    def cells(self, pts, r, aspect=1.0, theta=0.0, dark=1.0, cyto=0.0, cyto_e=0.0,
              halo=0.0, chromatin=0.35, edge=2.5, cyto_h=0.0):
        """Paint nuclei (ellipses, H) at pts; optional eosinophilic cytoplasm and clear halos.

        r, aspect, theta, dark: scalars or per-cell arrays; r in reference pixels.
        cyto: cytoplasm radius as a multiple of r (adds cyto_e eosin); halo: lacuna radius as a
        multiple of r (clears matrix: chondrocyte lacunae, retraction artefact).
        Returns the per-pixel normalised radius q (1 on the nuclear border) for reuse.
        """
        n = len(pts)
        if n == 0:
            return None
        S = self.size
        pts = np.asarray(pts, np.float32)
        full = lambda v: np.broadcast_to(np.asarray(v, np.float32), (n,)).copy()
        r, aspect, theta, dark = full(r) * self.unit, full(aspect), full(theta), full(dark)
        iy = np.clip(np.round(pts[:, 0]).astype(np.int64), 0, S - 1)
        ix = np.clip(np.round(pts[:, 1]).astype(np.int64), 0, S - 1)
        lab = np.zeros((S, S), np.int32)
        lab[iy, ix] = np.arange(1, n + 1, dtype=np.int32)
        ind = ndimage.distance_transform_edt(lab == 0, return_distances=False, return_indices=True)
        nid = lab[ind[0], ind[1]] - 1
        dy = self.yy - pts[nid, 0]
        dx = self.xx - pts[nid, 1]
        c, s = np.cos(theta)[nid], np.sin(theta)[nid]
        u = (dx * c + dy * s) / (r * aspect)[nid]
        v = (dy * c - dx * s) * (aspect / r)[nid]
        q = np.sqrt(u * u + v * v)
        nuc = np.clip((1.0 - q) * edge * r[nid] / 3.0 + 0.5, 0.0, 1.0)
        if halo > 0:
            lac = np.clip((halo - q) * 2.0, 0.0, 1.0)
            keep = 1.0 - 0.92 * lac
            self.E *= keep
            self.H *= keep
        if cyto > 0:
            c = np.clip((cyto - q) * 1.5, 0.0, 1.0) * (1.0 - nuc)
            self.E += cyto_e * c
            if cyto_h:
                self.H += cyto_h * c
        tex = 1.0 - chromatin * 0.5 + chromatin * self.rng.random((S, S)).astype(np.float32)
        self.H += dark[nid] * nuc * tex
        return q

    # ---- regions
    def blobs(self, cell: float, fraction: float) -> np.ndarray:
        """Boolean mask covering about ``fraction`` of the tile, blobby at scale ``cell``."""
        f = self.noise(cell, order=3)
        if fraction <= 0:
            return np.zeros_like(f, bool)
        if fraction >= 1:
            return np.ones_like(f, bool)
        return f > np.quantile(f, 1.0 - fraction)

    def boundary(self, mask: np.ndarray, width: float = 1.5) -> np.ndarray:
        it = max(1, int(round(width * self.unit)))
        return ndimage.binary_dilation(mask, iterations=it) & ~mask


# --------------------------------------------------------------------------- tissue pieces

def _u(rng, lo, hi):
    return float(lo + (hi - lo) * rng.random())


def _stroma(cv: Canvas, strength: float, theta=None, across=(1.5, 3.0), warp=(4, 12)):
    """Collagenous stroma: wavy eosinophilic bundles with pale clefts."""
    rng = cv.rng
    theta = _u(rng, 0, math.pi) if theta is None else theta
    f = cv.streaks(theta, _u(rng, 12, 30), _u(rng, *across), _u(rng, *warp))
    f = np.clip(0.65 + 0.3 * f, 0.05, 1.3)
    cv.E += strength * f * (0.85 + 0.15 * cv.noise(25))
    return f


def _loose_background(cv: Canvas, strength: float):
    """Fibrillary eosinophilic background (matrix, cell processes) between cells."""
    f = 0.6 + 0.2 * cv.streaks(_u(cv.rng, 0, math.pi), 6, 2, 6) + 0.15 * cv.noise(30)
    cv.E += strength * np.clip(f, 0.1, 1.3)
    cv.H += 0.08 * strength * np.clip(f, 0.1, 1.3)


def _spindle_cells(cv: Canvas, n: int, theta: float, r=(2.2, 3.2), dark=(0.9, 1.2), mask=None,
                   aspect=(1.8, 3.0)):
    rng = cv.rng
    pts = cv.uniform_points(n) if mask is None else cv.points_in(mask, n)
    k = len(pts)
    cv.cells(pts, rng.uniform(*r, k), aspect=rng.uniform(*aspect, k),
             theta=theta + rng.normal(0, 0.25, k), dark=rng.uniform(*dark, k), chromatin=0.25)


def _bone(cv: Canvas, mask: np.ndarray, strength: float, woven: bool, osteoblast_rim: float):
    """Trabeculae: dense homogeneous eosin, osteocytes in lacunae, optional osteoblast rim."""
    rng = cv.rng
    m = mask.astype(np.float32)
    m = ndimage.gaussian_filter(m, 0.8 * cv.unit)
    lines = 0.0 if woven else 0.1 * cv.streaks(_u(rng, 0, math.pi), 40, 3, 10)
    cv.E = cv.E * (1 - m) + m * strength * (1.05 + 0.08 * cv.noise(10) + lines)
    cv.H *= (1 - 0.8 * m)
    area = float(mask.mean())
    n_ocy = int(area * (260 if woven else 120) * _u(rng, 0.7, 1.3))
    pts = cv.points_in(mask, n_ocy)
    cv.cells(pts, rng.uniform(1.3, 2.0, len(pts)), aspect=rng.uniform(1.0, 1.8, len(pts)),
             theta=rng.uniform(0, math.pi, len(pts)), dark=rng.uniform(0.8, 1.1, len(pts)),
             halo=1.8, chromatin=0.2)
    if osteoblast_rim > 0:
        rim = cv.boundary(mask, 2.0)
        n = int(rim.sum() / (7.0 * cv.unit) * osteoblast_rim)
        pts = cv.points_in(rim, n)
        cv.cells(pts, rng.uniform(2.3, 3.2, len(pts)), aspect=rng.uniform(1.1, 1.6, len(pts)),
                 theta=rng.uniform(0, math.pi, len(pts)), dark=rng.uniform(1.0, 1.3, len(pts)),
                 cyto=1.8, cyto_e=0.25)


def _cartilage(cv: Canvas, mask: np.ndarray, density: float, atypia: float, clusters: float):
    """Hyaline matrix (pale blue-grey-violet) with chondrocytes in lacunae."""
    rng = cv.rng
    m = ndimage.gaussian_filter(mask.astype(np.float32), 1.0 * cv.unit)
    hue = _u(rng, 0.45, 0.9)  # hyaline matrix: basophilic, varies with decalcification
    cv.E = cv.E * (1 - m) + m * (0.3 + 0.06 * cv.noise(12))
    cv.H = cv.H * (1 - m) + m * hue * (1.0 + 0.15 * cv.noise(20) + 0.08 * cv.noise(4))
    n = int(float(mask.mean()) * density * _u(rng, 0.7, 1.3))
    if n <= 0:
        return
    n_groups = max(1, int(n * (1 - clusters)))
    centres = cv.points_in(mask, n_groups)
    per = rng.integers(1, 2 + int(4 * clusters), len(centres))
    pts = np.repeat(centres, per, axis=0)
    pts = pts + rng.normal(0, 4.5 * cv.unit, pts.shape).astype(np.float32) * (per.repeat(per) > 1)[:, None]
    k = len(pts)
    r = rng.uniform(1.3, 2.0, k) * (1 + atypia * rng.random(k))
    cv.cells(pts, r, aspect=rng.uniform(1.0, 1.4 + atypia, k), theta=rng.uniform(0, math.pi, k),
             dark=rng.uniform(1.6, 2.2, k) * (1 + 0.3 * atypia), halo=_u(rng, 2.2, 3.0),
             cyto=1.4, cyto_e=0.25, chromatin=0.2)


def _fat(cv: Canvas, mask: np.ndarray, r=(7, 14)):
    """Marrow fat: clear round vacuoles with thin septa."""
    rng = cv.rng
    n = int(float(mask.mean()) * 2.2 * (256 / (r[0] + r[1])) ** 2 * 0.25)
    pts = cv.points_in(mask, n)
    if len(pts) == 0:
        return
    S = cv.size
    lab = np.zeros((S, S), np.int32)
    iy = np.clip(pts[:, 0].astype(int), 0, S - 1)
    ix = np.clip(pts[:, 1].astype(int), 0, S - 1)
    lab[iy, ix] = np.arange(1, len(pts) + 1)
    dist, ind = ndimage.distance_transform_edt(lab == 0, return_indices=True)
    rr = np.full(len(pts) + 1, 1.0, np.float32)
    rr[1:] = rng.uniform(*r, len(pts)) * cv.unit
    radius = rr[lab[ind[0], ind[1]]]
    vac = np.clip((radius - dist) / 1.2, 0, 1) * mask
    cv.E *= 1 - vac
    cv.H *= 1 - vac
    cv.R *= 1 - vac


def _haemorrhage(cv: Canvas, mask: np.ndarray, density: float):
    """Extravasated red cells: packed small orange-red discs."""
    rng = cv.rng
    m = ndimage.gaussian_filter(mask.astype(np.float32), 1.5 * cv.unit)
    speck = (rng.random((cv.size, cv.size)) < density).astype(np.float32)
    speck = ndimage.gaussian_filter(speck, 0.9 * cv.unit) * (6.0 / max(cv.unit, 0.5))
    cv.R += m * (0.8 + 0.5 * np.clip(speck, 0, 1.2))
    cv.H *= 1 - 0.5 * m


def _necrosis(cv: Canvas, mask: np.ndarray):
    """Coagulative necrosis: ghost outlines, pale eosin, karyorrhectic dust."""
    rng = cv.rng
    m = ndimage.gaussian_filter(mask.astype(np.float32), 3.0 * cv.unit)
    cv.H = cv.H * (1 - 0.85 * m)
    cv.E = cv.E * (1 - 0.4 * m) + m * 0.45 * (0.8 + 0.2 * cv.noise(5))
    dust = (rng.random((cv.size, cv.size)) < 0.006).astype(np.float32)
    cv.H += m * ndimage.gaussian_filter(dust, 0.6 * cv.unit) * 4.0


def _tumour_cells(cv, n, r, pleo, dark, mask=None, cyto=0.0, cyto_e=0.0, aspect_hi=1.8,
                  mitoses=0.0, cyto_h=0.0):
    rng = cv.rng
    pts = cv.uniform_points(n) if mask is None else cv.points_in(mask, n)
    k = len(pts)
    if k == 0:
        return
    rad = r * np.exp(rng.normal(0, pleo, k))
    dk = dark * np.exp(rng.normal(0, 0.15 + pleo * 0.5, k))
    mit = rng.random(k) < mitoses
    dk[mit] *= 1.8
    rad[mit] *= 1.1
    cv.cells(pts, rad, aspect=rng.uniform(1.0, aspect_hi, k), theta=rng.uniform(0, math.pi, k),
             dark=dk, cyto=cyto, cyto_e=cyto_e, cyto_h=cyto_h, chromatin=0.35 + pleo)


def _giant_cells(cv: Canvas, n: int, evenly: bool, nuclei=(10, 30), radius=(11, 18)):
    """Osteoclast-like multinucleated giant cells: eosinophilic cytoplasm, many small nuclei."""
    rng = cv.rng
    centres = cv.jittered_grid(n) if evenly else cv.uniform_points(n)
    k = len(centres)
    if k == 0:
        return
    R = rng.uniform(*radius, k)
    cv.cells(centres, R, aspect=rng.uniform(1.0, 1.6, k), theta=rng.uniform(0, math.pi, k),
             dark=0.0, cyto=1.0, cyto_e=_u(rng, 0.7, 1.1), cyto_h=0.1, edge=0.8)
    pts, rs = [], []
    for c, rad in zip(centres, R):
        m = int(rng.integers(*nuclei))
        ang = rng.uniform(0, 2 * math.pi, m)
        rr = np.sqrt(rng.random(m)) * rad * 0.6 * cv.unit
        pts.append(np.stack([c[0] + rr * np.sin(ang), c[1] + rr * np.cos(ang)], 1))
    pts = np.concatenate(pts).astype(np.float32)
    m = len(pts)
    cv.cells(pts, rng.uniform(1.6, 2.2, m), aspect=rng.uniform(1.0, 1.4, m),
             theta=rng.uniform(0, math.pi, m), dark=rng.uniform(0.9, 1.2, m), chromatin=0.15)


def _vessels(cv: Canvas, n: int):
    """Thin-walled capillaries with red cells in the lumen."""
    rng = cv.rng
    pts = cv.uniform_points(n)
    if len(pts) == 0:
        return
    mask = np.zeros((cv.size, cv.size), bool)
    for (y, x) in pts:
        a, b = _u(rng, 4, 12) * cv.unit, _u(rng, 2, 5) * cv.unit
        t = _u(rng, 0, math.pi)
        u = (cv.xx - x) * math.cos(t) + (cv.yy - y) * math.sin(t)
        v = (cv.yy - y) * math.cos(t) - (cv.xx - x) * math.sin(t)
        mask |= (u / a) ** 2 + (v / b) ** 2 < 1
    wall = cv.boundary(mask, 1.0)
    cv.E *= 1 - 0.8 * mask
    cv.R += 0.5 * mask * (rng.random(mask.shape) < 0.6)
    cv.E += 0.35 * wall
    _spindle_cells(cv, int(wall.sum() / 12), 0.0, r=(1.6, 2.2), mask=wall)


# --------------------------------------------------------------------------- recipes

def _osteosarcoma(cv: Canvas):
    rng = cv.rng
    _loose_background(cv, _u(rng, 0.45, 0.75))
    # lace-like osteoid: a network of glassy pink seams between the tumour cells
    osteoid = np.abs(cv.noise(_u(rng, 10, 20), order=3))
    lace = np.clip(1.0 - osteoid / _u(rng, 0.25, 0.5), 0, 1) * (cv.noise(40) > _u(rng, -1.0, 0.4))
    lace = ndimage.gaussian_filter(lace, 0.8 * cv.unit)
    cv.E += lace * _u(rng, 0.6, 1.1)
    n = int(_u(rng, 450, 900))
    _tumour_cells(cv, n, r=_u(rng, 2.2, 3.1), pleo=_u(rng, 0.22, 0.4), dark=_u(rng, 1.2, 1.6),
                  cyto=1.9, cyto_e=0.3, cyto_h=0.1, mitoses=0.02)
    if rng.random() < 0.15:  # giant-cell-rich variant overlaps with giant cell tumour
        _giant_cells(cv, int(rng.integers(2, 6)), evenly=False)
    if rng.random() < 0.45:
        _necrosis(cv, cv.blobs(_u(rng, 30, 60), _u(rng, 0.1, 0.45)))
    if rng.random() < 0.3:
        _bone(cv, cv.blobs(_u(rng, 20, 40), _u(rng, 0.05, 0.25)), _u(rng, 1.1, 1.5), woven=True, osteoblast_rim=0.4)
    if rng.random() < 0.25:
        _haemorrhage(cv, cv.blobs(30, _u(rng, 0.05, 0.2)), 0.15)


def _giant_cell_tumor(cv: Canvas):
    rng = cv.rng
    _loose_background(cv, _u(rng, 0.45, 0.7))
    _tumour_cells(cv, int(_u(rng, 330, 600)), r=_u(rng, 2.2, 2.9), pleo=_u(rng, 0.08, 0.18),
                  dark=_u(rng, 0.9, 1.2), cyto=2.0, cyto_e=0.3, cyto_h=0.08, aspect_hi=1.6)
    _giant_cells(cv, int(_u(rng, 5, 14)), evenly=True, nuclei=(12, 40))
    if rng.random() < 0.35:
        _haemorrhage(cv, cv.blobs(35, _u(rng, 0.05, 0.25)), 0.15)
    if rng.random() < 0.15:
        _bone(cv, cv.blobs(30, _u(rng, 0.05, 0.15)), 1.3, woven=True, osteoblast_rim=0.5)


def _osteochondroma(cv: Canvas, multiple: bool = False):
    rng = cv.rng
    # cartilage cap over bone with fatty marrow; the cap boundary is a wavy line
    t = _u(rng, 0, 2 * math.pi)
    level = _u(rng, -0.4, 0.5) * cv.size
    d = (cv.xx - cv.size / 2) * math.cos(t) + (cv.yy - cv.size / 2) * math.sin(t)
    d = d + cv.noise(40, order=3) * 10 * cv.unit
    cap = d < level
    below = ~cap
    _loose_background(cv, _u(rng, 0.4, 0.6))
    _cartilage(cv, cap, density=_u(rng, 180, 320) * (1.2 if multiple else 1.0), atypia=0.05,
               clusters=_u(rng, 0.2, 0.5))
    trab = below & cv.blobs(_u(rng, 18, 30), _u(rng, 0.3, 0.55))
    _bone(cv, trab, _u(rng, 1.2, 1.6), woven=False, osteoblast_rim=0.15)
    marrow = below & ~trab
    _fat(cv, marrow)
    _tumour_cells(cv, int(marrow.mean() * 250), r=2.0, pleo=0.1, dark=1.0, mask=marrow)


def _synovial_osteochondroma(cv: Canvas):
    rng = cv.rng
    _loose_background(cv, _u(rng, 0.4, 0.65))
    nodules = cv.blobs(_u(rng, 35, 60), _u(rng, 0.35, 0.7))
    _cartilage(cv, nodules, density=_u(rng, 260, 420), atypia=_u(rng, 0.1, 0.35),
               clusters=_u(rng, 0.5, 0.85))
    rim = cv.boundary(nodules, 3.0)
    cv.E += 0.35 * ndimage.gaussian_filter(rim.astype(np.float32), 1.0)
    _spindle_cells(cv, int(rim.sum() / 14), _u(rng, 0, math.pi), r=(1.8, 2.4), mask=rim,
                   aspect=(1.0, 1.5))  # synovial lining cells
    if rng.random() < 0.4:
        _bone(cv, nodules & cv.blobs(20, 0.2), 1.0, woven=False, osteoblast_rim=0.0)


def _simple_bone_cyst(cv: Canvas):
    rng = cv.rng
    # mostly empty lumen; a thin fibrous lining band; haemorrhage; sparse cells
    t = _u(rng, 0, 2 * math.pi)
    d = (cv.xx - cv.size / 2) * math.cos(t) + (cv.yy - cv.size / 2) * math.sin(t)
    d = d + cv.noise(50, order=3) * 14 * cv.unit
    width = _u(rng, 35, 110) * cv.unit
    off = _u(rng, -60, 60) * cv.unit
    lining = np.abs(d - off) < width / 2
    f = _stroma(cv, _u(rng, 0.55, 0.85), theta=t + math.pi / 2)
    cv.E *= lining
    _spindle_cells(cv, int(lining.mean() * _u(rng, 90, 180)), t + math.pi / 2, mask=lining)
    if rng.random() < 0.5:
        _bone(cv, lining & cv.blobs(15, 0.15), 1.0, woven=True, osteoblast_rim=0.2)  # cementum-like
    if rng.random() < 0.7:
        _haemorrhage(cv, lining & cv.blobs(20, _u(rng, 0.1, 0.5)), 0.2)
    if rng.random() < 0.3:
        _giant_cells(cv, int(rng.integers(1, 3)), evenly=False, nuclei=(6, 14), radius=(8, 12))
        cv.E *= lining | (cv.E > 0.4)


def _osteofibroma(cv: Canvas):
    rng = cv.rng
    theta = _u(rng, 0, math.pi)
    _stroma(cv, _u(rng, 0.55, 0.85), theta=theta)
    _spindle_cells(cv, int(_u(rng, 250, 450)), theta, r=(1.8, 2.6), dark=(0.9, 1.2))
    bone = cv.blobs(_u(rng, 10, 18), _u(rng, 0.12, 0.3))
    bone = ndimage.binary_opening(bone, iterations=1)
    _bone(cv, bone, _u(rng, 1.2, 1.6), woven=True, osteoblast_rim=_u(rng, 0.5, 0.9))


def _other_bt(cv: Canvas):
    """Heterogeneous benign group: fibrous (NOF-like), chondroma-like, vascular, osteoid osteoma-like."""
    rng = cv.rng
    kind = int(rng.integers(0, 4))
    if kind == 0:  # storiform fibrous with scattered giant cells and haemosiderin-laden cells
        _stroma(cv, _u(rng, 0.5, 0.8))
        _spindle_cells(cv, int(_u(rng, 250, 450)), _u(rng, 0, math.pi), r=(1.8, 2.6))
        _giant_cells(cv, int(rng.integers(1, 5)), evenly=False, nuclei=(6, 16), radius=(8, 13))
    elif kind == 1:  # enchondroma-like lobules of bland cartilage
        _loose_background(cv, 0.3)
        _cartilage(cv, cv.blobs(_u(rng, 40, 70), _u(rng, 0.5, 0.85)), density=_u(rng, 150, 260),
                   atypia=0.05, clusters=0.3)
    elif kind == 2:  # haemangioma-like: vessels in loose stroma
        _loose_background(cv, _u(rng, 0.45, 0.7))
        _vessels(cv, int(rng.integers(8, 20)))
        _spindle_cells(cv, int(_u(rng, 60, 140)), _u(rng, 0, math.pi))
    else:  # osteoid osteoma / osteoblastoma-like: interlacing osteoid rimmed by osteoblasts
        _loose_background(cv, _u(rng, 0.45, 0.7))
        _vessels(cv, int(rng.integers(3, 8)))
        bone = cv.blobs(_u(rng, 8, 14), _u(rng, 0.25, 0.45))
        _bone(cv, bone, _u(rng, 1.1, 1.5), woven=True, osteoblast_rim=0.9)


def _other_mt(cv: Canvas):
    """Malignant non-osteosarcoma group: Ewing-like small round blue cells, chondrosarcoma-like,
    or spindle-cell sarcoma."""
    rng = cv.rng
    kind = int(rng.integers(0, 4))
    if kind <= 1:  # Ewing-like: sheets of small uniform round cells, scant cytoplasm
        _loose_background(cv, _u(rng, 0.25, 0.45))
        _tumour_cells(cv, int(_u(rng, 1400, 2000)), r=_u(rng, 2.0, 2.6), pleo=_u(rng, 0.04, 0.1),
                      dark=_u(rng, 1.3, 1.7), aspect_hi=1.2, mitoses=0.01, cyto=1.4, cyto_e=0.15, cyto_h=0.1)
        if rng.random() < 0.5:
            _necrosis(cv, cv.blobs(_u(rng, 30, 60), _u(rng, 0.1, 0.3)))
        if rng.random() < 0.3:
            _stroma(cv, 0.25)
    elif kind == 2:  # chondrosarcoma-like: hypercellular cartilage with atypical nuclei
        _loose_background(cv, 0.25)
        _cartilage(cv, cv.blobs(_u(rng, 40, 70), _u(rng, 0.6, 0.95)), density=_u(rng, 350, 600),
                   atypia=_u(rng, 0.4, 0.9), clusters=0.4)
    else:  # spindle-cell sarcoma: fascicles of atypical spindle cells
        theta = _u(rng, 0, math.pi)
        _stroma(cv, _u(rng, 0.45, 0.7), theta=theta)
        _spindle_cells(cv, int(_u(rng, 600, 900)), theta, r=(2.2, 3.4), dark=(1.2, 1.7))
        if rng.random() < 0.3:
            _necrosis(cv, cv.blobs(40, 0.2))


RECIPES = {
    "osteosarcoma": _osteosarcoma,
    "giant cell tumor": _giant_cell_tumor,
    "osteochondroma": _osteochondroma,
    "multiple osteochondromas": lambda cv: _osteochondroma(cv, multiple=True),
    "synovial osteochondroma": _synovial_osteochondroma,
    "simple bone cyst": _simple_bone_cyst,
    "osteofibroma": _osteofibroma,
    "other bt": _other_bt,
    "other mt": _other_mt,
}


def _finish(cv: Canvas) -> np.ndarray:
    """Stain mixing (Beer-Lambert) with per-tile stain variation, optics and sensor noise."""
    rng = cv.rng
    # tissue gaps: tears / edge of section (white), common in real tiles
    if rng.random() < 0.45:
        f = cv.noise(_u(rng, 25, 90), order=3) + 0.35 * cv.noise(6) + 0.15 * cv.noise(2)
        gap = f > np.quantile(f, 1.0 - _u(rng, 0.05, 0.35))  # ragged tear / section edge
        g = ndimage.gaussian_filter(gap.astype(np.float32), 0.7 * cv.unit)
        for A in (cv.H, cv.E, cv.R):
            A *= 1 - g
    h_vec = H_VEC + rng.normal(0, 0.04, 3)
    e_vec = E_VEC + rng.normal(0, 0.04, 3)
    h_vec = np.clip(h_vec, 0.02, None) / np.linalg.norm(h_vec)
    e_vec = np.clip(e_vec, 0.02, None) / np.linalg.norm(e_vec)
    h_amt = _u(rng, 0.75, 1.15)   # stain batch / section thickness variation
    e_amt = _u(rng, 0.7, 1.2)
    od = (cv.H[..., None] * (h_amt * h_vec) + cv.E[..., None] * (e_amt * e_vec)
          + cv.R[..., None] * (0.9 * R_VEC))
    od += np.array([0.02, 0.04, 0.03]) * _u(rng, 0.5, 1.5)  # glass / mounting medium
    blur = _u(rng, 0.4, 0.9) * cv.unit
    od = ndimage.gaussian_filter(od, (blur, blur, 0))
    rgb = 250.0 * np.exp(-od)
    rgb += rng.normal(0, _u(rng, 1.0, 3.5), rgb.shape)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def render_tile(subtype: str, seed: int, size: int = 256) -> np.ndarray:
    """A GENERATED H&E-like tile for a BTXRD tumour subtype: uint8 array (size, size, 3)."""
    if subtype not in RECIPES:
        raise ValueError(f"no slide recipe for subtype {subtype!r} (normal radiographs get no slide); "
                         f"known: {', '.join(SUBTYPES)}")
    if size < 16:
        raise ValueError(f"tile size must be >= 16 px, got {size}")
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, SUBTYPES.index(subtype)])
    zoom = float(np.exp(rng.normal(0, 0.15)))  # magnification / scanner variation
    cv = Canvas(size, rng, zoom)
    RECIPES[subtype](cv)
    return _finish(cv)


if __name__ == "__main__":
    import argparse
    import time
    ap = argparse.ArgumentParser(description="Time render_tile per subtype on one core.")
    ap.add_argument("-n", type=int, default=20, help="tiles per subtype")
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()
    total = []
    for st in SUBTYPES:
        t0 = time.perf_counter()
        for s in range(a.n):
            render_tile(st, s, a.size)
        ms = (time.perf_counter() - t0) / a.n * 1000
        total.append(ms)
        print(f"{st:26s} {ms:6.1f} ms/tile")
    print(f"{'mean':26s} {sum(total) / len(total):6.1f} ms/tile (size {a.size}, n={a.n} per subtype)")

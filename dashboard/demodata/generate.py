"""Deterministic generator for the demo street 西一路街道 (新城区, 西安市).

Everything here is synthetic: the boundary, the grids, the people, the phone
numbers and the places are invented.  Only the rough location (around
34.262-34.276 N, 108.946-108.968 E, WGS-84) and some street names are real.

Usage::

    python -m dashboard.demodata.generate --seed 20261129 --out data/xiyilu

Running it twice with the same seed gives byte-identical files.  Randomness
comes only from ``numpy.random.default_rng(seed)`` and ``random.Random(seed)``.

Geometry is built in a local kilometre plane (so grid cells are roughly
isotropic on the ground), then mapped to degrees by an affine transform and
clipped to the street boundary in degrees.  Cells of a Voronoi diagram are
convex and the boundary is convex, so every grid is a convex polygon: the
straight line between two points of a grid stays in that grid.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import random
import re
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import shapely
from shapely.geometry import MultiPoint, Polygon, box, mapping
from shapely.geometry.polygon import orient

DEFAULT_SEED = 20261129
DEFAULT_OUT = "data/xiyilu"

STREET_CODE = "610102001"
STREET_NAME = "西一路街道"
DISTRICT = "新城区"
CITY = "西安市"

N_GRIDS = 301
N_WORKERS = 490
N_COMMUNITIES = 9
LLOYD_ITERATIONS = 6

# Centre of the street and the size of one degree there (km).
LON0, LAT0 = 108.957, 34.269
KM_PER_DEG_LAT = 110.95
KM_PER_DEG_LON = 111.32 * math.cos(math.radians(LAT0))
# Semi-axes of the ellipse the boundary is drawn around (km): ~2 km² after hulling.
SEMI_X_KM, SEMI_Y_KM = 0.98, 0.72

COMMUNITY_NAMES = [
    "兴乐社区", "西一路社区", "尚俭路社区", "崇礼路社区", "后宰门社区",
    "东厅门社区", "北新街社区", "新城坊社区", "皇城西路社区",
]

ROADS = [
    "西一路", "西二路", "西四路", "西五路", "西七路", "北大街", "尚德路", "尚俭路",
    "尚勤路", "崇礼路", "后宰门", "东厅门", "西华门", "北新街", "皇城西路", "吉庆巷",
    "红埠街", "北马道巷", "玄风桥", "新城北巷", "兴乐坊", "西新街", "雷神庙巷", "九府街",
]
# roughly east-west and north-south roads, for plausible crossing names
ROADS_EW = ["西一路", "西二路", "西四路", "西五路", "西七路", "西新街", "后宰门", "红埠街", "西华门"]
ROADS_NS = ["北大街", "尚德路", "尚俭路", "尚勤路", "北新街", "崇礼路", "皇城西路", "吉庆巷"]

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
    "苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史"
)
GIVEN_CHARS = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国红梅玉兰志强文斌丹萍鹏辉"
    "宁晨浩然雪婷瑞欣佳怡子涵一鸣俊峰海燕小龙晓东亚楠永红秋云春生建军卫东爱华淑珍凤琴"
)

# ---------------------------------------------------------------- categories
# major_code, major_name, minor_name, time_limit_hours, default_priority, weight,
# onsite_share, keywords
CATEGORY_TABLE: list[tuple[str, str, str, int, int, float, float, str]] = [
    ("01", "市容环境", "暴露垃圾", 4, 3, 14.0, 0.80, "垃圾;堆放;清运"),
    ("01", "市容环境", "乱堆物料", 8, 3, 6.0, 0.60, "杂物;堆物;建材"),
    ("01", "市容环境", "占道经营", 4, 3, 8.0, 0.70, "摊贩;出店;占道"),
    ("01", "市容环境", "乱贴广告", 8, 4, 6.0, 0.85, "小广告;张贴;涂鸦"),
    ("01", "市容环境", "道路破损", 48, 3, 3.0, 0.05, "坑槽;路面;破损"),
    ("01", "市容环境", "乱停乱放", 4, 3, 7.0, 0.65, "共享单车;车辆;停放"),
    ("01", "市容环境", "违规晾晒", 8, 4, 2.0, 0.90, "晾晒;衣物;沿街"),
    ("02", "矛盾纠纷", "邻里纠纷", 24, 2, 3.0, 0.40, "邻里;噪音;漏水"),
    ("02", "矛盾纠纷", "家庭纠纷", 24, 2, 1.5, 0.30, "家庭;婚姻;赡养"),
    ("02", "矛盾纠纷", "物业纠纷", 48, 3, 2.0, 0.20, "物业;收费;维修"),
    ("02", "矛盾纠纷", "劳资纠纷", 72, 2, 1.0, 0.10, "欠薪;工资;劳务"),
    ("03", "治安隐患", "可疑人员", 2, 1, 1.0, 0.20, "可疑;陌生人;徘徊"),
    ("03", "治安隐患", "群租房", 24, 2, 1.5, 0.10, "群租;隔断;出租屋"),
    ("03", "治安隐患", "非法小广告涉诈", 8, 2, 1.0, 0.50, "诈骗;贷款;办证"),
    ("04", "安全隐患", "消防通道堵塞", 2, 1, 4.0, 0.60, "消防通道;堵塞;占用"),
    ("04", "安全隐患", "燃气隐患", 2, 1, 1.5, 0.10, "燃气;泄漏;气味"),
    ("04", "安全隐患", "电动车违规充电", 4, 1, 4.0, 0.70, "飞线;充电;楼道"),
    ("04", "安全隐患", "消防设施损坏", 24, 2, 2.0, 0.20, "灭火器;消防栓;过期"),
    ("04", "安全隐患", "建筑物安全隐患", 24, 2, 1.0, 0.05, "外墙;脱落;危房"),
    ("05", "特殊人群动态", "社区矫正人员动态", 24, 2, 0.6, 0.50, "矫正;请假;外出"),
    ("05", "特殊人群动态", "重点精神障碍患者动态", 4, 1, 0.6, 0.30, "精神;服药;异常"),
    ("05", "特殊人群动态", "独居老人关爱", 24, 3, 2.0, 0.80, "独居;老人;探访"),
    ("06", "民生诉求", "就业帮扶", 72, 4, 1.0, 0.30, "就业;求职;培训"),
    ("06", "民生诉求", "社会救助", 72, 3, 1.0, 0.20, "低保;救助;困难"),
    ("06", "民生诉求", "供水供暖问题", 24, 2, 2.0, 0.05, "停水;暖气;水压"),
    ("06", "民生诉求", "噪音扰民", 8, 3, 2.5, 0.40, "噪音;施工;夜间"),
    ("06", "民生诉求", "政策咨询", 48, 4, 2.0, 0.90, "咨询;医保;社保"),
    ("07", "突发事件", "火情", 1, 1, 0.3, 0.05, "起火;冒烟;火情"),
    ("07", "突发事件", "人员受伤", 1, 1, 0.3, 0.20, "摔倒;受伤;急救"),
    ("07", "突发事件", "积水内涝", 2, 1, 0.6, 0.10, "积水;内涝;暴雨"),
    ("07", "突发事件", "管道爆裂", 2, 1, 0.4, 0.05, "爆管;漏水;抢修"),
    ("08", "设施部件", "井盖缺失", 4, 1, 1.5, 0.10, "井盖;缺失;破损"),
    ("08", "设施部件", "路灯损坏", 24, 3, 3.0, 0.05, "路灯;不亮;损坏"),
    ("08", "设施部件", "垃圾箱损坏", 24, 4, 1.5, 0.30, "垃圾桶;破损;缺失"),
    ("08", "设施部件", "健身器材损坏", 48, 4, 1.0, 0.10, "健身器材;损坏;松动"),
    ("08", "设施部件", "交通标志损坏", 48, 3, 0.8, 0.05, "标志牌;倾斜;遮挡"),
]

# urgent categories: their time limit counts natural hours from the report, around the clock (issue 27 item 3)
NATURAL_CLOCK = {"火情", "人员受伤", "燃气隐患", "积水内涝", "管道爆裂", "消防通道堵塞", "可疑人员", "井盖缺失",
                 "电动车违规充电", "重点精神障碍患者动态"}

# departments cases are routed to: name, contact, the categories (small-class names, or a whole major) they take
DEPARTMENT_TABLE: list[tuple[str, str, tuple[str, ...]]] = [
    ("街道城管执法中队", "值班室 029-8721 0110", ("市容环境",)),
    ("消防救援站", "119 / 值班室 029-8721 0119", ("火情", "消防通道堵塞", "消防设施损坏", "电动车违规充电")),
    ("燃气公司抢修中心", "96777", ("燃气隐患",)),
    ("市政设施养护所", "029-8721 0220", ("设施部件", "道路破损", "积水内涝")),
    ("供水热力抢修队", "96566", ("供水供暖问题", "管道爆裂")),
    ("派出所社区警务室", "110 / 029-8721 0330", ("治安隐患",)),
    ("综治中心（矛盾调解）", "029-8721 0440", ("矛盾纠纷", "噪音扰民")),
    ("街道民政办", "029-8721 0550", ("特殊人群动态", "社会救助", "就业帮扶", "政策咨询")),
    ("街道安全生产办", "029-8721 0660", ("安全隐患",)),
    ("社区卫生服务中心", "120 / 029-8721 0770", ("人员受伤",)),
]

RESIDENT_CATEGORIES = [
    "户籍人口", "流动人口", "境外人员", "60岁以上老人", "残疾人", "低保户", "特殊人群", "党员",
]


# ================================================================== helpers
class Rand:
    """The two random sources allowed: numpy's default_rng and random.Random."""

    def __init__(self, seed: int) -> None:
        self.np = np.random.default_rng(seed)
        self.py = random.Random(seed)


def km_to_deg(xy: np.ndarray) -> np.ndarray:
    out = np.empty_like(xy, dtype=float)
    out[:, 0] = LON0 + xy[:, 0] / KM_PER_DEG_LON
    out[:, 1] = LAT0 + xy[:, 1] / KM_PER_DEG_LAT
    return out


def deg_to_km(xy: np.ndarray) -> np.ndarray:
    out = np.empty_like(xy, dtype=float)
    out[:, 0] = (xy[:, 0] - LON0) * KM_PER_DEG_LON
    out[:, 1] = (xy[:, 1] - LAT0) * KM_PER_DEG_LAT
    return out


def poly_deg_to_km(p: Polygon) -> Polygon:
    return Polygon(deg_to_km(np.asarray(p.exterior.coords)))


def poly_km_to_deg(p: Polygon) -> Polygon:
    return Polygon(km_to_deg(np.asarray(p.exterior.coords)))


def fmt_coord(v: float) -> str:
    return f"{v:.6f}"


# ================================================================= geometry
def make_street(r: Rand) -> Polygon:
    """A convex, irregular polygon around the centre; vertices on a 1e-7° lattice."""
    n = 15
    base = np.linspace(0.0, 2 * math.pi, n, endpoint=False)
    ang = base + r.np.uniform(-0.15, 0.15, n) + 0.1
    rad = r.np.uniform(0.93, 1.04, n)
    xy = np.column_stack([SEMI_X_KM * rad * np.cos(ang), SEMI_Y_KM * rad * np.sin(ang)])
    deg = np.round(km_to_deg(xy), 7)
    hull = MultiPoint(deg).convex_hull
    # convex hull of lattice points keeps lattice coordinates
    return orient(Polygon(hull.exterior.coords), 1.0)


def random_points_in(poly: Polygon, n: int, r: Rand) -> np.ndarray:
    minx, miny, maxx, maxy = poly.bounds
    pts: list[np.ndarray] = []
    got = 0
    shapely.prepare(poly)
    while got < n:
        cand = np.column_stack([r.np.uniform(minx, maxx, 4 * n), r.np.uniform(miny, maxy, 4 * n)])
        ok = cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]
        pts.append(ok)
        got += len(ok)
    return np.concatenate(pts)[:n]


def voronoi_cells(seeds_km: np.ndarray, envelope_km: Polygon) -> list[Polygon]:
    vor = shapely.voronoi_polygons(MultiPoint(seeds_km), extend_to=envelope_km, ordered=True)
    return list(vor.geoms)


def make_grids(street: Polygon, r: Rand) -> list[Polygon]:
    """301 Lloyd-relaxed Voronoi cells clipped to the street (degrees)."""
    street_km = poly_deg_to_km(street)
    envelope_km = box(-5.0, -5.0, 5.0, 5.0)
    seeds = random_points_in(street_km, N_GRIDS, r)
    for _ in range(LLOYD_ITERATIONS):
        cells = voronoi_cells(seeds, envelope_km)
        clipped = shapely.intersection(np.asarray(cells, dtype=object), street_km)
        cents = shapely.centroid(clipped)
        seeds = np.column_stack([shapely.get_x(cents), shapely.get_y(cents)])
    cells = voronoi_cells(seeds, envelope_km)
    cells_deg = [poly_km_to_deg(c) for c in cells]
    grids = []
    for c in cells_deg:
        g = c.intersection(street)
        if g.geom_type != "Polygon" or g.is_empty:
            raise RuntimeError(f"grid clip gave {g.geom_type}")
        grids.append(orient(shapely.normalize(g), 1.0))
    return grids


def round_polys(polys: Sequence[Polygon], nd: int = 7) -> list[Polygon]:
    out = []
    for p in polys:
        coords = np.round(np.asarray(p.exterior.coords), nd)
        q = Polygon(coords)
        q = q.simplify(0.0)  # drop duplicate vertices created by rounding
        out.append(orient(q, 1.0))
    return out


def tiling_errors(street: Polygon, polys: Sequence[Polygon]) -> list[str]:
    """Empty list if ``polys`` tile ``street``: valid, single, overlap-free, same union."""
    errs: list[str] = []
    arr = np.asarray(polys, dtype=object)
    if not all(p.geom_type == "Polygon" for p in polys):
        errs.append("not all single Polygons")
    if not np.all(shapely.is_valid(arr)):
        errs.append("invalid polygon")
    tree = shapely.STRtree(arr)
    left, right = tree.query(arr, predicate="intersects")
    m = left < right
    if m.any():
        inter = shapely.area(shapely.intersection(arr[left[m]], arr[right[m]]))
        if inter.max() >= 1e-12:
            errs.append(f"overlap {inter.max():.3g}")
    total = float(shapely.area(arr).sum())
    if abs(total - street.area) > 1e-9 * street.area:
        errs.append(f"area sum {total} != street {street.area}")
    union = shapely.union_all(arr)
    sym = union.symmetric_difference(street).area
    if sym > 1e-9 * street.area:
        errs.append(f"union differs by {sym:.3g}")
    return errs


def convexity_defect(p: Polygon) -> float:
    return (p.convex_hull.area - p.area) / p.area


# =============================================================== communities
def assign_communities(grids: list[Polygon]) -> list[int]:
    """Cut the grids into 3 vertical strips of ~100, each into 3 blocks of ~33.

    Community index 0..8 numbers strips west→east and blocks north→south.  If a
    block is not contiguous, its stray pieces are handed to a neighbouring
    community that shares an edge with them.
    """
    n = len(grids)
    cx = np.array([g.centroid.x for g in grids])
    cy = np.array([g.centroid.y for g in grids])
    comm = np.empty(n, dtype=int)
    order_x = np.lexsort((cy, cx))
    strips = np.array_split(order_x, 3)
    for s, idx in enumerate(strips):
        idx_sorted = idx[np.lexsort((cx[idx], -cy[idx]))]
        for b, block in enumerate(np.array_split(idx_sorted, 3)):
            comm[block] = 3 * s + b
    arr = np.asarray(grids, dtype=object)
    tree = shapely.STRtree(arr)
    for _ in range(50):
        changed = False
        for c in range(N_COMMUNITIES):
            members = np.flatnonzero(comm == c)
            u = shapely.union_all(arr[members])
            if u.geom_type == "Polygon":
                continue
            parts = sorted(u.geoms, key=lambda g: -g.area)
            for part in parts[1:]:
                stray = [i for i in members if part.covers(arr[i].representative_point())]
                for i in stray:
                    nb = tree.query(arr[i], predicate="intersects")
                    best, best_len = None, 0.0
                    for j in nb:
                        if comm[j] == c:
                            continue
                        shared = arr[i].intersection(arr[j]).length
                        if shared > best_len:
                            best, best_len = comm[j], shared
                    if best is not None:
                        comm[i] = best
                        changed = True
        if not changed:
            break
    return comm.tolist()


# ===================================================================== names
class NameMaker:
    def __init__(self, r: Rand) -> None:
        self.r = r
        self.used: set[str] = set()
        self.sur = list(SURNAMES)
        # heavier weight on the most common surnames (listed first)
        w = 1.0 / np.arange(1, len(self.sur) + 1) ** 0.6
        self.sur_w = (w / w.sum()).tolist()
        self.given = list(GIVEN_CHARS)

    def person(self) -> str:
        py = self.r.py
        while True:
            s = py.choices(self.sur, weights=self.sur_w)[0]
            g = "".join(py.choice(self.given) for _ in range(1 if py.random() < 0.3 else 2))
            name = s + g
            if name not in self.used:
                self.used.add(name)
                return name


class PhoneMaker:
    PREFIXES = ["133", "135", "136", "137", "138", "139", "150", "151", "152", "153",
                "155", "156", "157", "158", "159", "166", "173", "176", "177", "180",
                "181", "182", "183", "185", "186", "187", "188", "189", "191", "199"]

    def __init__(self, r: Rand) -> None:
        self.r = r
        self.used: set[str] = set()

    def __call__(self) -> str:
        while True:
            p = self.r.py.choice(self.PREFIXES) + f"{self.r.py.randrange(10**8):08d}"
            if p not in self.used:
                self.used.add(p)
                return p


# ================================================================== points
class PointMaker:
    """Random points strictly inside a grid (≥ ~1 m from its edges), 6 decimals."""

    def __init__(self, grids: list[Polygon], r: Rand) -> None:
        self.grids = grids
        self.inner = [g.buffer(-1.5e-5) for g in grids]
        for g in self.grids:
            shapely.prepare(g)
        self.r = r

    def __call__(self, gi: int) -> tuple[float, float]:
        inner = self.inner[gi]
        if inner.is_empty:
            inner = self.grids[gi].buffer(-2e-6)
        minx, miny, maxx, maxy = inner.bounds
        for _ in range(10000):
            x = round(float(self.r.np.uniform(minx, maxx)), 6)
            y = round(float(self.r.np.uniform(miny, maxy)), 6)
            if shapely.contains_xy(inner, x, y) and shapely.contains_xy(self.grids[gi], x, y):
                return y, x
        raise RuntimeError(f"no point inside grid {gi}")


# ==================================================================== output
def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        w.writerow(["" if v is None else v for v in row])
    path.write_bytes(buf.getvalue().encode("utf-8"))


def write_geojson(path: Path, features: list[tuple[dict, Polygon]]) -> None:
    lines = []
    for props, geom in features:
        feat = {"type": "Feature", "properties": props, "geometry": mapping(geom)}
        lines.append(json.dumps(feat, ensure_ascii=False, separators=(",", ":")))
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_bytes(text.encode("utf-8"))


# ==================================================================== main
def generate(out: Path | str = DEFAULT_OUT, seed: int = DEFAULT_SEED) -> dict[str, int]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    r = Rand(seed)

    # ---- street and grids
    street = make_street(r)
    grids = make_grids(street, r)
    if tiling_errors(street, grids):
        raise RuntimeError(f"grids do not tile the street: {tiling_errors(street, grids)}")
    rounded = round_polys(grids, 7)
    if not tiling_errors(street, rounded) and max(convexity_defect(p) for p in rounded) < 1e-9:
        grids = rounded

    comm_of = assign_communities(grids)
    # order grids inside each community north→south, west→east
    cx = [g.centroid.x for g in grids]
    cy = [g.centroid.y for g in grids]
    by_comm: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(comm_of):
        by_comm[c].append(i)
    comm_codes = [f"{STREET_CODE}{c + 1:03d}" for c in range(N_COMMUNITIES)]
    grid_rows: list[dict[str, Any]] = []  # in output order
    for c in range(N_COMMUNITIES):
        members = sorted(by_comm[c], key=lambda i: (-round(cy[i], 4), cx[i]))
        for k, i in enumerate(members, start=1):
            grid_rows.append({
                "code": f"{comm_codes[c]}{k:03d}",
                "name": f"{COMMUNITY_NAMES[c]}第{k:02d}网格",
                "community": c,
                "geom": grids[i],
            })
    G = len(grid_rows)
    gpolys = [g["geom"] for g in grid_rows]
    gcodes = [g["code"] for g in grid_rows]
    gcomm = [g["community"] for g in grid_rows]
    comm_grids: dict[int, list[int]] = defaultdict(list)
    for gi, c in enumerate(gcomm):
        comm_grids[c].append(gi)

    write_geojson(out / "street.geojson", [(
        {"code": STREET_CODE, "name": STREET_NAME, "district": DISTRICT, "city": CITY}, street)])
    comm_feats = []
    for c in range(N_COMMUNITIES):
        u = shapely.union_all([gpolys[i] for i in comm_grids[c]])
        if u.geom_type != "Polygon":
            raise RuntimeError(f"community {c} is not one polygon")
        u = orient(shapely.normalize(u), 1.0)
        comm_feats.append(({"code": comm_codes[c], "name": COMMUNITY_NAMES[c],
                            "street_code": STREET_CODE}, u))
    write_geojson(out / "communities.geojson", comm_feats)
    write_geojson(out / "grids.geojson", [
        ({"code": g["code"], "name": g["name"], "community_code": comm_codes[g["community"]],
          "community_name": COMMUNITY_NAMES[g["community"]], "level": 3}, g["geom"])
        for g in grid_rows])

    names = NameMaker(r)
    phone = PhoneMaker(r)
    point = PointMaker(gpolys, r)
    py = r.py

    # ---- workers
    second = sorted(py.sample(range(G), N_WORKERS - G))
    primary_grid = list(range(G)) + second
    worker_rows = []
    device_ids: set[str] = set()
    leaders = {comm_grids[c][0] for c in range(N_COMMUNITIES)}  # first grid's first worker
    part_time = set(py.sample(range(G, N_WORKERS), 40))
    shifts = ["day"] * N_WORKERS
    idx = list(range(N_WORKERS))
    py.shuffle(idx)
    for k in idx[:70]:
        shifts[k] = "evening"
    for k in idx[70:84]:
        shifts[k] = "night"
    for w, gi in enumerate(primary_grid):
        while True:
            dev = f"XY{py.randrange(10**6):06d}"
            if dev not in device_ids:
                device_ids.add(dev)
                break
        if w < G and gi in leaders:
            role, shift = "网格长", "day"
        elif w in part_time:
            role, shift = "兼职网格员", shifts[w]
        else:
            role, shift = "专职网格员", shifts[w]
        worker_rows.append([f"W{w + 1:04d}", names.person(), phone(), dev, gcodes[gi], role, shift])
    write_csv(out / "workers.csv",
              ["worker_code", "name", "phone", "device_id", "grid_code", "role", "shift"],
              worker_rows)

    # ---- places
    places: list[dict[str, Any]] = []
    road_no: dict[str, int] = defaultdict(int)

    def address(road: str | None = None) -> str:
        road = road or py.choice(ROADS)
        road_no[road] += py.randint(1, 6)
        return f"{CITY}{DISTRICT}{road}{road_no[road]}号"

    def add(kind: str, code: str, name: str, gi: int, parent: str = "", households: Any = "",
            floors: Any = "", road: str | None = None) -> dict[str, Any]:
        lat, lon = point(gi)
        row = {"place_code": code, "kind": kind, "name": name, "grid_code": gcodes[gi],
               "parent_code": parent, "lat": lat, "lon": lon, "address": address(road),
               "households": households, "floors": floors, "gi": gi}
        places.append(row)
        return row

    compound_grids = sorted(py.sample(range(G), 120))
    compound_names: list[str] = []
    fixed = ["吉庆巷2号院", "皇城西路新华苑小区"]
    used_names = set(fixed)
    styles = ["{r}{n}号院", "{r}{w}小区", "{w}家属院", "{r}{w}苑", "{w}小区"]
    words = ["新华", "兴乐", "尚德", "崇文", "和平", "长乐", "金城", "惠民", "安居", "鑫苑",
             "民乐", "颐和", "文景", "华庭", "怡园", "雅居", "铁路局", "电力", "邮电", "省委",
             "医药", "纺织", "建工", "机械厂", "商业局", "五金", "汇融", "锦绣", "东方", "嘉园"]
    while len(compound_names) < 118:
        st = py.choice(styles)
        nm = st.format(r=py.choice(ROADS), n=py.randint(1, 80), w=py.choice(words))
        if nm not in used_names:
            used_names.add(nm)
            compound_names.append(nm)
    # the two required names go to fixed positions in the list
    compound_names.insert(7, fixed[0])
    compound_names.insert(42, fixed[1])
    bseq = 0
    compounds: list[dict[str, Any]] = []
    buildings: list[dict[str, Any]] = []
    for k, (gi, nm) in enumerate(zip(compound_grids, compound_names), start=1):
        road = next((rd for rd in ROADS if nm.startswith(rd)), None)
        crow = add("compound", f"CP{k:04d}", nm, gi, road=road)
        m = re.fullmatch(r"(.+?)(\d+)号院", nm)
        if m:  # "吉庆巷2号院" lies at 吉庆巷2号
            crow["address"] = f"{CITY}{DISTRICT}{m.group(1)}{m.group(2)}号"
        compounds.append(crow)
        total = 0
        for b in range(1, py.randint(2, 8) + 1):
            bseq += 1
            floors = py.choice([5, 6, 6, 6, 7, 11, 18, 24, 28, 33])
            per_floor = py.choice([2, 2, 3, 4]) * py.choice([1, 2, 3])
            hh = min(floors * per_floor, 240)
            total += hh
            brow = add("building", f"BD{bseq:05d}", f"{nm}{b}号楼", gi, parent=crow["place_code"],
                       households=hh, floors=floors)
            brow["address"] = f"{crow['address']}{b}号楼"
            buildings.append(brow)
        crow["households"] = total
    shop_kinds = ["面馆", "羊肉泡馍馆", "便利店", "超市", "理发店", "药店", "水果店", "烟酒店",
                  "五金店", "干洗店", "早餐店", "肉夹馍店", "眼镜店", "服装店", "手机维修店",
                  "快递驿站", "花店", "茶叶店", "烤肉店", "粮油店"]
    shop_pref = list(SURNAMES[:40])
    shop_names: set[str] = set()
    for k in range(1, 401):
        while True:
            nm = f"{py.choice(shop_pref)}{py.choice(['记', '家', '氏', '师傅', '姐', '哥'])}{py.choice(shop_kinds)}"
            if nm not in shop_names:
                shop_names.add(nm)
                break
        add("shop", f"SP{k:04d}", nm, py.randrange(G), floors=1)
    unit_names = (
        [f"西安市新城区第{n}小学" for n in ["一", "二", "五", "八"]]
        + ["西一路中学", "新城区妇幼保健院", "西一路社区卫生服务中心", "新城区图书馆",
           "新城区文化馆", "西一路派出所", "新城区市场监督管理所", "北大街消防站",
           "新城区税务所", "皇城西路幼儿园", "尚俭路幼儿园", "西安市第九十中学"]
        + [f"{w}{t}" for w in ["陕西省建工", "西安铁路", "陕西电力", "西安邮电", "陕西医药",
                               "西安纺织", "陕西机械", "西安商业", "陕西五金", "西安食品",
                               "陕西地质", "西安自来水", "陕西交通", "西安供电", "陕西出版"]
           for t in ["集团机关", "职工医院", "设计院"]]
    )
    unit_names = unit_names[:60]
    for k, nm in enumerate(unit_names, start=1):
        add("unit", f"DW{k:03d}", nm, py.randrange(G), floors=py.randint(2, 12))
    office_names = ["西一路大厦", "新城国际", "北大街金融中心", "尚德大厦", "皇城商务中心",
                    "崇礼大厦", "后宰门科技大厦", "东厅门商务楼", "北新街写字楼", "西华门中心",
                    "兴乐广场", "尚俭时代", "红埠街商务中心", "九府大厦", "新城坊创意园"]
    for k, nm in enumerate(office_names, start=1):
        add("office", f"OF{k:03d}", nm, py.randrange(G), floors=py.randint(8, 32))
    biz_words = ["华兴", "秦川", "长安", "恒达", "鼎盛", "汉唐", "丝路", "锦程", "瑞丰", "和信",
                 "嘉禾", "盛世", "鸿运", "金泰", "永安", "博远", "天宇", "同创", "众诚", "启航"]
    biz_kinds = ["商贸", "科技", "餐饮管理", "文化传媒", "物业管理", "建筑装饰", "信息技术",
                 "健康咨询", "教育咨询", "家政服务"]
    biz_names: set[str] = set()
    for k in range(1, 151):
        while True:
            nm = f"西安{py.choice(biz_words)}{py.choice(biz_kinds)}有限公司"
            if nm not in biz_names:
                biz_names.add(nm)
                break
        add("business", f"BZ{k:04d}", nm, py.randrange(G), floors="")
    write_csv(out / "places.csv",
              ["place_code", "kind", "name", "grid_code", "parent_code", "lat", "lon", "address",
               "households", "floors"],
              [[p["place_code"], p["kind"], p["name"], p["grid_code"], p["parent_code"],
                fmt_coord(p["lat"]), fmt_coord(p["lon"]), p["address"], p["households"],
                p["floors"]] for p in places])

    # ---- contacts (五级联动)
    contact_rows = []
    contact_rows.append(["street", "街道党工委书记", names.person(), phone(), "", "", ""])
    secretaries = [(names.person(), phone()) for _ in range(N_COMMUNITIES)]
    comp_by_grid: dict[int, list[dict]] = defaultdict(list)
    for cp in compounds:
        comp_by_grid[cp["gi"]].append(cp)
    bld_by_grid: dict[int, list[dict]] = defaultdict(list)
    for b in buildings:
        bld_by_grid[b["gi"]].append(b)
    for gi in range(G):
        cc = comm_codes[gcomm[gi]]
        sec = secretaries[gcomm[gi]]
        contact_rows.append(["community", "社区书记", sec[0], sec[1], cc, gcodes[gi], ""])
        cps = comp_by_grid.get(gi, [])
        if cps:
            for cp in cps:
                contact_rows.append(["compound", "小区长", names.person(), phone(), cc, gcodes[gi],
                                     cp["place_code"]])
        else:
            contact_rows.append(["compound", "院落长", names.person(), phone(), cc, gcodes[gi], ""])
        blds = bld_by_grid.get(gi, [])
        if blds:
            for b in blds:
                contact_rows.append(["building", "楼栋长", names.person(), phone(), cc, gcodes[gi],
                                     b["place_code"]])
        else:
            contact_rows.append(["building", "楼栋长", names.person(), phone(), cc, gcodes[gi], ""])
        for _ in range(py.randint(1, 2)):
            home = blds[py.randrange(len(blds))]["place_code"] if blds else ""
            contact_rows.append(["party_household", "党员中心户", names.person(), phone(), cc,
                                 gcodes[gi], home])
    write_csv(out / "contacts.csv",
              ["level", "title", "name", "phone", "community_code", "grid_code", "place_code"],
              contact_rows)

    # ---- cameras
    cam_rows = []
    cam_names: set[str] = set()
    corners = ["东北角", "东南角", "西北角", "西南角"]
    kinds = ["枪机"] * 5 + ["球机"] * 3 + ["全景"] + ["人脸卡口"]
    cam_grids = sorted(py.sample(range(G), 60))
    for k, gi in enumerate(cam_grids, start=1):
        while True:
            if py.random() < 0.7:
                a, b = py.choice(ROADS_EW), py.choice(ROADS_NS)
                nm = f"{a}与{b}口{py.choice(corners)}"
            else:
                cp = py.choice(compounds)
                nm = f"{cp['name']}{py.choice(['东门', '西门', '南门', '北门'])}"
            if nm not in cam_names:
                cam_names.add(nm)
                break
        lat, lon = point(gi)
        cam_rows.append([f"CAM{k:03d}", nm, gcodes[gi], fmt_coord(lat), fmt_coord(lon),
                         py.choice(kinds), f"sim://CAM{k:03d}"])
    write_csv(out / "cameras.csv",
              ["camera_code", "name", "grid_code", "lat", "lon", "kind", "stream_url"], cam_rows)

    # ---- social organisations
    orgs = [
        ("乐修匠志愿服务队", "志愿服务", "乐修匠"), ("菜鸟学堂青少年课堂", "教育培训", "菜鸟学堂"),
        ("银发互助会", "为老服务", "银龄守护"), ("西一路秦腔票友社", "文体活动", "秦韵西一"),
        ("兴乐邻里调解室", "矛盾调解", "和事佬"), ("尚俭路巾帼志愿队", "志愿服务", "巾帼红"),
        ("崇礼书画社", "文体活动", "崇礼墨香"), ("后宰门助残服务社", "助残服务", "暖心助残"),
        ("东厅门环保促进会", "环境保护", "绿色东厅"), ("北新街红袖标巡逻队", "平安建设", "红袖标"),
        ("新城坊四点半课堂", "教育培训", "四点半课堂"), ("皇城西路老年合唱团", "文体活动", "夕阳红"),
        ("西一路心理咨询服务站", "心理服务", "心灵驿站"), ("兴乐健身操队", "文体活动", "乐动兴乐"),
        ("尚俭路家政互助社", "便民服务", "俭家帮"), ("崇礼路法律援助工作室", "法律服务", "法润崇礼"),
        ("后宰门退役军人服务队", "志愿服务", "老兵驿站"), ("东厅门读书会", "文化服务", "书香东厅"),
        ("北新街商户联盟", "行业自律", "诚信北新"), ("新城坊居家养老服务社", "为老服务", "幸福食堂"),
        ("皇城西路垃圾分类督导队", "环境保护", "分类先锋"), ("西一路义剪队", "便民服务", "爱心义剪"),
        ("兴乐党员先锋队", "志愿服务", "先锋红"), ("崇礼路亲子阅读会", "文化服务", "悦读童年"),
    ]
    org_rows = []
    for k, (nm, kind, brand) in enumerate(orgs, start=1):
        c = (k - 1) % N_COMMUNITIES
        for ci, cn in enumerate(COMMUNITY_NAMES):  # prefer the community named in the org name
            if nm.startswith(cn[:-2]):
                c = ci
                break
        gi = py.choice(comm_grids[c])
        founded = date(2015, 1, 1) + timedelta(days=py.randrange(365 * 10))
        org_rows.append([f"ORG{k:03d}", nm, kind, brand, comm_codes[c], gcodes[gi],
                         py.randint(8, 120), founded.isoformat()])
    write_csv(out / "organisations.csv",
              ["org_code", "name", "kind", "brand", "community_code", "grid_code", "members",
               "founded"], org_rows)

    # ---- residents
    hh_grid = np.zeros(G)
    for b in buildings:
        hh_grid[b["gi"]] += b["households"]
    weight = 1.0 + hh_grid / 60.0 + r.np.uniform(0.0, 0.8, G)
    total_pop = r.np.multinomial(40000, weight / weight.sum())
    res_rows = []
    for gi in range(G):
        tot = int(total_pop[gi])
        floating = int(r.np.binomial(tot, 0.22))
        registered = tot - floating
        values = {
            "户籍人口": registered,
            "流动人口": floating,
            "境外人员": int(r.np.binomial(tot, 0.002)),
            "60岁以上老人": int(r.np.binomial(tot, 0.23)),
            "残疾人": int(r.np.binomial(tot, 0.02)),
            "低保户": int(r.np.binomial(tot, 0.004)),
            "特殊人群": int(r.np.binomial(tot, 0.003)),
            "党员": int(r.np.binomial(tot, 0.065)),
        }
        for cat in RESIDENT_CATEGORIES:
            res_rows.append([gcodes[gi], cat, values[cat]])
    write_csv(out / "residents.csv", ["grid_code", "category", "count"], res_rows)

    # ---- categories
    cat_rows = []
    minor_no: dict[str, int] = defaultdict(int)
    for major, mname, minor, hours, prio, wt, onsite, kw in CATEGORY_TABLE:
        minor_no[major] += 1
        cat_rows.append([major, mname, f"{major}{minor_no[major]:02d}", minor, hours, prio,
                         f"{wt:g}", f"{onsite:.2f}", kw, "natural" if minor in NATURAL_CLOCK else "working"])
    write_csv(out / "categories.csv",
              ["major_code", "major_name", "minor_code", "minor_name", "time_limit_hours",
               "default_priority", "weight", "onsite_share", "keywords", "clock"], cat_rows)
    dept_rows = []
    for name, contact, takes in DEPARTMENT_TABLE:
        codes = [r[2] for r in cat_rows if r[3] in takes or r[1] in takes]
        dept_rows.append([name, contact, ";".join(codes)])
    write_csv(out / "departments.csv", ["name", "contact", "categories"], dept_rows)

    return {
        "grids": G, "communities": N_COMMUNITIES, "workers": len(worker_rows),
        "contacts": len(contact_rows), "places": len(places), "compounds": len(compounds),
        "buildings": len(buildings), "cameras": len(cam_rows), "organisations": len(org_rows),
        "residents_total": int(total_pop.sum()), "categories": len(cat_rows),
        "rounded_to_7": int(grids is rounded),
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Generate the synthetic 西一路街道 demo data.")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    stats = generate(args.out, args.seed)
    print(json.dumps(stats, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

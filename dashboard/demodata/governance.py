"""Deterministic 网格+五治 demo registers for the demo street, written next to its other files.

    python -m dashboard.demodata.governance --seed 20261129 --dir data/xiyilu

Reads grids.geojson, places.csv and organisations.csv from ``--dir`` and writes
party_branches.csv, party_posts.csv, legal_staff.csv, activities.csv and
access_devices.csv there. Everything is synthetic; identities are written masked
(张*) because screens never need more. Device secrets are not written here: anything derived
from the public seed is public, so loading the street gives each device a random secret
(services/governance_registers.py) and ``run.py seed-demo`` shows them once.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Sequence

from .generate import DEFAULT_SEED, SURNAMES

# 90 days of activities; loading the demo moves them to end yesterday (services/governance_registers.py end_on)
LAST_DAY = date(2026, 11, 28)
FIRST_DAY = LAST_DAY - timedelta(days=89)
# street-wide mean activities per day, by kind
DAILY_RATE = {"party_meeting": 0.8, "party_service": 2.5, "sanguan_visit": 1.6, "moot_court": 0.1,
              "legal_education": 0.9, "civility_practice": 2.4, "org_service": 3.0, "volunteer_service": 3.0,
              "residents_council": 1.2, "mediation": 0.8}
DIMENSION = {"party_meeting": "party", "party_service": "party", "sanguan_visit": "law", "moot_court": "law",
             "legal_education": "law", "civility_practice": "virtue", "org_service": "virtue",
             "volunteer_service": "virtue", "residents_council": "self", "mediation": "self"}
TITLES = {
    "party_meeting": ["主题党日：学习党的二十届三中全会精神", "支部组织生活会", "党员冬训集中学习", "“三会一课”党员大会"],
    "party_service": ["报到党员楼院清洁", "党员认岗：楼道文明劝导", "报到党员入户走访独居老人", "党员先锋岗便民服务"],
    "sanguan_visit": ["法官进网格：物业纠纷答疑", "检察官以案说法：防范养老诈骗", "社区民警入户安全宣传", "律师坐班法律咨询"],
    "moot_court": ["模拟法庭：邻里漏水纠纷", "青少年模拟法庭"],
    "legal_education": ["民法典进小区宣讲", "反诈知识普法讲座", "宪法宣传周普法活动"],
    "civility_practice": ["新时代文明实践：垃圾分类宣传", "文明实践站：邻里节", "移风易俗倡议活动", "“最美家庭”评选宣讲"],
    "org_service": ["便民维修服务", "青少年课后课堂", "老年人智能手机课堂", "爱心义剪"],
    "volunteer_service": ["志愿者清理楼道杂物", "志愿者交通文明劝导", "关爱独居老人志愿服务", "志愿者巡逻守护平安"],
    "residents_council": ["居民议事会：加装电梯协商", "小区停车管理议事", "楼院环境整治协商会", "物业服务评议会"],
    "mediation": ["人民调解：邻里噪音纠纷", "调解委员会：漏水纠纷调解", "“和事佬”调解物业费争议"],
}
LEGAL_ROLES = [("judge", "新城区人民法院"), ("prosecutor", "新城区人民检察院"), ("lawyer", "陕西某律师事务所"),
               ("police", "西一路派出所"), ("enforcement", "新城区城市管理和综合执法局西一路中队")]
POSTS = ["楼栋协管", "文明劝导", "矛盾调解", "政策宣传", "关爱帮扶", "平安巡逻", "环境监督"]
FILES = ("party_branches.csv", "party_posts.csv", "legal_staff.csv", "activities.csv", "access_devices.csv")


def _read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows([["" if v is None else v for v in row] for row in rows])
    path.write_bytes(buf.getvalue().encode("utf-8"))


def generate(folder: Path | str, seed: int = DEFAULT_SEED) -> dict[str, int]:
    """Write the five register files into ``folder``; returns row counts."""
    d = Path(folder)
    r = random.Random(seed * 7 + 10)
    grids = [f["properties"] for f in json.loads((d / "grids.geojson").read_text(encoding="utf-8"))["features"]]
    by_comm: dict[str, list[str]] = defaultdict(list)
    for g in grids:
        by_comm[g["community_code"]].append(g["code"])
    comm_names = {g["community_code"]: g.get("community_name") or g["community_code"] for g in grids}
    places = _read_csv(d / "places.csv")
    compounds = [p for p in places if p["kind"] == "compound"]
    compounds_in: dict[str, list[dict]] = defaultdict(list)
    for p in compounds:
        compounds_in[p["grid_code"]].append(p)
    orgs_in: dict[str, list[dict]] = defaultdict(list)
    for o in _read_csv(d / "organisations.csv"):
        orgs_in[o["community_code"]].append(o)
    masked = lambda: r.choice(SURNAMES) + "*"  # noqa: E731

    branches = []
    for cc in sorted(by_comm):
        branches.append((f"PB{cc[-3:]}00", f"{comm_names[cc]}党委", "community", cc, "", "", r.randint(40, 90),
                         r.randint(6, 14), masked()))
    for i, p in enumerate(compounds, 1):
        cc = p["grid_code"][:12]
        branches.append((f"PB{cc[-3:]}{i:03d}", f"{p['name']}党支部", "compound", cc, p["grid_code"], p["place_code"],
                         r.randint(5, 32), r.randint(1, 4), masked()))
    branch_of = {b[4]: b[0] for b in branches if b[4]}
    posts = []
    for g in grids:
        for _ in range(r.choice([0, 1, 1, 2, 2, 3, 4, 5])):
            day = date(2026, 10, 1) - timedelta(days=r.randint(0, 400))  # posts registered before the history
            posts.append((f"PP{len(posts) + 1:04d}", g["code"], branch_of.get(g["code"], f"PB{g['code'][9:12]}00"),
                          masked(), r.choice(POSTS), day.isoformat()))
    staff = []
    for cc in sorted(by_comm):
        codes = sorted(by_comm[cc])
        for role, org in LEGAL_ROLES[:3] + [LEGAL_ROLES[4]]:
            staff.append((f"LS{len(staff) + 1:03d}", role, masked(), org, r.choice(codes)))
        for k in range(0, len(codes), 4):  # one community police officer per ~4 grids
            staff.append((f"LS{len(staff) + 1:03d}", "police", masked(), LEGAL_ROLES[3][1], codes[k]))
    staff_in: dict[str, list[str]] = defaultdict(list)
    for s in staff:
        staff_in[s[4][:12]].append(s[0])

    # communities differ in how active each dimension is, so the wall's comparison shows something
    lean = {cc: {dim: r.uniform(0.4, 1.6) for dim in sorted(set(DIMENSION.values()))} for cc in sorted(by_comm)}
    acts = []
    day = FIRST_DAY
    while day <= LAST_DAY:
        n_day = 0
        for kind, rate in DAILY_RATE.items():
            for cc in sorted(by_comm):
                expected = rate / len(by_comm) * lean[cc][DIMENSION[kind]]
                count = int(expected) + (1 if r.random() < expected - int(expected) else 0)
                for _ in range(count):
                    n_day += 1
                    acts.append(_activity(r, kind, cc, day, n_day, by_comm, compounds_in, orgs_in, staff_in,
                                          comm_names))
        day += timedelta(days=1)
    acts.sort(key=lambda a: (a[9], a[0]))
    devices = []
    for p in compounds:
        for gate in r.sample(["东门", "西门", "南门", "北门"], r.choice([1, 1, 2])):
            dev = f"AC{len(devices) + 1:04d}"
            devices.append((dev, f"{p['name']}{gate}门禁", "door", p["place_code"],
                            p["grid_code"], _jitter(r, p["lat"]), _jitter(r, p["lon"])))
        if r.random() < 0.3:
            dev = f"SM{len(devices) + 1:04d}"
            devices.append((dev, f"{p['name']}配电室烟感", "smoke", p["place_code"],
                            p["grid_code"], _jitter(r, p["lat"]), _jitter(r, p["lon"])))

    _write_csv(d / "party_branches.csv", ["branch_code", "name", "kind", "community_code", "grid_code", "place_code",
                                          "members", "central_households", "secretary_masked"], branches)
    _write_csv(d / "party_posts.csv", ["post_code", "grid_code", "branch_code", "member_masked", "post",
                                       "registered_on"], posts)
    _write_csv(d / "legal_staff.csv", ["staff_code", "role", "name_masked", "organisation", "grid_code"], staff)
    _write_csv(d / "activities.csv", ["code", "kind", "title", "grid_code", "place_code", "place_name", "organiser",
                                      "org_code", "legal_staff_code", "started_at", "ended_at", "participants",
                                      "volunteers", "volunteer_hours", "note"], acts)
    _write_csv(d / "access_devices.csv", ["device_id", "name", "kind", "place_code", "grid_code", "lat", "lon"],
               devices)
    return {"party_branches": len(branches), "party_posts": len(posts), "legal_staff": len(staff),
            "activities": len(acts), "access_devices": len(devices)}


def _jitter(r: random.Random, v: str) -> str:
    return f"{float(v) + r.uniform(-0.00008, 0.00008):.6f}"


def _activity(r, kind, cc, day, n, by_comm, compounds_in, orgs_in, staff_in, comm_names) -> tuple:
    grid = r.choice(sorted(by_comm[cc]))
    comp = r.choice(compounds_in[grid]) if compounds_in[grid] and r.random() < 0.7 else None
    place_name = comp["name"] if comp else r.choice([f"{comm_names[cc]}党群服务中心", f"{comm_names[cc]}新时代文明实践站",
                                                     f"{comm_names[cc]}居民活动室"])
    org_code = staff_code = ""
    organiser = f"{comm_names[cc]}党委" if DIMENSION[kind] == "party" else f"{comm_names[cc]}居委会"
    if kind == "org_service" and orgs_in[cc]:
        org = r.choice(orgs_in[cc])
        org_code, organiser = org["org_code"], org["name"]
    elif DIMENSION[kind] == "law" and staff_in[cc]:
        staff_code, organiser = r.choice(staff_in[cc]), "西一路街道综治中心"
    hour = 19 if kind == "residents_council" else r.choice([9, 10, 14, 15, 16])
    start = datetime(day.year, day.month, day.day, hour, r.choice([0, 30]))
    hours = r.choice([1, 1.5, 2, 2, 3])
    participants = r.randint(8, 60) if kind != "mediation" else r.randint(2, 6)
    volunteers = r.randint(3, 15) if DIMENSION[kind] in ("virtue", "party") else r.randint(0, 3)
    return (f"GA{day:%Y%m%d}{n:03d}", kind, r.choice(TITLES[kind]), grid, comp["place_code"] if comp else "",
            place_name, organiser, org_code, staff_code, f"{start:%Y-%m-%d %H:%M}",
            f"{start + timedelta(hours=hours):%Y-%m-%d %H:%M}", participants, volunteers, volunteers * hours, "")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--dir", type=Path, default=Path("data/xiyilu"))
    args = p.parse_args(argv)
    print(generate(args.dir, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

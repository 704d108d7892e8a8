"""The admin page's worker import (issue 28): a table of N new workers through POST /api/v1/workers/import,
first as a dry run (the preview), then written. Prints the time of each and the size of the answer.

    python bench/worker_import.py --rows 20000
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=20000)
    args = ap.parse_args()
    from tests.security.conftest import build_world

    w = build_world(Path(tempfile.mkdtemp(prefix="gc-bench-import-")), with_pages=False)
    try:
        admin = w.client("admin")
        lines = ["worker_code,name,phone,device_id,grid_code"] + [
            f"B{i:06d},工作人员{i},137{i:08d},BDEV{i},G{(i // 3) % 3}{i % 3}" for i in range(args.rows)]
        data = ("\n".join(lines) + "\n").encode()
        print(f"{args.rows:,} rows, {len(data) / 1e6:.1f} MB CSV")
        for dry in ("1", "0"):
            t = time.perf_counter()
            r = admin.post(f"/api/v1/workers/import?dry_run={dry}", data={"file": (io.BytesIO(data), "w.csv")},
                           content_type="multipart/form-data")
            took = time.perf_counter() - t
            print(f"{'preview (dry run)' if dry == '1' else 'import'}: HTTP {r.status_code} in {took:.2f} s, "
                  f"answer {len(r.data) / 1e6:.1f} MB, counts {r.get_json()['counts']}")
    finally:
        w.services.shutdown()


if __name__ == "__main__":
    main()

"""Run every benchmark and print one Markdown table of the headline figures (for the README).

    python bench/run_all.py              # full runs (~30 min in all)
    python bench/run_all.py --quick      # smoke run (~4 min)
    python bench/run_all.py --only metrics poll_cycle

Each bench runs in its own process, one after the other (they would skew each other's figures
on a small machine). Their full output goes to bench/out/<name>.txt, the table to
bench/out/summary.md (bench/out/ is git-ignored), and the table is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from _common import machine_line, table

HERE = Path(__file__).resolve().parent
BENCHES = ("poll_cycle", "daemon_rss", "metrics", "scrape", "report", "page")
TIMEOUT = 20 * 60


def run(name: str, quick: bool, out: Path) -> tuple[dict[str, object] | None, str]:
    """Run bench_<name>.py, teeing its output to out/<name>.txt; returns its JSON and status."""
    result = out / f"{name}.json"
    result.unlink(missing_ok=True)
    args = [sys.executable, str(HERE / f"bench_{name}.py"), "--json", str(result)]
    if quick:
        args.append("--quick")
    print(f"\n=== bench_{name}.py{' --quick' if quick else ''}", flush=True)
    t0 = time.perf_counter()
    with (out / f"{name}.txt").open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=HERE.parent
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            log.write(line)
        try:
            code = proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = -1
    took = time.perf_counter() - t0
    status = f"exit {code} after {took:.0f} s"
    if not result.exists():
        return None, status
    document: dict[str, object] = json.loads(result.read_text(encoding="utf-8"))
    return document, status


def main(argv: list[str] | None = None) -> int:
    """Run the selected benches and print the summary table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every bench")
    parser.add_argument("--only", nargs="+", choices=BENCHES, default=list(BENCHES))
    parser.add_argument("--out", type=Path, default=HERE / "out", help="where logs go")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, ...]] = []
    failed = []
    for name in args.only:
        document, status = run(name, args.quick, args.out)
        if document is None:
            failed.append(f"bench_{name}.py: no results ({status})")
            rows.append((name, "(failed)", status, "", ""))
            continue
        if not status.startswith("exit 0"):
            failed.append(f"bench_{name}.py: {status}")
        results = document["results"]
        assert isinstance(results, list)
        for r in results:
            value = r["value"] + (f" ({r['note']})" if r["note"] else "")
            rows.append((r["bench"], r["metric"], value, r["target"], r["verdict"]))
    summary = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d')} on {machine_line()}"
            f"{' (quick runs)' if args.quick else ''}.",
            "",
            table(["bench", "measure", "result", "target", "verdict"], rows),
            "",
        ]
    )
    (args.out / "summary.md").write_text(summary, encoding="utf-8")
    print("\n" + summary)
    for problem in failed:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

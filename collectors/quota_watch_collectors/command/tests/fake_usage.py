"""A stand-in for a user's usage script: prints what its first argument asks for.

Run by the command collector's cases as a real subprocess (`python3 fake_usage.py MODE`).
"""

import json
import os
import sys
import time

TOKEN = os.environ.get("USAGE_TOKEN", "")


def main(mode: str) -> int:
    if mode in ("json", "lines") and not TOKEN.startswith("fake-"):
        print("no usable USAGE_TOKEN in the environment", file=sys.stderr)
        return 77
    if mode == "json":
        print(
            json.dumps(
                [
                    {"limit": "machines", "value": 2, "cap": 3},
                    {"limit": "volume_storage", "value": "1.5 GB", "resource": "vol_db"},
                    {"limit": "volume_storage", "value": 250000000, "resource": "vol_media"},
                    {"limit": "build_time", "value": "90min"},
                ]
            )
        )
    elif mode == "lines":
        print("# limit value [cap]")
        print("machines 2 3")
        print("")
        print("build_time 5400")
    elif mode == "auth":
        print(f"token {TOKEN} was rejected by the API", file=sys.stderr)
        return 77
    elif mode == "tempfail":
        print("API answered 503", file=sys.stderr)
        return 75
    elif mode == "crash":
        raise RuntimeError(f"unexpected field in the API's answer (token {TOKEN})")
    elif mode == "sleep":
        print("starting", file=sys.stderr, flush=True)
        time.sleep(120)
    elif mode == "garbage":
        print("<html><body>Service Unavailable</body></html>")
    elif mode == "undeclared":
        print(json.dumps([{"limit": "gpu_hours", "value": 1}]))
    elif mode == "empty":
        print("[]")
    elif mode == "flood":
        sys.stdout.write("x" * 100_000)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

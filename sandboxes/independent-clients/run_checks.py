"""Runs every *_check.py in this folder against freshly started sandboxes; exits non-zero if any fails.

Each check drives one vendor's sandbox with that vendor's own client (not the hub's SDKs, not its connector)
and compares what it sees with the vendor's documentation. Add a vendor by adding `<vendor>_check.py`.
"""

import glob
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(here))


def main():
    node = subprocess.Popen(
        ["node", "--import", "tsx", "dev/independent-client-sandboxes.ts"],
        cwd=repo,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = node.stdout.readline()
        if not line:
            print("the sandboxes did not start", file=sys.stderr)
            return 1
        started = json.loads(line)
        env = dict(
            os.environ,
            INDEPENDENT_CLIENT_SANDBOXES=line.strip(),
            REQUESTS_CA_BUNDLE=started["caFile"],
            PYTHONPATH=here,
            PYTHONDONTWRITEBYTECODE="1",
        )
        failed = []
        for script in sorted(glob.glob(os.path.join(here, "*_check.py"))):
            name = os.path.basename(script)
            print(f"== {name}", flush=True)
            if subprocess.run([sys.executable, script], env=env, cwd=here).returncode != 0:
                failed.append(name)
        print("independent clients: " + ("all as documented" if not failed else f"mismatches in {', '.join(failed)}"))
        return 1 if failed else 0
    finally:
        node.stdin.close()
        try:
            node.wait(timeout=20)
        except subprocess.TimeoutExpired:
            node.terminate()
            node.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

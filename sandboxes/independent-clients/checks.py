"""Shared helpers for the *_check.py scripts: the running sandboxes, and expectations that report mismatches.

run_checks.py starts the sandboxes (dev/independent-client-sandboxes.ts) and hands each check the JSON it
printed through the INDEPENDENT_CLIENT_SANDBOXES environment variable; the local CA's path is also in
REQUESTS_CA_BUNDLE, which `requests` (under Mailchimp's client and google-auth) reads itself.
"""

import json
import os
import sys
from contextlib import contextmanager

import requests


def sandboxes():
    """{"caFile": path, "sandboxes": {vendor: {"url": ..., "env": {...}}}} as printed by the node entry."""
    return json.loads(os.environ["INDEPENDENT_CLIENT_SANDBOXES"])


def control(url, path, body=None):
    """The sandbox's own /__sandbox/ controls (seed, reset), not part of any vendor API."""
    answer = requests.post(f"{url}/__sandbox/{path}", json=body if body is not None else {}, timeout=30)
    answer.raise_for_status()


class Checks:
    """Collects what a client saw against what the vendor documents; `finish` exits non-zero on any mismatch."""

    def __init__(self, client):
        self.client = client
        self.failures = []
        self.passed = 0

    def expect(self, what, condition, seen=None):
        if condition:
            self.passed += 1
            print(f"  ok   {what}")
        else:
            self.failures.append(what)
            print(f"  FAIL {what}" + (f" (saw: {seen!r})" if seen is not None else ""))

    @contextmanager
    def section(self, what):
        """Runs a block of calls; an exception (an unexpected answer the client raises on) is a mismatch too."""
        try:
            yield
        except Exception as error:  # noqa: BLE001 - every failure is reported, then the next section runs
            detail = getattr(error, "text", None) or getattr(error, "content", None) or error
            status = getattr(error, "status_code", None) or getattr(getattr(error, "resp", None), "status", None)
            self.failures.append(what)
            print(f"  FAIL {what}: {type(error).__name__} {status or ''} {str(detail)[:300]}")

    def finish(self):
        print(f"{self.client}: {self.passed} as documented, {len(self.failures)} mismatches")
        sys.exit(1 if self.failures else 0)

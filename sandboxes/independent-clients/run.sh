#!/usr/bin/env bash
# Fresh-eyes check (dev only): drives the vendor sandboxes with the vendors' own Python clients.
# Creates a virtualenv outside the repository (CONSENT_HUB_CLIENTS_VENV, default under $TMPDIR), installs the
# pinned clients from requirements.txt, then runs every *_check.py through run_checks.py.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${CONSENT_HUB_CLIENTS_VENV:-${TMPDIR:-/tmp}/consent-hub-independent-clients-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
exec "$venv/bin/python" "$here/run_checks.py"

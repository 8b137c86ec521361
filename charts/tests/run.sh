#!/usr/bin/env bash
# Lint and test the Helm chart, the Dockerfile and docker-compose.yml.
#
#   bash charts/tests/run.sh [pytest args…]
#
# Needs only python3 (>= 3.11) and PyPI: no helm binary, no Docker engine. Tools live in a
# venv at ${HERALD_CACHE:-$HOME/.cache/herald}/venv, reinstalled only when
# requirements.txt changes. Exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${HERALD_CACHE:-$HOME/.cache/herald}"
venv="$cache/venv"
requirements="$here/requirements.txt"

log() { printf 'charts/tests: %s\n' "$*" >&2; }

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || { log "python3 >= 3.11 is required"; exit 1; }

make_venv() {
    rm -rf "$venv"
    mkdir -p "$cache"
    python3 -m venv "$venv"
}

if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    log "creating venv at $venv"
    if ! make_venv 2>/dev/null; then
        # Debian ships venv support separately.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            log "installing python3-venv"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            make_venv
        else
            log "python3 -m venv failed: install python3-venv"
            exit 1
        fi
    fi
fi

stamp="$venv/.herald-requirements.sha256"
wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
    log "installing test tools into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
    printf '%s\n' "$wanted" >"$stamp"
fi
export PATH="$venv/bin:$PATH"

cd "$repo"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

log "rendering the chart's scenarios and running yamllint"
python charts/tests/render_scenarios.py "$work/rendered"
yamllint --strict -c charts/.yamllint \
    "$work/rendered" charts/herald/values.yaml charts/herald/Chart.yaml docker-compose.yml

log "running hadolint"
hadolint Dockerfile

log "running pytest"
python -m pytest -p no:cacheprovider -q charts/tests "$@"

#!/usr/bin/env bash
# Installs the system packages the test suite needs, once (skips what is present).
set -euo pipefail
need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv' 2>/dev/null || need+=(python3-venv)
command -v gcc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
[ -x /usr/sbin/rsyslogd ] || need+=(rsyslog)
# the kafka receiver's librdkafka (built from source) links the system OpenSSL and zlib
command -v pkg-config >/dev/null || need+=(pkg-config)
dpkg -s libssl-dev >/dev/null 2>&1 || need+=(libssl-dev)
dpkg -s zlib1g-dev >/dev/null 2>&1 || need+=(zlib1g-dev)
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
    else
        echo "missing packages: ${need[*]} (run as root to install)" >&2
        exit 1
    fi
fi
# osmem-server (an in-memory OpenSearch, for the elasticsearch/opensearch sink tests):
# a venv under the cache, skipped when present; .ci/test exports HERALD_OSMEM_BIN.
HERALD_CACHE="${HERALD_CACHE:-$HOME/.cache/herald}"
osmem_venv="$HERALD_CACHE/osmem"
if ! "$osmem_venv/bin/python" -c 'import osmem_server' 2>/dev/null; then
    python3 -m venv "$osmem_venv"
    "$osmem_venv/bin/pip" install -q 'osmem-server==0.1.6'
fi
# moto_server (an AWS fake: SQS, SNS, Kinesis, Firehose + S3, EventBridge), for the
# AWS receiver tests: a venv under the cache, skipped when present; .ci/test exports
# HERALD_MOTO_BIN.
moto_venv="$HERALD_CACHE/moto"
if ! "$moto_venv/bin/python" -c 'import moto, boto3' 2>/dev/null; then
    python3 -m venv "$moto_venv"
    "$moto_venv/bin/pip" install -q 'moto[server]==5.*' boto3
fi
# tansu (a Kafka-compatible broker, for the kafka receiver tests): built from crates.io
# into the cache, skipped when present; .ci/test exports HERALD_TANSU_BIN. `dynostore`
# is the feature that gives it a storage engine (the default build cannot store
# anything). The build's target dir is thrown away afterwards (it is ~GBs).
install_tansu() {
    local root="$HERALD_CACHE/tansu"
    [ -x "$root/bin/tansu" ] && return 0
    local build="$HERALD_CACHE/tansu-build"
    CARGO_TARGET_DIR="$build" cargo install --locked tansu --version 0.6.0 \
        --features dynostore --root "$root"
    rm -rf "$build"
}
install_tansu
# Prometheus Alertmanager (the alertmanager receiver tests): Debian's package when
# missing; .ci/test exports HERALD_ALERTMANAGER_BIN.
if ! command -v prometheus-alertmanager >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager
    else
        echo "missing package: prometheus-alertmanager (run as root to install)" >&2
        exit 1
    fi
fi
# Google's Pub/Sub emulator (pubsub sink tests) ships with the Google Cloud SDK of the
# machine image and cannot be installed from here (its apt source is disabled): only
# checked. .ci/test exports HERALD_PUBSUB_EMULATOR_BIN; the tests fail in CI without it.
pubsub_sdk="$(gcloud info --format='value(installation.sdk_root)' 2>/dev/null || true)"
if [ ! -x "$pubsub_sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator" ] || ! command -v java >/dev/null; then
    echo "missing: Google's Pub/Sub emulator (gcloud's platform/pubsub-emulator) or java; the pubsub tests fail in CI" >&2
fi

# Shared environment for .ci scripts: a persistent target dir outside the clone keeps
# repeated runs fast.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
    if [ -d /work ] && [ -w /work ]; then
        export CARGO_TARGET_DIR=/work/target
    else
        export CARGO_TARGET_DIR="$HOME/.cache/herald/target"
    fi
fi
export HERALD_CACHE="${HERALD_CACHE:-$HOME/.cache/herald}"
export CARGO_TERM_COLOR=never
export CARGO_INCREMENTAL=0
export RUST_BACKTRACE=1

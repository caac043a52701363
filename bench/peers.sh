#!/usr/bin/env bash
# Runs ../shared/bench-peers (Quix Streams, Bytewax, raw clients) with this project's
# kafka-bench as the framework "ours", in one run on one broker.
#
#   bench/peers.sh                                   # RECORDS=200000, FRAMEWORKS="raw quix bytewax ours"
#   RECORDS=1000000 FRAMEWORKS="raw ours" bench/peers.sh
#
# ../shared/ is read-only: the scripts are copied to PEERS_DIR (default
# ${TMPDIR:-/tmp}/kstreams-bench-peers, outside the clone), where setup.sh installs the peers'
# virtual environments once. Every other variable of run_all.sh (BOOTSTRAP, PARTITIONS,
# TIMEOUT) passes through. Results: $PEERS_DIR/run/results-*.txt.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="$ROOT/../shared/bench-peers"
PEERS_DIR="${PEERS_DIR:-${TMPDIR:-/tmp}/kstreams-bench-peers}"

if [ ! -d "$SHARED" ]; then
    echo "bench/peers.sh: $SHARED not found" >&2
    exit 1
fi
mkdir -p "$PEERS_DIR"
# Refresh the scripts (not the venvs or results).
for f in "$SHARED"/*.py "$SHARED"/*.sh; do
    install -m 0755 "$f" "$PEERS_DIR/"
done
(cd "$PEERS_DIR" && ./setup.sh)

# The workspace's binaries, built together: selecting one package would resolve features
# differently and build RocksDB's C++ a second time.
cargo build --release --workspace --bins --manifest-path "$ROOT/Cargo.toml"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

cd "$PEERS_DIR"
OURS_APP="$TARGET_DIR/release/kafka-bench" \
    FRAMEWORKS="${FRAMEWORKS:-raw quix bytewax ours}" \
    RECORDS="${RECORDS:-200000}" \
    ./run_all.sh

#!/usr/bin/env bash
# WebDAV benchmark, side by side with Apache mod_dav on this machine, same client (curl):
#   256 MiB PUT and GET, and 10,000 files of 4 KiB uploaded (4 curl processes, connection reuse).
# Prints MiB/s (files/s for small files) per server and the ratio ours / Apache.
# (The full side-by-side run against the real gateway, Apache and sshd is scripts/bench/all.sh.)
#   bash scripts/bench/webdav.sh [--vfs memory|MODULE] [--size-mib N] [--files N]
# --vfs (or env DW_WEBDAV_VFS) picks our server's VFS factory (see scripts/bench/webdav-server.ts):
# 'memory' (default) or a module exporting createVfs() — e.g. the real pool.
set -euo pipefail
cd "$(dirname "$0")/../.."

VFS=${DW_WEBDAV_VFS:-memory}; SIZE_MIB=256; FILES=10000; PAR=4
while [ $# -gt 0 ]; do
  case $1 in
    --vfs) VFS=$2; shift 2 ;;
    --size-mib) SIZE_MIB=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

USER_=peer; PASS=peer-pw
OUR_PORT=${DW_BENCH_OUR_PORT:-18480}; APACHE_PORT=${DW_BENCH_APACHE_PORT:-18481}
WORK=$(mktemp -d /tmp/dw-bench-webdav.XXXXXX); chmod 755 "$WORK"  # Apache runs as www-data
OUR_PID=""
cleanup() {
  [ -n "$OUR_PID" ] && kill "$OUR_PID" 2>/dev/null && wait "$OUR_PID" 2>/dev/null || true
  /work/shared/peers/peer stop webdav "$WORK/apache" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=common.sh
. scripts/bench/common.sh  # (the working folder is the repo root, above)

echo "preparing ${SIZE_MIB} MiB file and ${FILES} files of 4 KiB in $WORK"
prepare_files

# Our server (memory VFS or the given factory).
node --import tsx scripts/bench/webdav-server.ts --port "$OUR_PORT" --user "$USER_" --password "$PASS" --vfs "$VFS" >"$WORK/our.out" 2>"$WORK/our.err" &
OUR_PID=$!
for _ in $(seq 1 100); do grep -q '^http' "$WORK/our.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^http' "$WORK/our.out" || { echo "our server did not start:"; cat "$WORK/our.err"; exit 1; }
# Apache mod_dav.
/work/shared/peers/peer start webdav "$WORK/apache" "$APACHE_PORT" >/dev/null

# bench NAME BASEURL → sets PUT_R GET_R SMALL_R
bench() {
  local name=$1 base=$2
  curl -sfS -u "$USER_:$PASS" -X MKCOL "${base}bench/" -o /dev/null
  local t0 t1 t2 t3
  t0=$(now)
  curl -sfS -u "$USER_:$PASS" -T "$WORK/big.bin" "${base}bench/big.bin" -o /dev/null
  t1=$(now)
  curl -sfS -u "$USER_:$PASS" "${base}bench/big.bin" -o "$WORK/back.bin"
  t2=$(now)
  local got; got=$(sha256sum "$WORK/back.bin" | cut -d' ' -f1); rm -f "$WORK/back.bin"
  [ "$got" = "$WANT" ] || { echo "$name: sha256 mismatch after GET" >&2; exit 1; }
  curl -sfS -u "$USER_:$PASS" -X MKCOL "${base}bench/small/" -o /dev/null
  split -n "l/$PAR" "$WORK/names" "$WORK/part-"
  t3=$(now)
  local pids=()
  for part in "$WORK"/part-*; do
    awk -v d="$WORK/small" -v u="${base}bench/small/" '{ printf "upload-file = \"%s/%s\"\nurl = \"%s%s\"\noutput = \"/dev/null\"\n", d, $1, u, $1 }' "$part" \
      | curl -sfS -u "$USER_:$PASS" -K - &
    pids+=($!)
  done
  local p; for p in "${pids[@]}"; do wait "$p" || { echo "$name: a small-file curl failed" >&2; exit 1; }; done
  local t4; t4=$(now)
  rm -f "$WORK"/part-*
  local count
  count=$(curl -sfS -u "$USER_:$PASS" -X PROPFIND -H 'Depth: 1' "${base}bench/small/" | grep -oE '<([A-Za-z0-9]+:)?response[ >]' | wc -l || true)
  [ "$count" -eq $((FILES + 1)) ] || { echo "$name: expected $FILES files, PROPFIND lists $((count - 1))" >&2; exit 1; }
  PUT_R=$(rate "$SIZE_MIB" "$t0" "$t1"); GET_R=$(rate "$SIZE_MIB" "$t1" "$t2"); SMALL_R=$(rate "$FILES" "$t3" "$t4")
  printf '%-8s PUT %8s MiB/s   GET %8s MiB/s   %d x 4 KiB PUT %8s files/s (%s MiB/s)\n' "$name" "$PUT_R" "$GET_R" "$FILES" "$SMALL_R" \
    "$(awk -v r="$SMALL_R" 'BEGIN { printf "%.1f", r * 4096 / 1048576 }')"
}

echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)  machine: $(nproc) cores  our VFS: $VFS"
bench ours "http://127.0.0.1:$OUR_PORT/"; O_PUT=$PUT_R; O_GET=$GET_R; O_SMALL=$SMALL_R
bench apache "http://127.0.0.1:$APACHE_PORT/"; A_PUT=$PUT_R; A_GET=$GET_R; A_SMALL=$SMALL_R
echo "ratio ours/apache: PUT $(ratio "$O_PUT" "$A_PUT")   GET $(ratio "$O_GET" "$A_GET")   small files $(ratio "$O_SMALL" "$A_SMALL")"

#!/usr/bin/env bash
# iSCSI benchmark (issue 8, acceptance 4), side by side with tgt on this machine, same clients:
#   write: `qemu-img convert` of a SIZE_MIB MiB raw image of random bytes onto the LUN (iscsi://),
#          then read back with qemu-img convert into qemu's null driver (null-co: timed; the
#          client writing a 1 GiB local file made this row swing 2-4x between identical runs on
#          this VM, for both servers), and read back again into a file, untimed, and checked
#          byte for byte;
#   read:  `iscsi-perf` (libiscsi) sequential 128 KiB reads, 16 in flight, for SECONDS seconds,
#          its average MB/s.
# Prints MiB/s per server and the ratio ours / tgt. Each measurement runs RUNS times (3),
# interleaved between the servers, and the median counts. Each server first gets an untimed
# warm-up (as common.sh's WARM_UP).
#   bash scripts/bench/iscsi.sh [--size-mib N] [--seconds N] [--runs N]
# Ours: `dw serve --iscsi` on a fresh data folder (RocksDB + the default layout), a thin volume of
# 1 GiB (64 KiB records) as LUN 0 of iqn.2026-11.dw:bench. tgt: ../shared/peers/peer start iscsi
# (a 1 GiB file-backed LUN 1 on the same disk, iqn.2026-11.peer:lun1).
set -euo pipefail
cd "$(dirname "$0")/../.."

SIZE_MIB=1024; SECONDS_READ=10; RUNS=3
while [ $# -gt 0 ]; do
  case $1 in
    --size-mib) SIZE_MIB=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --seconds) SECONDS_READ=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$SIZE_MIB" -le 1024 ] || { echo "--size-mib at most 1024 (the LUNs are 1 GiB)" >&2; exit 2; }
for c in qemu-img iscsi-perf tgtd; do command -v "$c" >/dev/null || { echo "needs $c: bash ../shared/peers/peer install" >&2; exit 1; }; done
PEER=${DW_PEER:-../shared/peers/peer}
[ -x "$PEER" ] || PEER=$(cd .. && pwd)/shared/peers/peer

OUR_PORT=${DW_BENCH_OUR_PORT:-18560}; T_PORT=${DW_BENCH_TGT_PORT:-18561}
WORK=$(mktemp -d /tmp/dw-bench-iscsi.XXXXXX)
OUR_PID=""; TGT=""
cleanup() {
  [ -n "$OUR_PID" ] && kill "$OUR_PID" 2>/dev/null && wait "$OUR_PID" 2>/dev/null || true
  [ -n "$TGT" ] && bash "$PEER" stop iscsi "$WORK/tgt" || true
  sleep 0.3
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=common.sh
. scripts/bench/common.sh

echo "preparing a ${SIZE_MIB} MiB image of random bytes in $WORK"
head -c $((SIZE_MIB << 20)) /dev/urandom >"$WORK/image.raw"
WANT=$(sha256sum "$WORK/image.raw" | cut -d' ' -f1)
head -c $((32 << 20)) /dev/urandom >"$WORK/warm.raw"

mkdir -p "$WORK/dw"
node bin/dw.js serve --data "$WORK/dw" --webdav off --sftp off --iscsi "127.0.0.1:$OUR_PORT" >"$WORK/our.out" 2>"$WORK/our.err" &
OUR_PID=$!
for _ in $(seq 1 300); do grep -q 'Stop: ' "$WORK/our.err" 2>/dev/null && break; sleep 0.1; done
grep -q 'Stop: ' "$WORK/our.err" || { echo "our server did not start:"; cat "$WORK/our.err"; exit 1; }
node bin/dw.js volume create bench --size 1G --data "$WORK/dw" >/dev/null
node bin/dw.js iscsi target add iqn.2026-11.dw:bench --lun 0=bench --data "$WORK/dw" >/dev/null
OURS="iscsi://127.0.0.1:$OUR_PORT/iqn.2026-11.dw:bench/0"

bash "$PEER" start iscsi "$WORK/tgt" "$T_PORT" >/dev/null
TGT=1
THEIRS="iscsi://127.0.0.1:$T_PORT/iqn.2026-11.peer:lun1/1"

# write_read NAME URL → W_R R_R: the image converted onto the LUN, then read back (timed, into
# qemu's null driver) and read back into a file and checked (untimed).
write_read() {
  local name=$1 url=$2 t0 t1 t2
  sync
  t0=$(now)
  qemu-img convert -n -f raw -O raw "$WORK/image.raw" "$url"
  t1=$(now)
  qemu-img convert -n -f raw --target-image-opts "$url" "driver=null-co,size=$((1 << 30))"
  t2=$(now)
  qemu-img convert -f raw -O raw "$url" "$WORK/back.raw"
  [ "$(head -c $((SIZE_MIB << 20)) "$WORK/back.raw" | sha256sum | cut -d' ' -f1)" = "$WANT" ] || { echo "$name: read back differs" >&2; exit 1; }
  rm -f "$WORK/back.raw"
  W_R=$(rate "$SIZE_MIB" "$t0" "$t1"); R_R=$(rate 1024 "$t1" "$t2")
  printf '%-5s qemu-img convert write %8s MiB/s   read back (whole LUN) %8s MiB/s\n' "$name" "$W_R" "$R_R"
}

# perf URL → P_R: iscsi-perf's average MB/s (10^6 bytes) after SECONDS_READ seconds, as MiB/s.
perf() {
  local out
  out=$(timeout -s INT "$SECONDS_READ" iscsi-perf -m 16 -b 256 "$1" 2>&1 | tr '\r' '\n' || true)
  P_R=$(grep -o 'iops average [0-9]* ([0-9]* MB/s)' <<<"$out" | tail -1 | sed 's/.*(\([0-9]*\) MB\/s)/\1/')
  [ -n "$P_R" ] || { echo "iscsi-perf printed no average: $out" >&2; exit 1; }
  P_R=$(awk -v m="$P_R" 'BEGIN { printf "%.1f", m * 1e6 / 1048576 }')
}

# warm URL: the untimed warm-up round, as in common.sh's WARM_UP: 32 MiB written, then 2 s of
# sequential reads (the timed write below overwrites the same LBAs).
warm() {
  qemu-img convert -n -f raw -O raw "$WORK/warm.raw" "$1"
  timeout -s INT 2 iscsi-perf -m 16 -b 256 "$1" >/dev/null 2>&1 || true
}

warm "$OURS"; warm "$THEIRS"
OWS=""; ORS=""; OPS=""; TWS=""; TRS=""; TPS=""
for r in $(seq 1 "$RUNS"); do
  write_read ours "$OURS"; OWS+=" $W_R"; ORS+=" $R_R"
  write_read tgt "$THEIRS"; TWS+=" $W_R"; TRS+=" $R_R"
  perf "$OURS"; OPS+=" $P_R"
  perf "$THEIRS"; TPS+=" $P_R"
  printf 'iscsi-perf sequential read (128 KiB, 16 in flight, %s s): ours %s MiB/s, tgt %s MiB/s\n' "$SECONDS_READ" "${OPS##* }" "${TPS##* }"
done
OW=$(printf '%s' "$OWS" | median); ORR=$(printf '%s' "$ORS" | median); OP=$(printf '%s' "$OPS" | median)
TW=$(printf '%s' "$TWS" | median); TRR=$(printf '%s' "$TRS" | median); TP=$(printf '%s' "$TPS" | median)
echo
printf 'median of %d (runs): ours write %s (%s ) read back %s (%s ) iscsi-perf %s (%s ) MiB/s\n' "$RUNS" "$OW" "$OWS" "$ORR" "$ORS" "$OP" "$OPS"
printf 'median of %d (runs): tgt  write %s (%s ) read back %s (%s ) iscsi-perf %s (%s ) MiB/s\n' "$RUNS" "$TW" "$TWS" "$TRR" "$TRS" "$TP" "$TPS"
echo "ratio ours/tgt (medians): qemu-img write $(ratio "$OW" "$TW"), qemu-img read $(ratio "$ORR" "$TRR"), iscsi-perf read $(ratio "$OP" "$TP")"

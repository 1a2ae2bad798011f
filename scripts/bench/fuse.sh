#!/usr/bin/env bash
# Issue 4, acceptance 5: fio on our FUSE mount (dw serve --fuse: RocksDB + rs:4+2 over six folders)
# and on bindfs over a folder of the same disk (shared/peers/peer start fuse), in one run, with the
# same fio jobs; prints MiB/s and IOPS and the ratios.
#   bash scripts/bench/fuse.sh [--size-mib 1024] [--rand-mib 256] [--seconds 20]
# Needs: fio, bindfs (peer install), the FUSE binding (npm run build:fuse), root.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=1024; RAND_MIB=256; SECONDS_RAND=20
while [ $# -gt 0 ]; do
  case $1 in
    --size-mib) SIZE_MIB=$2; shift 2 ;;
    --rand-mib) RAND_MIB=$2; shift 2 ;;
    --seconds) SECONDS_RAND=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
PEER=${PEER:-$(cd .. && pwd)/shared/peers/peer}
W=$(mktemp -d /tmp/dw-fusebench.XXXXXX)
DW_PID=''
cleanup() {
  [ -n "$DW_PID" ] && kill -TERM "$DW_PID" 2>/dev/null && wait "$DW_PID" 2>/dev/null || true
  bash "$PEER" stop fuse "$W/bindfs" >/dev/null 2>&1 || true
  rm -rf "$W"
}
trap cleanup EXIT INT TERM

mkdir -p "$W/ours"
node bin/dw.js serve --data "$W/dw" --fuse "$W/ours" --webdav off --sftp off >"$W/dw.log" 2>&1 &
DW_PID=$!
for _ in $(seq 1 100); do grep -q ' fuse' <(grep " $W/ours " /proc/mounts) 2>/dev/null && break; sleep 0.1; done
grep -q " $W/ours " /proc/mounts || { cat "$W/dw.log"; echo "our mount did not come up" >&2; exit 1; }
bash "$PEER" start fuse "$W/bindfs" 0 >/dev/null
REF="$W/bindfs/mnt"

echo "== FUSE benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ours: $W/ours (dw serve --fuse, rs:4+2) | reference: bindfs $REF over $W/bindfs/src (same disk)"
fio_run() { # name dir args... → prints "bw_MiBs iops"
  local name=$1 dir=$2; shift 2
  fio --name="$name" --directory="$dir" --output-format=json "$@" 2>/dev/null | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const j = JSON.parse(s).jobs[0]; const r = j.read, w = j.write;
      const bw = (r.bw_bytes + w.bw_bytes) / 1048576, iops = r.iops + w.iops;
      console.log(bw.toFixed(1), iops.toFixed(0));
    });'
}
declare -A R
for t in ours ref; do
  d=$([ $t = ours ] && echo "$W/ours" || echo "$REF")
  R[$t-seqw]=$(fio_run seqw "$d" --rw=write --bs=1M --size=${SIZE_MIB}M --end_fsync=1 --ioengine=psync)
  sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
  R[$t-seqr]=$(fio_run seqr "$d" --rw=read --bs=1M --size=${SIZE_MIB}M --filename=seqw.0.0 --ioengine=psync)
  R[$t-rand]=$(fio_run rand "$d" --rw=randrw --bs=4k --size=${RAND_MIB}M --time_based --runtime=$SECONDS_RAND --ioengine=psync --iodepth=1)
  echo "   $t: seq write ${R[$t-seqw]%% *} MiB/s, seq read ${R[$t-seqr]%% *} MiB/s, 4k randrw ${R[$t-rand]##* } IOPS"
done
ratio() { node -e 'const [a, b] = process.argv.slice(1).map(Number); console.log(b > 0 ? (a / b).toFixed(2) + "×" : "n/a")' "$1" "$2"; }
echo
echo "| measurement | ours (dw --fuse, rs:4+2) | bindfs | ours / bindfs |"
echo "|---|---:|---:|---:|"
echo "| fio sequential write ${SIZE_MIB} MiB, 1 MiB blocks, end_fsync | ${R[ours-seqw]%% *} MiB/s | ${R[ref-seqw]%% *} MiB/s | $(ratio ${R[ours-seqw]%% *} ${R[ref-seqw]%% *}) |"
echo "| fio sequential read ${SIZE_MIB} MiB, 1 MiB blocks (page cache dropped) | ${R[ours-seqr]%% *} MiB/s | ${R[ref-seqr]%% *} MiB/s | $(ratio ${R[ours-seqr]%% *} ${R[ref-seqr]%% *}) |"
echo "| fio 4 KiB random read/write, ${RAND_MIB} MiB file, ${SECONDS_RAND} s | ${R[ours-rand]##* } IOPS | ${R[ref-rand]##* } IOPS | $(ratio ${R[ours-rand]##* } ${R[ref-rand]##* }) |"

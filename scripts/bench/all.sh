#!/usr/bin/env bash
# Issue 2, acceptance 7: every benchmark side by side in one run, on this machine, same clients.
#   ours      = the real gateway as users run it: `node bin/dw.js serve` on a fresh data folder
#               (default rs:4+2 pool, six device folders, RocksDB metadata), default log level
#   reference = Apache mod_dav (WebDAV) and OpenSSH sshd + sftp-server (SFTP), started by
#               shared/peers/peer with their exports on the same disk (both under one temp dir)
#   ours-mem  = our protocol servers on the in-memory VFS (scripts/bench/*-server.ts): protocol
#               cost alone, no metadata store, no erasure coding, no disk (skip with --no-memory)
# Clients: curl (WebDAV) and OpenSSH sftp (SFTP), with identical options, the same files and the
# same ssh key for every server. Each measurement runs RUNS times, rounds interleaved between
# servers; the median is reported, with every run's value. Order: big files (WebDAV, SFTP), then
# small files (WebDAV, SFTP), then RS encode. Ends with a markdown summary table.
#
#   bash scripts/bench/all.sh [--runs N] [--sftp-small-runs N] [--size-mib N] [--files N] [--par N]
#                             [--no-memory] [--only LIST] [--rs-seconds S] [--cpu-prof DIR]
#   --runs N       runs per measurement (3); sftp put -r of the small files runs once by default
#   --only LIST    comma list of: dav-big, dav-small, sftp-big, sftp-small, rs (default all)
#   --targets LIST comma list of: ours, ref, mem (default all three; e.g. ours alone to profile)
#   --cpu-prof DIR run the gateway under `node --cpu-prof` and leave its profiles in DIR
#                  (summarize with: node scripts/bench/profile-summary.mjs DIR/*.cpuprofile)
# Needs: apache2, openssh-server, openssh-client, curl (`/work/shared/peers/peer install`).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

TARGETS_ARG=''; RUNS=3; SMALL_SFTP_RUNS=1; SIZE_MIB=256; FILES=10000; PAR=8; MEMORY=1; ONLY=all; RS_SECONDS=2; PROF_DIR=''
while [ $# -gt 0 ]; do
  case $1 in
    --runs) RUNS=$2; shift 2 ;;
    --sftp-small-runs) SMALL_SFTP_RUNS=$2; shift 2 ;;
    --size-mib) SIZE_MIB=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    --par) PAR=$2; shift 2 ;;
    --no-memory) MEMORY=0; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --targets) TARGETS_ARG=$2; shift 2 ;;
    --rs-seconds) RS_SECONDS=$2; shift 2 ;;
    --cpu-prof) PROF_DIR=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "all.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
want() { [ "$ONLY" = all ] || [[ ",$ONLY," == *",$1,"* ]]; }

PEER=$root/../shared/peers/peer
[ -x "$PEER" ] || PEER=/work/shared/peers/peer
for c in curl sftp ssh-keygen /usr/sbin/apache2 /usr/sbin/sshd; do
  command -v "$c" >/dev/null || { echo "all.sh: $c is missing; run: $PEER install" >&2; exit 1; }
done

W=$(mktemp -d /tmp/dw-bench.XXXXXX); chmod 755 "$W"  # Apache runs as www-data
GW_PID=''; MEMDAV_PID=''; MEMSFTP_PID=''
stop_pid() { # pid: TERM, wait up to 60 s (the gateway flushes and syncs), then KILL
  local p=$1
  [ -n "$p" ] || return 0
  kill -TERM "$p" 2>/dev/null || return 0
  for _ in $(seq 1 600); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}
cleanup() {
  set +e
  stop_pid "$GW_PID"; stop_pid "$MEMDAV_PID"; stop_pid "$MEMSFTP_PID"
  [ -f "$W/apache/httpd.conf" ] && "$PEER" stop webdav "$W/apache" >/dev/null 2>&1
  [ -f "$W/sshd/sshd_config" ] && "$PEER" stop sftp "$W/sshd" >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { t = b - a; if (t <= 0) t = 1e-9; printf "%.1f", n / t }'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "n/a" || b == "n/a" || b <= 0) print "n/a"; else printf "%.2f×", a / b }'; }
free_port() { local p; while :; do p=$((20000 + RANDOM % 30000)); (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }; done; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
die() { echo "all.sh: $*" >&2; exit 1; }

declare -A R   # R[target.metric] = "v1 v2 v3"
add() { R[$1]="${R[$1]:-} $2"; }

LOAD0=$(load); DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "== DataWarehouse benchmarks, $DATE"
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), $(free -g | awk '/^Mem:/ { print $2 " GiB RAM" }'), load before: $LOAD0"
echo "work dir: $W (ours, Apache and sshd all on $(df --output=source "$W" | tail -1))"

# ---- inputs: one big random file, FILES distinct 4 KiB files
head -c $((SIZE_MIB << 20)) /dev/urandom >"$W/big.bin"
mkdir "$W/small"
head -c $((FILES * 4096)) /dev/urandom | (cd "$W/small" && split -b 4096 -a 5 -d - f)
ls "$W/small" >"$W/names"
[ "$(wc -l <"$W/names")" -eq "$FILES" ] || die "could not make $FILES small files"

# ---- reference servers (the key made by `peer start sftp` is the one key every server accepts)
AP_PORT=$(free_port); "$PEER" start webdav "$W/apache" "$AP_PORT" >/dev/null
SSHD_PORT=$(free_port); "$PEER" start sftp "$W/sshd" "$SSHD_PORT" >/dev/null
KEY=$W/sshd/id_client

# ---- our gateway, exactly as a user starts it (port 0: any free port, read from the banner)
node_opts=()
[ -n "$PROF_DIR" ] && node_opts=(--cpu-prof --cpu-prof-dir "$PROF_DIR")
node "${node_opts[@]}" bin/dw.js serve --data "$W/dw" --webdav 127.0.0.1:0 --sftp 127.0.0.1:0 >"$W/gw.out" 2>"$W/gw.err" &
GW_PID=$!
for _ in $(seq 1 300); do grep -q 'First user created' "$W/gw.err" 2>/dev/null && break; kill -0 "$GW_PID" 2>/dev/null || break; sleep 0.1; done
ADMIN_PW=$(grep -o 'First user created: admin, password [^ ]*' "$W/gw.err" | awk '{ print $NF }') || true
[ -n "$ADMIN_PW" ] || { cat "$W/gw.err" "$W/gw.out" >&2; die "the gateway did not start"; }
GW_URL=$(grep -oE 'WebDAV: +http://[^ ]+' "$W/gw.err" | awk '{ print $2 }')
GW_SFTP=$(grep -oE 'SFTP: +[^ ]+ port [0-9]+' "$W/gw.err" | awk '{ print $NF }')
node bin/dw.js user add bench --ssh-key "$KEY.pub" --data "$W/dw" >/dev/null

# ---- optional: protocol servers on the memory VFS
TARGETS=(ours ref)
[ "$MEMORY" = 1 ] && TARGETS+=(mem)
[ -n "$TARGETS_ARG" ] && IFS=, read -r -a TARGETS <<<"$TARGETS_ARG"
[[ " ${TARGETS[*]} " == *" mem "* ]] && MEMORY=1 || MEMORY=0
if [ "$MEMORY" = 1 ]; then
  node --import tsx scripts/bench/webdav-server.ts --port 0 --user peer --password peer-pw --vfs memory >"$W/memdav.out" 2>"$W/memdav.err" &
  MEMDAV_PID=$!
  node --import tsx scripts/bench/sftp-server.ts --port 0 --user bench --authorized-key "$KEY.pub" --vfs memory >"$W/memsftp.out" 2>"$W/memsftp.err" &
  MEMSFTP_PID=$!
  for _ in $(seq 1 300); do [ -s "$W/memdav.out" ] && [ -s "$W/memsftp.out" ] && break; sleep 0.1; done
  [ -s "$W/memdav.out" ] && [ -s "$W/memsftp.out" ] || { cat "$W"/mem*.err >&2; die "memory-VFS servers did not start"; }
fi
MEM_URL=$(head -1 "$W/memdav.out" 2>/dev/null || true); MEM_SFTP=$(head -1 "$W/memsftp.out" 2>/dev/null || true)

dav_url() { case $1 in ours) echo "$GW_URL" ;; ref) echo "http://127.0.0.1:$AP_PORT/" ;; mem) echo "$MEM_URL" ;; esac; }
dav_cred() { case $1 in ours) echo "admin:$ADMIN_PW" ;; *) echo "peer:peer-pw" ;; esac; }
sftp_port() { case $1 in ours) echo "$GW_SFTP" ;; ref) echo "$SSHD_PORT" ;; mem) echo "$MEM_SFTP" ;; esac; }
sftp_user() { case $1 in ref) echo root ;; *) echo bench ;; esac; }

echo "ours: gateway pid $GW_PID, WebDAV $GW_URL, SFTP port $GW_SFTP | Apache :$AP_PORT | sshd :$SSHD_PORT${MEM_URL:+ | memory VFS $MEM_URL, SFTP port $MEM_SFTP}"
echo "runs per measurement: $RUNS (median reported)"

# curl with the same options for every server (-u on the command line: loopback, throwaway passwords).
dav() { local t=$1; shift; curl -sfS --no-progress-meter --max-time 600 -u "$(dav_cred "$t")" "$@"; }

# ---- WebDAV: 256 MiB PUT and GET
if want dav-big; then
  echo "-- WebDAV ${SIZE_MIB} MiB PUT / GET (curl -T, curl -o)  [load $(load)]"
  for t in "${TARGETS[@]}"; do dav "$t" -X MKCOL "$(dav_url "$t")bench/" -o /dev/null; done
  for r in $(seq 1 "$RUNS"); do
    for t in "${TARGETS[@]}"; do
      u="$(dav_url "$t")bench/big-$r.bin"
      t0=$(now); dav "$t" -T "$W/big.bin" "$u" -o /dev/null; t1=$(now)
      dav "$t" "$u" -o "$W/got.bin"; t2=$(now)
      cmp -s "$W/big.bin" "$W/got.bin" || die "$t: GET returned different bytes"
      rm -f "$W/got.bin"; dav "$t" -X DELETE "$u" -o /dev/null
      add "$t.dav_put" "$(rate "$SIZE_MIB" "$t0" "$t1")"; add "$t.dav_get" "$(rate "$SIZE_MIB" "$t1" "$t2")"
      printf '   run %d %-4s PUT %7s MiB/s  GET %7s MiB/s\n' "$r" "$t" "$(rate "$SIZE_MIB" "$t0" "$t1")" "$(rate "$SIZE_MIB" "$t1" "$t2")"
    done
  done
fi

# ---- SFTP: OpenSSH sftp, same options and key for every server. Each transfer is one sftp
# session; the server's median login time (a session running only `pwd`, measured here) is
# subtracted, because it differs a lot: sshd's default kex (sntrup761x25519) and privilege
# separation take ~0.3 s, the gateway's login ~0.03 s.
sftp_opts=(-q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes -o BatchMode=yes -i "$KEY")
sftp_batch() { # target, batch lines...
  local t=$1; shift
  printf '%s\n' "$@" >"$W/batch"
  timeout 600 sftp "${sftp_opts[@]}" -P "$(sftp_port "$t")" -b "$W/batch" "$(sftp_user "$t")@127.0.0.1" >/dev/null
}
declare -A LOGIN
if want sftp-big || want sftp-small; then
  for t in "${TARGETS[@]}"; do
    ls_=''
    for _ in 1 2 3 4 5; do t0=$(now); sftp_batch "$t" pwd; t1=$(now); ls_+=" $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')"; done
    LOGIN[$t]=$(printf '%s' "$ls_" | median)
  done
  echo "-- SFTP login (session with only pwd, median of 5, subtracted below): $(for t in "${TARGETS[@]}"; do printf '%s %ss  ' "$t" "${LOGIN[$t]}"; done)"
fi
# rate after taking the login away: n t0 t1 target
srate() { awk -v n="$1" -v a="$2" -v b="$3" -v l="${LOGIN[$4]}" 'BEGIN { t = b - a - l; if (t <= 0) t = 1e-9; printf "%.1f", n / t }'; }
if want sftp-big; then
  echo "-- SFTP ${SIZE_MIB} MiB put / get (OpenSSH sftp -b)  [load $(load)]"
  for r in $(seq 1 "$RUNS"); do
    for t in "${TARGETS[@]}"; do
      t0=$(now); sftp_batch "$t" "put $W/big.bin big-$r.bin"; t1=$(now)
      sftp_batch "$t" "get big-$r.bin $W/got.bin"; t2=$(now)
      cmp -s "$W/big.bin" "$W/got.bin" || die "$t: sftp get returned different bytes"
      rm -f "$W/got.bin"; sftp_batch "$t" "rm big-$r.bin"
      add "$t.sftp_put" "$(srate "$SIZE_MIB" "$t0" "$t1" "$t")"; add "$t.sftp_get" "$(srate "$SIZE_MIB" "$t1" "$t2" "$t")"
      printf '   run %d %-4s put %7s MiB/s  get %7s MiB/s\n' "$r" "$t" "$(srate "$SIZE_MIB" "$t0" "$t1" "$t")" "$(srate "$SIZE_MIB" "$t1" "$t2" "$t")"
    done
  done
fi

# ---- WebDAV: FILES x 4 KiB PUT, one curl, PAR connections (--parallel), keep-alive
if want dav-small; then
  echo "-- WebDAV $FILES x 4 KiB PUT (curl --parallel --parallel-max $PAR -K list)  [load $(load)]"
  for r in $(seq 1 "$RUNS"); do
    for t in "${TARGETS[@]}"; do
      base="$(dav_url "$t")small-$r/"
      dav "$t" -X MKCOL "$base" -o /dev/null
      awk -v d="$W/small" -v u="$base" '{ printf "upload-file = \"%s/%s\"\nurl = \"%s%s\"\noutput = \"/dev/null\"\n", d, $1, u, $1 }' "$W/names" >"$W/list"
      t0=$(now); dav "$t" --parallel --parallel-max "$PAR" -K "$W/list"; t1=$(now)
      n=$(dav "$t" -X PROPFIND -H 'Depth: 1' "$base" | grep -oE '<([A-Za-z0-9]+:)?response[ >]' | wc -l || true)
      [ "$n" -eq $((FILES + 1)) ] || die "$t: expected $FILES files in $base, PROPFIND lists $((n - 1))"
      add "$t.dav_small" "$(rate "$FILES" "$t0" "$t1")"
      printf '   run %d %-4s %8s files/s\n' "$r" "$t" "$(rate "$FILES" "$t0" "$t1")"
    done
  done
fi

# ---- SFTP: FILES x 4 KiB by `put -r` (one file at a time: the OpenSSH client does not overlap files)
if want sftp-small; then
  echo "-- SFTP $FILES x 4 KiB (OpenSSH sftp put -r), $SMALL_SFTP_RUNS run(s)  [load $(load)]"
  for r in $(seq 1 "$SMALL_SFTP_RUNS"); do
    for t in "${TARGETS[@]}"; do
      t0=$(now); sftp_batch "$t" "put -r $W/small ssmall-$r"; t1=$(now)
      n=$(printf 'ls -1 ssmall-%s\n' "$r" | timeout 600 sftp "${sftp_opts[@]}" -P "$(sftp_port "$t")" -b - "$(sftp_user "$t")@127.0.0.1" 2>/dev/null | grep -c '/f[0-9]' || true)
      [ "$n" -eq "$FILES" ] || die "$t: expected $FILES files in ssmall-$r, sftp ls lists $n"
      add "$t.sftp_small" "$(srate "$FILES" "$t0" "$t1" "$t")"
      printf '   run %d %-4s %8s files/s\n' "$r" "$t" "$(srate "$FILES" "$t0" "$t1" "$t")"
    done
  done
fi

LOAD1=$(load)
if [ -n "$PROF_DIR" ]; then stop_pid "$GW_PID"; GW_PID=''; echo "cpu profiles in $PROF_DIR"; fi

# ---- RS encode, one core
if want rs; then
  echo "-- RS encode (scripts/bench/rs-encode.sh $RS_SECONDS)  [load $(load)]"
  bash scripts/bench/rs-encode.sh "$RS_SECONDS" | tee "$W/rs.out" | grep -v '^{'
  rsjson=$(grep '^{' "$W/rs.out" | tail -1)
  rsget() { node -e 'const j = JSON.parse(process.argv[1]); const r = j.results.find((x) => x.layout === process.argv[2] && x.mode === process.argv[3]); console.log(r ? r.cpuGBps.toFixed(2) : "n/a")' "$rsjson" "$1" "$2"; }
fi

# ---- summary
m() { printf '%s' "${R[$1]:-}" | median; }
runs() { local v=${R[$1]:-}; v=${v# }; printf '%s' "${v// / \/ }"; }
echo
echo "== summary $DATE, $(nproc) cores, load $LOAD0 -> $LOAD1, median of $RUNS"
if [ "$MEMORY" = 1 ]; then
  echo "| measurement | ours (gateway, rs:4+2) | reference | ours / ref | ours, memory VFS | mem / ref |"
  echo "|---|---:|---:|---:|---:|---:|"
else
  echo "| measurement | ours (gateway, rs:4+2) | reference | ours / ref |"
  echo "|---|---:|---:|---:|"
fi
row() { # label metric unit
  local o a mm; o=$(m "ours.$2"); a=$(m "ref.$2")
  [ "$o" = n/a ] && [ "$a" = n/a ] && return 0
  if [ "$MEMORY" = 1 ]; then mm=$(m "mem.$2")
    printf '| %s | %s %s | %s %s | %s | %s %s | %s |\n' "$1" "$o" "$3" "$a" "$3" "$(ratio "$o" "$a")" "$mm" "$3" "$(ratio "$mm" "$a")"
  else
    printf '| %s | %s %s | %s %s | %s |\n' "$1" "$o" "$3" "$a" "$3" "$(ratio "$o" "$a")"
  fi
}
row "WebDAV PUT ${SIZE_MIB} MiB (curl; ref Apache mod_dav)" dav_put MiB/s
row "WebDAV GET ${SIZE_MIB} MiB (curl)" dav_get MiB/s
row "WebDAV PUT $FILES × 4 KiB (curl --parallel $PAR)" dav_small files/s
row "SFTP put ${SIZE_MIB} MiB (OpenSSH sftp, login excluded; ref sshd)" sftp_put MiB/s
row "SFTP get ${SIZE_MIB} MiB (OpenSSH sftp)" sftp_get MiB/s
row "SFTP put -r $FILES × 4 KiB (OpenSSH sftp, $SMALL_SFTP_RUNS run)" sftp_small files/s
if want rs; then
  for l in rs:4+2 rs:8+3; do
    tail=''; [ "$MEMORY" = 1 ] && tail=' | | |'
    echo "| RS encode $l, parity only, 1 core | $(rsget "$l" parity) GB/s | aim 3 GB/s | $(ratio "$(rsget "$l" parity)" 3)$tail"
    echo "| RS encode $l, put path (copy + parity + xxh64), 1 core | $(rsget "$l" put-path) GB/s | aim 3 GB/s | $(ratio "$(rsget "$l" put-path)" 3)$tail"
  done
fi
echo
if [ "$MEMORY" = 1 ]; then echo "every run (ours | ref | mem):"; else echo "every run (ours | ref):"; fi
for k in dav_put dav_get dav_small sftp_put sftp_get sftp_small; do
  [ -n "${R[ours.$k]:-}" ] || continue
  printf '  %-10s %s | %s' "$k" "$(runs "ours.$k")" "$(runs "ref.$k")"
  [ "$MEMORY" = 1 ] && printf ' | %s' "$(runs "mem.$k")"
  echo
done

#!/usr/bin/env bash
# SMB3 benchmark (issue 7, acceptance 5), side by side with Samba's smbd on this machine, same
# client (Debian smbclient, -m SMB3):
#   a 200 MiB file put and got back, plain and encrypted; the timed get writes to /dev/null (the
#   client writing a local file made the get rows swing up to 4x between identical runs on this
#   VM, for both servers), then an untimed get into a file is checked byte for byte
#   (--client-protection=encrypt), and 10,000 files of 4 KiB put with one smbclient's `mput`
#   (one session, as a user dragging a folder onto a mapped drive).
# Prints MiB/s (files/s for small files) per server and mode and the ratio ours / smbd. The large
# file runs RUNS times (3), interleaved between the servers, and the median counts; small files
# run once (they take longest). Each server first gets an untimed warm-up (common.sh, WARM_UP).
#   bash scripts/bench/smb.sh [--size-mib N] [--files N] [--runs N]
# Ours: `dw serve --smb` on a fresh data folder (the real pool: RocksDB + the default layout),
# share `dw` (= /), the first user admin. Samba: ../shared/peers/peer start smb (share
# //127.0.0.1/share, user peersmb, acl_xattr + streams_xattr, DOS attributes stored).
set -euo pipefail
cd "$(dirname "$0")/../.."

SIZE_MIB=200; FILES=10000; RUNS=3
while [ $# -gt 0 ]; do
  case $1 in
    --size-mib) SIZE_MIB=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
command -v smbclient >/dev/null && command -v smbd >/dev/null || { echo "needs smbclient and samba: bash ../shared/peers/peer install" >&2; exit 1; }
PEER=${DW_PEER:-../shared/peers/peer}
[ -x "$PEER" ] || PEER=$(cd .. && pwd)/shared/peers/peer

OUR_PORT=${DW_BENCH_OUR_PORT:-18545}; S_PORT=${DW_BENCH_SAMBA_PORT:-18546}
WORK=$(mktemp -d /tmp/dw-bench-smb.XXXXXX); chmod 755 "$WORK"  # smbd serves as user peersmb
OUR_PID=""; SAMBA=""
cleanup() {
  [ -n "$OUR_PID" ] && kill "$OUR_PID" 2>/dev/null && wait "$OUR_PID" 2>/dev/null || true
  [ -n "$SAMBA" ] && bash "$PEER" stop smb "$WORK/samba" || true
  sleep 0.3
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=common.sh
. scripts/bench/common.sh  # (the working folder is the repo root, above)

echo "preparing a ${SIZE_MIB} MiB file and ${FILES} files of 4 KiB in $WORK"
prepare_files

mkdir -p "$WORK/dw"
node bin/dw.js serve --data "$WORK/dw" --webdav off --sftp off --smb "127.0.0.1:$OUR_PORT" >"$WORK/our.out" 2>"$WORK/our.err" &
OUR_PID=$!
for _ in $(seq 1 300); do grep -q 'Stop: ' "$WORK/our.err" 2>/dev/null && break; sleep 0.1; done
PASS=$(sed -n 's/.*First user created: admin, password \([^ ]*\).*/\1/p' "$WORK/our.err")
[ -n "$PASS" ] || { echo "our server did not start:"; cat "$WORK/our.err"; exit 1; }

bash "$PEER" start smb "$WORK/samba" "$S_PORT" >/dev/null
SAMBA=1

# client NAME MODE ARGS… : smbclient against server NAME (ours|smbd); MODE plain|encrypt.
client() {
  local name=$1 mode=$2; shift 2
  local prot=()
  [ "$mode" = encrypt ] && prot=(--client-protection=encrypt)
  if [ "$name" = ours ]; then
    smbclient "//127.0.0.1/dw" -p "$OUR_PORT" -U "admin%$PASS" -m SMB3 "${prot[@]}" "$@"
  else
    smbclient "//127.0.0.1/share" -p "$S_PORT" -U 'peersmb%Passw0rd!' -m SMB3 "${prot[@]}" "$@"
  fi
}

# big NAME MODE → sets W_R R_R: the big file put then got (timed, into /dev/null), each step after
# `sync`; then got into a file and checked (untimed).
big() {
  local name=$1 mode=$2 t0 t1 t2 t3
  sync
  t0=$(now)
  client "$name" "$mode" -c "put $WORK/big.bin big-$mode.bin" >/dev/null
  t1=$(now)
  sync
  t2=$(now)
  client "$name" "$mode" -c "get big-$mode.bin /dev/null" >/dev/null
  t3=$(now)
  client "$name" "$mode" -c "get big-$mode.bin $WORK/back.bin" >/dev/null
  [ "$(sha256sum "$WORK/back.bin" | cut -d' ' -f1)" = "$WANT" ] || { echo "$name $mode: read back differs" >&2; exit 1; }
  rm -f "$WORK/back.bin"
  W_R=$(rate "$SIZE_MIB" "$t0" "$t1"); R_R=$(rate "$SIZE_MIB" "$t2" "$t3")
  printf '%-6s %-8s put %8s MiB/s   get %8s MiB/s\n' "$name" "$mode" "$W_R" "$R_R"
}

# small NAME → sets SMALL_R and LANDED: FILES files put with one mput into folder small/.
small() {
  local name=$1 t0 t1
  sync
  t0=$(now)
  # smbclient reports each of the 10,000 files on stderr: kept in a file, shown when files are missing.
  client "$name" plain -c "mkdir small; cd small; lcd $WORK/small; prompt off; mput *" >/dev/null 2>"$WORK/small-$name.err"
  t1=$(now)
  SMALL_R=$(rate "$FILES" "$t0" "$t1")
  LANDED=$(client "$name" plain -c "cd small; ls" | grep -c ' f[0-9]' || true)
  printf '%-6s %d x 4 KiB files %8s files/s (%s landed)\n' "$name" "$FILES" "$SMALL_R" "$LANDED"
  [ "$LANDED" -eq "$FILES" ] || { echo "$name: $LANDED of $FILES small files landed; smbclient said:" >&2; grep -v '^putting file' "$WORK/small-$name.err" | tail -20 >&2; exit 1; }
}

# warm NAME: the untimed warm-up round (common.sh, WARM_UP), plain and encrypted.
warm() {
  local mode
  for mode in plain encrypt; do
    client "$1" "$mode" -c "put $WORK/warm.bin warm.bin; get warm.bin $WORK/warm-back.bin; del warm.bin" >/dev/null
  done
  rm -f "$WORK/warm-back.bin"
}

warm ours; warm smbd
echo "date $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, client smbclient $(dpkg-query -W -f '${Version}' smbclient 2>/dev/null || echo '?'), server smbd $(dpkg-query -W -f '${Version}' samba 2>/dev/null || echo '?')"
declare -A RES=()
for r in $(seq 1 "$RUNS"); do
  for mode in plain encrypt; do
    big ours "$mode"; RES[ours-$mode-put]+=" $W_R"; RES[ours-$mode-get]+=" $R_R"
    big smbd "$mode"; RES[smbd-$mode-put]+=" $W_R"; RES[smbd-$mode-get]+=" $R_R"
  done
done
declare -A MED=()
for k in "${!RES[@]}"; do MED[$k]=$(printf '%s' "${RES[$k]}" | median); done
for k in ours-plain-put ours-plain-get smbd-plain-put smbd-plain-get ours-encrypt-put ours-encrypt-get smbd-encrypt-put smbd-encrypt-get; do
  printf 'median of %d: %-18s %8s MiB/s  (runs:%s)\n' "$RUNS" "$k" "${MED[$k]}" "${RES[$k]}"
done
small ours; OS=$SMALL_R
small smbd; SS=$SMALL_R
echo "ratio ours/smbd (medians): plain put $(ratio "${MED[ours-plain-put]}" "${MED[smbd-plain-put]}")   plain get $(ratio "${MED[ours-plain-get]}" "${MED[smbd-plain-get]}")   encrypted put $(ratio "${MED[ours-encrypt-put]}" "${MED[smbd-encrypt-put]}")   encrypted get $(ratio "${MED[ours-encrypt-get]}" "${MED[smbd-encrypt-get]}")   small files $(ratio "$OS" "$SS")"

#!/usr/bin/env bash
# 256 MiB sftp put and get: our SFTP server against OpenSSH sshd (Debian's sftp-server, started by
# shared/peers/peer), with the same OpenSSH `sftp` client, the same key and the same local files.
# (The full side-by-side run against the real gateway, Apache and sshd is scripts/bench/all.sh.)
# Prints MiB/s for each and the ratio ours / OpenSSH (best of RUNS runs each).
#   bash scripts/bench/sftp.sh
# Environment: SIZE_MIB (256), RUNS (2), CIPHER (client default when empty), PEER (path of the peer
# script), DW_SFTP_VFS (memory | a VFS factory module, passed to scripts/bench/sftp-server.ts).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
SIZE_MIB=${SIZE_MIB:-256}
RUNS=${RUNS:-2}
PEER=${PEER:-$root/../shared/peers/peer}
[ -x "$PEER" ] || PEER=/work/shared/peers/peer
command -v sftp >/dev/null || { echo "sftp.sh: needs openssh-client" >&2; exit 1; }
[ -x /usr/sbin/sshd ] || { echo "sftp.sh: needs openssh-server (peer install)" >&2; exit 1; }

work=$(mktemp -d /tmp/dw-bench-sftp.XXXXXX)
peer_port=$((20000 + RANDOM % 20000))
ours_pid=''
cleanup() {
  "$PEER" stop sftp "$work/peer" >/dev/null 2>&1 || true
  if [ -n "$ours_pid" ]; then kill "$ours_pid" 2>/dev/null || true; wait "$ours_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$PEER" start sftp "$work/peer" "$peer_port" >/dev/null
key=$work/peer/id_client

# Our server, through the pluggable launcher; it prints its port when it listens.
(cd "$root" && exec node --import tsx scripts/bench/sftp-server.ts --port 0 --user root \
  --authorized-key "$key.pub" ${DW_SFTP_VFS:+--vfs "$DW_SFTP_VFS"}) >"$work/ours.out" 2>"$work/ours.err" &
ours_pid=$!
for _ in $(seq 1 200); do [ -s "$work/ours.out" ] && break; sleep 0.1; done
ours_port=$(head -1 "$work/ours.out")
[ -n "$ours_port" ] || { echo "sftp.sh: our server did not start:" >&2; cat "$work/ours.err" >&2; exit 1; }

head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$work/big.bin"

opts=(-q -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o IdentitiesOnly=yes -i "$key")
[ -n "${CIPHER:-}" ] && opts+=(-c "$CIPHER")

# seconds for one sftp batch against a port
run() { # port batch-text
  printf '%s\n' "$2" >"$work/batch"
  local s e
  s=$(date +%s.%N)
  sftp "${opts[@]}" -P "$1" -b "$work/batch" root@127.0.0.1 >/dev/null
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }'
}
best() { awk 'BEGIN { m = -1 } { if (m < 0 || $1 < m) m = $1 } END { print m }'; }
mibs() { awk -v n="$SIZE_MIB" -v t="$1" 'BEGIN { printf "%.1f", n / t }'; }

declare -A secs
for target in ours openssh; do
  port=$ours_port; [ "$target" = openssh ] && port=$peer_port
  put_times=''; get_times=''
  for _ in $(seq 1 "$RUNS"); do
    put_times+="$(run "$port" "put $work/big.bin big.bin")"$'\n'
    rm -f "$work/got.bin"
    get_times+="$(run "$port" "get big.bin $work/got.bin")"$'\n'
    cmp -s "$work/big.bin" "$work/got.bin" || { echo "sftp.sh: $target returned different bytes" >&2; exit 1; }
    run "$port" "rm big.bin" >/dev/null
  done
  secs[$target.put]=$(printf '%s' "$put_times" | best)
  secs[$target.get]=$(printf '%s' "$get_times" | best)
done

cipher=${CIPHER:-client default}
echo "sftp ${SIZE_MIB} MiB, best of $RUNS, cipher: $cipher, vfs: ${DW_SFTP_VFS:-memory}"
for op in put get; do
  o=$(mibs "${secs[ours.$op]}"); r=$(mibs "${secs[openssh.$op]}")
  ratio=$(awk -v a="$o" -v b="$r" 'BEGIN { printf "%.2f", a / b }')
  printf 'sftp %-3s %4s MiB: ours %8s MiB/s   OpenSSH %8s MiB/s   ratio %sx\n' "$op" "$SIZE_MIB" "$o" "$r" "$ratio"
done

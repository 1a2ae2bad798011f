#!/usr/bin/env bash
# Issue 7 acceptance 1, measured once (not in CI): against `dw serve --smb` on a fresh data folder,
# a real tree (default /usr/share/doc, its regular files and directories copied to a work folder
# first: smbclient's mput would follow the tree's symlinks) is put with smbclient
# `recurse ON; prompt OFF; mput *` and got back with `mget *`, with -m SMB2, -m SMB3 and
# -m SMB3 --client-protection=encrypt, each into its own folder, and compared byte for byte
# (sha256 of every file). Also: `smbclient -L` lists the share, and a wrong password is refused.
#   bash scripts/smb-scale.sh [--tree DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

TREE=/usr/share/doc
while [ $# -gt 0 ]; do
  case $1 in
    --tree) TREE=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
PORT=${DW_SMB_PORT:-14452}
WORK=$(mktemp -d /tmp/dw-smb-scale.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
# shellcheck source=bench/common.sh
. scripts/bench/common.sh  # now, secs (the working folder is the repo root)

mkdir -p "$WORK/dw" "$WORK/src"
(cd "$TREE" && find . -type f -print0 | xargs -0 cp --parents -t "$WORK/src")
NF=$(find "$WORK/src" -type f | wc -l); ND=$(find "$WORK/src" -mindepth 1 -type d | wc -l); MIB=$(( $(du -sb "$WORK/src" | cut -f1) >> 20 ))
echo "tree $TREE: $NF regular files in $ND directories, $MIB MiB"
# Names that differ only by case (libffi's Index.html and index.html): a case-insensitive share, as
# Windows and Samba's default, keeps one file for them (the later put wins), so they are left out
# of the comparison and counted instead.
(cd "$WORK/src" && find . -type f | sort -f | uniq -Di) >"$WORK/cased"
echo "$(wc -l <"$WORK/cased") files have names that differ from another's only by case: left out of the comparison"
# sums DIR: "sha256  ./path" of every file, in order, without the case-colliding names.
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | awk 'NR == FNR { skip[$0] = 1; next } !(substr($0, 67) in skip)' "$WORK/cased" -; }
sums "$WORK/src" >"$WORK/want"

node bin/dw.js serve --data "$WORK/dw" --webdav off --sftp off --smb "127.0.0.1:$PORT" >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 1 300); do grep -q 'Stop: ' "$WORK/err" 2>/dev/null && break; sleep 0.1; done
PASS=$(sed -n 's/.*First user created: admin, password \([^ ]*\).*/\1/p' "$WORK/err")
[ -n "$PASS" ] || { echo "server did not start:"; cat "$WORK/err"; exit 1; }
smb() { smbclient "//127.0.0.1/dw" -p "$PORT" -U "admin%$PASS" "$@"; }

LIST=$(smbclient -L //127.0.0.1 -p "$PORT" -U "admin%$PASS" -m SMB3 2>&1 || true)
if grep -Eq '^\s+dw\s+Disk' <<<"$LIST"; then echo "smbclient -L: lists share dw (Disk)"; else echo "smbclient -L did not list dw: $LIST" >&2; exit 1; fi
WRONG=$(smbclient //127.0.0.1/dw -p "$PORT" -U "admin%wrong$PASS" -m SMB3 -c exit 2>&1 || true)
if [[ $WRONG == *NT_STATUS_LOGON_FAILURE* ]]; then echo "wrong password: NT_STATUS_LOGON_FAILURE"; else echo "a wrong password was not refused: $WRONG" >&2; exit 1; fi

for mode in SMB2 SMB3 SMB3-encrypt; do
  args=(-m "${mode%-encrypt}"); [ "$mode" = SMB3-encrypt ] && args+=(--client-protection=encrypt)
  t0=$(now)
  smb "${args[@]}" -c "mkdir t-$mode; cd t-$mode; lcd $WORK/src; recurse ON; prompt OFF; mput *" >"$WORK/put-$mode.log" 2>&1 || { tail -5 "$WORK/put-$mode.log"; exit 1; }
  t1=$(now)
  mkdir -p "$WORK/back-$mode"
  smb "${args[@]}" -c "cd t-$mode; lcd $WORK/back-$mode; recurse ON; prompt OFF; mget *" >"$WORK/get-$mode.log" 2>&1 || { tail -5 "$WORK/get-$mode.log"; exit 1; }
  t2=$(now)
  sums "$WORK/back-$mode" >"$WORK/got-$mode"
  if cmp -s "$WORK/want" "$WORK/got-$mode"; then same="all $(wc -l <"$WORK/want") others identical"; else same="DIFFERENT"; fi
  echo "-m $mode: put $(secs "$t0" "$t1") s, get $(secs "$t1" "$t2") s; $same"
  if [[ $same != all* ]]; then diff "$WORK/want" "$WORK/got-$mode" | head -20 || true; exit 1; fi
done

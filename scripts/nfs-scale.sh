#!/usr/bin/env bash
# Issue 6 acceptance 1, measured once (not in CI): against `dw serve --nfs` on a fresh data folder,
#   - a real tree (default /usr/share/doc, regular files only) copied in with libnfs nfs-cp
#     (version=3; directories made over WebDAV MKCOL, as nfs-cp cannot make them) and back out,
#     then compared byte for byte (sha256 of every file);
#   - the same tree through NFSv4 (version=4, libnfs speaks 4.0): `nfs-ls -R` lists every file
#     and nfs-cp copies each back out, compared byte for byte again;
#   - `qemu-img convert` (qemu-block-extra's nfs:// driver) writing a raw image of --image-mib
#     (default 1024) MiB of random data to an nfs:// URL and reading it back, compared. qemu asks
#     the portmapper on port 111, so the server's built-in PORTMAP listens there (config
#     "nfs": { "portmapPort": 111 }); the script stops when 111 is taken.
#   bash scripts/nfs-scale.sh [--tree DIR] [--image-mib N] [--par N]
set -euo pipefail
cd "$(dirname "$0")/.."

TREE=/usr/share/doc; IMAGE_MIB=1024; PAR=4
while [ $# -gt 0 ]; do
  case $1 in
    --tree) TREE=$2; shift 2 ;;
    --image-mib) IMAGE_MIB=$2; shift 2 ;;
    --par) PAR=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
PORT=${DW_NFS_PORT:-18540}; DAV_PORT=$((PORT + 1))
WORK=$(mktemp -d /tmp/dw-nfs-scale.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
# shellcheck source=bench/common.sh
. scripts/bench/common.sh  # now, secs (the working folder is the repo root)

mkdir -p "$WORK/dw"
# qemu's nfs driver takes no ports in its URL: it asks the portmapper on 111, so ours answers there.
if (exec 3<>/dev/tcp/127.0.0.1/111) 2>/dev/null; then echo "port 111 is taken (rpcbind?): qemu-img would ask it, not us" >&2; exit 1; fi
echo '{ "nfs": { "portmapPort": 111, "exports": [ { "path": "/", "squash": "none" } ] } }' >"$WORK/dw.json"
node bin/dw.js serve --data "$WORK/dw" --config "$WORK/dw.json" --webdav "127.0.0.1:$DAV_PORT" --sftp off --nfs "127.0.0.1:$PORT" >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 1 300); do grep -q 'Stop: ' "$WORK/err" 2>/dev/null && break; sleep 0.1; done
PASS=$(sed -n 's/.*First user created: admin, password \([^ ]*\).*/\1/p' "$WORK/err")
[ -n "$PASS" ] || { echo "server did not start:"; cat "$WORK/err"; exit 1; }
Q="version=3&nfsport=$PORT&mountport=$PORT"
DAV="http://127.0.0.1:$DAV_PORT"

# The tree: regular files (names without newlines), their directories.
(cd "$TREE" && find . -type f -print | sed 's|^\./||' | grep -v '[?#%]' | sort) >"$WORK/files"
(cd "$TREE" && find . -mindepth 1 -type d -print | sed 's|^\./||' | sort) >"$WORK/dirs"
NF=$(wc -l <"$WORK/files"); BYTES=$(cd "$TREE" && xargs -a "$WORK/files" -d '\n' cat | wc -c)
echo "tree $TREE: $NF files, $(wc -l <"$WORK/dirs") directories, $((BYTES >> 20)) MiB"
urlenc() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$1"; }
mkdir -p "$WORK/back"
curl -sfS -u "admin:$PASS" -X MKCOL "$DAV/tree/" -o /dev/null
while IFS= read -r d; do curl -sfS -u "admin:$PASS" -X MKCOL "$DAV/tree/$(urlenc "$d")/" -o /dev/null; done <"$WORK/dirs"
while IFS= read -r d; do mkdir -p "$WORK/back/$d"; done <"$WORK/dirs"
export TREE WORK Q
t0=$(now)
xargs -a "$WORK/files" -d '\n' -P "$PAR" -I{} sh -c 'nfs-cp "$TREE/$1" "nfs://127.0.0.1/tree/$1?$Q" >/dev/null' _ {}
t1=$(now)
xargs -a "$WORK/files" -d '\n' -P "$PAR" -I{} sh -c 'nfs-cp "nfs://127.0.0.1/tree/$1?$Q" "$WORK/back/$1" >/dev/null' _ {}
t2=$(now)
(cd "$TREE" && xargs -a "$WORK/files" -d '\n' sha256sum) >"$WORK/want"
(cd "$WORK/back" && xargs -a "$WORK/files" -d '\n' sha256sum) >"$WORK/got"
if cmp -s "$WORK/want" "$WORK/got"; then SAME=identical; else SAME="DIFFERENT ($(diff "$WORK/want" "$WORK/got" | grep -c '^>') files)"; fi
echo "tree in: $(secs "$t0" "$t1") s, out: $(secs "$t1" "$t2") s ($PAR nfs-cp at a time); $NF files $SAME"

# NFSv4: list the tree and read it back out (libnfs 4.0 writes of 3,945 bytes or more fail in the client).
Q4="version=4&nfsport=$PORT"
export Q4
mkdir -p "$WORK/back4"
while IFS= read -r d; do mkdir -p "$WORK/back4/$d"; done <"$WORK/dirs"
t0=$(now)
nfs-ls -R "nfs://127.0.0.1/tree?$Q4" >"$WORK/ls4"
t1=$(now)
LISTED=$(grep -c '^-' "$WORK/ls4" || true)
xargs -a "$WORK/files" -d '\n' -P "$PAR" -I{} sh -c 'nfs-cp "nfs://127.0.0.1/tree/$1?$Q4" "$WORK/back4/$1" >/dev/null' _ {}
t2=$(now)
(cd "$WORK/back4" && xargs -a "$WORK/files" -d '\n' sha256sum) >"$WORK/got4"
if cmp -s "$WORK/want" "$WORK/got4"; then SAME=identical; else SAME="DIFFERENT ($(diff "$WORK/want" "$WORK/got4" | grep -c '^>') files)"; fi
echo "NFSv4: nfs-ls -R listed $LISTED regular files of $NF in $(secs "$t0" "$t1") s; read out in $(secs "$t1" "$t2") s; $NF files $SAME"

# qemu-img: a raw image of random data through nfs://.
head -c $((IMAGE_MIB << 20)) /dev/urandom >"$WORK/img.raw"
t0=$(now)
qemu-img convert -f raw -O raw "$WORK/img.raw" "nfs://127.0.0.1//img.raw"
t1=$(now)
qemu-img convert -f raw -O raw "nfs://127.0.0.1//img.raw" "$WORK/img.back"
t2=$(now)
if cmp -s "$WORK/img.raw" "$WORK/img.back"; then SAME=identical; else SAME=DIFFERENT; fi
echo "qemu-img convert ${IMAGE_MIB} MiB: write $(secs "$t0" "$t1") s ($(awk -v n="$IMAGE_MIB" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", n/(b-a)}') MiB/s), read $(secs "$t1" "$t2") s ($(awk -v n="$IMAGE_MIB" -v a="$t1" -v b="$t2" 'BEGIN{printf "%.1f", n/(b-a)}') MiB/s); $SAME"

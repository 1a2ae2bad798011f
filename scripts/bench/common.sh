# Shared by the side-by-side benchmarks (webdav.sh, nfs.sh) and the scale scripts (nfs-scale.sh,
# smb-scale.sh): timing, rates and the input files.
# Source it after WORK, SIZE_MIB and FILES are set.

now() { date +%s.%N; }
# secs START END: seconds between two `now` readings, one decimal.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# rate N START END: N per second between two `now` readings, one decimal.
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { t = b - a; if (t <= 0) t = 1e-9; printf "%.1f", n / t }'; }
# ratio OURS THEIRS: "1.23x", or n/a when THEIRS is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "n/a"; else printf "%.2fx", a / b }'; }

# prepare_files: $WORK/big.bin (SIZE_MIB MiB of random bytes, its sha256 in WANT) and FILES files
# of 4 KiB in $WORK/small (one random 4 KiB block under FILES names: content is irrelevant to
# the servers), their names in $WORK/names.
prepare_files() {
  head -c $((SIZE_MIB << 20)) /dev/urandom >"$WORK/big.bin"
  WANT=$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)
  mkdir -p "$WORK/small"
  head -c 4096 /dev/urandom >"$WORK/block"
  for i in $(seq 1 "$FILES"); do printf 'f%05d\n' "$i"; done >"$WORK/names"
  xargs -a "$WORK/names" -I{} cp "$WORK/block" "$WORK/small/{}"
}

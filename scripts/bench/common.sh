# Shared by the side-by-side benchmarks (webdav.sh, nfs.sh) and the scale scripts (nfs-scale.sh,
# smb-scale.sh): timing, rates and the input files.
# Source it after WORK, SIZE_MIB and FILES are set.

now() { date +%s.%N; }
# secs START END: seconds between two `now` readings, one decimal.
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# rate N START END: N per second between two `now` readings, one decimal.
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { t = b - a; if (t <= 0) t = 1e-9; printf "%.1f", n / t }'; }
# median: the median of the numbers on stdin (separated by spaces or newlines), or n/a.
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# ratio OURS THEIRS: "1.23x", or n/a when THEIRS is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) print "n/a"; else printf "%.2fx", a / b }'; }

# WARM_UP: before the timed runs, every script gives each server the same untimed round (a
# 32 MiB file written and read back, $WORK/warm.bin): our server is one long-running Node process
# whose first requests pay for JIT compilation; the timed figures are both servers' steady state.
#
# prepare_files: $WORK/big.bin (SIZE_MIB MiB of random bytes, its sha256 in WANT), $WORK/warm.bin
# (32 MiB, for the warm-up) and FILES files
# of 4 KiB in $WORK/small (one random 4 KiB block under FILES names: content is irrelevant to
# the servers), their names in $WORK/names.
prepare_files() {
  head -c $((SIZE_MIB << 20)) /dev/urandom >"$WORK/big.bin"
  head -c $((32 << 20)) /dev/urandom >"$WORK/warm.bin"  # for the untimed warm-up round (WARM_UP below)
  WANT=$(sha256sum "$WORK/big.bin" | cut -d' ' -f1)
  mkdir -p "$WORK/small"
  head -c 4096 /dev/urandom >"$WORK/block"
  for i in $(seq 1 "$FILES"); do printf 'f%05d\n' "$i"; done >"$WORK/names"
  xargs -a "$WORK/names" -I{} cp "$WORK/block" "$WORK/small/{}"
}

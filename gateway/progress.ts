/**
 * Progress display for long admin work (scrub, rebuild, reclaim), on stderr.
 * On a terminal: one line redrawn with \r, "scrub [#########-----------]  45%  450/1000".
 * Otherwise: a line "scrub: 45% (450/1000)" each time the percentage passes a multiple of 10.
 */

export interface Progress {
  update(done: number, total: number): void;
  /** Finishes the bar (a newline on a terminal). */
  end(): void;
}

/** Whole percent (0-100) of done/total; 100 when total is 0. */
export function percent(done: number, total: number): number {
  if (!(total > 0)) return 100;
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
}

/** The bar text (no \r), `width` characters of bar. */
export function barText(label: string, done: number, total: number, width = 30): string {
  const pct = percent(done, total);
  const full = Math.round((pct / 100) * width);
  return `${label} [${'#'.repeat(full)}${'-'.repeat(width - full)}] ${String(pct).padStart(3)}%  ${done}/${total}`;
}

export function createProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true;
  let lastPct = -1;
  let lastDraw = 0;
  let drew = false;
  return {
    update(done, total) {
      const pct = percent(done, total);
      if (tty) {
        const now = Date.now();
        if (pct === lastPct && now - lastDraw < 200) return;
        lastDraw = now;
        lastPct = pct;
        stream.write(`\r${barText(label, done, total)}\x1b[K`);
        drew = true;
      } else {
        const step = Math.floor(pct / 10) * 10;
        if (step <= lastPct) return;
        lastPct = step;
        stream.write(`${label}: ${pct}% (${done}/${total})\n`);
      }
    },
    end() {
      if (tty && drew) stream.write('\n');
    },
  };
}

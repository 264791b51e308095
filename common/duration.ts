// Durations as operators and analysts write them (10m, 2h, 1d, 1h30m): for series steps and surge lengths.

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as 600s, 90m, 2h, 1d or 1h30m, in ms; null when malformed. */
export function parseDuration(text: string): number | null {
  const part = /(\d{1,9})([smhd])/y;
  let ms = 0;
  let match: RegExpExecArray | null;
  while ((match = part.exec(text)) !== null) {
    ms += Number(match[1]) * UNIT_MS[match[2]!]!;
    if (part.lastIndex === text.length) return ms;
  }
  return null;
}

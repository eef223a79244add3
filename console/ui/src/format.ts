// Formatting helpers: times (POSIX seconds <-> the browser's local time), durations, CSV.

/** A POSIX time as local date and time, e.g. "2026-12-01 14:00". */
export function dateTime(secs: number): string {
  const d = new Date(secs * 1000);
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The value of an `<input type="datetime-local">` for a POSIX time. */
export function toLocalInput(secs: number): string {
  return dateTime(secs).replace(' ', 'T');
}

/** POSIX seconds from an `<input type="datetime-local">` value; null when empty or invalid. */
export function fromLocalInput(value: string): number | null {
  if (value.trim() === '') return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : null;
}

/** A duration in words: "1 hour", "15 minutes", "1 day". */
export function duration(secs: number): string {
  const units: [number, string][] = [[604800, 'week'], [86400, 'day'], [3600, 'hour'], [60, 'minute'], [1, 'second']];
  for (const [n, name] of units) {
    if (secs >= n && secs % n === 0) {
      const k = secs / n;
      return `${k} ${name}${k === 1 ? '' : 's'}`;
    }
  }
  return `${secs} seconds`;
}

/** Now, POSIX seconds. */
export function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** One CSV field. */
function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV text from a header and rows. */
export function csv(header: string[], rows: (string | number)[][]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

/** A whole number with thousands separators. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

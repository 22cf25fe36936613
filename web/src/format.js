// Number, size, duration and time formatting for the dashboard: counts with
// thousands separators, rates and large figures in compact form (12.3K/s),
// bytes in binary units, and times of day on a 24-hour clock. Everything is
// en-US so that the page reads the same everywhere and tests can parse it.

const INT = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const DEC = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const COMPACT = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

/** A count: "1,234,567"; "–" for null or undefined. */
export function fmtInt(n) {
  if (n === null || n === undefined) return '–';
  return Number.isInteger(n) ? INT.format(n) : DEC.format(n);
}

/** A figure in compact form: "980", "12.3K", "4.1M"; small fractions keep a decimal. */
export function fmtCompact(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  const a = Math.abs(n);
  if (a < 10 && !Number.isInteger(n)) return n.toFixed(1);
  if (a < 1000) return INT.format(n);
  return COMPACT.format(n);
}

/** A rate per second: "512/s", "1.2K/s". */
export function fmtRate(r) {
  if (r === null || r === undefined) return '–';
  return fmtCompact(r) + '/s';
}

/** Bytes in binary units: "512 B", "40 KiB", "1.5 MiB". */
export function fmtBytes(b) {
  if (b === null || b === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = b;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 || v >= 100 ? Math.round(v) : v.toFixed(1)) + ' ' + units[i];
}

/** A duration in seconds: "12 s", "3 min 20 s", "2 h 5 min", "3 d 4 h". */
export function fmtDuration(s) {
  if (s === null || s === undefined) return '–';
  if (s < 60) return (s < 10 ? s.toFixed(1) : Math.round(s)) + ' s';
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Epoch milliseconds as a time of day, "14:03:27" (UTC when utc is set). */
export function fmtClock(ms, utc) {
  if (ms === null || ms === undefined) return '–';
  const d = new Date(ms);
  const p = (x) => String(x).padStart(2, '0');
  return utc ? `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`
             : `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** How far a watermark trails the clock: "−3.2 s", "−2 h 5 min", whole days
 *  past a day ("−948 d": replayed or generated history); "" when it does not. */
export function fmtBehind(wmMs, nowMs) {
  if (wmMs === null || wmMs === undefined || !nowMs) return '';
  const s = (nowMs - wmMs) / 1000;
  if (s <= 0) return '';
  return '\u2212' + (s < 86400 ? fmtDuration(s) : `${Math.floor(s / 86400)} d`);
}

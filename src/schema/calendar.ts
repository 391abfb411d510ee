/**
 * Today's date in UTC, and whole days from it to a calendar date: what the computed date fields (`expired`,
 * `daysUntilExpiry`) are worked out against.
 */

const MS_PER_DAY = 24 * 60 * 60 * 1000;

/** Today's date in UTC, `YYYY-MM-DD`; worked out at most once a second (`expired` asks for it per licence). */
export function todayUtc(): string {
  return today().date;
}

/**
 * Whole calendar days from today (UTC) to `date` (`YYYY-MM-DD`): 0 on that day, 1 the day before, negative once it
 * has passed. Both are midnights UTC, so the difference is a whole number of days; no clock time enters it.
 *
 *     daysFromToday('2026-12-31'); // 25 on 2026-12-06, 0 on 2026-12-31, -1 on 2027-01-01
 */
export function daysFromToday(date: string): number {
  return (Date.parse(date) - today().midnight) / MS_PER_DAY;
}

let cached = { at: 0, date: '', midnight: 0 };

function today(): { date: string; midnight: number } {
  const now = Date.now();
  if (Math.abs(now - cached.at) >= 1000) {
    const date = new Date(now).toISOString().slice(0, 10);
    cached = { at: now, date, midnight: Date.parse(date) };
  }
  return cached;
}

import type { Period } from '../config/limits-file';

export interface Window {
  /** Epoch ms, inclusive. */
  start: number;
  /** Epoch ms, exclusive. */
  end: number;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The UTC calendar window of `period` holding `at` (epoch ms); weeks start on Monday. */
export function windowOf(period: Period | 'minute', at: number): Window {
  switch (period) {
    case 'minute': {
      const start = at - (((at % 60_000) + 60_000) % 60_000);
      return { start, end: start + 60_000 };
    }
    case 'hour': {
      const start = at - (((at % HOUR) + HOUR) % HOUR);
      return { start, end: start + HOUR };
    }
    case 'day': {
      const start = at - (((at % DAY) + DAY) % DAY);
      return { start, end: start + DAY };
    }
    case 'week': {
      const day = at - (((at % DAY) + DAY) % DAY);
      // getUTCDay: 0 is Sunday; Monday starts the week.
      const back = (new Date(day).getUTCDay() + 6) % 7;
      const start = day - back * DAY;
      return { start, end: start + 7 * DAY };
    }
    case 'month': {
      const d = new Date(at);
      return { start: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
    }
  }
}

/**
 * Google resets the Analytics daily quotas at midnight Pacific time (America/Los_Angeles), so both the
 * sandbox's counters and the connector's "retry after" follow that clock, daylight saving included.
 */
const pacificParts = new Intl.DateTimeFormat('en-US', {
  timeZone: 'America/Los_Angeles',
  hourCycle: 'h23',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
});

interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function pacificWallTime(at: number): WallTime {
  const parts = Object.fromEntries(
    pacificParts.formatToParts(new Date(at)).map((part) => [part.type, part.value]),
  ) as Record<string, string>;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    second: Number(parts.second),
  };
}

/** Pacific wall-clock time minus UTC, in milliseconds, at a given instant (-7 h or -8 h). */
function pacificOffset(at: number): number {
  const wall = pacificWallTime(at);
  const wallAsUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return wallAsUtc - (at - (at % 1000));
}

/** The Pacific calendar day an instant falls on, `YYYY-MM-DD`: the key of a daily quota counter. */
export function pacificDay(at: number): string {
  const wall = pacificWallTime(at);
  return `${wall.year}-${String(wall.month).padStart(2, '0')}-${String(wall.day).padStart(2, '0')}`;
}

/** Milliseconds from `at` until the next midnight in Pacific time, when Google's daily quotas reset. */
export function msUntilPacificMidnight(at: number): number {
  const wall = pacificWallTime(at);
  const nextMidnightWall = Date.UTC(wall.year, wall.month - 1, wall.day + 1);
  // The offset at midnight can differ from now's on the days daylight saving starts or ends.
  const guess = nextMidnightWall - pacificOffset(at);
  const midnight = nextMidnightWall - pacificOffset(guess);
  return Math.max(0, midnight - at);
}

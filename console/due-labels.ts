const dayMs = 24 * 60 * 60 * 1000;

/**
 * How a request's deadline reads in the console: whole days left, or whole days overdue, counted from `now`
 * in 24-hour days (a label, not a legal period: the due instant itself is dueAt). `overdue` is true once
 * the due instant has passed, so a request less than a day late is already marked.
 */
export function dueLabel(dueAt: string, now: Date): { text: string; overdue: boolean } {
  const ms = new Date(dueAt).getTime() - now.getTime();
  const days = Math.floor(Math.abs(ms) / dayMs);
  const plural = days === 1 ? 'day' : 'days';
  if (ms >= 0)
    return { text: days === 0 ? 'less than a day left' : `${days} ${plural} left`, overdue: false };
  return { text: days === 0 ? 'overdue by less than a day' : `${days} ${plural} overdue`, overdue: true };
}

/** An ISO 8601 instant as the console prints it: `YYYY-MM-DD HH:MM UTC`. */
export function utcMinute(iso: string): string {
  return `${iso.replace('T', ' ').slice(0, 16)} UTC`;
}

// Times as analysts read them: UTC, and Kazakhstan's local time with the offset in force then (UTC+6 in Almaty until March 2024, UTC+5 since).

const LOCAL = new Intl.DateTimeFormat('en-CA', {
  timeZone: 'Asia/Almaty',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'shortOffset',
});

/** "2019-05-09 07:02" in UTC. */
export function utcMinute(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}

/** "2019-05-09 07:02 UTC+6": Almaty's wall clock at `ms`, with its offset from UTC. */
export function kazakhstanMinute(ms: number): string {
  const parts = Object.fromEntries(LOCAL.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  const offset = (parts['timeZoneName'] ?? 'GMT').replace('GMT', 'UTC');
  return `${parts['year']}-${parts['month']}-${parts['day']} ${parts['hour']}:${parts['minute']} ${offset === 'UTC' ? 'UTC+0' : offset}`;
}

// The daemon's log formats: readable on a terminal (a line per run, not per measurement; a live progress line), JSON lines for tooling, journald's priorities; the run's summary line.
import { describe, expect, it } from 'vitest';
import type { Measurement } from '../contract/measurement.js';
import { jsonLog, logFor, streamLog, terminalLog } from '../probe/daemon/log.js';
import { runSummary } from '../probe/daemon/run-summary.js';
import { revocationNotice } from '../probe/daemon/revoked-text.js';
import { ManualClock } from './fixtures/collector/helpers.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, write: (t: string) => chunks.push(t) } };
}
const clock = new ManualClock(Date.UTC(2024, 4, 9, 7, 2, 3));
const m = (target: string, verdict: string) => ({ target: { id: target }, verdict: { verdict } }) as unknown as Measurement;

describe('the daemon log', () => {
  it('on a terminal: local time, no line per measurement, warnings marked, a live progress line cleared before the next line', () => {
    const s = sink(true);
    const log = terminalLog(s.stream, clock);
    log('info', 'taken 01HX youtube ok', 'taken');
    log.progress?.({ type: 'target-done', done: 1, total: 3, target: { id: 'youtube' } } as never);
    log('info', 'run: 3 targets in 2.0 s: 3 ok; 3 spooled for upload', 'run');
    log('warn', 'upload failed (1 in a row)\nsecond line');
    const d = new Date(clock.now());
    const hhmm = `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}:03`;
    expect(s.chunks).toEqual([
      '\r\x1b[2K          measuring: 1/3 done (youtube)',
      '\r\x1b[2K',
      `${hhmm}  run: 3 targets in 2.0 s: 3 ok; 3 spooled for upload\n`,
      `${hhmm}  WARNING: upload failed (1 in a row)\n          second line\n`,
    ]);
    // Not a terminal (a pipe, as under npm start): a line at each quarter, no live line.
    const pipe = sink(false);
    const piped = terminalLog(pipe.stream, clock);
    for (let done = 1; done <= 8; done++) piped.progress?.({ type: 'target-done', done, total: 8, target: { id: `t${done}` } } as never);
    expect(pipe.chunks).toEqual(['          measuring: 2/8 done\n', '          measuring: 4/8 done\n', '          measuring: 6/8 done\n']);
  });

  it('--json: one object per line with time, level, kind and msg; every measurement taken is there', () => {
    const s = sink(false);
    const log = jsonLog(s.stream, clock);
    log('info', 'taken 01HX youtube ok', 'taken');
    log('error', 'upload: x');
    expect(s.chunks.map((l) => JSON.parse(l) as unknown)).toEqual([
      { time: '2024-05-09T07:02:03.000Z', level: 'info', kind: 'taken', msg: 'taken 01HX youtube ok' },
      { time: '2024-05-09T07:02:03.000Z', level: 'error', msg: 'upload: x' },
    ]);
  });

  it('picks the format: --json, else journald under systemd, else readable on a terminal, else plain lines', () => {
    const shown = (stream: ReturnType<typeof sink>, json: boolean, env: Record<string, string>) => {
      logFor(stream.stream, clock, { json, env })('warn', 'w', 'upload');
      return stream.chunks.join('');
    };
    expect(JSON.parse(shown(sink(true), true, { JOURNAL_STREAM: '1:2' }))).toMatchObject({ level: 'warn', msg: 'w' });
    expect(shown(sink(false), false, { JOURNAL_STREAM: '1:2' })).toBe('<4>w\n');
    expect(shown(sink(true), false, {})).toMatch(/^\d\d:\d\d:\d\d {2}WARNING: w\n$/);
    expect(shown(sink(false), false, {})).toBe('2024-05-09T07:02:03.000Z warn  w\n');
    const plain = sink(false);
    streamLog(plain.stream, { clock })('info', 'taken 01HX youtube ok', 'taken');
    expect(plain.chunks).toEqual(['2024-05-09T07:02:03.000Z info  taken 01HX youtube ok\n']);
  });

  it("says a revocation by the collector as one plain error line in every format, whatever the collector's reason held", () => {
    const notice = revocationNotice({
      collector: 'https://collector.example.org',
      probeId: 'q3T0m1nV8bS4pXo2yZk9Lw',
      revocation: { seen_at: '2024-05-09T07:02:03.000Z', reason: 'the operator revoked this probe at 2024-05-09T07:00:00.000Z: its uploads are refused' },
      waiting: 1,
      stateDir: '/var/lib/ashyq',
    });
    expect(notice).toBe(
      'the collector at https://collector.example.org revoked this probe q3T0m1nV8bS4pXo2yZk9Lw (the operator revoked this probe at 2024-05-09T07:00:00.000Z: its uploads are refused): ' +
        'uploads and measuring stopped until the daemon restarts (it stays up, idle); 1 measurement stays in the spool. ' +
        "Ask the collector's operator, or enroll again as a new probe with a new invite: move identity.json and key.pem out of /var/lib/ashyq, then run ashyq-probe setup INVITE (setup alone keeps the revoked identity)",
    );
    const formats = {
      lines: (s: ReturnType<typeof sink>) => streamLog(s.stream, { clock }),
      journald: (s: ReturnType<typeof sink>) => streamLog(s.stream, { clock, journald: true }),
      terminal: (s: ReturnType<typeof sink>) => terminalLog(s.stream, clock),
      json: (s: ReturnType<typeof sink>) => jsonLog(s.stream, clock),
    };
    const shown: Record<string, string> = {};
    for (const [name, make] of Object.entries(formats)) {
      const s = sink(name === 'terminal');
      make(s)('error', notice);
      shown[name] = s.chunks.join('');
      // One line, the whole notice in it.
      expect(shown[name]!.split('\n'), name).toHaveLength(2);
      expect(shown[name], name).toContain(name === 'json' ? JSON.stringify(notice).slice(1, -1) : notice);
    }
    expect(shown['lines']).toMatch(/^2024-05-09T07:02:03\.000Z error the collector at /);
    expect(shown['journald']).toMatch(/^<3>the collector at /);
    expect(shown['terminal']).toMatch(/^\d\d:\d\d:03 {2}ERROR: the collector at /);
    expect(JSON.parse(shown['json']!)).toEqual({ time: '2024-05-09T07:02:03.000Z', level: 'error', msg: notice });
  });

  it('sums a run up in one line: ok first, then each verdict with its targets', () => {
    expect(runSummary([m('vk', 'ok'), m('youtube', 'tls.reset'), m('instagram', 'tls.reset'), m('telegram', 'tcp.timeout'), m('egov', 'ok')], 8234, 5)).toBe(
      'run: 5 targets in 8.2 s: 2 ok, 2 tls.reset (youtube, instagram), 1 tcp.timeout (telegram); 5 spooled for upload',
    );
    const many = Array.from({ length: 8 }, (_, i) => m(`t${i}`, 'offline'));
    expect(runSummary(many, 1000, 8)).toBe('run: 8 targets in 1.0 s: 8 offline (t0, t1, t2, t3, t4 and 3 more); 8 spooled for upload');
    expect(runSummary([], 10, 0)).toBe('run: 0 targets in 0.0 s: nothing measured; 0 spooled for upload');
  });
});

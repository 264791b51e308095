// A collector whose certificate does not match the pin (an interception certificate): not one byte of measurements is sent, and the mismatch becomes a measurement.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COLLECTOR_HOST, eventually, startDaemonLab, type DaemonLab } from './daemon-lab.js';

let lab: DaemonLab;

beforeAll(async () => {
  lab = await startDaemonLab({ targets: 3 });
});

afterAll(async () => {
  await lab.close();
});

describe('a collector with the wrong certificate', () => {
  it('gets zero bytes; the probe records tls.interception of ashyq-collector and delivers it once the real collector is back', async () => {
    await lab.writeConfig();
    const interceptor = await lab.startInterceptor();
    const daemon = await lab.spawnDaemon({ schedule: { interval_minutes: 0.05 } });
    const line = await daemon.waitForLine((l) => /taken \S+ ashyq-collector tls\.interception/.test(l), 30_000);
    await daemon.waitForTaken(2 * 5 + 1, 30_000);
    await daemon.waitForLine((l) => l.includes('UPLOAD REFUSED'), 30_000);
    expect(interceptor.connections).toBeGreaterThan(0);
    // Registration, target list, whoami and uploads all stopped after the handshake: nothing was written.
    expect(interceptor.plaintextBytes).toBe(0);
    daemon.proc.kill('SIGTERM');
    expect((await daemon.exited).code).toBe(0);
    await interceptor.close();
    const interceptionId = /taken (\S+) /.exec(line)![1]!;

    // The real collector is reachable again (e.g. the interception ended): everything goes, the evidence included.
    await lab.startCollector();
    const again = await lab.spawnDaemon({ schedule: { interval_minutes: 60 } });
    const wanted = [...daemon.taken(), interceptionId];
    const records = await eventually(
      async () => {
        const r = await lab.archived();
        const ids = r.map((x) => x.measurement.id);
        return wanted.every((id) => ids.includes(id)) ? r : null;
      },
      30_000,
      'every measurement taken behind the interceptor archived',
    );
    const evidence = records.find((r) => r.measurement.id === interceptionId)!.measurement as unknown as {
      target: { id: string; category: string };
      verdict: { verdict: string; layer: string; subjects: string[] };
      evidence: { tls: Array<{ sni: string; chain: Array<{ issuer: string }> }> };
    };
    expect(evidence.target).toEqual({ id: 'ashyq-collector', category: 'circumvention' });
    expect(evidence.verdict.verdict).toBe('tls.interception');
    expect(evidence.verdict.subjects).toEqual([COLLECTOR_HOST]);
    expect(evidence.evidence.tls[0]?.sni).toBe(COLLECTOR_HOST);
    expect(evidence.evidence.tls[0]?.chain.map((c) => c.issuer).join(' ')).toContain('Security Certificate');
    again.proc.kill('SIGTERM');
    expect((await again.exited).code).toBe(0);
  }, 120_000);
});

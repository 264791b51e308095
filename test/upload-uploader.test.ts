// The uploader's loop under fake timers: batching, acks, backoff with full jitter and a cap, retry-after, kick, stop, overflow reports.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TlsObservation } from '../contract/evidence.js';
import type { Measurement } from '../contract/measurement.js';
import { UploadError, type SpoolOverflow } from '../probe/upload/client.js';
import { Uploader, type UploaderOptions } from '../probe/upload/uploader.js';
import type { Revocation } from '../probe/upload/revocation.js';
import type { ItemResult } from '../contract/wire.js';
import { MemorySpool } from './fakes/upload-memory-spool.js';
import { makeMeasurement } from './fixtures/collector/helpers.js';

const PROBE = 'probe-under-test-01';
const clock = { now: () => Date.now(), monotonic: () => Date.now() };

interface Call {
  at: number;
  ids: string[];
  overflow: SpoolOverflow | null;
}

/** A collector stand-in: `behave` decides each call's fate; every call is recorded with its time. */
class ScriptedClient {
  readonly calls: Call[] = [];
  constructor(public behave: (batch: Measurement[], call: number) => Promise<ItemResult[]> | ItemResult[]) {}
  async upload(batch: Measurement[], overflow: SpoolOverflow | null = null): Promise<ItemResult[]> {
    this.calls.push({ at: Date.now(), ids: batch.map((m) => m.id), overflow });
    return this.behave(batch, this.calls.length);
  }
}

const acceptAll = (batch: Measurement[]): ItemResult[] => batch.map((m, index) => ({ index, id: m.id, status: 'accepted' }));
const networkDown = (): never => {
  throw new UploadError('network', 'connection_refused (ECONNREFUSED: connect ECONNREFUSED)');
};

function measurements(n: number): Measurement[] {
  return Array.from({ length: n }, (_, i) => makeMeasurement({ probeId: PROBE, at: Date.now() + i }));
}

/** Run every timer due now, including the zero-delay ones the loop schedules for its next batch (setTimeout(0) waits 1 ms). */
async function settle(): Promise<void> {
  for (let i = 0; i < 30; i++) await vi.advanceTimersByTimeAsync(1);
}

const logs: Array<[string, string]> = [];
const uploaders: Uploader[] = [];

function uploader(spool: MemorySpool, client: ScriptedClient, extra: Partial<UploaderOptions> = {}): Uploader {
  const u = new Uploader({
    spool,
    client,
    clock,
    batchSize: 4,
    backoff: { baseMs: 1000, capMs: 8000 },
    random: () => 0.5,
    log: (level, msg) => logs.push([level, msg]),
    idleMs: 60_000,
    ...extra,
  });
  uploaders.push(u);
  return u;
}

beforeEach(() => {
  vi.useFakeTimers({ now: Date.UTC(2024, 4, 9, 7, 0, 0) });
  logs.length = 0;
});

afterEach(async () => {
  for (const u of uploaders.splice(0)) {
    const stopping = u.stop();
    await vi.runOnlyPendingTimersAsync();
    await stopping;
  }
  vi.useRealTimers();
});

describe('Uploader', () => {
  it('uploads in batches, acks what the collector acknowledged, then idles until kicked', async () => {
    const spool = new MemorySpool();
    const items = measurements(10);
    spool.add(items);
    const client = new ScriptedClient(acceptAll);
    const u = uploader(spool, client);
    const t0 = Date.now();
    u.start();
    await settle();
    expect(client.calls.map((c) => c.ids.length)).toEqual([4, 4, 2]);
    expect(client.calls.every((c) => c.at - t0 <= 3)).toBe(true);
    expect(spool.acked).toEqual(items.map((m) => m.id));
    expect(spool.size).toBe(0);
    expect(u.status()).toMatchObject({ uploaded: 10, rejected: 0, consecutiveFailures: 0, lastError: null, nextAttemptAt: null });
    expect(Date.parse(u.status().lastUploadAt!) - t0).toBeLessThanOrEqual(3);

    // Idle: nothing happens until a kick…
    const more = measurements(1);
    spool.add(more);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(client.calls).toHaveLength(3);
    u.kick();
    await settle();
    expect(client.calls).toHaveLength(4);
    expect(client.calls[3]!.ids).toEqual([more[0]!.id]);
    // …or until idleMs passes.
    spool.add(measurements(1));
    const idleFrom = client.calls[3]!.at;
    await vi.advanceTimersByTimeAsync(idleFrom + 59_999 - Date.now());
    expect(client.calls).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(1);
    expect(client.calls).toHaveLength(5);
    expect(client.calls[4]!.at - idleFrom).toBe(60_000);
  });

  it('tells its owner after every attempt, with the status already updated (the daemon writes status.json then)', async () => {
    const spool = new MemorySpool();
    spool.add(measurements(6));
    let fail = false;
    const client = new ScriptedClient((batch) => (fail ? networkDown() : acceptAll(batch)));
    const seen: Array<{ uploaded: number; failures: number }> = [];
    const u = uploader(spool, client, { onAttempt: () => seen.push({ uploaded: u.status().uploaded, failures: u.status().consecutiveFailures }) });
    u.start();
    await settle();
    // Two batches delivered (the second, partial, drained the spool: the uploader idles).
    expect(seen).toEqual([
      { uploaded: 4, failures: 0 },
      { uploaded: 6, failures: 0 },
    ]);
    fail = true;
    spool.add(measurements(1));
    u.kick();
    await settle();
    expect(seen.at(-1)).toEqual({ uploaded: 6, failures: 1 });
  });

  it('backs off exponentially with full jitter up to the cap, and resets after a success', async () => {
    const spool = new MemorySpool();
    spool.add(measurements(2));
    let down = true;
    const client = new ScriptedClient((batch) => (down ? networkDown() : acceptAll(batch)));
    const u = uploader(spool, client);
    const t0 = Date.now();
    u.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(client.calls).toHaveLength(1);
    expect(u.status()).toMatchObject({ consecutiveFailures: 1, nextAttemptAt: new Date(t0 + 500).toISOString() });
    expect(u.status().lastError).toMatch(/connection_refused/);
    expect(u.status().lastErrorAt).toBe(new Date(t0).toISOString());

    await vi.advanceTimersByTimeAsync(5 * 60_000);
    // random() = 0.5 of min(8000, 1000·2^(n−1)): 500, 1000, 2000, 4000, then 4000 (capped) …
    const gaps = client.calls.slice(1, 8).map((c, i) => c.at - client.calls[i]!.at);
    expect(gaps).toEqual([500, 1000, 2000, 4000, 4000, 4000, 4000]);
    expect(spool.size).toBe(2);
    expect(spool.acked).toEqual([]);

    down = false;
    const before = client.calls.length;
    await vi.advanceTimersByTimeAsync(4000);
    expect(client.calls).toHaveLength(before + 1);
    expect(spool.size).toBe(0);
    expect(u.status()).toMatchObject({ consecutiveFailures: 0, nextAttemptAt: null, uploaded: 2 });

    // The next failure starts from the base again.
    down = true;
    spool.add(measurements(1));
    u.kick();
    await vi.advanceTimersByTimeAsync(0);
    const failedAt = client.calls.at(-1)!.at;
    await vi.advanceTimersByTimeAsync(500);
    expect(client.calls.at(-1)!.at - failedAt).toBe(500);
  });

  it('draws each wait from [0, ceiling) with the injected random()', async () => {
    const spool = new MemorySpool();
    spool.add(measurements(1));
    const draws = [0, 0.999, 0.25];
    const client = new ScriptedClient(networkDown);
    uploader(spool, client, { random: () => draws.shift() ?? 0.5 }).start();
    await vi.advanceTimersByTimeAsync(20_000);
    const gaps = client.calls.slice(1, 4).map((c, i) => c.at - client.calls[i]!.at);
    // A zero wait is a setTimeout(0), which Node (and the fake clock) run after 1 ms.
    expect(gaps).toEqual([1, Math.floor(0.999 * 2000), 0.25 * 4000]);
  });

  it('honours retry-after on 429/503 and does not let a kick cut a backoff short', async () => {
    const spool = new MemorySpool();
    spool.add(measurements(1));
    const client = new ScriptedClient((batch, n) => {
      if (n === 1) throw new UploadError('http', 'upload: the collector answered 503 (archive_unavailable)', { status: 503, retryAfterMs: 30_000 });
      return acceptAll(batch);
    });
    const u = uploader(spool, client);
    const t0 = Date.now();
    u.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(u.status().nextAttemptAt).toBe(new Date(t0 + 30_000).toISOString());
    spool.add(measurements(1));
    u.kick();
    await vi.advanceTimersByTimeAsync(29_999);
    expect(client.calls).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(client.calls).toHaveLength(2);
    expect(client.calls[1]!.at - t0).toBe(30_000);
    expect(spool.size).toBe(0);
  });

  it('acks rejected measurements too, logging each loudly with its reason and counting it', async () => {
    const spool = new MemorySpool();
    const [a, b, c] = measurements(3) as [Measurement, Measurement, Measurement];
    spool.add([a, b, c]);
    const client = new ScriptedClient(() => [
      { index: 0, id: a.id, status: 'accepted' },
      { index: 1, id: b.id, status: 'rejected', code: 'unknown_target', reason: 'target.id: unknown target "youtube"' },
      { index: 2, id: c.id, status: 'duplicate' },
    ]);
    const u = uploader(spool, client);
    u.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(spool.acked).toEqual([a.id, b.id, c.id]);
    expect(u.status()).toMatchObject({ uploaded: 2, rejected: 1 });
    const errors = logs.filter(([level]) => level === 'error').map(([, msg]) => msg);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain(b.id);
    expect(errors[0]).toContain('unknown_target: target.id: unknown target "youtube"');
  });

  it('does not ack when the answer is lost: the batch is sent again', async () => {
    const spool = new MemorySpool();
    const items = measurements(2);
    spool.add(items);
    const client = new ScriptedClient((batch, n) => (n === 1 ? networkDown() : acceptAll(batch)));
    uploader(spool, client).start();
    await vi.advanceTimersByTimeAsync(0);
    expect(spool.acked).toEqual([]);
    await vi.advanceTimersByTimeAsync(500);
    expect(client.calls.map((c) => c.ids)).toEqual([items.map((m) => m.id), items.map((m) => m.id)]);
    expect(spool.acked).toEqual(items.map((m) => m.id));
  });

  it('on a pin mismatch sends nothing, hands the evidence over and backs off', async () => {
    const spool = new MemorySpool();
    spool.add(measurements(2));
    const evidence = { sni: 'collector.ashyq.test', chain: [] } as unknown as TlsObservation;
    const client = new ScriptedClient(() => {
      throw new UploadError('pin_mismatch', 'no pinned key in the presented chain', { pinEvidence: evidence });
    });
    const seen: TlsObservation[] = [];
    const u = uploader(spool, client, { onPinMismatch: (e) => seen.push(e) });
    u.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([evidence]);
    expect(spool.acked).toEqual([]);
    expect(u.status()).toMatchObject({ consecutiveFailures: 1 });
    expect(logs.some(([level, msg]) => level === 'error' && /POSSIBLE INTERCEPTION/.test(msg))).toBe(true);
    await vi.advanceTimersByTimeAsync(500);
    expect(seen).toHaveLength(2);
  });

  it('halves the batch on 413 and drops (as rejected) a single measurement too large on its own', async () => {
    const spool = new MemorySpool();
    const items = measurements(8);
    const huge = items[5]!;
    spool.add(items);
    const client = new ScriptedClient((batch) => {
      if (batch.length > 2 || batch.some((m) => m.id === huge.id)) {
        throw new UploadError('rejected_batch', 'upload: the collector answered 413 (too_large)', { status: 413, apiCode: 'too_large' });
      }
      return acceptAll(batch);
    });
    const u = uploader(spool, client, { batchSize: 8 });
    u.start();
    await settle();
    expect(spool.size).toBe(0);
    expect(client.calls.map((c) => c.ids.length)).toEqual([8, 4, 2, 2, 2, 1, 1, 1, 1]);
    expect(u.status()).toMatchObject({ uploaded: 7, rejected: 1, consecutiveFailures: 0 });
    expect(logs.some(([level, msg]) => level === 'error' && msg.includes(huge.id) && /too large/.test(msg))).toBe(true);

    // Once the spool was drained, the next round starts at the configured size again.
    spool.add(measurements(2));
    u.kick();
    await settle();
    expect(client.calls.at(-1)!.ids).toHaveLength(2);
    expect(client.calls).toHaveLength(10);
  });

  it('sends the spool overflow with a batch (or alone) and confirms it only after the answer', async () => {
    const spool = new MemorySpool(3);
    spool.add(measurements(5), '2024-05-09T06:00:00.000Z');
    let fail = true;
    const client = new ScriptedClient((batch) => (fail ? networkDown() : acceptAll(batch)));
    uploader(spool, client).start();
    await vi.advanceTimersByTimeAsync(0);
    expect(client.calls[0]!.overflow).toEqual({ dropped: 2, firstDroppedAt: '2024-05-09T06:00:00.000Z', lastDroppedAt: '2024-05-09T06:00:00.000Z' });
    expect(spool.confirmed).toEqual([]);
    fail = false;
    await vi.advanceTimersByTimeAsync(500);
    expect(client.calls[1]!.overflow?.dropped).toBe(2);
    expect(spool.confirmed).toEqual([2]);
    expect(spool.takeOverflow()).toBeNull();

    // An overflow with nothing pending is still reported.
    spool.add(measurements(4), '2024-05-09T06:30:00.000Z');
    await spool.ack(spool.ids());
    expect(spool.takeOverflow()?.dropped).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    const last = client.calls.at(-1)!;
    expect(last.ids).toEqual([]);
    expect(last.overflow?.dropped).toBe(1);
    expect(spool.confirmed).toEqual([2, 1]);
  });

  it('stop() lets the batch in flight finish and be acked, then starts nothing', async () => {
    const spool = new MemorySpool();
    const items = measurements(6);
    spool.add(items);
    const client = new ScriptedClient(async (batch) => {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      return acceptAll(batch);
    });
    const u = uploader(spool, client);
    u.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(client.calls).toHaveLength(1);
    let stopped = false;
    const stopping = u.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(1000);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(1000);
    await stopping;
    expect(spool.acked).toEqual(items.slice(0, 4).map((m) => m.id));
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(client.calls).toHaveLength(1);
    u.kick();
    await vi.advanceTimersByTimeAsync(0);
    expect(client.calls).toHaveLength(1);
  });

  it('stop() gives up on a hung upload after stopTimeoutMs', async () => {
    const spool = new MemorySpool();
    spool.add(measurements(1));
    const client = new ScriptedClient(() => new Promise<never>(() => undefined));
    const u = uploader(spool, client, { stopTimeoutMs: 3000 });
    u.start();
    await vi.advanceTimersByTimeAsync(0);
    let stopped = false;
    const stopping = u.stop().then(() => {
      stopped = true;
    });
    await vi.advanceTimersByTimeAsync(2999);
    expect(stopped).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await stopping;
    expect(spool.acked).toEqual([]);
    expect(logs.some(([level, msg]) => level === 'warn' && /still in flight/.test(msg))).toBe(true);
  });

  it('treats a failing spool like a failed attempt and recovers', async () => {
    const spool = new MemorySpool();
    spool.add(measurements(1));
    spool.failNext = new Error('EIO: i/o error, read');
    const client = new ScriptedClient(acceptAll);
    const u = uploader(spool, client);
    u.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(u.status().lastError).toBe('spool: EIO: i/o error, read');
    expect(client.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(500);
    expect(client.calls).toHaveLength(1);
    expect(spool.size).toBe(0);
  });

  it('refuses nonsense options', () => {
    const spool = new MemorySpool();
    const client = new ScriptedClient(acceptAll);
    expect(() => uploader(spool, client, { batchSize: 0 })).toThrow(RangeError);
    expect(() => uploader(spool, client, { backoff: { baseMs: 5000, capMs: 1000 } })).toThrow(RangeError);
  });
  describe('looking for the collector\'s return during a backoff', () => {
    /** A collector down until `up` is set: uploads fail as unreachable, reachable() says false; each check is recorded. */
    function outage(failure: () => never = networkDown) {
      const state = { up: false, checks: [] as number[] };
      const client = new ScriptedClient((batch) => (state.up ? acceptAll(batch) : failure()));
      const reachable = async () => {
        state.checks.push(Date.now());
        return state.up;
      };
      return { state, client, reachable };
    }
    const long = { backoff: { baseMs: 60_000, capMs: 3_600_000 }, recheckMs: 30_000 };

    it('sends the spool within a jittered recheck period of the collector answering again, not at the end of the backoff', async () => {
      const spool = new MemorySpool();
      spool.add(measurements(3));
      const { state, client, reachable } = outage();
      const u = uploader(spool, client, { ...long, reachable });
      u.start();
      await settle();
      // Failures 1..4: backoffs of 0.5 × 60, 120, 240, 480 s (random 0.5); rechecks every 30 s within them.
      for (let n = 1; n < 4; n++) {
        const due = Date.parse(u.status().nextAttemptAt!);
        await vi.advanceTimersByTimeAsync(due - Date.now());
        await settle();
      }
      expect(client.calls).toHaveLength(4);
      const backoffEnds = Date.parse(u.status().nextAttemptAt!);
      expect(backoffEnds - Date.now()).toBeGreaterThan(200_000);
      const checksBefore = state.checks.length;
      // The collector comes back 45 s into a 240 s backoff.
      await vi.advanceTimersByTimeAsync(45_000);
      expect(state.checks.length).toBeGreaterThan(checksBefore);
      state.up = true;
      const upAt = Date.now();
      await vi.advanceTimersByTimeAsync(30_000);
      await settle();
      expect(client.calls).toHaveLength(5);
      expect(client.calls[4]!.at - upAt).toBeLessThanOrEqual(30_000);
      expect(client.calls[4]!.at).toBeLessThan(backoffEnds);
      expect(spool.size).toBe(0);
      expect(u.status()).toMatchObject({ consecutiveFailures: 0, nextAttemptAt: null });
      // Caught up: no more checks.
      const checks = state.checks.length;
      await vi.advanceTimersByTimeAsync(600_000);
      expect(state.checks.length).toBe(checks);
    });

    it('spreads the checks of a fleet: the period is recheckMs × [0.75, 1.25) by the random source', async () => {
      for (const [random, expected] of [
        [0.01, 22_650],
        [0.999, 37_485],
      ] as const) {
        const spool = new MemorySpool();
        spool.add(measurements(1));
        const { state, client, reachable } = outage();
        // The first backoff is random × 3600 s: long enough for a check at either end of the spread.
        const u = uploader(spool, client, { backoff: { baseMs: 3_600_000, capMs: 3_600_000 }, recheckMs: 30_000, reachable, random: () => random });
        u.start();
        await settle();
        const failedAt = client.calls[0]!.at;
        await vi.advanceTimersByTimeAsync(failedAt + expected - 2 - Date.now());
        expect(state.checks).toHaveLength(0);
        await vi.advanceTimersByTimeAsync(4);
        expect(state.checks).toHaveLength(1);
        expect(Math.abs(state.checks[0]! - failedAt - expected)).toBeLessThanOrEqual(2);
        await u.stop();
      }
    });

    it('does not look during a backoff the collector asked for (retry-after) or after a refusal', async () => {
      for (const failure of [
        (): never => {
          throw new UploadError('http', 'upload: the collector answered 503 (archive_unavailable)', { status: 503, retryAfterMs: 600_000 });
        },
        (): never => {
          throw new UploadError('rejected_batch', 'upload: the collector answered 400 (bad_json)', { status: 400 });
        },
      ]) {
        const spool = new MemorySpool();
        spool.add(measurements(1));
        const { state, client, reachable } = outage(failure);
        const u = uploader(spool, client, { ...long, reachable });
        u.start();
        await settle();
        expect(client.calls).toHaveLength(1);
        await vi.advanceTimersByTimeAsync(25_000);
        expect(state.checks).toHaveLength(0);
        await u.stop();
      }
    });

    it('stops looking when stopped', async () => {
      const spool = new MemorySpool();
      spool.add(measurements(1));
      const { state, client, reachable } = outage();
      const u = uploader(spool, client, { ...long, random: () => 0.99, reachable });
      u.start();
      await settle();
      await u.stop();
      await vi.advanceTimersByTimeAsync(120_000);
      expect(state.checks).toHaveLength(0);
    });
  });

  describe('when the collector revoked the probe', () => {
    const revocation: Revocation = { seen_at: '2024-05-09T07:00:00.000Z', reason: 'the operator revoked this probe at 2024-05-09T06:00:00.000Z: its uploads are refused' };
    const revokedAnswer = (): never => {
      throw new UploadError('revoked', `the collector answered 403 (probe_revoked: ${revocation.reason})`, { status: 403, apiCode: 'probe_revoked', revocation });
    };
    const DAYS_2 = 48 * 3_600_000;

    it('stops for good after the answer: no retry, no kick, nothing acked; onRevoked once; no failure counted', async () => {
      const spool = new MemorySpool();
      const first = measurements(4);
      const rest = measurements(3);
      spool.add([...first, ...rest]);
      const client = new ScriptedClient((batch, n) => (n === 1 ? acceptAll(batch) : revokedAnswer()));
      const told: Revocation[] = [];
      const u = uploader(spool, client, { onRevoked: (r) => told.push(r), reachable: async () => true, recheckMs: 1000 });
      u.start();
      await settle();
      expect(client.calls.map((c) => c.ids.length)).toEqual([4, 3]);
      expect(told).toEqual([revocation]);
      expect(spool.acked).toEqual(first.map((m) => m.id));
      expect(spool.ids()).toEqual(rest.map((m) => m.id));
      expect(u.status()).toMatchObject({ revokedAt: revocation.seen_at, consecutiveFailures: 0, nextAttemptAt: null, uploaded: 4, rejected: 0 });
      expect(u.status().lastError).toContain('probe_revoked');

      // Two days, new measurements and kicks: not one more attempt, nothing dropped.
      for (let h = 0; h < 48; h++) {
        spool.add(measurements(1));
        u.kick();
        await vi.advanceTimersByTimeAsync(DAYS_2 / 48);
      }
      expect(client.calls).toHaveLength(2);
      expect(spool.size).toBe(3 + 48);
      expect(told).toHaveLength(1);
      // Told to the owner, not logged by the uploader (the daemon says it once, in its own words).
      expect(logs).toEqual([['info', 'uploaded 4 measurements (4 accepted)']]);
    });

    it('without an owner to tell, logs it once itself', async () => {
      const spool = new MemorySpool();
      spool.add(measurements(2));
      const client = new ScriptedClient(revokedAnswer);
      const u = uploader(spool, client);
      u.start();
      await vi.advanceTimersByTimeAsync(DAYS_2);
      expect(client.calls).toHaveLength(1);
      expect(logs).toEqual([['error', `upload: the collector answered 403 (probe_revoked: ${revocation.reason}); uploads stopped, the spool is kept`]]);
      u.start();
      await vi.advanceTimersByTimeAsync(60_000);
      expect(client.calls).toHaveLength(1);
    });

    it('revoked() from outside (another request saw it) cancels the retry a backoff was waiting for', async () => {
      const spool = new MemorySpool();
      spool.add(measurements(1));
      const client = new ScriptedClient(networkDown);
      const told: Revocation[] = [];
      const u = uploader(spool, client, { onRevoked: (r) => told.push(r) });
      u.start();
      await settle();
      expect(u.status()).toMatchObject({ consecutiveFailures: 1 });
      expect(u.status().nextAttemptAt).not.toBeNull();
      u.revoked(revocation);
      u.revoked({ ...revocation, seen_at: '2024-05-09T08:00:00.000Z' });
      await vi.advanceTimersByTimeAsync(DAYS_2);
      expect(client.calls).toHaveLength(1);
      expect(told).toEqual([revocation]);
      expect(u.status()).toMatchObject({ revokedAt: revocation.seen_at, consecutiveFailures: 0, nextAttemptAt: null });
      expect(spool.size).toBe(1);
    });

    it('a 403 that is not probe_revoked is still an ordinary failure, retried after its backoff', async () => {
      const spool = new MemorySpool();
      spool.add(measurements(1));
      const client = new ScriptedClient((batch, n) => {
        if (n === 1) throw new UploadError('http', 'upload: the collector answered 403 (HTTP 403)', { status: 403 });
        return acceptAll(batch);
      });
      const u = uploader(spool, client);
      u.start();
      await vi.advanceTimersByTimeAsync(1000);
      expect(client.calls).toHaveLength(2);
      expect(u.status()).toMatchObject({ revokedAt: null, consecutiveFailures: 0, uploaded: 1 });
    });
  });
});

// The probe's data use: the engine's meter over real loopback sockets, the month's count and budget policy, and a daemon that stops measuring when the volunteer's budget is spent.
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { systemNetwork } from '../probe/deps.js';
import { DataMeter, meteredNetwork } from '../probe/engine/data-meter.js';
import { DataUse, monthElapsed } from '../probe/daemon/data-use.js';
import type { DaemonStatus } from '../probe/daemon/status.js';
import { eventually, startDaemonLab, type DaemonLab } from './daemon-lab.js';

const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

describe('DataMeter', () => {
  it('counts the bytes of TCP connections, open and closed, and of DNS datagrams with their headers', async () => {
    const server = net.createServer((s) => {
      s.on('data', () => undefined);
      s.end(Buffer.alloc(10_000, 0x61));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(r)));
    const meter = new DataMeter();
    const network = meteredNetwork(systemNetwork(), meter);
    const socket = await network.dialTcp('127.0.0.1', (server.address() as net.AddressInfo).port, new AbortController().signal);
    socket.write(Buffer.alloc(500, 0x62));
    let read = 0;
    socket.on('data', (c: Buffer) => (read += c.length));
    await new Promise((r) => socket.once('close', r));
    expect(read).toBe(10_000);
    expect(meter.bytes).toBe(10_500);

    const echo = dgram.createSocket('udp4');
    echo.on('message', (msg, rinfo) => echo.send(msg, rinfo.port, rinfo.address));
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
    cleanup.push(() => echo.close());
    const udp = network.createUdpSocket('udp4');
    const answered = new Promise<void>((r) => udp.once('message', () => r()));
    udp.send(Buffer.alloc(100), echo.address().port, '127.0.0.1');
    await answered;
    udp.close();
    expect(meter.bytes).toBe(10_500 + 2 * (100 + 28));
  });
});

describe('DataUse', () => {
  const MAY_15 = Date.UTC(2024, 4, 16, 12, 0, 0); // half of May passed
  async function dir(): Promise<string> {
    const d = await mkdtemp(path.join(os.tmpdir(), 'ashyq-data-use-'));
    cleanup.push(() => rm(d, { recursive: true, force: true }));
    return d;
  }

  it('keeps the month\'s count across restarts and starts again in a new month', async () => {
    const d = await dir();
    const use = await DataUse.open(d, 0, MAY_15);
    await use.add(1_500_000, MAY_15);
    await use.add(500_000, MAY_15 + 1000);
    expect(JSON.parse(await readFile(path.join(d, 'data-use.json'), 'utf8'))).toEqual({ month: '2024-05', bytes: 2_000_000 });
    const again = await DataUse.open(d, 0, MAY_15 + 2000);
    expect(again.bytes(MAY_15 + 2000)).toBe(2_000_000);
    const june = Date.UTC(2024, 5, 1, 0, 0, 1);
    expect(again.bytes(june)).toBe(0);
    await again.add(100, june);
    expect(again.status(june)).toEqual({ month: '2024-06', bytes: 100, budget_bytes: null });
  });

  it('starts from 0 when its file is damaged', async () => {
    const d = await dir();
    await writeFile(path.join(d, 'data-use.json'), '{"month":"2024-05","bytes":-3}');
    expect((await DataUse.open(d, 10, MAY_15)).bytes(MAY_15)).toBe(0);
  });

  it('allows everything within the pace, no bulk reads ahead of it, nothing once the budget is spent; no budget: everything', async () => {
    expect(monthElapsed(MAY_15)).toBeCloseTo(0.5, 5);
    const d = await dir();
    const use = await DataUse.open(d, 100, MAY_15);
    await use.add(40_000_000, MAY_15);
    expect(use.allowance(MAY_15)).toBe('full');
    await use.add(20_000_000, MAY_15);
    expect(use.allowance(MAY_15)).toBe('no-bulk');
    await use.add(40_000_000, MAY_15);
    expect(use.allowance(MAY_15)).toBe('skip');
    expect(use.allowance(Date.UTC(2024, 5, 1, 0, 1))).toBe('full');
    const unlimited = await DataUse.open(d, 0, MAY_15);
    expect(unlimited.allowance(MAY_15)).toBe('full');
  });
});

describe('the daemon and the data budget', () => {
  let lab: DaemonLab | null = null;
  cleanup.push(async () => lab?.close());

  it('counts each run\'s bytes in the status and the state directory, and stops measuring once the month\'s budget is spent', async () => {
    lab = await startDaemonLab({ targets: 4 });
    const l = lab;
    cleanup.push(() => l.close());
    await l.writeConfig({ collector: false });
    const status = async () => JSON.parse(await readFile(path.join(l.stateDir, 'status.json'), 'utf8')) as DaemonStatus;

    const first = await l.spawnDaemon({ schedule: { interval_minutes: 0.02, data_budget_mb: 1000 } });
    await first.waitForTaken(6, 30_000);
    const s = await eventually(async () => {
      const st = await status();
      return (st.last_run?.bytes ?? 0) > 0 ? st : null;
    }, 10_000, 'a run with its bytes');
    expect(s.data?.budget_bytes).toBe(1_000_000_000);
    expect(s.data!.bytes).toBeGreaterThanOrEqual(s.last_run!.bytes!);
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    const kept = JSON.parse(await readFile(path.join(l.stateDir, 'data-use.json'), 'utf8')) as { month: string; bytes: number };
    expect(kept.bytes).toBeGreaterThan(0);

    // The month's budget spent: the next daemon measures nothing and says why.
    await writeFile(path.join(l.stateDir, 'data-use.json'), JSON.stringify({ month: kept.month, bytes: 2_000_000 }));
    const second = await l.spawnDaemon({ schedule: { interval_minutes: 0.02, data_budget_mb: 1 } });
    await second.waitForLine((line) => line.includes('monthly data budget'), 20_000);
    await new Promise((r) => setTimeout(r, 3000));
    const after = await status();
    expect(after.taken).toBe(0);
    expect(after.last_run?.error).toContain('data budget');
    second.proc.kill('SIGTERM');
    expect((await second.exited).code).toBe(0);
  }, 90_000);
});

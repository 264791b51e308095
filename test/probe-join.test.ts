// `ashyq-probe join INVITE --config FILE`: the collector section written from an invite, into a new file or an existing one (its comments and settings kept); a bad invite changes nothing.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeInvite } from '../contract/invite.js';
import { main } from '../probe/cli/main.js';
import { loadProbeConfig } from '../probe/config/probe-config.js';

const PIN = 'Xk3zTNCDqyBqVvhVqHN7ChwkBZzUShsnl1GYN5TOy9g=';
const SECRET = 'a-secret-of-32-characters-012345';
const INVITE = encodeInvite({ url: 'https://collector.example.org/ashyq', pins: [PIN], secret: SECRET });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'ashyq-join-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: { write: (s: string) => ((out += s), true) }, err: { write: (s: string) => ((err += s), true) } } as never);
  return { code, out, err };
}

describe('ashyq-probe join', () => {
  it('writes a new config, readable by owner and group only, that the daemon loads with the invite’s collector', async () => {
    const file = path.join(dir, 'probe.yaml');
    const r = await run('join', INVITE, '--config', file);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('now uploads to https://collector.example.org/ashyq');
    expect((await stat(file)).mode & 0o777).toBe(0o640);
    const config = await loadProbeConfig(file);
    expect(config.collector?.url).toBe('https://collector.example.org/ashyq');
    expect(config.collector?.pin_spki_sha256).toEqual([PIN]);
    expect(config.collector?.enrollment_token).toBe(SECRET);
  });

  it('keeps the comments and other settings of an existing config, and replaces an earlier collector', async () => {
    const file = path.join(dir, 'probe.yaml');
    await writeFile(file, '# my probe, kitchen shelf\nschedule:\n  interval_minutes: 30 # hourly is too rare\ncollector:\n  url: https://old.example.org\n  pin_spki_sha256: ["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]\n  enrollment_token: an-old-token-of-enough-length\n', { mode: 0o600 });
    const r = await run('join', INVITE, '--config', file);
    expect(r.code, r.err).toBe(0);
    const text = await readFile(file, 'utf8');
    expect(text).toContain('# my probe, kitchen shelf');
    expect(text).toContain('# hourly is too rare');
    expect(text).not.toContain('old.example.org');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const config = await loadProbeConfig(file);
    expect(config.schedule.interval_minutes).toBe(30);
    expect(config.collector?.url).toBe('https://collector.example.org/ashyq');
    expect(config.collector?.enrollment_token).toBe(SECRET);
  });

  it('a cut invite, or a file that is not YAML, is refused with the reason and leaves the file as it was', async () => {
    const file = path.join(dir, 'probe.yaml');
    await writeFile(file, 'schedule:\n  interval_minutes: 30\n');
    const cut = await run('join', INVITE.slice(0, 25), '--config', file);
    expect(cut.code).toBe(2);
    expect(cut.err).toMatch(/join: .*cut or altered/);
    expect(await readFile(file, 'utf8')).toBe('schedule:\n  interval_minutes: 30\n');

    const broken = path.join(dir, 'broken.yaml');
    await writeFile(broken, 'schedule:\n  interval_minutes: [30\n');
    const bad = await run('join', INVITE, '--config', broken);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`${broken}: not valid YAML`);
    expect(await readFile(broken, 'utf8')).toBe('schedule:\n  interval_minutes: [30\n');

    const usage = await run('join', INVITE);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('usage: ashyq-probe join INVITE --config FILE');
  });
});

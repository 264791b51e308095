// `ashyq-probe setup` from an invite against a real collector over pinned TLS on loopback: enrolled, config written, a first run spooled; an intercepted certificate is named and nothing written; uninstall asks first.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as collectorMain } from '../collector/cli/main.js';
import { targetList } from '../collector/targets/list.js';
import { systemClock } from '../common/clock.js';
import { decodeInvite, encodeInvite } from '../contract/invite.js';
import type { HostSystem } from '../probe/cli/host.js';
import { setupProbe, SetupError } from '../probe/cli/setup.js';
import { uninstallProbe } from '../probe/cli/uninstall.js';
import { loadProbeConfig } from '../probe/config/probe-config.js';
import { connectSocket, type Deps } from '../probe/deps.js';
import { Spool } from '../probe/spool/spool.js';
import { ManualClock, startCollector, type RunningCollector } from './fixtures/collector/helpers.js';
import type { ScenarioCase } from './loopback/scenario.js';
import { buildWorld, CANARIES, startLab, type Lab, type World } from './loopback/world.js';

/** A machine without systemd (as here); the systemctl calls it would have made are recorded. */
function hostWithout(calls: string[][] = []): HostSystem {
  return {
    systemd: () => false,
    systemctl: async (args) => (calls.push([...args]), { code: 0, output: '' }),
    serviceUser: async () => null,
    isRoot: () => false,
    chownTree: async () => {},
  };
}

function capture() {
  let out = '';
  let err = '';
  return { io: { out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } }, out: () => out, err: () => err };
}

describe('ashyq-probe setup', () => {
  const universe = ['www.facebook.com', ...CANARIES.flatMap((t) => t.domains)];
  const facebook: ScenarioCase = { name: 'facebook', target: { id: 'facebook', domains: ['www.facebook.com'] }, censor: {}, expect: { verdict: 'ok' } };
  let lab: Lab;
  let world: World;
  let collector: RunningCollector;
  let dir: string;
  let pin: string;
  let deps: Deps;

  beforeAll(async () => {
    lab = await startLab(universe);
    world = await buildWorld(lab, facebook, { timeoutMs: 1500, listenWindowMs: 50 });
    dir = await mkdtemp(path.join(os.tmpdir(), 'ashyq-setup-'));
    // The collector's own key and certificate, as an operator makes them.
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2', '-keyout', path.join(dir, 'collector.key'), '-out', path.join(dir, 'collector.crt')], { stdio: 'ignore' });
    collector = await startCollector({ clock: new ManualClock(Date.now()), targets: targetList(world.targets), tls: { cert: path.join(dir, 'collector.crt'), key: path.join(dir, 'collector.key') } });
    const port = Number(new URL(collector.url).port);
    // The collector on loopback as it is; the sites through the world's address map.
    const network = world.deps.network;
    deps = { clock: systemClock, network: { ...network, dialTcp: (ip: string, p: number, signal: AbortSignal) => (ip === '127.0.0.1' && p === port ? connectSocket(ip, p, signal) : network.dialTcp(ip, p, signal)) } };
    await writeFile(path.join(dir, 'collector.yaml'), `data_dir: ${JSON.stringify(collector.dir)}\ntls:\n  cert: ${path.join(dir, 'collector.crt')}\n  key: ${path.join(dir, 'collector.key')}\n`);
  }, 30_000);
  afterAll(async () => {
    await collector?.dispose();
    await world?.close();
    await lab?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function invite(note: string): Promise<string> {
    const out = capture();
    const code = await collectorMain(['invite', '--config', path.join(dir, 'collector.yaml'), '--url', collector.url, '--note', note, '--json'], { stdout: { write: (s: string) => (out.io.out.write(s), true) }, stderr: { write: (s: string) => (out.io.err.write(s), true) } });
    expect(code, out.err()).toBe(0);
    const made = JSON.parse(out.out()) as { invite: string };
    pin = decodeInvite(made.invite).pins[0]!;
    return made.invite;
  }

  /** A probe config that measures the lab's world only (its resolver and its CA), in a directory of its own. */
  async function probeConfig(name: string): Promise<string> {
    const home = path.join(dir, name);
    execFileSync('mkdir', ['-p', home]);
    const udp = world.options.resolvers.find((r) => r.kind === 'udp') as { address: string; port: number };
    await writeFile(path.join(home, 'root.pem'), lab.pki.root);
    const file = path.join(home, 'probe.yaml');
    await writeFile(file, ['# set up by hand first', `state_dir: ${path.join(home, 'state')}`, 'measure:', '  timeout_ms: 1500', '  dns_listen_window_ms: 50', `  resolvers: [system, "udp:${udp.address}:${udp.port}"]`, '  extra_ca_files: [root.pem]', '  bulk_max_kb: 0', ''].join('\n'), { mode: 0o600 });
    return file;
  }

  it('enrolls through the pinned key, writes the config, measures a first run into the spool and says how to run the daemon', async () => {
    const file = await probeConfig('home');
    const text = await invite('Almaty, home fibre');
    const out = capture();
    const code = await setupProbe({ invite: text, configFile: file, start: true }, out.io, deps, hostWithout(), new AbortController().signal);
    expect(code, out.out() + out.err()).toBe(0);
    const said = out.out();
    expect(said).toContain(`checking the collector at ${collector.url} through the key pinned in the invite`);
    expect(said).toMatch(/enrolled as probe (\S+): the collector's key matched the invite/);
    const probeId = /enrolled as probe (\S+):/.exec(said)![1]!;
    expect(collector.collector.store.probe(probeId)).toMatchObject({ note: 'Almaty, home fibre', role: 'probe' });
    expect(said).toMatch(new RegExp(`first run: ${world.targets.length} targets: .*spooled, the daemon uploads it`));
    expect(said).toContain('facebook');
    expect(said).toContain(`systemd is not running here, so no service was started`);
    expect(said).toContain(`ashyq-probe daemon --config ${file}`);
    // The config: the collector from the invite, the hand-written settings and comment kept, its mode too.
    const config = await loadProbeConfig(file);
    expect(config.collector).toMatchObject({ url: collector.url, pin_spki_sha256: [pin] });
    expect(await readFile(file, 'utf8')).toContain('# set up by hand first');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // The first run waits in the spool for the daemon.
    const spool = await Spool.open(path.join(path.dirname(file), 'state', 'spool'), { capBytes: 1 << 30, clock: systemClock });
    const pending = await spool.pending(100);
    await spool.close();
    expect(pending.map((m) => m.target.id).sort()).toEqual(world.targets.map((t) => t.id).sort());
    expect(pending.every((m) => m.probe.id === probeId)).toBe(true);
    expect(pending.find((m) => m.target.id === 'facebook')!.verdict.verdict).toBe('ok');

    // uninstall: asks; "no" keeps everything; "yes" removes the state and the config.
    const kept = capture();
    expect(await uninstallProbe({ configFile: file, yes: false }, kept.io, hostWithout(), async (q) => (expect(q).toContain(`${world.targets.length} measurements not yet uploaded would be lost`), false))).toBe(0);
    expect(existsSync(file)).toBe(true);
    await expect(uninstallProbe({ configFile: file, yes: false }, capture().io, hostWithout(), async () => null)).rejects.toThrow(/no terminal to ask on: pass --yes/);
    const gone = capture();
    expect(await uninstallProbe({ configFile: file, yes: false }, gone.io, hostWithout(), async () => true)).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(path.join(path.dirname(file), 'state'))).toBe(false);
  }, 30_000);

  it('an intercepted certificate (a key that is not the invite’s): named, nothing sent, nothing written', async () => {
    const file = await probeConfig('cafe');
    const real = decodeInvite(await invite('café'));
    const forged = encodeInvite({ ...real, pins: ['AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='] });
    const before = await readFile(file, 'utf8');
    const probesBefore = collector.collector.store.probeCount();
    const out = capture();
    const failed = await setupProbe({ invite: forged, configFile: file, start: true }, out.io, deps, hostWithout(), new AbortController().signal).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(SetupError);
    expect((failed as SetupError).message).toMatch(/presented a certificate whose key is NOT the collector's key in the invite\. Nothing was sent and nothing was written/);
    expect((failed as SetupError).message).toMatch(/intercepting your encrypted connections/);
    expect(await readFile(file, 'utf8')).toBe(before);
    expect(collector.collector.store.probeCount()).toBe(probesBefore);
  }, 30_000);

  it('a used invite is refused with what to do; a collector that does not answer is named', async () => {
    const first = await probeConfig('first');
    const text = await invite('one probe only');
    expect(await setupProbe({ invite: text, configFile: first, start: true }, capture().io, deps, hostWithout(), new AbortController().signal)).toBe(0);
    const second = await probeConfig('second');
    const again = await setupProbe({ invite: text, configFile: second, start: true }, capture().io, deps, hostWithout(), new AbortController().signal).catch((e: unknown) => e);
    expect((again as Error).message).toMatch(/the invite was used by another probe already .*Ask the collector operator for a new one\. Nothing was written/);
    const dead = encodeInvite({ ...decodeInvite(text), url: 'https://127.0.0.1:9' });
    const third = await probeConfig('third');
    const unreachable = await setupProbe({ invite: dead, configFile: third, start: true }, capture().io, deps, hostWithout(), new AbortController().signal).catch((e: unknown) => e);
    expect((unreachable as Error).message).toMatch(/cannot reach the collector at https:\/\/127\.0\.0\.1:9: .*Nothing was written/);
  }, 30_000);

  it('with systemd: a running service is stopped first, then enabled and started', async () => {
    const file = await probeConfig('systemd');
    const calls: string[][] = [];
    const host: HostSystem = { ...hostWithout(calls), systemd: () => true };
    const out = capture();
    expect(await setupProbe({ invite: await invite('a Pi'), configFile: file, start: true }, out.io, deps, host, new AbortController().signal)).toBe(0);
    expect(calls).toEqual([['is-active', '--quiet', 'ashyq-probe'], ['stop', 'ashyq-probe'], ['enable', '--now', 'ashyq-probe']]);
    expect(out.out()).toContain('the ashyq-probe service is enabled and running');
    expect(out.out()).toContain('journalctl -u ashyq-probe -f');
  }, 30_000);
});

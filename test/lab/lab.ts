// The lab: builds the client, censor, internet and tap hosts in network namespaces, starts their services, runs the probe, tears down.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { spkiSha256 } from '../../probe/upload/pin.js';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Measurement } from '../../contract/measurement.js';
import { Censor, listening } from './censor.js';
import {
  blockpageNginxConf,
  collectorIpDb,
  collectorYaml,
  honestDnsmasqConf,
  internetNginxConf,
  pageHtml,
  probeDaemonYaml,
  probeYaml,
  targetsYaml,
  type ProbeTiming,
  victoriaMetricsArgs,
} from './config-files.js';
import { LabDaemon } from './lab-daemon.js';
import { makeLabPki } from './pki.js';
import { LabCommandError, run, runIn, startService, stopPid, stopService, waitFor } from './shell.js';
import {
  BLOCKPAGE_PORT,
  CENSOR_INTERNET_DEV,
  CLIENT_DEV,
  COLLECTOR,
  HONEST_BACKEND,
  HONEST_RESOLVER,
  HONEST_RESOLVER_DELAY_MS,
  INTERNET_PREFIX,
  internetAddresses,
  ISP_RESOLVER,
  LAB_PREFIX,
  LAB_TARGETS,
  LAB_TSDB,
  LINKS,
  NS,
  type Host,
} from './topology.js';

/** The repository the lab runs from (its TypeScript helpers and the probe's sources). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LAB_DIR_SOURCE = fileURLToPath(new URL('./', import.meta.url));
/** Where `ip netns exec` finds a namespace's own resolv.conf. */
const NETNS_ETC = '/etc/netns';

/** Tools the lab needs on the machine (Debian packages: iproute2, iptables, dnsmasq-base, nginx-light, sslsplit, openssl, victoria-metrics). */
export const REQUIRED_TOOLS = ['ip', 'tc', 'ss', 'iptables', 'dnsmasq', 'nginx', 'sslsplit', 'openssl', 'victoria-metrics'] as const;

export interface ProbeRun {
  code: number;
  measurements: Measurement[];
  stdout: string;
  stderr: string;
  /** Wall time of the whole run, ms. */
  elapsedMs: number;
}

/** Whether this machine can hold the lab: root, namespaces, the tools. `why` says what is missing. */
export async function labSupport(): Promise<{ ok: boolean; why: string }> {
  if (process.platform !== 'linux') return { ok: false, why: `network namespaces need Linux (this is ${process.platform})` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, why: 'creating network namespaces needs root (run the suite as root)' };
  }
  const missing: string[] = [];
  for (const tool of REQUIRED_TOOLS) {
    const r = await run('sh', ['-c', `command -v ${tool}`], { allowFailure: true });
    if (r.code !== 0) missing.push(tool);
  }
  if (missing.length > 0) {
    return { ok: false, why: `missing tools: ${missing.join(', ')} (apt-get install iproute2 iptables dnsmasq-base nginx-light sslsplit openssl victoria-metrics)` };
  }
  const probe = `${LAB_PREFIX}support-check`;
  const made = await run('ip', ['netns', 'add', probe], { allowFailure: true });
  if (made.code !== 0) return { ok: false, why: `cannot create a network namespace: ${made.stderr.trim()}` };
  await run('ip', ['netns', 'del', probe], { allowFailure: true });
  return { ok: true, why: '' };
}

/** Set a network sysctl inside a namespace (/proc/sys/net is the namespace's own; no procps needed). */
async function sysctl(ns: string, key: string, value: string): Promise<void> {
  await runIn(ns, 'sh', ['-c', `echo ${value} > /proc/sys/${key}`]);
}

/** Remove whatever a previous lab left behind: its processes (by id, from `ip netns pids`), namespaces and /etc/netns entries. */
export async function removeStaleLab(): Promise<string[]> {
  const list = await run('ip', ['netns', 'list'], { allowFailure: true });
  const stale = list.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith(LAB_PREFIX));
  for (const ns of stale) {
    const pids = await run('ip', ['netns', 'pids', ns], { allowFailure: true });
    for (const pid of pids.stdout.split('\n').map(Number).filter((p) => Number.isInteger(p) && p > 1)) await stopPid(pid, 1000);
    await run('ip', ['netns', 'del', ns], { allowFailure: true });
  }
  for (const host of Object.values(NS)) await rm(join(NETNS_ETC, host), { recursive: true, force: true });
  return stale;
}

export class Lab {
  readonly dir: string;
  readonly censor: Censor;

  constructor(dir: string) {
    this.dir = dir;
    this.censor = new Censor({
      dir,
      node: (script) => this.#node(script),
      // Where makeLabPki writes them: a lab brought up by another process (npm run lab -- apply) finds them too.
      pki: { nationalCert: join(dir, 'pki', 'national-root.pem'), nationalKey: join(dir, 'pki', 'national-root.key') },
    });
  }

  get probeConfig(): string {
    return join(this.dir, 'probe.yaml');
  }

  get targetsFile(): string {
    return join(this.dir, 'targets.yaml');
  }

  #file(name: string): string {
    return join(this.dir, name);
  }

  /** Node with tsx, running a TypeScript file of test/lab. */
  #node(script: string): { cmd: string; args: string[] } {
    return { cmd: process.execPath, args: ['--import', 'tsx', join(LAB_DIR_SOURCE, script)] };
  }

  /** Build the whole lab (namespaces, links, routes, certificates, configs, services). Call removeStaleLab() first. */
  async up(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.#network();
    await this.#files();
    await this.#services();
  }

  async #network(): Promise<void> {
    const ns = (host: Host) => NS[host];
    for (const host of Object.keys(NS) as Host[]) {
      await run('ip', ['netns', 'add', ns(host)]);
      await runIn(ns(host), 'ip', ['link', 'set', 'lo', 'up']);
      // The censor and the tap answer for addresses routed elsewhere (the injected answers): no reverse-path filter.
      for (const key of ['all', 'default']) await sysctl(ns(host), `net/ipv4/conf/${key}/rp_filter`, '0');
    }
    for (const link of LINKS) {
      await run('ip', ['link', 'add', link.a.dev, 'netns', ns(link.a.host), 'type', 'veth', 'peer', 'name', link.b.dev, 'netns', ns(link.b.host)]);
      for (const end of [link.a, link.b]) {
        await runIn(ns(end.host), 'ip', ['addr', 'add', `${end.ip}/${link.prefix}`, 'dev', end.dev]);
        await sysctl(ns(end.host), `net/ipv4/conf/${end.dev}/rp_filter`, '0');
        await runIn(ns(end.host), 'ip', ['link', 'set', end.dev, 'up']);
      }
    }
    await sysctl(NS.censor, 'net/ipv4/ip_forward', '1');
    // client: its router is the censor (a home connection: the ISP is the only way anywhere).
    await runIn(NS.client, 'ip', ['route', 'add', 'default', 'via', ISP_RESOLVER]);
    // censor: the internet behind i1; no default route, so anything else is unreachable.
    await this.restoreInternetRoute();
    // internet: its addresses, reachable back to the lab's link networks only.
    for (const ip of internetAddresses()) await runIn(NS.internet, 'ip', ['addr', 'add', `${ip}/32`, 'dev', 'lo']);
    await runIn(NS.internet, 'ip', ['route', 'add', '10.77.0.0/16', 'via', '10.77.2.1']);
    // tap: holds the honest resolver's address too, so the censor's copies of queries to it land here.
    await runIn(NS.tap, 'ip', ['addr', 'add', `${HONEST_RESOLVER}/32`, 'dev', 'lo']);
    await runIn(NS.tap, 'ip', ['route', 'add', '10.77.0.0/16', 'via', '10.77.3.1']);
    // client: its resolv.conf names the ISP resolver (ip netns exec bind-mounts /etc/netns/<ns>/resolv.conf).
    await mkdir(join(NETNS_ETC, NS.client), { recursive: true });
    await writeFile(join(NETNS_ETC, NS.client, 'resolv.conf'), `nameserver ${ISP_RESOLVER}\noptions timeout:1 attempts:1\n`);
    // internet: the honest resolver, for the collector's control vantage.
    await mkdir(join(NETNS_ETC, NS.internet), { recursive: true });
    await writeFile(join(NETNS_ETC, NS.internet, 'resolv.conf'), `nameserver ${HONEST_RESOLVER}\noptions timeout:1 attempts:2\n`);
  }

  /** The censor's route to the internet host (withdrawn by the shutdown scenario). */
  async restoreInternetRoute(): Promise<void> {
    await runIn(NS.censor, 'ip', ['route', 'replace', INTERNET_PREFIX, 'via', '10.77.2.2', 'dev', CENSOR_INTERNET_DEV]);
  }

  async #files(): Promise<void> {
    const pkiDir = this.#file('pki');
    await mkdir(pkiDir, { recursive: true });
    const domains = [...LAB_TARGETS.flatMap((t) => t.domains), COLLECTOR.name];
    const pki = await makeLabPki(pkiDir, domains);
    for (const t of LAB_TARGETS) {
      await mkdir(this.#file(join('www', t.id)), { recursive: true });
      await writeFile(this.#file(join('www', t.id, 'index.html')), pageHtml(t));
      if (t.bulk !== undefined) {
        await mkdir(this.#file(join('www', t.id, dirname(t.bulk.path))), { recursive: true });
        await writeFile(this.#file(join('www', t.id, t.bulk.path)), randomBytes(t.bulk.bytes));
      }
    }
    await mkdir(this.#file(join('www', 'default')), { recursive: true });
    await writeFile(this.#file(join('www', 'default', 'index.html')), '<!DOCTYPE html><html><head><title>default</title></head><body></body></html>\n');
    await mkdir(this.#file('blockpage'), { recursive: true });
    await copyFile(join(REPO_ROOT, 'test', 'fixtures', 'blockpages', 'kz-isp.html'), this.#file(join('blockpage', 'index.html')));
    for (const name of ['nginx-internet', 'nginx-censor']) {
      for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(this.#file(join(`${name}-tmp`, sub)), { recursive: true });
    }
    await writeFile(this.#file('dnsmasq-honest.conf'), honestDnsmasqConf(this.#file('dnsmasq-honest.log')));
    await writeFile(this.#file('nginx-internet.conf'), internetNginxConf(this.dir, { cert: pki.serverCert, key: pki.serverKey }));
    await writeFile(this.#file('nginx-censor.conf'), blockpageNginxConf(this.dir, ISP_RESOLVER, { cert: pki.portalCert, key: pki.portalKey }));
    await writeFile(this.targetsFile, targetsYaml());
    await writeFile(this.probeConfig, probeYaml(pki.caCert, this.targetsFile));
    const token = randomBytes(24).toString('base64url');
    await writeFile(this.#file('enrollment-token'), `${token}\n`);
    await writeFile(this.#file('collector-pin'), `${spkiSha256(await readFile(pki.serverCert, 'utf8'))}\n`);
    const db = collectorIpDb();
    await writeFile(this.#file('collector-asn.csv'), db.asn);
    await writeFile(this.#file('collector-country.csv'), db.country);
    await writeFile(this.#file('collector.yaml'), collectorYaml(this.dir, { cert: pki.serverCert, key: pki.serverKey }, token, this.targetsFile));
  }

  /** The collector's base URL, as the probe inside the lab reaches it. */
  get collectorUrl(): string {
    return `https://${COLLECTOR.name}${COLLECTOR.port === 443 ? '' : `:${COLLECTOR.port}`}`;
  }

  get caFile(): string {
    return join(this.dir, 'pki', 'lab-ca.pem');
  }

  /** The enrollment token the lab's collector accepts. */
  async enrollmentToken(): Promise<string> {
    return (await readFile(this.#file('enrollment-token'), 'utf8')).trim();
  }

  /** The pin (SPKI SHA-256) of the lab collector's key, as a volunteer puts it in the probe config. */
  async collectorPin(): Promise<string> {
    return (await readFile(this.#file('collector-pin'), 'utf8')).trim();
  }

  /** Where the daemon keeps its identity, spool and status (one probe for the lab's whole life). */
  get daemonStateDir(): string {
    return this.#file('probe-state');
  }

  /** The collector's data directory (archive, store) on the internet host. */
  get collectorDataDir(): string {
    return this.#file('collector-data');
  }

  /** Write the daemon's config (`<name>.yaml` in the lab dir) for a schedule of one run every `intervalMinutes`. */
  async writeDaemonConfig(name: string, intervalMinutes: number): Promise<string> {
    const file = this.#file(`${name}.yaml`);
    const yaml = probeDaemonYaml(this.caFile, this.targetsFile, {
      stateDir: this.daemonStateDir,
      collectorUrl: this.collectorUrl,
      pin: await this.collectorPin(),
      token: await this.enrollmentToken(),
      intervalMinutes,
    });
    await writeFile(file, yaml);
    return file;
  }

  /** Start `ashyq-probe daemon` inside the client host with a config from {@link writeDaemonConfig}. */
  async startDaemon(configFile: string): Promise<LabDaemon> {
    const entry = this.#node('ashyq-probe.ts');
    return LabDaemon.start({
      ns: NS.client,
      cmd: entry.cmd,
      args: [...entry.args, 'daemon', '--config', configFile],
      stateDir: this.daemonStateDir,
      log: this.#file('daemon.log'),
      pidFile: this.#file('daemon.pid'),
    });
  }

  async #services(): Promise<void> {
    const svc = (name: string) => ({ log: this.#file(`${name}.out`), pidFile: this.#file(`${name}.pid`) });
    await startService(NS.internet, 'dnsmasq', [`--conf-file=${this.#file('dnsmasq-honest.conf')}`], svc('dnsmasq-honest'));
    const line = this.#node('delay-line.ts');
    await startService(
      NS.internet,
      line.cmd,
      [...line.args, '--listen', `${HONEST_RESOLVER}:53`, '--to', `${HONEST_BACKEND.ip}:${HONEST_BACKEND.port}`, '--delay', String(HONEST_RESOLVER_DELAY_MS)],
      svc('delay-line'),
    );
    await startService(NS.internet, 'nginx', ['-p', this.dir, '-c', this.#file('nginx-internet.conf')], svc('nginx-internet'));
    await startService(NS.censor, 'nginx', ['-p', this.dir, '-c', this.#file('nginx-censor.conf')], svc('nginx-censor'));
    await startService(NS.internet, 'victoria-metrics', victoriaMetricsArgs(this.dir), svc('victoria-metrics'));
    await waitFor('the time-series database (victoria-metrics)', () => listening(NS.internet, 'tcp', LAB_TSDB.port, LAB_TSDB.ip), 20_000, this.#file('victoria-metrics.out'));
    const collector = this.#node('ashyq-collector.ts');
    // The control vantage validates the lab sites' certificates with the lab CA, as the probe does.
    await startService(NS.internet, collector.cmd, [...collector.args, 'serve', '--config', this.#file('collector.yaml')], svc('collector'), {
      ...process.env,
      NODE_EXTRA_CA_CERTS: join(this.dir, 'pki', 'lab-ca.pem'),
    });
    await waitFor('the honest resolver (dnsmasq)', () => listening(NS.internet, 'udp', HONEST_BACKEND.port), 10_000, this.#file('dnsmasq-honest.out'));
    await waitFor('the delay line', () => listening(NS.internet, 'udp', 53), 15_000, this.#file('delay-line.out'));
    const firstSite = LAB_TARGETS.find((t) => t.tls_ports.includes(443));
    await waitFor('the web servers (nginx)', () => listening(NS.internet, 'tcp', 443, firstSite?.ip), 10_000, this.#file('nginx-internet.error.log'));
    await waitFor('the collector', () => listening(NS.internet, 'tcp', COLLECTOR.port, COLLECTOR.ip), 30_000, this.#file('collector.out'));
    await waitFor('the block-page server (nginx)', () => listening(NS.censor, 'tcp', BLOCKPAGE_PORT), 10_000, this.#file('nginx-censor.error.log'));
    await this.censor.resolver([]);
  }

  /** Make the censor honest again (every scenario's mechanism removed). */
  async clearCensor(): Promise<void> {
    await this.censor.clear(() => this.restoreInternetRoute());
  }

  /**
   * A poor line on the volunteer's side (a weak Wi-Fi): each packet in and out of the client's link is
   * dropped at random with `probability` (iptables' statistic match, where netem may be missing).
   * 0 removes the loss.
   */
  async lineLoss(probability: number): Promise<void> {
    const ipt = (...args: string[]) => runIn(NS.client, 'iptables', ['-w', ...args]);
    await ipt('-F');
    if (probability <= 0) return;
    const p = probability.toFixed(4);
    await ipt('-A', 'INPUT', '-i', CLIENT_DEV, '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP');
    await ipt('-A', 'OUTPUT', '-o', CLIENT_DEV, '-m', 'statistic', '--mode', 'random', '--probability', p, '-j', 'DROP');
  }

  /**
   * A site that is down for everyone: its own server (on the internet host) resets every SYN to
   * `ip`, so the censored client and the collector's control see the same refusal. `null` ends it.
   */
  async siteDown(ip: string | null): Promise<void> {
    await runIn(NS.internet, 'iptables', ['-w', '-F']);
    if (ip !== null) await runIn(NS.internet, 'iptables', ['-w', '-A', 'INPUT', '-p', 'tcp', '--syn', '-d', ip, '-j', 'REJECT', '--reject-with', 'tcp-reset']);
  }

  /**
   * Domains gone for everyone (NXDOMAIN from the honest resolver itself, which the censor's resolver
   * and the collector's control both ask): the honest resolver restarted with them. `[]` brings them back.
   */
  async domainGone(domains: readonly string[]): Promise<void> {
    const pidFile = this.#file('dnsmasq-honest.pid');
    await stopService(pidFile);
    await writeFile(this.#file('dnsmasq-honest.conf'), honestDnsmasqConf(this.#file('dnsmasq-honest.log'), LAB_TARGETS, domains));
    await startService(NS.internet, 'dnsmasq', [`--conf-file=${this.#file('dnsmasq-honest.conf')}`], { log: this.#file('dnsmasq-honest.out'), pidFile });
    await waitFor('the honest resolver (dnsmasq)', () => listening(NS.internet, 'udp', HONEST_BACKEND.port), 10_000, this.#file('dnsmasq-honest.out'));
  }

  /** Write a probe config (`<name>.yaml` in the lab dir) with other step bounds than the lab's short ones. */
  async writeProbeConfig(name: string, timing: ProbeTiming): Promise<string> {
    const file = this.#file(`${name}.yaml`);
    await writeFile(file, probeYaml(this.caFile, this.targetsFile, timing));
    return file;
  }

  /** Run `ashyq-probe run --once --json` inside the client host, against the lab's config and targets. */
  async probe(extraArgs: readonly string[] = [], configFile = this.probeConfig): Promise<ProbeRun> {
    const entry = this.#node('ashyq-probe.ts');
    const started = Date.now();
    const r = await runIn(
      NS.client,
      entry.cmd,
      [...entry.args, 'run', '--once', '--json', '--config', configFile, '--targets', this.targetsFile, ...extraArgs],
      { allowFailure: true, timeoutMs: 120_000, env: { ...process.env, UV_THREADPOOL_SIZE: '32' } },
    );
    const elapsedMs = Date.now() - started;
    const measurements: Measurement[] = [];
    for (const line of r.stdout.split('\n')) {
      if (line.trim() === '') continue;
      try {
        measurements.push(JSON.parse(line) as Measurement);
      } catch {
        throw new LabCommandError('ashyq-probe run --once --json', `printed a line that is not JSON: ${line.slice(0, 200)}`, r.stderr);
      }
    }
    return { code: r.code, measurements, stdout: r.stdout, stderr: r.stderr, elapsedMs };
  }

  /** Human-readable probe run (what `npm run lab -- up` shows). */
  async probeText(): Promise<{ code: number; stdout: string; stderr: string }> {
    const entry = this.#node('ashyq-probe.ts');
    return runIn(NS.client, entry.cmd, [...entry.args, 'run', '--once', '--config', this.probeConfig, '--targets', this.targetsFile], {
      allowFailure: true,
      timeoutMs: 60_000,
      env: { ...process.env, UV_THREADPOOL_SIZE: '32' },
    });
  }

  /**
   * An HTTPS GET from the client host with Node's fetch, trusting the lab CA, resolving through the
   * client's resolver: what any program on the volunteer's machine would see.
   */
  async clientGet(url: string): Promise<{ status: number; body: string } | { error: string }> {
    const script =
      'try { const r = await fetch(process.argv[1], { signal: AbortSignal.timeout(5000) });' +
      ' console.log(JSON.stringify({ status: r.status, body: await r.text() })); }' +
      ' catch (e) { console.log(JSON.stringify({ error: String(e?.cause?.code ?? e?.message ?? e) })); }';
    const r = await runIn(NS.client, process.execPath, ['--input-type=module', '-e', script, url], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: this.caFile },
      timeoutMs: 15_000,
    });
    return JSON.parse(r.stdout.trim()) as { status: number; body: string } | { error: string };
  }

  /** Last lines of a lab log (for failure messages). */
  async log(name: string, lines = 30): Promise<string> {
    const text = await readFile(this.#file(name), 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }

  /** Stop every service and remove the namespaces; safe to call on a half-built lab. */
  async down(): Promise<void> {
    await stopService(this.#file('daemon.pid'), 25_000);
    for (const name of ['injector', 'sslsplit', 'dnsmasq-isp', 'nginx-censor', 'collector', 'victoria-metrics', 'nginx-internet', 'delay-line', 'dnsmasq-honest']) {
      await stopService(this.#file(`${name}.pid`));
    }
    await removeStaleLab();
  }
}

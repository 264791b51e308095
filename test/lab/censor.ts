// The censor's mechanisms, each a real one on the lab's router: resolver overrides, iptables, an injector, an interceptor, tc, routes.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ispDnsmasqConf } from './config-files.js';
import { runIn, startService, stopService, waitFor } from './shell.js';
import {
  BLOCKPAGE_PORT,
  CENSOR_CLIENT_DEV,
  HONEST_RESOLVER,
  INTERCEPT_PORT,
  INTERNET_PREFIX,
  ISP_RESOLVER,
  NS,
  PORTAL_PORT,
  PORTAL_TLS_PORT,
  TAP_IP,
} from './topology.js';

/** Where the censor keeps its files, and how it starts a Node helper (tsx, from the repository). */
export interface CensorContext {
  dir: string;
  /** Command and leading arguments that run a TypeScript file of test/lab with Node. */
  node: (script: string) => { cmd: string; args: string[] };
  pki: { nationalCert: string; nationalKey: string };
}

/** Whether something listens on `port` (tcp or udp; on `ip` when given) inside `ns`: readiness without sending a packet. */
export async function listening(ns: string, proto: 'tcp' | 'udp', port: number, ip?: string): Promise<boolean> {
  const filter = ip === undefined ? `sport = :${port}` : `src ${ip}:${port}`;
  const r = await runIn(ns, 'ss', ['-Hln', proto === 'tcp' ? '-t' : '-u', filter], { allowFailure: true });
  return r.code === 0 && r.stdout.trim() !== '';
}

/** How a portal walls the line off (see Censor.portal). */
export type PortalVariant = 'refused' | 'dropped' | 'dns' | 'login';

export class Censor {
  readonly #ctx: CensorContext;

  constructor(ctx: CensorContext) {
    this.#ctx = ctx;
  }

  #file(name: string): string {
    return join(this.#ctx.dir, name);
  }

  iptables(table: 'filter' | 'nat' | 'mangle', ...args: string[]): Promise<unknown> {
    return runIn(NS.censor, 'iptables', ['-w', '-t', table, ...args]);
  }

  /** (Re)start the ISP resolver with these dnsmasq `address=` overrides (none: an honest forwarder). */
  async resolver(overrides: readonly string[] = []): Promise<void> {
    const conf = this.#file('dnsmasq-isp.conf');
    await stopService(this.#file('dnsmasq-isp.pid'));
    await writeFile(conf, ispDnsmasqConf(this.#file('dnsmasq-isp.log'), overrides));
    await startService(NS.censor, 'dnsmasq', [`--conf-file=${conf}`], { log: this.#file('dnsmasq-isp.out'), pidFile: this.#file('dnsmasq-isp.pid') });
    await waitFor('the ISP resolver (dnsmasq on the censor)', () => listening(NS.censor, 'udp', 53), 10_000, this.#file('dnsmasq-isp.out'));
  }

  /**
   * TCP to these addresses is answered with a reset by the censor (REJECT --reject-with tcp-reset).
   * `after-handshake` lets the SYN through and resets everything after it (the client's handshake
   * completes, then the connection is torn down: what the probe calls a reset); `syn` resets the SYN
   * itself, which no client can tell from a closed port (the probe says refused).
   */
  async resetTcp(ips: readonly string[], at: 'after-handshake' | 'syn'): Promise<void> {
    const which = at === 'syn' ? ['--syn'] : ['!', '--syn'];
    for (const ip of ips) {
      await this.iptables('filter', '-A', 'FORWARD', '-p', 'tcp', '-d', ip, ...which, '-j', 'REJECT', '--reject-with', 'tcp-reset');
    }
  }

  /** Everything to these addresses is silently dropped. */
  async blackhole(ips: readonly string[]): Promise<void> {
    for (const ip of ips) await this.iptables('filter', '-A', 'FORWARD', '-d', ip, '-j', 'DROP');
  }

  /**
   * SNI filtering: a TCP segment to port 443 that carries one of `names` (the ClientHello's
   * server_name) is answered with a reset; the same address with another SNI is left alone.
   */
  async filterSni(names: readonly string[]): Promise<void> {
    for (const name of names) {
      await this.iptables(
        'filter', '-A', 'FORWARD', '-p', 'tcp', '--dport', '443',
        '-m', 'string', '--algo', 'bm', '--string', name, '-j', 'REJECT', '--reject-with', 'tcp-reset',
      );
    }
  }

  /**
   * A keyword filter on plain HTTP: a TCP segment to port 80 that carries `name` (the request's Host
   * header) is answered with a reset. The connection itself, and TLS to the same name, are untouched.
   */
  async resetHttpKeyword(name: string): Promise<void> {
    await this.iptables(
      'filter', '-A', 'FORWARD', '-p', 'tcp', '--dport', '80',
      '-m', 'string', '--algo', 'bm', '--icase', '--string', name, '-j', 'REJECT', '--reject-with', 'tcp-reset',
    );
  }

  /**
   * A keyword filter that swallows plain HTTP: a TCP segment to port 80 that carries `name` (the
   * request's Host header) is dropped, and so is every retransmission of it. The handshake carries
   * no keyword and completes; the request never arrives and nothing answers.
   */
  async dropHttpKeyword(name: string): Promise<void> {
    await this.iptables(
      'filter', '-A', 'FORWARD', '-p', 'tcp', '--dport', '80',
      '-m', 'string', '--algo', 'bm', '--icase', '--string', name, '-j', 'DROP',
    );
  }

  /**
   * The ISP resolver silently drops every query for `name` (over UDP and TCP): the name as it is
   * written in a DNS question (length-prefixed labels) matched by iptables before dnsmasq sees it.
   */
  async dropDnsName(name: string): Promise<void> {
    const wire = `|${name.split('.').map((l) => `${l.length.toString(16).padStart(2, '0')}|${l}|`).join('')}00|`;
    for (const proto of ['udp', 'tcp']) {
      await this.iptables(
        'filter', '-A', 'INPUT', '-p', proto, '-d', ISP_RESOLVER, '--dport', '53',
        '-m', 'string', '--algo', 'bm', '--icase', '--hex-string', wire, '-j', 'DROP',
      );
    }
  }

  /**
   * On-path DNS injection: every DNS query the censor forwards or sends is copied (TEE) to the
   * injector on the tap box, which answers poisoned names at once from the resolver's own address;
   * the query still reaches its resolver, whose genuine answer comes later.
   */
  async injectDns(poison: Readonly<Record<string, string>>): Promise<void> {
    const { cmd, args } = this.#ctx.node('injector.ts');
    const poisonArgs = Object.entries(poison).flatMap(([name, ip]) => ['--poison', `${name}=${ip}`]);
    await startService(NS.tap, cmd, [...args, '--listen', `${HONEST_RESOLVER}:53`, ...poisonArgs], {
      log: this.#file('injector.log'),
      pidFile: this.#file('injector.pid'),
    });
    await waitFor('the DNS injector', () => listening(NS.tap, 'udp', 53), 15_000, this.#file('injector.log'));
    for (const chain of ['FORWARD', 'OUTPUT']) {
      await this.iptables('mangle', '-A', chain, '-p', 'udp', '--dport', '53', '-j', 'TEE', '--gateway', TAP_IP);
    }
  }

  /** TLS interception: connections to these addresses on 443 are redirected to sslsplit, which forges leaves under the national root. */
  async intercept(ips: readonly string[]): Promise<void> {
    const { nationalCert, nationalKey } = this.#ctx.pki;
    await startService(
      NS.censor,
      'sslsplit',
      ['-k', nationalKey, '-c', nationalCert, '-u', 'root', '-l', this.#file('sslsplit-connections.log'), 'ssl', ISP_RESOLVER, String(INTERCEPT_PORT)],
      { log: this.#file('sslsplit.log'), pidFile: this.#file('sslsplit.pid') },
    );
    await waitFor('the interceptor (sslsplit)', () => listening(NS.censor, 'tcp', INTERCEPT_PORT), 10_000, this.#file('sslsplit.log'));
    for (const ip of ips) {
      await this.iptables('nat', '-A', 'PREROUTING', '-i', CENSOR_CLIENT_DEV, '-p', 'tcp', '-d', ip, '--dport', '443', '-j', 'REDIRECT', '--to-ports', String(INTERCEPT_PORT));
    }
  }

  /** Plain HTTP to these addresses is sent to the censor's block-page server (a transparent redirect). */
  async blockpage(ips: readonly string[]): Promise<void> {
    for (const ip of ips) {
      await this.iptables('nat', '-A', 'PREROUTING', '-i', CENSOR_CLIENT_DEV, '-p', 'tcp', '-d', ip, '--dport', '80', '-j', 'DNAT', '--to-destination', `${ISP_RESOLVER}:${BLOCKPAGE_PORT}`);
    }
  }

  /**
   * Traffic from these addresses towards the client is shaped to `rate` (tc htb) once a connection
   * has carried `afterBytes` towards the client (iptables connbytes picks the class, CLASSIFY sets
   * it), as DPI throttles do: every handshake passes at full speed, the page crawls. Per connection,
   * so one slowed download never queues ahead of another connection's handshake.
   */
  async throttle(ips: readonly string[], rate: string, afterBytes: number): Promise<void> {
    const tc = (...args: string[]) => runIn(NS.censor, 'tc', args);
    await tc('qdisc', 'add', 'dev', CENSOR_CLIENT_DEV, 'root', 'handle', '1:', 'htb', 'default', '10');
    await tc('class', 'add', 'dev', CENSOR_CLIENT_DEV, 'parent', '1:', 'classid', '1:10', 'htb', 'rate', '10gbit');
    await tc('class', 'add', 'dev', CENSOR_CLIENT_DEV, 'parent', '1:', 'classid', '1:20', 'htb', 'rate', rate, 'ceil', rate, 'burst', '2k', 'cburst', '2k');
    for (const ip of ips) {
      await this.iptables(
        'mangle', '-A', 'POSTROUTING', '-o', CENSOR_CLIENT_DEV, '-s', ip,
        '-m', 'connbytes', '--connbytes', `${afterBytes}:`, '--connbytes-dir', 'reply', '--connbytes-mode', 'bytes',
        '-j', 'CLASSIFY', '--set-class', '1:20',
      );
    }
  }

  /**
   * A captive portal (hotel Wi-Fi) or an operator's "top up your balance" wall, on the line's own
   * router. Plain HTTP to anywhere is sent to the portal's login redirect; HTTPS is refused with a
   * reset (`refused`), dropped (`dropped`) or caught by the portal with its self-signed certificate
   * (`login`); or (`dns`) the router's resolver answers every name with the portal's private
   * address, every DNS query to anyone else is sent to that resolver, and nothing else passes.
   */
  async portal(variant: PortalVariant): Promise<void> {
    const nat = (...args: string[]) => this.iptables('nat', '-A', 'PREROUTING', '-i', CENSOR_CLIENT_DEV, ...args);
    const forward = (...args: string[]) => this.iptables('filter', '-A', 'FORWARD', '-i', CENSOR_CLIENT_DEV, ...args);
    if (variant === 'dns') {
      await this.resolver(['/#/' + ISP_RESOLVER]);
      for (const proto of ['udp', 'tcp']) await nat('-p', proto, '--dport', '53', '-j', 'DNAT', '--to-destination', `${ISP_RESOLVER}:53`);
      await forward('-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset');
      await forward('-j', 'REJECT', '--reject-with', 'icmp-admin-prohibited');
      return;
    }
    await nat('-p', 'tcp', '--dport', '80', '-j', 'DNAT', '--to-destination', `${ISP_RESOLVER}:${PORTAL_PORT}`);
    if (variant === 'login') {
      await nat('-p', 'tcp', '--dport', '443', '-j', 'DNAT', '--to-destination', `${ISP_RESOLVER}:${PORTAL_TLS_PORT}`);
    } else {
      await forward('-p', 'tcp', '--dport', '443', '-j', variant === 'refused' ? 'REJECT' : 'DROP', ...(variant === 'refused' ? ['--reject-with', 'tcp-reset'] : []));
    }
  }

  /** A shutdown: the censor withdraws the route to the internet (it answers "network unreachable") and its resolver can reach nothing. */
  async shutdown(): Promise<void> {
    await runIn(NS.censor, 'ip', ['route', 'replace', 'unreachable', INTERNET_PREFIX]);
  }

  /** Undo every mechanism: the censor becomes an honest router with an honest resolver. */
  async clear(restoreRoute: () => Promise<void>): Promise<void> {
    await stopService(this.#file('injector.pid'));
    await stopService(this.#file('sslsplit.pid'));
    for (const table of ['filter', 'nat', 'mangle'] as const) {
      await this.iptables(table, '-F');
      await this.iptables(table, '-X');
    }
    await runIn(NS.censor, 'tc', ['qdisc', 'del', 'dev', CENSOR_CLIENT_DEV, 'root'], { allowFailure: true });
    await restoreRoute();
    await this.resolver([]);
  }
}

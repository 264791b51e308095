// A deterministic synthetic fleet: archive segments (or records in memory) with scripted blocking events and their truth.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ArchivedRecord, Category, Evidence, Layer, Measurement, Scope, Verdict } from './contract.js';
import { InvalidArgumentError, utcDay } from './contract.js';
import type { Observation } from './observation.js';
import { methodOf, type EventMethod } from './observation.js';
import { Prng } from './prng.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface SimTarget {
  id: string;
  category: Category;
  domain: string;
}

/** The shipped targets (targets.yaml) with one domain each. */
export const SIM_TARGETS: readonly SimTarget[] = [
  ['youtube', 'video', 'www.youtube.com'],
  ['youtube-media', 'video', 'i.ytimg.com'],
  ['tiktok', 'video', 'www.tiktok.com'],
  ['facebook', 'social', 'facebook.com'],
  ['facebook-cdn', 'social', 'static.xx.fbcdn.net'],
  ['instagram', 'social', 'www.instagram.com'],
  ['instagram-cdn', 'social', 'scontent.cdninstagram.com'],
  ['twitter', 'social', 'twitter.com'],
  ['twitter-cdn', 'social', 'abs.twimg.com'],
  ['vk', 'social', 'vk.com'],
  ['telegram', 'messenger', 'web.telegram.org'],
  ['telegram-dc', 'messenger', 'venus.web.telegram.org'],
  ['whatsapp-web', 'messenger', 'web.whatsapp.com'],
  ['whatsapp-registration', 'messenger', 'v.whatsapp.net'],
  ['whatsapp-chat', 'messenger', 'g.whatsapp.net'],
  ['signal', 'messenger', 'chat.signal.org'],
  ['facebook-messenger', 'messenger', 'www.messenger.com'],
  ['azattyq', 'news', 'www.azattyq.org'],
  ['vlast-kz', 'news', 'vlast.kz'],
  ['currenttime', 'news', 'www.currenttime.tv'],
  ['torproject', 'circumvention', 'www.torproject.org'],
  ['psiphon', 'circumvention', 'psiphon.ca'],
  ['egov-kz', 'canary', 'egov.kz'],
  ['kaspi-kz', 'canary', 'kaspi.kz'],
  ['wikipedia', 'canary', 'www.wikipedia.org'],
  ['cloudflare', 'canary', 'www.cloudflare.com'],
  ['example', 'canary', 'example.com'],
].map(([id, category, domain]) => ({ id: id!, category: category as Category, domain: domain! }));

/** Kazakh networks of the fleet, with their share of probes. */
export const SIM_NETWORKS: ReadonlyArray<{ asn: number; name: string; weight: number }> = [
  { asn: 9198, name: 'JSC Kazakhtelecom', weight: 6 },
  { asn: 21299, name: 'Kar-Tel LLP (Beeline)', weight: 5 },
  { asn: 48503, name: 'Mobile Telecom-Service LLP (Tele2)', weight: 4 },
  { asn: 206026, name: 'Kcell JSC', weight: 3 },
  { asn: 35104, name: 'JSC Transtelecom', weight: 2 },
];

export interface SimOptions {
  days: number;
  probes: number;
  seed: number;
  /** Epoch ms of the first day (UTC midnight). */
  start: number;
  interval_ms: number;
  /** Each run starts within +-jitter of its slot. */
  jitter_ms: number;
  /** Share of measurements that time out at random. */
  timeout_rate: number;
  /** Share of runs that never happen. */
  missing_rate: number;
  targets: readonly SimTarget[];
}

export const DEFAULT_SIM: SimOptions = {
  days: 30,
  probes: 20,
  seed: 1,
  start: Date.UTC(2024, 4, 1),
  interval_ms: 30 * MINUTE,
  jitter_ms: 5 * MINUTE,
  timeout_rate: 0.02,
  missing_rate: 0.03,
  targets: SIM_TARGETS,
};

export interface SimProbe {
  id: string;
  asn: number;
  network: string;
  /** Offset of its runs within the interval (ms). */
  phase: number;
}

/** A scripted ground-truth event. `asns` are the networks it is on; `national` when on all of them. */
export interface TruthEvent {
  id: string;
  kind: 'blocking' | 'partial' | 'throttling' | 'shutdown';
  method: EventMethod;
  scope: Scope;
  verdict: Verdict;
  targets: string[];
  asns: number[];
  national: boolean;
  start: number;
  end: number;
}

export interface Truth {
  options: Omit<SimOptions, 'targets'> & { targets: string[] };
  fleet: SimProbe[];
  events: TruthEvent[];
  chronic: Array<{ target: string; asn: number; method: EventMethod; verdict: Verdict; since: number }>;
  /** Non-blocking disturbances the detector must not report. */
  noise: Array<{ what: string; probe?: string; target?: string; start: number; end: number }>;
  /** Targets with no scripted event (random timeouts only). */
  quiet_targets: string[];
}

/** Complete options (unknown keys and bad values throw). */
export function simOptions(options: Partial<SimOptions> = {}): SimOptions {
  for (const key of Object.keys(options)) if (!(key in DEFAULT_SIM)) throw new InvalidArgumentError(`simulate: unknown option ${key}`);
  const o = { ...DEFAULT_SIM, ...options };
  if (!Number.isInteger(o.days) || o.days < 1) throw new InvalidArgumentError(`simulate: days must be a positive integer, got ${o.days}`);
  if (!Number.isInteger(o.probes) || o.probes < SIM_NETWORKS.length) {
    throw new InvalidArgumentError(`simulate: probes must be an integer of at least ${SIM_NETWORKS.length}, got ${o.probes}`);
  }
  if (o.start % DAY !== 0) throw new InvalidArgumentError('simulate: start must be a UTC midnight');
  if (!(o.interval_ms >= MINUTE) || !(o.jitter_ms >= 0) || 2 * o.jitter_ms >= o.interval_ms) {
    throw new InvalidArgumentError('simulate: interval_ms must be at least a minute and more than twice jitter_ms');
  }
  return o;
}

export function simFleet(o: SimOptions): SimProbe[] {
  const rng = new Prng(o.seed * 7919 + 1);
  const total = SIM_NETWORKS.reduce((s, n) => s + n.weight, 0);
  const fleet: SimProbe[] = [];
  let assigned = 0;
  for (const [i, net] of SIM_NETWORKS.entries()) {
    const count = i === SIM_NETWORKS.length - 1 ? o.probes - assigned : Math.max(1, Math.round((o.probes * net.weight) / total));
    for (let k = 0; k < count; k++) {
      const n = fleet.length;
      fleet.push({ id: `simprobe-${String(n).padStart(4, '0')}`, asn: net.asn, network: net.name, phase: Math.floor(rng.next() * o.interval_ms) });
    }
    assigned += count;
  }
  return fleet;
}

const at = (o: SimOptions, day: number, hour: number, minute = 0): number => o.start + day * DAY + hour * HOUR + minute * MINUTE;

/** The scripted events, chronic block and disturbances of a simulation (those that fit in `days`). */
export function simTruth(options: Partial<SimOptions> = {}): Truth {
  const o = simOptions(options);
  const fleet = simFleet(o);
  const all = SIM_NETWORKS.map((n) => n.asn);
  const ev = (
    id: string,
    verdict: Verdict,
    targets: string[],
    asns: number[],
    start: number,
    end: number,
    scope: Scope = 'full',
  ): TruthEvent => {
    const method = verdict === 'offline' ? 'shutdown' : methodOf(verdict)!;
    const kind = verdict === 'offline' ? 'shutdown' : method === 'throttling' ? 'throttling' : scope === 'partial' ? 'partial' : 'blocking';
    return { id, kind, method, scope, verdict, targets, asns, national: asns.length === all.length, start, end };
  };
  const events: TruthEvent[] = [
    ev('vk-dns', 'dns.nxdomain', ['vk'], [9198, 21299], at(o, 3, 10, 7), at(o, 3, 16, 11)),
    ev('social-tls', 'tls.reset', ['facebook', 'instagram', 'youtube'], all, at(o, 5, 7, 3), at(o, 5, 14, 2)),
    ev('signal-tcp', 'tcp.timeout', ['signal'], [48503], at(o, 8, 18, 20), at(o, 9, 2, 40)),
    ev('instagram-mitm', 'tls.interception', ['instagram'], [206026, 9198], at(o, 11, 9, 13), at(o, 11, 13, 5)),
    ev('azattyq-blockpage', 'http.blockpage', ['azattyq'], [21299], at(o, 13, 12, 31), at(o, 13, 20, 0)),
    ev('telegram-partial', 'tcp.timeout', ['telegram-dc'], [9198, 48503], at(o, 16, 6, 10), at(o, 16, 12, 25), 'partial'),
    ev('twitter-throttled', 'http.throttled', ['twitter'], [9198, 21299, 206026], at(o, 19, 17, 5), at(o, 19, 23, 0)),
    ev('shutdown', 'offline', ['*'], all, at(o, 22, 8, 2), at(o, 22, 12, 4)),
    ev('tiktok-dns', 'dns.bogon', ['tiktok'], [35104], at(o, 25, 10, 17), at(o, 25, 15, 3)),
    ev('tor-tls', 'tls.timeout', ['torproject'], [21299, 48503], at(o, 27, 11, 0), at(o, 27, 15, 30)),
  ].filter((e) => e.end <= o.start + o.days * DAY);
  const byAsn = (asn: number, k: number): SimProbe => {
    const list = fleet.filter((p) => p.asn === asn);
    return list[k % list.length]!;
  };
  const noise: Truth['noise'] = [];
  if (o.days > 14) noise.push({ what: 'broken resolver', probe: byAsn(9198, 1).id, start: at(o, 14, 0), end: at(o, 15, 0) });
  if (o.days > 18) noise.push({ what: 'probe offline, uploads late', probe: byAsn(21299, 2).id, start: at(o, 17, 20, 0), end: at(o, 18, 4, 0) });
  if (o.days > 20) noise.push({ what: 'target down everywhere', target: 'wikipedia', start: at(o, 20, 9, 0), end: at(o, 20, 11, 0) });
  const scripted = new Set(events.flatMap((e) => e.targets));
  const chronic = [{ target: 'psiphon', asn: 9198, method: 'tls' as EventMethod, verdict: 'tls.reset' as Verdict, since: o.start }];
  scripted.add('psiphon');
  return {
    options: { ...o, targets: o.targets.map((t) => t.id) },
    fleet,
    events,
    chronic,
    noise,
    quiet_targets: o.targets.map((t) => t.id).filter((t) => !scripted.has(t)),
  };
}

/** One planned measurement, before it is dressed as a record. */
interface Planned {
  probe: SimProbe;
  target: SimTarget;
  time: number;
  received: number;
  verdict: Verdict;
  scope: Scope;
  confidence: number;
  id: string;
}

const RANDOM_TIMEOUTS: readonly Verdict[] = ['dns.timeout', 'tcp.timeout', 'tls.timeout'];

/** Planned measurements in archive order (by received_at). */
function* plan(o: SimOptions, truth: Truth): Generator<Planned> {
  const rng = new Prng(o.seed);
  const idRng = new Prng(o.seed ^ 0x5bd1e995);
  const end = o.start + o.days * DAY;
  const outages = truth.noise.filter((n) => n.what.startsWith('probe offline'));
  const broken = truth.noise.filter((n) => n.what === 'broken resolver');
  const down = truth.noise.filter((n) => n.what.startsWith('target down'));
  const shutdowns = truth.events.filter((e) => e.kind === 'shutdown');
  const blocks = truth.events.filter((e) => e.kind !== 'shutdown');
  const chronic = truth.chronic;
  const buffer: Planned[] = [];
  const slots = Math.ceil((o.days * DAY) / o.interval_ms) + 1;
  for (let slot = 0; slot < slots; slot++) {
    const slotStart = o.start + slot * o.interval_ms;
    for (const probe of truth.fleet) {
      if (rng.next() < o.missing_rate) continue;
      const runAt = Math.round(slotStart + probe.phase + rng.between(-o.jitter_ms, o.jitter_ms));
      if (runAt < o.start || runAt >= end) continue;
      const dark =
        outages.find((n) => n.probe === probe.id && runAt >= n.start && runAt < n.end) ??
        shutdowns.find((e) => e.asns.includes(probe.asn) && runAt >= e.start && runAt < e.end);
      const upload = dark !== undefined ? dark.end + rng.between(MINUTE, 10 * MINUTE) : runAt + rng.between(30_000, 5 * MINUTE);
      const resolverBroken = broken.some((n) => n.probe === probe.id && runAt >= n.start && runAt < n.end);
      for (const [i, target] of o.targets.entries()) {
        const time = runAt + i * 1500 + rng.int(1000);
        let verdict: Verdict = 'ok';
        let scope: Scope = 'full';
        let confidence = 0.9;
        if (dark !== undefined) verdict = 'offline';
        else if (resolverBroken) verdict = 'dns.timeout';
        else {
          const block = blocks.find((e) => e.targets.includes(target.id) && e.asns.includes(probe.asn) && time >= e.start && time < e.end);
          const chronicBlock = chronic.find((c) => c.target === target.id && c.asn === probe.asn);
          if (block !== undefined) {
            verdict = block.verdict;
            scope = block.scope;
            confidence = block.verdict === 'tls.interception' ? 0.7 : 0.85 + 0.1 * rng.next();
          } else if (chronicBlock !== undefined) verdict = chronicBlock.verdict;
          else if (down.some((n) => n.target === target.id && time >= n.start && time < n.end)) verdict = 'down';
          else if (rng.next() < o.timeout_rate) {
            verdict = rng.pick(RANDOM_TIMEOUTS);
            confidence = 0.6;
          }
        }
        buffer.push({ probe, target, time, received: Math.round(upload + i * 10), verdict, scope, confidence, id: ulid(time, idRng) });
      }
    }
    // Everything received before the next slot could start is final: emit it in received order.
    const horizon = slotStart + o.interval_ms - o.jitter_ms;
    buffer.sort((a, b) => a.received - b.received || (a.id < b.id ? -1 : 1));
    let n = 0;
    while (n < buffer.length && buffer[n]!.received < horizon) n++;
    for (const p of buffer.splice(0, n)) yield p;
  }
  buffer.sort((a, b) => a.received - b.received || (a.id < b.id ? -1 : 1));
  yield* buffer;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A ULID for time `ms` with randomness from `rng`. */
export function ulid(ms: number, rng: Prng): string {
  let time = '';
  let t = ms;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  let rand = '';
  for (let i = 0; i < 16; i++) rand += CROCKFORD[rng.int(32)]!;
  return time + rand;
}

/** The simulation's archive records, in archive order (received_at), without touching the disk. */
export function* simulateRecords(options: Partial<SimOptions> = {}): Generator<ArchivedRecord> {
  const o = simOptions(options);
  const truth = simTruth(o);
  for (const p of plan(o, truth)) yield toRecord(p);
}

/** The same stream reduced to observations (what the detector reads), cheaper than whole records. */
export function* simulateObservations(options: Partial<SimOptions> = {}): Generator<Observation> {
  const o = simOptions(options);
  const truth = simTruth(o);
  for (const p of plan(o, truth)) {
    const obs: Observation = {
      id: p.id,
      probe_id: p.probe.id,
      target: p.target.id,
      category: p.target.category,
      asn: p.probe.asn,
      cc: 'KZ',
      time: p.time,
      verdict: p.verdict,
      layer: layerOf(p.verdict),
      confidence: p.confidence,
    };
    if (p.scope === 'partial') obs.scope = 'partial';
    yield obs;
  }
}

/** Write daily segments (YYYY-MM-DD.jsonl, gzipped for every day but the last) and truth.json into `dir`. */
export async function writeSimulation(dir: string, options: Partial<SimOptions> = {}): Promise<{ segments: string[]; records: number; truth: Truth }> {
  const o = simOptions(options);
  const truth = simTruth(o);
  await mkdir(dir, { recursive: true });
  const segments: string[] = [];
  let day: string | null = null;
  let lines: string[] = [];
  let records = 0;
  const flush = async (last: boolean): Promise<void> => {
    if (day === null) return;
    const text = lines.join('');
    const name = last ? `${day}.jsonl` : `${day}.jsonl.gz`;
    await writeFile(path.join(dir, name), last ? text : gzipSync(text));
    segments.push(name);
    lines = [];
  };
  for (const p of plan(o, truth)) {
    const record = toRecord(p);
    const d = utcDay(p.received);
    if (d !== day) {
      await flush(false);
      day = d;
    }
    lines.push(`${JSON.stringify(record)}\n`);
    records++;
  }
  await flush(true);
  await writeFile(path.join(dir, 'truth.json'), `${JSON.stringify(truth, null, 2)}\n`);
  return { segments, records, truth };
}

function layerOf(verdict: Verdict): Layer | null {
  if (verdict === 'ok' || verdict === 'offline' || verdict === 'inconclusive') return null;
  if (verdict === 'down') return 'tcp';
  if (verdict === 'tls.interception') return 'tls';
  return verdict.slice(0, verdict.indexOf('.')) as Layer;
}

/** An address of the target (documentation ranges, stable per target). */
function addressOf(target: SimTarget): string {
  let h = 0;
  for (const c of target.id) h = (h * 31 + c.charCodeAt(0)) & 0xffff;
  return `198.51.${h % 100}.${(h >> 8) % 250 + 1}`;
}

const NO_FAILURE = { failure: null, operation: null, error: null } as const;

function evidenceOf(p: Planned): Evidence {
  const domain = p.target.domain;
  const ip = addressOf(p.target);
  const v = p.verdict;
  const dnsFails = v.startsWith('dns.') || v === 'offline';
  const dnsAnswer = v === 'dns.bogon' ? ['10.10.34.35'] : dnsFails ? [] : [ip];
  const evidence: Evidence = {
    dns: [
      {
        domain,
        queries: [
          {
            domain,
            qtype: 'A',
            resolver: 'system',
            kind: 'system',
            rcode: v === 'dns.nxdomain' ? 'NXDOMAIN' : dnsFails && v !== 'dns.bogon' ? null : 'NOERROR',
            addresses: dnsAnswer,
            ttl: dnsAnswer.length > 0 ? 300 : null,
            rtt_ms: dnsFails && v !== 'dns.bogon' && v !== 'dns.nxdomain' ? null : 14,
            late: [],
            bogons: v === 'dns.bogon' ? dnsAnswer : [],
            ...(v === 'dns.nxdomain'
              ? { failure: 'dns_nxdomain_error', operation: 'resolve', error: 'ENOTFOUND' }
              : v === 'dns.timeout' || v === 'offline'
                ? { failure: 'generic_timeout_error', operation: 'resolve', error: 'ETIMEOUT' }
                : v === 'dns.bogon'
                  ? { failure: 'dns_bogon_error', operation: 'resolve', error: null }
                  : NO_FAILURE),
          },
        ],
      },
    ],
    tcp: [],
    tls: [],
    http: [],
  };
  if (dnsFails) return evidence;
  const tcpFails = v.startsWith('tcp.') || v === 'down';
  evidence.tcp.push({
    domain,
    ip,
    port: 443,
    rtt_ms: tcpFails ? null : 42,
    ...(v === 'tcp.reset'
      ? { failure: 'connection_reset', operation: 'connect', error: 'ECONNRESET' }
      : v === 'tcp.refused'
        ? { failure: 'connection_refused', operation: 'connect', error: 'ECONNREFUSED' }
        : tcpFails
          ? { failure: 'generic_timeout_error', operation: 'connect', error: 'ETIMEDOUT' }
          : NO_FAILURE),
  });
  if (tcpFails) return evidence;
  const tlsFails = v.startsWith('tls.') && v !== 'tls.interception';
  evidence.tls.push({
    domain,
    ip,
    port: 443,
    sni: domain,
    version: tlsFails ? null : 'TLSv1.3',
    cipher: tlsFails ? null : 'TLS_AES_128_GCM_SHA256',
    alpn: null,
    chain: tlsFails
      ? []
      : [
          {
            subject: `CN=${domain}`,
            issuer: v === 'tls.interception' ? 'CN=Qaznet Trust Network' : 'C=US, O=Sim Trust Services, CN=R1',
            fingerprint256: 'AB:CD',
            spki_sha256: null,
            serial: '01',
            valid_from: 'Jan  1 00:00:00 2024 GMT',
            valid_to: 'Dec 31 00:00:00 2024 GMT',
            san: [domain],
          },
        ],
    trusted: tlsFails ? null : v !== 'tls.interception',
    hostname_ok: tlsFails ? null : true,
    validation_error: v === 'tls.interception' ? 'SELF_SIGNED_CERT_IN_CHAIN' : null,
    rtt_ms: tlsFails ? null : 85,
    ...(v === 'tls.reset'
      ? { failure: 'connection_reset', operation: 'tls_handshake', error: 'ECONNRESET' }
      : v === 'tls.eof'
        ? { failure: 'eof_error', operation: 'tls_handshake', error: 'socket hang up' }
        : tlsFails
          ? { failure: 'generic_timeout_error', operation: 'tls_handshake', error: 'ETIMEDOUT' }
          : NO_FAILURE),
    neutral: null,
  });
  if (tlsFails) return evidence;
  evidence.http.push({
    domain,
    url: `https://${domain}/`,
    ip,
    port: 443,
    status: v === 'http.blockpage' ? 200 : 200,
    headers: {},
    body_length: v === 'http.blockpage' ? 512 : 48_000,
    body_sha256: null,
    body_head: v === 'http.blockpage' ? '<html><title>Access restricted</title>' : null,
    title: v === 'http.blockpage' ? 'Access restricted' : null,
    rtt_ms: v === 'http.throttled' ? 9_000 : 180,
    ...NO_FAILURE,
  });
  return evidence;
}

function reasonOf(p: Planned): string {
  switch (p.verdict) {
    case 'ok':
      return `${p.target.domain}: every layer answered`;
    case 'offline':
      return 'the canaries failed: the probe is offline';
    case 'down':
      return `${p.target.domain}: the control fails the same way`;
    default:
      return `${p.target.domain}: ${p.verdict}${p.scope === 'partial' ? ' on some endpoints' : ''}`;
  }
}

function toRecord(p: Planned): ArchivedRecord {
  const evidence = evidenceOf(p);
  const verdict: Measurement['verdict'] = {
    verdict: p.verdict as Measurement['verdict']['verdict'],
    layer: layerOf(p.verdict),
    confidence: p.confidence,
    reason: reasonOf(p),
    subjects: p.verdict === 'ok' || p.verdict === 'offline' ? [] : [p.target.domain],
  };
  if (p.scope === 'partial') verdict.scope = 'partial';
  const measurement: Measurement = {
    schema: 1,
    id: p.id,
    probe: { id: p.probe.id, asn: p.probe.asn, cc: 'KZ', network: p.probe.network, software: { name: 'ashyq-probe', version: '0.1.0' } },
    target: { id: p.target.id, category: p.target.category },
    started_at: new Date(p.time).toISOString(),
    runtime_ms: 800 + (p.time % 700),
    evidence,
    timing: { dns: 14, tcp: evidence.tcp.length > 0 ? 42 : 0, tls: evidence.tls.length > 0 ? 85 : 0, http: evidence.http.length > 0 ? 180 : 0 },
    verdict,
  };
  return { received_at: new Date(p.received).toISOString(), probe_id: p.probe.id, asn: p.probe.asn, cc: 'KZ', network: p.probe.network, measurement };
}

// `ashyq-collector invite`, `probes` and `revoke`: single-use invites for volunteers, the fleet as the store knows it, and a probe's uploads refused.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { systemClock, type Clock } from '../../common/clock.js';
import { parseDuration } from '../../common/duration.js';
import { encodeInvite } from '../../contract/invite.js';
import { spkiSha256 } from '../../contract/pin.js';
import type { CollectorConfig } from '../config.js';
import { UsageError } from '../errors.js';
import { Archive } from '../storage/archive.js';
import { agreementOf, type ProbeAgreement } from '../fleet/agreement.js';
import { Invites } from '../storage/invites.js';
import { ensureAutoTls } from '../tls-auto.js';
import { MeasurementIndex } from '../storage/measurement-index.js';
import { Store } from '../storage/store.js';
import { InputError, type Output } from './output.js';

/** An invite is valid for a week unless told otherwise, for at most 90 days. */
const DEFAULT_EXPIRY_MS = 7 * 86_400_000;
const MAX_EXPIRY_MS = 90 * 86_400_000;

export interface InviteArgs {
  url?: string | undefined;
  note?: string | undefined;
  expires?: string | undefined;
  json?: boolean | undefined;
}

/** The collector's public URL as probes reach it: https, or http to a loopback address. */
function collectorUrl(text: string | undefined): string {
  if (text === undefined) throw new UsageError('invite: --url URL is required (the collector as volunteers reach it, e.g. https://collector.example.org)');
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new InputError(`invite --url ${text}: not a URL`);
  }
  const loopback = u.hostname === 'localhost' || u.hostname === '[::1]' || u.hostname.startsWith('127.');
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback)) throw new InputError(`invite --url ${text}: must be https:// (plain http only to a loopback address)`);
  if (u.search !== '' || u.hash !== '' || u.username !== '') throw new InputError(`invite --url ${text}: no query, fragment or credentials`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

/** The pin of the collector's TLS certificate (base64 SHA-256 of its public key), as the probe checks it. */
async function pinOf(config: CollectorConfig): Promise<string[]> {
  if (config.tls === null) return [];
  // `tls: auto` before the first start: the certificate the server will use is made now (and kept).
  if (config.tls.auto === true) await ensureAutoTls(config.tls);
  return [spkiSha256(await readFile(config.tls.cert))];
}

export async function runInvite(config: CollectorConfig, args: InviteArgs, clock: Clock, stdout: Output): Promise<number> {
  const url = collectorUrl(args.url);
  const pins = await pinOf(config);
  if (url.startsWith('https://') && pins.length === 0) {
    throw new InputError('invite: an https collector needs its key pin, and this config has no tls certificate (set tls.cert, or put the pin of the proxy in front of it in a config of its own)');
  }
  let expiresMs = DEFAULT_EXPIRY_MS;
  if (args.expires !== undefined) {
    const ms = parseDuration(args.expires);
    if (ms === null || ms <= 0 || ms > MAX_EXPIRY_MS) throw new InputError(`invite --expires ${args.expires}: a duration such as 12h, 7d or 30d, at most 90 days`);
    expiresMs = ms;
  }
  const note = args.note?.trim() === '' ? null : (args.note?.trim() ?? null);
  if (note !== null && note.length > 200) throw new InputError('invite --note: at most 200 characters');
  const now = clock.now();
  const secret = randomBytes(24).toString('base64url');
  const id = `inv-${randomBytes(6).toString('hex')}`;
  const created = new Date(now).toISOString();
  const expires = new Date(now + expiresMs).toISOString();
  const invites = Invites.open(path.join(config.data_dir, 'store.sqlite'));
  try {
    invites.add({ id, secret, note, created_at: created, expires_at: expires });
  } finally {
    invites.close();
  }
  const invite = encodeInvite({ url, pins, secret });
  if (args.json === true) stdout.write(`${JSON.stringify({ id, invite, note, expires_at: expires })}\n`);
  else {
    stdout.write(
      [
        invite,
        '',
        `invite ${id}${note !== null ? ` (${note})` : ''}: single use, valid until ${expires}.`,
        'Give it to the volunteer over a channel you trust; whoever holds it can enroll one probe.',
        'The volunteer runs: ashyq-probe join INVITE --config /etc/ashyq/probe.yaml (it writes collector.url,',
        'pin_spki_sha256 and enrollment_token from the invite), then starts the daemon.',
        '',
      ].join('\n'),
    );
  }
  return 0;
}

interface ProbeLine {
  id: string;
  note: string | null;
  role: string;
  /** flagged: active, but standing alone against the other probes of its network (see fleet/agreement.ts). */
  state: 'active' | 'flagged' | 'revoked';
  registered_at: string;
  last_seen: string | null;
  revoked_at: string | null;
  /** From when its measurements are left out of aggregates and events, or null. */
  excluded_from: string | null;
  /** The network of its latest measurement, its measurements, and the software version of the latest. */
  asn: number | null;
  cc: string | null;
  measurements: number;
  software: string | null;
  /** How its verdicts compare with the other probes of its network over the last week (null: never comparable). */
  agreement: Omit<ProbeAgreement, 'probe' | 'flagged'> | null;
}

/** Agreement is judged over the last week of measurements. */
const AGREEMENT_WINDOW_MS = 7 * 86_400_000;

export async function runProbes(config: CollectorConfig, json: boolean, clock: Clock, stdout: Output): Promise<number> {
  const file = path.join(config.data_dir, 'store.sqlite');
  const store = Store.open(file);
  const index = MeasurementIndex.open(file);
  let lines: ProbeLine[];
  try {
    const stats = index.probeStats();
    const archive = await Archive.open(path.join(config.data_dir, 'archive'), systemClock, { readonly: true }).catch(() => null);
    // The software version of each probe's latest measurement, read back from the archive.
    const software = new Map<string, string>();
    for (const [probe, s] of stats) {
      const record = await archive?.readAt(s.latest).catch(() => null);
      if (record?.measurement.probe.id === probe) software.set(probe, `${record.measurement.probe.software.name} ${record.measurement.probe.software.version}`);
    }
    // Revoked probes are left out of the comparison: a fake is not a witness against the others.
    const now = clock.now();
    const exclusions = store.exclusions();
    const cells = index.probeCells(now - AGREEMENT_WINDOW_MS, now + 3600_000).filter((c) => exclusions.excludedFrom(c.probe) === null);
    const agreement = new Map<string, ProbeAgreement>();
    // A probe that moved between networks: the network where it dissented most.
    for (const a of agreementOf(cells)) {
      const before = agreement.get(a.probe);
      if (before === undefined || (a.flagged && !before.flagged) || a.missed + a.invented > before.missed + before.invented) agreement.set(a.probe, a);
    }
    lines = store.probes().map((p) => {
      const s = stats.get(p.id);
      const a = agreement.get(p.id);
      return {
        id: p.id,
        note: p.note,
        role: p.role,
        state: p.revoked_at !== null ? 'revoked' : a?.flagged === true ? 'flagged' : 'active',
        registered_at: p.registered_at,
        last_seen: p.last_seen,
        revoked_at: p.revoked_at,
        excluded_from: p.excluded_from,
        asn: s?.asn ?? null,
        cc: s?.cc ?? null,
        measurements: s?.measurements ?? 0,
        software: software.get(p.id) ?? null,
        agreement: a === undefined ? null : { asn: a.asn, others_blocked: a.others_blocked, missed: a.missed, others_ok: a.others_ok, invented: a.invented },
      };
    });
  } finally {
    index.close();
    store.close();
  }
  if (json) {
    stdout.write(`${JSON.stringify({ probes: lines })}\n`);
    return 0;
  }
  if (lines.length === 0) {
    stdout.write('no probes registered yet (ashyq-collector invite makes an invite for one)\n');
    return 0;
  }
  const rows = lines.map((l) => [
    l.id,
    l.state === 'flagged' ? `flagged: ${flagReason(l.agreement!)}` : l.state === 'revoked' ? `revoked ${l.revoked_at}${l.excluded_from !== null && l.excluded_from < (l.revoked_at ?? '') ? `, uncounted from ${Date.parse(l.excluded_from) === 0 ? 'the start' : l.excluded_from}` : ''}` : l.role === 'control' ? 'control' : 'active',
    l.asn === null ? '-' : `AS${l.asn}${l.cc !== null ? ` ${l.cc}` : ''}`,
    l.last_seen ?? 'never',
    String(l.measurements),
    l.software ?? '-',
    l.note ?? '',
  ]);
  const head = ['probe', 'state', 'network', 'last seen', 'measurements', 'software', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const r of [head, ...rows]) stdout.write(`${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()}\n`);
  return 0;
}

/** Why a probe is flagged, in the table's words. */
function flagReason(a: NonNullable<ProbeLine['agreement']>): string {
  const parts: string[] = [];
  if (a.missed > 0) parts.push(`missed ${a.missed} of ${a.others_blocked} blocked target-hours all its network's other probes saw`);
  if (a.invented > 0) parts.push(`reported ${a.invented} of ${a.others_ok} target-hours blocked that all the others saw reachable`);
  return `${parts.join('; ')} (AS${a.asn}, last 7 days)`;
}

export interface RevokeArgs {
  /** Leave out everything the probe measured. */
  retroactive: boolean;
  /** Leave out what it measured from this time on (ISO 8601). */
  since?: string | undefined;
}

export async function runRevoke(config: CollectorConfig, probeId: string | undefined, args: RevokeArgs, clock: Clock, stdout: Output): Promise<number> {
  if (probeId === undefined) throw new UsageError('revoke: name the probe (its id, as `ashyq-collector probes` lists it)');
  if (args.retroactive && args.since !== undefined) throw new UsageError('revoke: --retroactive (everything it measured) or --since TIME, not both');
  let since: string | undefined;
  if (args.since !== undefined) {
    const t = Date.parse(args.since);
    if (!/^\d{4}-\d{2}-\d{2}/.test(args.since) || Number.isNaN(t)) throw new InputError(`revoke --since ${args.since}: expected a time such as 2024-05-09 or 2024-05-09T07:00:00Z`);
    since = new Date(t).toISOString();
  }
  const store = Store.open(path.join(config.data_dir, 'store.sqlite'));
  try {
    const at = new Date(clock.now()).toISOString();
    const probe = store.probe(probeId);
    if (probe === undefined) throw new InputError(`revoke ${probeId}: no probe is registered with this id`);
    // Retroactive: from before anything it could have measured (its clock may run early: the epoch).
    const from = args.retroactive ? new Date(0).toISOString() : (since ?? at);
    store.revokeProbe(probeId, at, Date.parse(from) < Date.parse(at) ? from : at);
    const after = store.probe(probeId)!;
    const lines = [`ashyq-collector: probe ${probeId} revoked at ${after.revoked_at ?? at}: its uploads are refused from now on; what it uploaded stays in the archive`];
    if (after.excluded_from !== null && Date.parse(after.excluded_from) < Date.parse(after.revoked_at ?? at)) {
      const what = Date.parse(after.excluded_from) === 0 ? 'everything it measured' : `what it measured from ${after.excluded_from} on`;
      lines.push(`ashyq-collector: ${what} is left out of the aggregates, the series and the events once \`ashyq-collector reindex\` has run (stop the server first)`);
    }
    stdout.write(`${lines.join('\n')}\n`);
  } finally {
    store.close();
  }
  return 0;
}

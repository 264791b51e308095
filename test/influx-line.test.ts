// Line protocol of the InfluxDB sink: escaping, the reachability point of a measurement, event annotations, timestamps.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../common/errors.js';
import { isBlocked, VERDICTS } from '../contract/verdict.js';
import {
  connectRtt,
  escapeMeasurement,
  escapeTag,
  eventLine,
  floatField,
  integerField,
  pointTimestamp,
  quoteString,
  ReachabilityLines,
  throttleRates,
  toLines,
} from '../collector/sinks/influx/line.js';
import { spoolOverflowLine } from '../collector/sinks/influx/overflow-points.js';
import { makeRecord } from './services/archive-records.js';

const START = Date.parse('2019-05-09T07:00:00.000Z');

describe('escaping', () => {
  it('escapes comma, equals and space in tags, and nothing else', () => {
    expect(escapeTag('a,b=c d')).toBe('a\\,b\\=c\\ d');
    expect(escapeTag('tls.reset')).toBe('tls.reset');
    expect(escapeTag('Қазақтелеком "KT"')).toBe('Қазақтелеком\\ "KT"');
  });

  it('turns backslashes into slashes and line breaks into spaces in tags, and never emits an empty tag', () => {
    expect(escapeTag('a\\b\\')).toBe('a/b/');
    expect(escapeTag('two\nlines\r\nhere\r')).toBe('two\\ lines\\ here\\ ');
    expect(escapeTag('')).toBe('unknown');
  });

  it('escapes comma and space (not equals) in measurement names', () => {
    expect(escapeMeasurement('my m,x=1')).toBe('my\\ m\\,x=1');
  });

  it('quotes string fields, escaping double quotes and backslashes', () => {
    expect(quoteString('plain')).toBe('"plain"');
    expect(quoteString('say "hi" \\ bye')).toBe('"say \\"hi\\" \\\\ bye"');
    expect(quoteString('a,b=c d')).toBe('"a,b=c d"');
    expect(quoteString('line1\nline2')).toBe('"line1 line2"');
  });

  it('types numbers: integers with i, floats bare, non-finite floats left out', () => {
    expect(integerField(1)).toBe('1i');
    expect(() => integerField(1.5)).toThrow(InvalidArgumentError);
    expect(floatField(12.25)).toBe('12.25');
    expect(floatField(12)).toBe('12');
    expect(floatField(Number.NaN)).toBeNull();
    expect(floatField(Number.POSITIVE_INFINITY)).toBeNull();
  });
});

describe('pointTimestamp', () => {
  it('is the millisecond time in ns plus a stable sub-millisecond tiebreak from the id', () => {
    const a = pointTimestamp(START, '01ARZ3NDEKTSV4RRFFQ69G5FAV');
    expect(a).toMatch(/^\d{19}$/);
    expect(a.slice(0, 13)).toBe(String(START));
    expect(pointTimestamp(START, '01ARZ3NDEKTSV4RRFFQ69G5FAV')).toBe(a);
  });

  it('gives different measurements of the same millisecond different timestamps', () => {
    const stamps = new Set<string>();
    for (let i = 0; i < 1000; i++) stamps.add(pointTimestamp(START, `measurement-${i}`));
    // 1000 ids into 10^6 slots: a collision is possible but must be rare (expected ≈ 0.5).
    expect(stamps.size).toBeGreaterThanOrEqual(997);
  });

  it('refuses a bad time', () => {
    expect(() => pointTimestamp(Number.NaN, 'x')).toThrow(InvalidArgumentError);
    expect(() => pointTimestamp(-1, 'x')).toThrow(InvalidArgumentError);
  });
});

describe('isBlocked', () => {
  it('is 0 exactly for ok, down, offline and inconclusive', () => {
    const notBlocked = VERDICTS.filter((v) => !isBlocked(v));
    expect(notBlocked.sort()).toEqual(['down', 'inconclusive', 'offline', 'ok']);
    expect(isBlocked('tls.interception')).toBe(true);
    expect(isBlocked('http.blockpage')).toBe(true);
  });
});

describe('toLines', () => {
  it('writes one reachability point with low-cardinality tags and the probe as a field', () => {
    const record = makeRecord(1, { startMs: START, probeId: 'probe-abc', asn: 9198, cc: 'KZ' });
    const lines = toLines(record);
    expect(lines).toHaveLength(1);
    const m = record.measurement;
    expect(lines[0]).toBe(
      `reachability,target=facebook,category=social,asn=9198,cc=KZ,layer=tls,verdict=tls.reset,probe_verdict=tls.reset ` +
        `blocked=1i,rtt=21.25,runtime=801,count=1i,probe="probe-abc",version="0.1.0",lag=4.199 ${pointTimestamp(START + 1000, m.id)}`,
    );
  });

  it('writes the timings per layer, the upload lag, partial blocking and the intercepting issuer as fields', () => {
    const record = makeRecord(3, { startMs: START, probeId: 'probe-abc', asn: 9198, cc: 'KZ' });
    const m = record.measurement;
    m.probe.software.version = '0.2.1';
    m.verdict = { verdict: 'tls.interception', layer: 'tls', confidence: 0.99, reason: 'Qaznet chain', subjects: ['www.x.com'], scope: 'partial' };
    const q = { domain: 'www.x.com', qtype: 'A' as const, kind: 'udp' as const, rcode: 'NOERROR', addresses: ['192.0.2.1'], ttl: 60, late: [], bogons: [], operation: null, error: null };
    m.evidence.dns = [{ domain: 'www.x.com', queries: [{ ...q, resolver: 'system', rtt_ms: 9, failure: null }, { ...q, resolver: 'udp:8.8.8.8:53', rtt_ms: 4.5, failure: null }, { ...q, resolver: 'udp:1.1.1.1:53', rtt_ms: 1, failure: 'dns_servfail_error' }] }];
    const cert = (subject: string, issuer: string) => ({ subject, issuer, fingerprint256: 'AA', spki_sha256: null, serial: '1', valid_from: '', valid_to: '', san: [] });
    const hs = { sni: 'www.x.com', version: 'TLSv1.3', cipher: 'x', alpn: null, hostname_ok: true, validation_error: 'SELF_SIGNED_CERT_IN_CHAIN', failure: null, operation: null, error: null };
    m.evidence.tls = [{ ...hs, domain: 'www.x.com', ip: '192.0.2.1', port: 443, neutral: null, trusted: false, rtt_ms: 33, chain: [cert('CN=www.x.com', 'CN=Security Certificate'), cert('CN=Security Certificate', 'CN=Qaznet Trust Network')] }];
    record.received_at = new Date(Date.parse(m.started_at) + m.runtime_ms + 90_000).toISOString();
    const [text] = toLines(record);
    expect(text).toContain(',version="0.2.1",dns_rtt=4.5,tls_rtt=33,lag=90,partial=1i,issuer="CN=Qaznet Trust Network" ');
    // A full-scope interception keeps its issuer but is not partial; an ok measurement carries neither.
    m.verdict = { ...m.verdict, scope: 'full' };
    expect(toLines(record)[0]).toContain(',issuer="CN=Qaznet Trust Network" ');
    expect(toLines(record)[0]).not.toContain('partial=');
    m.verdict = { verdict: 'ok', layer: null, confidence: 1, reason: 'ok', subjects: [], scope: 'partial' };
    expect(toLines(record)[0]).not.toMatch(/partial=|issuer=/);
  });

  it('writes the bulk rate and the canaries\' rate of throttling evidence, and leaves out what is missing or not a rate', () => {
    const record = makeRecord(1, { startMs: START, probeId: 'probe-abc', asn: 9198, cc: 'KZ' });
    const m = record.measurement;
    expect(toLines(record)[0]).not.toMatch(/bulk_rate|canary_rate/);
    const read = (rate: unknown) => ({ ...m.evidence.tcp[0]!, url: 'https://www.x.com/big.jpg', status: 200, rate_bps: rate, body_ms: 1000, ended: 'time' });
    Object.assign(m.evidence, {
      bulk: [read(12_000.5), read(48_000), read(null), read(Number.NaN)],
      baseline: { canaries: ['canary-intl'], bulk_rate_bps: 2_500_000, tls_handshake_ms: 20 },
    });
    expect(throttleRates(m)).toEqual({ bulk: 48_000, canary: 2_500_000 });
    expect(toLines(record)[0]).toMatch(/,bulk_rate=48000,canary_rate=2500000 \d+$/);
    // A canary run without a rate, bulk reads of another shape: only what is a rate is written.
    Object.assign(m.evidence, { bulk: 'garbage', baseline: { canaries: [], bulk_rate_bps: null, tls_handshake_ms: null } });
    expect(throttleRates(m)).toEqual({ bulk: null, canary: null });
    expect(toLines(record)[0]).not.toMatch(/bulk_rate|canary_rate/);
    Object.assign(m.evidence, { bulk: [read(-1), 7, null], baseline: 3 });
    expect(throttleRates(m)).toEqual({ bulk: null, canary: null });
  });

  it('uses "unknown" for a missing ASN or country and "none" for a verdict without layer, and leaves rtt out without a connect', () => {
    const record = makeRecord(0, { startMs: START, asn: null, cc: null });
    record.measurement.probe.asn = null;
    record.measurement.probe.cc = null;
    record.measurement.evidence.tcp = [];
    const [line] = toLines(record);
    expect(line).toContain(',asn=unknown,cc=unknown,layer=none,verdict=ok,probe_verdict=ok ');
    expect(line).toContain(' blocked=0i,runtime=800,count=1i,probe=');
    expect(line).not.toContain('rtt=');
  });

  it("tags the record's attribution as is (made once at ingest, as the store keeps it)", () => {
    const record = makeRecord(0, { startMs: START, asn: null, cc: null });
    record.measurement.probe.asn = 48503;
    record.measurement.probe.cc = 'KZ';
    expect(toLines(record)[0]).toContain(',asn=unknown,cc=unknown,');
    expect(toLines({ ...record, asn: 48503, cc: 'KZ' })[0]).toContain(',asn=48503,cc=KZ,');
  });

  it('takes rtt from the fastest successful TCP connect', () => {
    const record = makeRecord(0, { startMs: START });
    const base = record.measurement.evidence.tcp[0]!;
    record.measurement.evidence.tcp = [
      { ...base, rtt_ms: 40.5 },
      { ...base, rtt_ms: 12.75 },
      { ...base, rtt_ms: 3, failure: 'connection_reset', operation: 'connect', error: 'ECONNRESET' },
    ];
    expect(connectRtt(record.measurement)).toBe(12.75);
    expect(toLines(record)[0]).toContain(',rtt=12.75,');
  });

  it('escapes hostile values so that the line keeps its shape', () => {
    const record = makeRecord(0, { startMs: START, probeId: 'p "q" \\ z', cc: 'K Z' });
    record.measurement.target.id = 'you tube,x=1';
    const [line] = toLines(record);
    expect(line).toContain('reachability,target=you\\ tube\\,x\\=1,category=video,');
    expect(line).toContain(',cc=K\\ Z,');
    expect(line).toContain('probe="p \\"q\\" \\\\ z"');
    // measurement+tags, fields, timestamp: exactly three unescaped spaces outside quotes.
    const outside = line!.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\\./g, '');
    expect(outside.split(' ')).toHaveLength(3);
  });

  it('refuses a record without a readable start time', () => {
    const record = makeRecord(0, { startMs: START });
    record.measurement.started_at = 'yesterday';
    expect(() => toLines(record)).toThrow(InvalidArgumentError);
  });
});

describe('ReachabilityLines', () => {
  it('builds exactly the lines of toLines, for every tag combination, while it remembers tag sets', () => {
    const builder = new ReachabilityLines();
    const records = Array.from({ length: 60 }, (_, i) => makeRecord(i, { startMs: START }));
    records.push(makeRecord(60, { startMs: START, target: { id: 'you tube,x=y\\z', category: 'video' }, cc: null, asn: null }));
    records.push(makeRecord(61, { startMs: START, asn: null, cc: 'unknown' }));
    records[5]!.measurement.probe.asn = 4242; // used when the record has no ASN of its own
    records[5]!.asn = null;
    for (let round = 0; round < 2; round++) {
      for (const r of records) expect(builder.line(r)).toBe(toLines(r)[0]);
    }
    const bad = makeRecord(62, { startMs: START });
    bad.measurement.started_at = 'not a time';
    expect(() => builder.line(bad)).toThrow(InvalidArgumentError);
  });
});

describe('eventLine', () => {
  it('writes a blocking_event annotation point', () => {
    const at = '2019-05-09T07:00:00.000Z';
    const line = eventLine({
      id: 'ev-1',
      target: 'youtube',
      asn: 9198,
      cc: 'KZ',
      method: 'tls.reset',
      state: 'start',
      at,
      probes: 14,
      confidence: 0.92,
      text: 'YouTube unreachable on AS9198 "Kazakhtelecom", 14 probes',
    });
    expect(line).toBe(
      `blocking_event,target=youtube,asn=9198,cc=KZ,method=tls.reset ` +
        `state="start",probes=14i,confidence=0.92,text="YouTube unreachable on AS9198 \\"Kazakhtelecom\\", 14 probes",event="ev-1" ` +
        pointTimestamp(Date.parse(at), 'ev-1/start'),
    );
  });

  it('keeps a start and an end at the same instant apart, and covers a country-wide event', () => {
    const base = { id: 'ev-2', target: 'social group', asn: null, cc: 'KZ', method: 'shutdown', at: '2022-01-05T12:00:00Z', probes: 40, confidence: 1, text: 't' };
    const start = eventLine({ ...base, state: 'start' });
    const end = eventLine({ ...base, state: 'end' });
    expect(start.split(' ').at(-1)).not.toBe(end.split(' ').at(-1));
    expect(start.startsWith('blocking_event,target=social\\ group,asn=unknown,cc=KZ,method=shutdown ')).toBe(true);
  });

  it('carries the incident as a field when the event has one', () => {
    const base = { id: 'ev-3', target: 'youtube', asn: 9198, cc: 'KZ', method: 'tls', state: 'start' as const, at: '2019-05-09T07:00:00Z', probes: 3, confidence: 0.9, text: 't' };
    expect(eventLine({ ...base, incident: 'inc:ev-3' })).toContain(',event="ev-3",incident="inc:ev-3" ');
    expect(eventLine({ ...base, incident: null })).not.toContain('incident=');
    expect(eventLine(base)).not.toContain('incident=');
  });
});

describe('spoolOverflowLine', () => {
  const report = { dropped: 12, first_dropped_at: '2019-05-09T07:10:00.000Z', last_dropped_at: '2019-05-09T07:50:00.000Z' };

  it('writes a spool_overflow point per (probe, first drop): the network as tags, the count and the probe as fields', () => {
    const line = spoolOverflowLine({ probe_id: 'probe-abc12345', asn: 21299, cc: 'KZ', report });
    expect(line).toBe(
      `spool_overflow,asn=21299,cc=KZ dropped=12i,probe="probe-abc12345",last_dropped_at="2019-05-09T07:50:00.000Z" ` +
        pointTimestamp(Date.parse(report.first_dropped_at), 'probe-abc12345/2019-05-09T07:10:00.000Z'),
    );
    // The same overflow grown: same identity (tags and time), so it overwrites; another probe's does not.
    const grown = spoolOverflowLine({ probe_id: 'probe-abc12345', asn: 21299, cc: 'KZ', report: { ...report, dropped: 15 } });
    expect(grown.split(' ').at(-1)).toBe(line.split(' ').at(-1));
    expect(grown).toContain(' dropped=15i,');
    expect(spoolOverflowLine({ probe_id: 'probe-zzz99999', asn: 21299, cc: 'KZ', report }).split(' ').at(-1)).not.toBe(line.split(' ').at(-1));
    expect(spoolOverflowLine({ probe_id: 'probe-abc12345', asn: null, cc: null, report })).toMatch(/^spool_overflow,asn=unknown,cc=unknown /);
    expect(() => spoolOverflowLine({ probe_id: 'p', asn: null, cc: null, report: { ...report, first_dropped_at: 'never' } })).toThrow(InvalidArgumentError);
  });
});

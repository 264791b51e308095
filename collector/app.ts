// The collector's wiring: storage, the followers of the archive, ingest and the HTTP API, started and stopped in order.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Clock } from '../common/clock.js';
import { eventRoutes } from './api/routes/events.js';
import { registrationRoutes } from './api/routes/probes.js';
import { healthRoutes } from './api/routes/health.js';
import { MEASUREMENTS_ROUTE, uploadRoutes } from './api/routes/measurements.js';
import { seriesRoutes } from './api/routes/series.js';
import { measurementListRoutes } from './api/routes/measurement-list.js';
import { measurementRecordRoutes } from './api/routes/measurement-record.js';
import { networkRoutes } from './api/routes/networks.js';
import { pageRoutes } from './api/routes/page.js';
import { controlRoutes } from './api/routes/control.js';
import { ControlStage, type ControlDeps } from './control/stage.js';
import { Invites } from './storage/invites.js';
import type { ControlVantage } from './control/nearest.js';
import { CONTROL_PROBE_ID } from './control/prober.js';
import { ControlRunPoints } from './sinks/influx/control-points.js';
import type { Measurement } from '../contract/measurement.js';
import { isBlocked } from '../contract/verdict.js';
import { targetRoutes } from './api/routes/targets.js';
import { createServer, type ServerLog } from './api/server.js';
import type { CollectorConfig } from './config.js';
import type { AsnInfo, AsnLookup } from './ingest/asn.js';
import { Enrollment } from './ingest/enrollment.js';
import { Ingest } from './ingest/ingest.js';
import { Metrics } from './metrics.js';
import type { CatchUpSummary } from './pipeline/catch-up.js';
import type { Follower } from './pipeline/follower.js';
import { Pipeline } from './pipeline/pipeline.js';
import { StoreIndex } from './pipeline/store-index.js';
import { countedArchive, countingFollower } from './pipeline/exclusions.js';
import { MeasurementIndexFollower } from './pipeline/measurement-index-follower.js';
import { MeasurementIndex } from './storage/measurement-index.js';
import { EventFollower } from './events/follower.js';
import { SharePoints } from './sinks/influx/share-points.js';
import { RevisionOutbox, type OutboxLog, type RevisionOutboxOptions } from './events/outbox.js';
import { Webhook } from './events/webhook.js';
import type { Revision } from './events/types.js';
import { EventPoints } from './sinks/influx/event-points.js';
import { SpoolOverflowPoints } from './sinks/influx/overflow-points.js';
import { InfluxWriter, type LineWriter } from './sinks/influx/writer.js';
import { Archive, type ArchiveReader, type Recovery } from './storage/archive.js';
import { EventStore } from './storage/event-store.js';
import { Store } from './storage/store.js';
import { loadTargetList, type TargetList } from './targets/list.js';
import { combineSurges, EventSurges } from './targets/event-surge.js';
import type { SurgeAnswer } from '../contract/wire.js';
import { ServedTargets } from './targets/served.js';
import { SurgeWatcher } from './targets/surge.js';
import { serverTls } from './tls-auto.js';

/** What a follower factory gets: the archive to read from (with cursors), the store and the config. */
export interface FollowerContext {
  archive: Archive;
  /** The archive less what revoked probes measured from their exclusion on: what series and counts follow. */
  counted: ArchiveReader;
  store: Store;
  config: CollectorConfig;
  clock: Clock;
}

export interface CollectorDeps {
  clock: Clock;
  /** IP → ASN/country/network for whoami and for archived records; none = what the probe states. */
  asnLookup?: AsnLookup;
  /** Followers of the archive after the store's index (the InfluxDB sink, …); started and stopped with the collector. */
  followers?: Follower[] | ((ctx: FollowerContext) => Follower[] | Promise<Follower[]>);
  /** Logging; false = silent. */
  log?: ServerLog | false;
  /** Targets to accept; default: loaded from config.targets_file (or the packaged targets.yaml). */
  targets?: TargetList;
  /** Told of every batch of event revisions once saved (besides the collector's own webhook and surge). */
  onRevisions?: (revisions: readonly Revision[]) => void;
  /** The webhook's network (default: global fetch). */
  fetch?: typeof fetch;
  /** Replaces the InfluxDB writer of the event points (default: one to config.influx). */
  eventWriter?: LineWriter;
  /** Replaces the InfluxDB writer of the control-run points (default: one to config.influx). */
  controlWriter?: LineWriter;
  /** Replaces the InfluxDB writer of the spool-overflow points (default: one to config.influx). */
  overflowWriter?: LineWriter;
  /** How the control vantage measures (tests: loopback fakes); default the system's network and the shipped settings. */
  control?: ControlDeps;
  /** Timing of the outboxes of the webhook and the event points (tests). */
  outbox?: Pick<RevisionOutboxOptions, 'timers' | 'random' | 'pollMs' | 'initialRetryDelayMs' | 'maxRetryDelayMs'>;
}

export interface Collector {
  app: FastifyInstance;
  /** Stop accepting, stop the followers (last first), close the archive and the store. */
  close(): Promise<void>;
  archive: Archive;
  store: Store;
  metrics: Metrics;
  /** The target list without a surge from surge.json: what uploads are validated against. */
  targets: TargetList;
  /** The operator's surge (surge.json in the data dir), as served with the target list. */
  surges: SurgeWatcher;
  /** The followers after the store's index, in order (the event detector first). */
  followers: readonly Follower[];
  /** The measurement index (one row per measurement, where its record is in the archive). */
  measurements: MeasurementIndex;
  /** The control vantage: its archive, the index of control measurements, the prober (when enabled). */
  control: ControlStage;
  /** The event detector following the archive, and where it keeps events. */
  events: EventFollower;
  eventStore: EventStore;
  /** Deliverers of the event revisions: to the webhook (config.events.webhook) and as InfluxDB points (config.influx), when configured. */
  webhook: RevisionOutbox | null;
  /** The spool-overflow points' writer to InfluxDB, or null without one. */
  overflowPoints: SpoolOverflowPoints | null;
  eventPoints: RevisionOutbox | null;
  /** Torn archive tails cut at start, and what catching the store up with the archive did. */
  recovered: Recovery[];
  caughtUp: CatchUpSummary;
}

/** Open the archive and the store; the store is closed again when the archive cannot be opened. */
export async function openStorage(config: CollectorConfig, clock: Clock): Promise<{ archive: Archive; store: Store; eventStore: EventStore }> {
  await mkdir(config.data_dir, { recursive: true });
  const store = Store.open(path.join(config.data_dir, 'store.sqlite'));
  const eventStore = EventStore.open(path.join(config.data_dir, 'events.sqlite'));
  try {
    return { archive: await Archive.open(path.join(config.data_dir, 'archive'), clock), store, eventStore };
  } catch (err) {
    eventStore.close();
    store.close();
    throw err;
  }
}

/** The detector's options from the collector's config. */
export function detectorOptions(config: CollectorConfig): { interval_ms: number; min_probes: number; min_probe_history: number } {
  return {
    interval_ms: config.events.interval_minutes * 60_000,
    min_probes: config.events.min_probes,
    min_probe_history: config.events.min_probe_history_hours,
  };
}

/** The followers of a collector's archive: the store's index, the event detector, then `extra` (the InfluxDB sink, …). */
export function collectorFollowers(
  config: CollectorConfig,
  storage: { archive: Archive; store: Store; eventStore: EventStore },
  clock: Clock,
  extra: readonly Follower[],
  onRevisions?: (revisions: readonly Revision[]) => void,
): { index: StoreIndex; events: EventFollower; measurements: MeasurementIndexFollower; followers: Follower[]; shares: SharePoints | null } {
  const index = new StoreIndex(storage.archive, storage.store);
  // In the store's database, on a connection of its own; closed by whoever closes the store.
  const measurements = new MeasurementIndexFollower(storage.archive, MeasurementIndex.open(path.join(config.data_dir, 'store.sqlite')));
  let shares: SharePoints | null = null;
  // A revoked probe's measurements from its exclusion on: archived and indexed, never counted in events or series.
  const exclusions = storage.store.exclusions();
  const events = new EventFollower({
    archive: countedArchive(storage.archive, exclusions),
    store: storage.eventStore,
    clock,
    detector: detectorOptions(config),
    onRevisions: (revisions) => onRevisions?.(revisions),
    onObserved: (observations) => shares?.note(observations),
  });
  if (config.influx !== null) {
    const influx = config.influx;
    const log = (m: string) => process.stderr.write(`ashyq-collector: influx blocked_share: ${m}\n`);
    shares = new SharePoints({
      writer: new InfluxWriter({ ...influx, timeoutMs: 10_000, gzip: false, connections: 1 }),
      detector: () => events.current,
      clock,
      logger: { info: log, warn: log, error: log },
    });
  }
  return { index, events, measurements, followers: [countingFollower(events, exclusions), measurements, ...extra.map((f) => countingFollower(f, exclusions))], shares };
}

/** The outboxes of the event revisions the config asks for: the webhook's and the InfluxDB event points'. */
function eventOutboxes(
  config: CollectorConfig,
  eventStore: EventStore,
  deps: CollectorDeps,
  log: (name: string) => OutboxLog,
): { webhook: RevisionOutbox | null; eventPoints: RevisionOutbox | null; close(): void } {
  const common = { store: eventStore, clock: deps.clock, ...deps.outbox };
  const hook = config.events.webhook;
  const webhook =
    hook === null
      ? null
      : new RevisionOutbox({
          ...common,
          name: 'webhook',
          // One revision a request: a resend never repeats one the receiver already took.
          batchSize: 1,
          send: new Webhook({ url: hook.url, secret: hook.secret, clock: deps.clock, ...(deps.fetch ? { fetch: deps.fetch } : {}) }).send,
          log: log('webhook'),
        });
  const influx = config.influx;
  const points =
    influx === null && deps.eventWriter === undefined
      ? null
      : new EventPoints({
          writer: deps.eventWriter ?? new InfluxWriter({ url: influx!.url, token: influx!.token, org: influx!.org, bucket: influx!.bucket, timeoutMs: 10_000, connections: 1 }),
          log: log('influx events'),
        });
  const eventPoints = points === null ? null : new RevisionOutbox({ ...common, name: 'influx-events', send: points.send, log: log('influx events') });
  return { webhook, eventPoints, close: () => points?.close() };
}

/** Start the collector (not yet listening): open storage, start the followers (the store's index caught up), build the API. */
export async function createCollector(config: CollectorConfig, deps: CollectorDeps): Promise<Collector> {
  const { clock } = deps;
  const targets = deps.targets ?? (await loadTargetList(config.targets_file));
  const { archive, store, eventStore } = await openStorage(config, clock);
  const extra = typeof deps.followers === 'function' ? await deps.followers({ archive, counted: countedArchive(archive, store.exclusions()), store, config, clock }) : (deps.followers ?? []);
  const metrics = new Metrics();
  // Set once the outboxes exist (before the followers start): told of every batch of saved revisions.
  const outboxes: RevisionOutbox[] = [];
  const onRevisions = (revisions: readonly Revision[]): void => {
    metrics.countRevisions(revisions);
    for (const o of outboxes) o.notify();
    deps.onRevisions?.(revisions);
  };
  const { index, events, measurements, followers: others, shares } = collectorFollowers(config, { archive, store, eventStore }, clock, extra, onRevisions);
  const tls = await serverTls(config, deps.log);

  const app = createServer({
    log: deps.log,
    trustProxy: config.trust_proxy,
    tls,
    onError: (request, code) => {
      if (request.routeOptions.url !== MEASUREMENTS_ROUTE) return;
      metrics.countReject(code);
      metrics.countBatch('error');
    },
  });
  const pipeline = new Pipeline(index, others, { warn: (o, m) => app.log.warn(o, m) });
  const delivery = eventOutboxes(config, eventStore, deps, (name) => ({
    info: (m) => app.log.info(`${name}: ${m}`),
    warn: (m) => app.log.warn(`${name}: ${m}`),
    error: (m) => app.log.error(`${name}: ${m}`),
  }));
  for (const o of [delivery.webhook, delivery.eventPoints]) if (o !== null) outboxes.push(o);
  // After a crash the follower goes back to its snapshot and makes the revisions after it again
  // (same numbers, maybe other content): those are delivered again.
  const kept = eventStore.snapshotSeq();
  if (kept !== null) for (const o of outboxes) o.rewindTo(kept);
  await pipeline.start();
  // The blocked share of every bucket the detector holds is written again at start: what a previous run left pending is among them.
  shares?.noteAll();
  shares?.start();
  for (const o of outboxes) await o.start();
  const webhook = delivery.webhook;
  metrics.watchEvents({
    openEvents: () => eventStore.openCount(),
    work: () => events.work,
    webhook:
      webhook === null
        ? null
        : { backlog: () => webhook.backlog(), failures: () => ({ error: webhook.stats().failedAttempts, refused: webhook.stats().refused }) },
  });

  const lookup = (ip: string): AsnInfo | null => {
    if (deps.asnLookup === undefined) return null;
    try {
      return deps.asnLookup(ip);
    } catch {
      return null;
    }
  };
  const influx = config.influx;
  const overflowPoints =
    influx === null && deps.overflowWriter === undefined
      ? null
      : new SpoolOverflowPoints({
          writer: deps.overflowWriter ?? new InfluxWriter({ url: influx!.url, token: influx!.token, org: influx!.org, bucket: influx!.bucket, timeoutMs: 10_000, connections: 1 }),
          clock,
          logger: { info: (m) => app.log.info(`influx spool overflows: ${m}`), warn: (m) => app.log.warn(`influx spool overflows: ${m}`), error: (m) => app.log.error(`influx spool overflows: ${m}`) },
        });
  overflowPoints?.start();
  const controlActive = config.control !== undefined && (config.control.enabled || config.control.enrollment_tokens.length > 0);
  const controlRuns =
    !controlActive || (influx === null && deps.controlWriter === undefined)
      ? null
      : new ControlRunPoints({
          writer: deps.controlWriter ?? new InfluxWriter({ url: influx!.url, token: influx!.token, org: influx!.org, bucket: influx!.bucket, timeoutMs: 10_000, connections: 1 }),
          clock,
          logger: { info: (m) => app.log.info(`influx control runs: ${m}`), warn: (m) => app.log.warn(`influx control runs: ${m}`), error: (m) => app.log.error(`influx control runs: ${m}`) },
        });
  controlRuns?.start();
  // The surges are made below (they read the event store); the prober reads them once it runs.
  let controlSurge: () => Promise<SurgeAnswer | null> = async () => null;
  const control = await ControlStage.open({
    surge: () => controlSurge(),
    dataDir: config.data_dir,
    config: config.control,
    targets: targets.targets,
    byId: targets.byId,
    clock,
    ...(deps.control !== undefined ? { deps: deps.control } : {}),
    log: { info: (m) => app.log.info(m), warn: (m) => app.log.warn(m) },
    ...(controlRuns !== null
      ? {
          onRun: (ms: readonly Measurement[], vantage: ControlVantage) =>
            controlRuns.note({
              at: clock.now(),
              // The collector's own control by its country; a control probe by its country and id (shown apart).
              vantage: vantage.probe_id === CONTROL_PROBE_ID ? (vantage.cc ?? 'control') : `${vantage.cc ?? 'control'}:${vantage.probe_id}`,
              targets: ms.length,
              failing: ms.filter((m) => isBlocked(m.verdict.verdict)).length,
              offline: ms.length > 0 && ms.every((m) => m.verdict.verdict === 'offline'),
            }),
        }
      : {}),
  });
  metrics.watchControl(() => {
    const s = control.status;
    return { enabled: control.config.enabled, runs: s.runs, failures: s.failures, ageSeconds: control.ageSeconds(), judged: control.judge.judged, fromProbes: control.fromProbes };
  });
  const ingest = new Ingest({
    controls: { judge: (m) => control.judge.judge(m), acceptFromProbe: (records) => control.acceptFromProbe(records) },
    limits: config.limits,
    clock,
    store,
    archive,
    targets: targets.byId,
    metrics,
    pipeline,
    ...(deps.asnLookup ? { lookup: deps.asnLookup } : {}),
    log: { warn: (o, m) => app.log.warn(o, m), error: (o, m) => app.log.error(o, m) },
    ...(overflowPoints !== null ? { onSpoolOverflow: (o: Parameters<SpoolOverflowPoints['note']>[0]) => overflowPoints.note(o) } : {}),
  });

  // The surge is set by `ashyq-collector surge` (another process) through surge.json; looked at per request.
  const surges = new SurgeWatcher({
    dataDir: config.data_dir,
    base: targets,
    clock,
    log: { info: (o, m) => app.log.info(o, m), error: (o, m) => app.log.error(o, m) },
  });
  metrics.setSurge(await surges.current());
  // While an event is open, probes on its network are asked for a surge of its targets (read per request).
  const eventSurges = new EventSurges({
    events: eventStore,
    base: targets,
    clock,
    everyMinutes: config.events.surge_every_minutes,
    intervalMinutes: config.events.interval_minutes,
    log: { info: (o, m) => app.log.info(o, m), error: (o, m) => app.log.error(o, m) },
  });
  // The control measures the surged targets as often as the probes: their measurements then have controls of their time.
  controlSurge = async () => combineSurges(await surges.current(), eventSurges.anySurge());

  // The detector derives events at most once a second; every read first derives what was counted
  // but not yet derived, so that events, surges and /metrics reflect every accepted measurement.
  app.addHook('onRequest', async (request) => {
    if (request.method === 'GET') events.settle();
  });
  const invites = Invites.open(path.join(config.data_dir, 'store.sqlite'));
  registrationRoutes(app, { enrollment: new Enrollment(config.enrollment_tokens), controlEnrollment: new Enrollment(config.control?.enrollment_tokens ?? []), invites, store, clock });
  await uploadRoutes(app, { ingest, maxBodyBytes: config.limits.max_body_bytes });
  targetRoutes(app, { served: new ServedTargets({ surges, events: eventSurges, base: targets }), lookup });
  seriesRoutes(app, { store, targets, clock });
  healthRoutes(app, { store, metrics, surges, eventSurges, followers: extra });
  eventRoutes(app, { events: eventStore });
  measurementListRoutes(app, { index: measurements.index });
  measurementRecordRoutes(app, { index: measurements.index, archive, exclusions: () => store.exclusions() });
  networkRoutes(app, { index: measurements.index, clock });
  pageRoutes(app, { reportsDir: config.reports_dir ?? null });
  controlRoutes(app, { control });
  control.start();

  // Close (and compress) a finished day even when no upload arrives after midnight.
  const dayTimer = setInterval(() => {
    archive.rollover().catch((err: unknown) => app.log.error({ err }, 'archive: closing the day failed'));
  }, 60_000);
  dayTimer.unref();

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      clearInterval(dayTimer);
      await control.close();
      await controlRuns?.stop();
      await app.close();
      for (const o of [...outboxes].reverse()) await o.stop();
      delivery.close();
      await pipeline.stop();
      await shares?.stop();
      await overflowPoints?.stop();
      await archive.close();
      eventStore.close();
      measurements.index.close();
      invites.close();
      store.close();
    })();
    return closing;
  };

  if (archive.recovered.length > 0) {
    app.log.warn({ recovered: archive.recovered }, 'archive: cut torn tails left by a crash (never acknowledged)');
  }
  return { app, close, archive, store, measurements: measurements.index, control, metrics, targets, surges, followers: others, events, eventStore, webhook, eventPoints: delivery.eventPoints, overflowPoints, recovered: archive.recovered, caughtUp: index.caughtUp };
}

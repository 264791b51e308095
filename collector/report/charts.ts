// Phase 4 of the report: the charts as vega-lite specifications, rendered to SVG text by vega's headless renderer (inlined by the HTML, embedded in the PDF).
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Findings } from './findings.js';
import type { Strings } from './strings/strings.js';
import { networkName } from './tables.js';

export interface Chart {
  id: 'daily' | 'heatmap' | 'interception' | 'handshake' | 'throttled';
  title: string;
  /** SVG text, or null with `note` saying why there is no chart. */
  svg: string | null;
  note?: string;
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const round = (x: number): number => Math.round(x * 1000) / 1000;
const WIDTH = 640;

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function base(title: string, values: object[]): Pick<TopLevelSpec, 'title' | 'data' | 'config'> & { width: number } {
  return { title, data: { values }, width: WIDTH, config: { font: 'sans-serif', view: { stroke: null }, axis: { labelFontSize: 10 } } } as never;
}

export async function renderCharts(f: Findings, s: Strings): Promise<Chart[]> {
  const t = s.charts;
  const blockedTargets = new Set(f.daily.filter((d) => d.blocked > 0).map((d) => d.target));
  const throttledTargets = new Set(f.daily.filter((d) => d.throttled > 0).map((d) => d.target));
  const daily = f.daily.filter((d) => d.share !== null).map((d) => ({ day: day(d.day), service: d.target, share: round(d.share!), throttled: round(d.throttledShare ?? 0) }));
  const charts: Chart[] = [];

  charts.push({
    id: 'daily',
    title: t.daily,
    svg: await render({
      ...base(t.daily, daily.filter((d) => blockedTargets.has(d.service))),
      height: 220,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'day', type: 'ordinal', title: t.day, axis: { labelAngle: -60 } },
        y: { field: 'share', type: 'quantitative', title: t.share, axis: { format: '.0%' }, scale: { domain: [0, 1] } },
        color: { field: 'service', type: 'nominal', title: t.service },
      },
    } as TopLevelSpec),
  });

  charts.push({
    id: 'heatmap',
    title: t.heatmap,
    svg: await render({
      ...base(t.heatmap, daily),
      mark: 'rect',
      encoding: {
        x: { field: 'day', type: 'ordinal', title: t.day, axis: { labelAngle: -60 } },
        y: { field: 'service', type: 'nominal', title: t.service },
        color: { field: 'share', type: 'quantitative', title: t.share, scale: { domain: [0, 1], scheme: 'reds' }, legend: { format: '.0%' } },
      },
    } as TopLevelSpec),
  });

  const interception = f.interception.map((p) => ({ hour: p.hour, network: networkName(p.asn, s), count: p.count }));
  charts.push({
    id: 'interception',
    title: t.interception,
    svg: await render({
      ...base(t.interception, interception),
      height: 160,
      mark: 'bar',
      encoding: {
        x: { field: 'hour', type: 'temporal', title: t.hour, scale: { type: 'utc', domain: [f.period.from, f.period.to] }, axis: { format: '%d %b' } },
        y: { field: 'count', type: 'quantitative', title: t.count },
        color: { field: 'network', type: 'nominal', title: t.network },
      },
    } as TopLevelSpec),
  });

  if (f.percentiles.length > 0) {
    const rows = f.percentiles.filter((p) => p.metric !== 'bulk').flatMap((p) => [
      { day: day(p.day), series: `${p.metric.toUpperCase()} p50`, ms: p.p50 },
      { day: day(p.day), series: `${p.metric.toUpperCase()} p90`, ms: p.p90 },
    ]);
    charts.push({
      id: 'handshake',
      title: t.handshake,
      svg: await render({
        ...base(t.handshake, rows),
        height: 200,
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'day', type: 'ordinal', title: t.day, axis: { labelAngle: -60 } },
          y: { field: 'ms', type: 'quantitative', title: t.ms },
          color: { field: 'series', type: 'nominal', title: t.percentile },
        },
      } as TopLevelSpec),
    });
  } else charts.push({ id: 'handshake', title: t.handshake, svg: null, note: s.noIndex });

  charts.push({
    id: 'throttled',
    title: t.throttled,
    svg: await render({
      ...base(t.throttled, daily.filter((d) => throttledTargets.has(d.service)).map((d) => ({ day: d.day, service: d.service, throttled: d.throttled }))),
      height: 180,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'day', type: 'ordinal', title: t.day, axis: { labelAngle: -60 } },
        y: { field: 'throttled', type: 'quantitative', title: t.throttledShare, axis: { format: '.0%' } },
        color: { field: 'service', type: 'nominal', title: t.service },
      },
    } as TopLevelSpec),
  });
  return charts;
}

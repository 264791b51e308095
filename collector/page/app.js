// The page's script: fetches the collector's JSON API (same origin only) and draws the overview or one measurement.
'use strict';
(function () {
  const API = '/api/v1';
  const HOUR = 3600000;

  /** What each verdict means, in plain words. */
  const MEANING = {
    ok: 'The service answered normally on every layer.',
    'dns.nxdomain': 'The network\'s DNS said the name does not exist, while it does.',
    'dns.bogon': 'The network\'s DNS answered with an address that cannot be the service (a private or reserved range).',
    'dns.injected': 'A forged DNS answer arrived before the real one.',
    'dns.inconsistent': 'The DNS answers differ from the control\'s and do not lead to the service.',
    'dns.timeout': 'The network\'s resolver never answered, while other resolvers did.',
    'tcp.reset': 'The connection to the service was reset.',
    'tcp.timeout': 'Connecting to the service timed out.',
    'tcp.refused': 'The connection to the service was refused.',
    'tls.reset': 'The secure connection was reset right after the service\'s name was sent (SNI filtering).',
    'tls.timeout': 'The secure handshake never completed.',
    'tls.eof': 'The connection was closed during the secure handshake.',
    'tls.interception': 'The certificate was not the service\'s own: the connection was intercepted.',
    'http.blockpage': 'A block page was served instead of the service.',
    'http.reset': 'The connection was reset after the request was sent.',
    'http.timeout': 'The request got no answer in time.',
    'http.diff': 'The page differs from what the service serves elsewhere.',
    'http.throttled': 'The service was reachable but far slower than the reference sites in the same run (throttling).',
    down: 'The service fails the same way from outside the country too: it is down, not blocked.',
    offline: 'The probe\'s own line was offline (its reference sites failed too).',
    inconclusive: 'The evidence does not allow a verdict.',
  };
  const NOT_BLOCKED = new Set(['ok', 'down', 'offline', 'inconclusive']);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === 'class') node.className = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : String(c));
    }
    return node;
  }
  function $(id) { return document.getElementById(id); }
  function fmtTime(iso) { return iso ? iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, ' UTC') : '—'; }
  function network(asn, cc) { return (asn === null || asn === undefined ? 'AS?' : 'AS' + asn) + (cc ? ' (' + cc + ')' : ''); }
  function verdictCell(v) { return el('span', { class: NOT_BLOCKED.has(v) ? (v === 'ok' ? 'ok' : '') : 'blocked' }, v); }
  function mlink(id) { return el('a', { href: '/measurement/' + encodeURIComponent(id) }, id); }
  function empty(text) { return el('p', { class: 'empty' }, text); }

  async function get(path) {
    const res = await fetch(path, { headers: { accept: 'application/json' } });
    const body = await res.json().catch(() => null);
    if (!res.ok) {
      const err = new Error((body && body.error && body.error.message) || res.status + ' ' + res.statusText);
      err.status = res.status;
      throw err;
    }
    return body;
  }

  function table(caption, headers, rows, numeric) {
    const head = el('tr', {}, ...headers.map((h, i) => el('th', { scope: 'col', class: numeric && numeric.includes(i) ? 'num' : null }, h)));
    const body = rows.map((r) => el('tr', {}, ...r.map((c, i) => el('td', { class: numeric && numeric.includes(i) ? 'num' : null }, c))));
    return el('div', { class: 'scroll' }, el('table', {}, caption ? el('caption', {}, caption) : null, el('thead', {}, head), el('tbody', {}, ...body)));
  }

  // A country's series (youtube/KZ/tls) is the whole country, seen on these networks; an ASN's series is that network.
  function eventNetwork(e) {
    const level = typeof e.series === 'string' ? e.series.split('/')[1] : undefined;
    const asns = e.asns.map((a) => 'AS' + a).join(', ');
    if (level !== undefined && !level.startsWith('AS') && level !== '*') return level + ' (country' + (asns ? ': ' + asns : '') + ')';
    return asns ? asns + (e.cc ? ' (' + e.cc + ')' : '') : (e.cc || '—');
  }

  function renderEvents(events) {
    const box = $('events');
    box.replaceChildren();
    if (events.length === 0) return box.append(empty('No open events.'));
    box.append(table(null, ['Since', 'Targets', 'Network', 'Method', 'Kind', 'Probes', 'Blocked', 'Examples'],
      events.map((e) => [
        fmtTime(e.start),
        e.targets.join(', '),
        eventNetwork(e),
        e.method,
        el('span', { class: e.scope === 'partial' ? 'partial' : 'blocked' }, e.kind + (e.scope === 'partial' ? ' (partial)' : '')),
        String(e.probe_count),
        e.blocked_count + ' of ' + e.measurement_count,
        el('span', {}, ...e.evidence.slice(0, 3).flatMap((id, i) => (i > 0 ? [' ', mlink(id)] : [mlink(id)]))),
      ]), [5]));
  }

  function renderIncidents(incidents) {
    const box = $('incidents');
    box.replaceChildren();
    if (incidents.length === 0) return box.append(empty('No open incidents.'));
    box.append(table(null, ['Since', 'Incident', 'Targets', 'Networks', 'Events'], incidents.map((i) => [fmtTime(i.start), i.title, i.targets.join(', '),
      [...i.asns.map((a) => 'AS' + a), ...i.ccs].join(', ') || '—', String(i.event_ids.length)]), [4]));
  }

  function renderNetworks(nets) {
    const box = $('networks');
    box.replaceChildren();
    if (nets.length === 0) return box.append(empty('No measurements in the last 24 hours.'));
    box.append(table(null, ['Network', 'Provider', 'Probes', 'Measurements', 'Last seen'],
      nets.map((n) => [network(n.asn, n.cc), n.name || '—', String(n.probes), String(n.measurements), fmtTime(n.last_seen)]), [2, 3]));
  }

  function renderRecent(list) {
    const box = $('recent');
    box.replaceChildren();
    const blocked = list.filter((m) => !NOT_BLOCKED.has(m.verdict)).slice(0, 10);
    if (blocked.length === 0) return box.append(empty('No blocked measurements recently.'));
    box.append(table(null, ['Time', 'Target', 'Network', 'Verdict', 'Measurement'],
      blocked.map((m) => [fmtTime(m.started_at), m.target, network(m.asn, m.cc), verdictCell(m.verdict), mlink(m.id)])));
  }

  function renderReports(reports) {
    const box = $('reports');
    box.replaceChildren();
    if (reports.length === 0) return box.append(empty('No reports yet.'));
    box.append(el('ul', {}, ...reports.map((r) => el('li', {}, el('a', { href: r.url }, 'Report for ' + r.month)))));
  }

  const PALETTE = ['#0b5cad', '#a30000', '#146c2e', '#7a4b00', '#6b2fa3', '#00677a', '#8a2b5c', '#3d3d3d'];

  async function renderReach(targets, to) {
    const from = to - 7 * 24 * HOUR;
    const services = targets.filter((t) => t.category !== 'canary');
    const series = await Promise.all(services.map((t) => get(API + '/series?target=' + encodeURIComponent(t.id) + '&step=1h&from=' + from + '&to=' + to)));
    const rows = [];
    const xs = [];
    for (let t = from; t < to; t += HOUR) xs.push(t / 1000);
    const ys = series.map((s) => {
      const byT = new Map(s.points.map((p) => [Date.parse(p.t) / 1000, p]));
      return xs.map((x) => { const p = byT.get(x); return p && p.count > 0 ? Math.round((1000 * (p.count - p.blocked)) / p.count) / 10 : null; });
    });
    services.forEach((t, i) => {
      const count = series[i].points.reduce((a, p) => a + p.count, 0);
      const blocked = series[i].points.reduce((a, p) => a + p.blocked, 0);
      rows.push([t.name || t.id, count === 0 ? '—' : (Math.round((1000 * (count - blocked)) / count) / 10).toFixed(1) + ' %', String(blocked), String(count)]);
    });
    const box = $('reach');
    box.replaceChildren(table('Share of measurements not blocked, all networks', ['Service', 'Reachable', 'Blocked', 'Measurements'], rows, [1, 2, 3]));
    const chart = $('chart');
    chart.replaceChildren();
    if (typeof uPlot !== 'function' || series.every((s) => s.points.length === 0)) return;
    const width = Math.max(280, chart.clientWidth);
    new uPlot({
      width,
      height: width < 500 ? 220 : 300,
      series: [{}, ...services.map((t, i) => ({ label: t.name || t.id, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: false, value: (u, v) => (v === null ? '—' : v + ' %') }))],
      axes: [{}, { values: (u, vals) => vals.map((v) => v + ' %') }],
      scales: { y: { range: [0, 100] } },
    }, [xs, ...ys], chart);
  }

  async function overview() {
    $('overview').hidden = false;
    const [events, incidents, nets, targets, recent, reports] = await Promise.all([
      get(API + '/events?open=true'),
      get(API + '/incidents?open=true'),
      get(API + '/networks'),
      get(API + '/targets'),
      get(API + '/measurements?limit=200'),
      get(API + '/reports'),
    ]);
    renderEvents(events.events);
    renderIncidents(incidents.incidents);
    renderNetworks(nets.networks);
    renderRecent(recent.measurements);
    renderReports(reports.reports);
    // The collector's clock, not the browser's: hours ending at the current one.
    const to = Math.ceil(Date.parse(nets.to) / HOUR) * HOUR;
    await renderReach(targets.targets || [], to);
  }

  function yesNo(v) { return v === null || v === undefined ? '—' : v ? 'yes' : 'no'; }
  function fail(o) { return o.failure ? el('span', { class: 'blocked' }, o.failure + (o.error ? ' (' + o.error + ')' : '')) : el('span', { class: 'ok' }, 'none'); }
  function ms(v) { return v === null || v === undefined ? '—' : Math.round(v) + ' ms'; }

  function evidenceSections(ev) {
    const out = [];
    const dns = (ev.dns || []).flatMap((d) => d.queries.map((q) => [q.domain, q.qtype, q.resolver, q.rcode || '—', q.addresses.join(', ') || '—',
      (q.late || []).map((l) => l.addresses.join(', ')).filter(Boolean).join('; ') || '—', q.bogons.join(', ') || '—', fail(q)]));
    out.push(el('h3', {}, 'DNS'), dns.length ? table(null, ['Domain', 'Type', 'Resolver', 'Answer', 'Addresses', 'Late answers', 'Bogons', 'Failure'], dns) : empty('No DNS step.'));
    const tcp = (ev.tcp || []).map((o) => [o.domain || '—', o.ip + ':' + o.port, ms(o.rtt_ms), fail(o)]);
    out.push(el('h3', {}, 'TCP'), tcp.length ? table(null, ['Domain', 'Address', 'Connect time', 'Failure'], tcp) : empty('No TCP step.'));
    const tls = (ev.tls || []).map((o) => [o.sni || '—', o.ip + ':' + o.port, o.version || '—', yesNo(o.trusted),
      o.chain.length ? o.chain[o.chain.length - 1].issuer : '—', o.validation_error || '—', fail(o),
      o.neutral ? (o.neutral.failure ? 'failed: ' + o.neutral.failure : 'succeeded (' + (o.neutral.sni || 'no SNI') + ')') : '—']);
    out.push(el('h3', {}, 'TLS'), tls.length ? table(null, ['SNI', 'Address', 'Version', 'Trusted', 'Issuer', 'Validation', 'Failure', 'Neutral SNI'], tls) : empty('No TLS step.'));
    const http = (ev.http || []).map((o) => [o.url, o.status === null ? '—' : String(o.status), o.title || '—', o.body_length === null ? '—' : o.body_length + ' B', ms(o.rtt_ms), fail(o)]);
    out.push(el('h3', {}, 'HTTP'), http.length ? table(null, ['URL', 'Status', 'Title', 'Body', 'Time', 'Failure'], http) : empty('No HTTP step.'));
    if (Array.isArray(ev.bulk) && ev.bulk.length) {
      out.push(el('h3', {}, 'Bulk reads'), table(null, ['URL', 'Rate', 'Ended', 'Failure'],
        ev.bulk.map((b) => [b.url, b.rate_bps === null ? '—' : Math.round(b.rate_bps / 1000) + ' kB/s', b.ended, fail(b)])));
    }
    if (ev.baseline) {
      out.push(el('p', {}, 'Reference sites in the same run (' + ev.baseline.canaries.join(', ') + '): bulk ' +
        (ev.baseline.bulk_rate_bps === null ? '—' : Math.round(ev.baseline.bulk_rate_bps / 1000) + ' kB/s') + ', TLS handshake ' + ms(ev.baseline.tls_handshake_ms) + '.'));
    }
    return out;
  }

  async function measurement(id) {
    const box = $('measurement');
    box.hidden = false;
    let m;
    try {
      m = (await get(API + '/measurements/' + encodeURIComponent(id))).measurement;
    } catch (err) {
      box.replaceChildren(el('h2', {}, 'Measurement ' + id), el('p', {}, err.status === 404 ? 'No measurement with this id.' : 'Could not load it: ' + err.message), el('p', {}, el('a', { href: '/' }, 'Back to the overview')));
      return;
    }
    document.title = m.target.id + ' ' + m.verdict + ' — ashyq collector';
    const blocked = !NOT_BLOCKED.has(m.verdict);
    const facts = [
      ['Target', m.target.id + ' (' + m.target.category + ')'],
      ['Started', fmtTime(m.started_at) + ', took ' + ms(m.runtime_ms)],
      ['Network', network(m.network.asn, m.network.cc) + (m.network.name ? ' ' + m.network.name : '')],
      ['Probe', m.probe],
      ['Collector\'s verdict', verdictCell(m.verdict)],
      ['Probe\'s verdict', verdictCell(m.probe_verdict)],
      ['Layer', m.layer || '—'],
      ['Scope', m.scope || '—'],
      ['Confidence', Math.round(100 * m.decision.confidence) + ' %'],
      ['Subjects', (m.decision.subjects || []).join(', ') || '—'],
    ];
    if (m.issuer) facts.push(['Intercepting issuer', m.issuer]);
    if (m.bulk_kBps !== null || m.canary_kBps !== null) facts.push(['Throughput', (m.bulk_kBps === null ? '—' : m.bulk_kBps + ' kB/s') + ' vs reference ' + (m.canary_kBps === null ? '—' : m.canary_kBps + ' kB/s')]);
    box.replaceChildren(
      el('p', {}, el('a', { href: '/' }, '← Overview')),
      el('h2', {}, 'Measurement ', el('code', {}, m.id)),
      el('p', { class: 'reason' + (blocked ? '' : ' okay'), id: 'reason' }, el('strong', {}, m.verdict + ': '), MEANING[m.verdict] || '', ' ', el('span', {}, 'Why: ' + m.reason)),
      el('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
      el('h2', {}, 'Evidence per layer'),
      ...evidenceSections(m.evidence),
      el('p', {}, el('a', { href: API + '/measurements/' + encodeURIComponent(m.id) }, 'The whole record as JSON')),
    );
  }

  async function run() {
    const status = $('status');
    const match = /^\/measurement\/([^/]+)$/.exec(location.pathname);
    try {
      if (match) await measurement(decodeURIComponent(match[1]));
      else await overview();
      status.textContent = 'Updated ' + new Date().toISOString().slice(11, 16) + ' UTC';
      document.body.dataset.ready = 'true';
    } catch (err) {
      status.textContent = 'Could not load the data: ' + err.message;
      document.body.dataset.ready = 'error';
    }
  }
  run();
})();

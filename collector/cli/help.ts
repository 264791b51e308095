// Each ashyq-collector command's own help (`ashyq-collector <command> --help`): its usage line, what it does and its options.

interface CommandHelp {
  /** One usage line per form of the command. */
  usage: string | string[];
  about: string;
  /** The command's options, each "--name PLACEHOLDER" → what it does (--config and --help are added). */
  options: Record<string, string>;
  /** Whether the command reads the configuration (all but simulate). */
  config?: false;
  extra?: string;
}

const CONFIG = 'YAML configuration (default: the embedded one: data in ./var/collector, listening on 127.0.0.1:8480)';
const ENVIRONMENT = `Environment:
  ASHYQ_ENROLLMENT_TOKEN   an enrollment token (else one is generated and kept in the data dir)
  ASHYQ_INFLUX_URL, ASHYQ_INFLUX_TOKEN, ASHYQ_INFLUX_ORG, ASHYQ_INFLUX_BUCKET
                           write time series to InfluxDB (or a server speaking its v2 write API)`;

const COMMANDS: Record<string, CommandHelp> = {
  serve: {
    usage: 'ashyq-collector serve [--log text|json] [--config FILE]',
    about: `Accept probe registrations and measurement batches and answer queries on the configured address
(listen.host and listen.port; the embedded default is 127.0.0.1:8480) until SIGINT or SIGTERM.
Without enrollment_tokens (or $ASHYQ_ENROLLMENT_TOKEN) it generates a token and keeps it in
<data_dir>/enrollment-token. One serve or reindex at a time per data directory.`,
    options: { '--log text|json': 'the log as one readable line per request and event, or as JSON lines (default: text on a terminal, else json)' },
    extra: ENVIRONMENT,
  },
  reindex: {
    usage: 'ashyq-collector reindex [--config FILE]',
    about: `Rebuild the store (measurement ids, aggregates) and the blocking events from the archive.
Refused while a server runs on the same data directory: stop it first.`,
    options: {},
  },
  events: {
    usage: 'ashyq-collector events [--since TIME] [--until TIME] [--target ID] [--asn N] [--cc CC] [--method M] [--open] [--json] [--config FILE]',
    about: `List the blocking events in the data directory, as a table (UTC and Kazakhstan time) or as JSON
lines. The server may be running.`,
    options: {
      '--since TIME': 'events lasting until TIME or later (ISO 8601, or epoch milliseconds)',
      '--until TIME': 'events begun at TIME or earlier',
      '--target ID': 'events of this target',
      '--asn N': 'events on this network (9198 or AS9198)',
      '--cc CC': 'events in this country (two letters, e.g. KZ)',
      '--method M': 'events of this method: dns, tcp, tls, interception, http, throttling or shutdown',
      '--open': 'only events still going on',
      '--json': 'one event (JSON) per line',
    },
  },
  import: {
    usage: 'ashyq-collector import FILE... [--json] [--config FILE]',
    about: `Take archive segments (JSON lines, or gzipped) through the same path as live uploads. Progress
goes to stderr, a summary to stdout. Refused while the server runs on the same data directory:
stop it first.`,
    options: { '--json': 'print the summary as one JSON object' },
  },
  simulate: {
    usage: 'ashyq-collector simulate --out DIR [--days N] [--probes N] [--seed N]',
    about: `Write a synthetic month of a probe fleet as archive segments, with its ground truth (truth.json:
the scripted events), to replay with \`ashyq-collector import DIR/*.jsonl*\`.`,
    options: {
      '--out DIR': 'where the segments and truth.json are written (required)',
      '--days N': 'days simulated, 1-366 (default 30)',
      '--probes N': 'probes in the fleet, 5-10000 (default 20)',
      '--seed N': 'seed of the simulation, 0-2147483648 (default 1): the same seed writes the same data',
    },
    config: false,
  },
  surge: {
    usage: [
      'ashyq-collector surge --targets ID,ID --every MINUTES (--for DURATION | --until TIME) [--config FILE]',
      'ashyq-collector surge --stop [--config FILE]',
      'ashyq-collector surge [--config FILE]',
    ],
    about: `Ask probes to measure some targets more often for a while. The surge is kept in
<data_dir>/surge.json; a running server serves it at once. Without options: show the current surge.`,
    options: {
      '--targets ID,ID': 'the targets to measure more often, ids separated by commas',
      '--every MINUTES': 'minutes between their measurements, 1-1440 (each probe still keeps to its own surge_min_interval_minutes)',
      '--for DURATION': 'how long, such as 90m, 2h, 1d or 1h30m (at most 7 days)',
      '--until TIME': 'until when, in ISO 8601 with a zone (at most 7 days ahead)',
      '--stop': 'end the current surge',
    },
  },
  report: {
    usage: 'ashyq-collector report --month YYYY-MM --out DIR [--country CC] [--lang en|ru] [--base-url URL] [--config FILE]',
    about: `Write the monthly freedom report: report.html (self-contained), report.md, one CSV per table,
charts/*.svg, and report.pdf when Chromium is found ($ASHYQ_CHROMIUM, or chromium /
chromium-browser on the PATH). The server may be running.`,
    options: {
      '--month YYYY-MM': 'the calendar month (UTC) to report on (required)',
      '--out DIR': 'where the files are written (required)',
      '--country CC': 'the country reported on (default KZ)',
      '--lang en|ru': 'the language of the report (default en)',
      '--base-url URL': "where the collector's API is served, for links to example measurements (default: relative links)",
    },
  },
  invite: {
    usage: 'ashyq-collector invite --url URL [--note TEXT] [--expires DURATION] [--json] [--config FILE]',
    about: `Print a single-use invite for one volunteer's probe: the collector's URL, its key pin and an
enrollment secret in one string, for \`ashyq-probe join INVITE\`. The server may be running.`,
    options: {
      '--url URL': 'the collector as volunteers reach it, e.g. https://collector.example.org (required)',
      '--note TEXT': 'a note kept with the invite and its probe (whose it is)',
      '--expires DURATION': 'how long the invite can be used, such as 12h or 30d (default 7d, at most 90d)',
      '--json': 'print the invite as one JSON object (id, invite, note, expires_at)',
    },
  },
  probes: {
    usage: 'ashyq-collector probes [--json] [--config FILE]',
    about: `List the registered probes: id, state, network, last seen, measurements, software and note.
The server may be running.`,
    options: { '--json': 'one probe (JSON) per line' },
  },
  revoke: {
    usage: 'ashyq-collector revoke PROBE-ID [--retroactive | --since TIME] [--config FILE]',
    about: `Refuse a probe's uploads from now on (its id as \`ashyq-collector probes\` lists it); what it
uploaded before stays in the archive.`,
    options: {
      '--retroactive': 'all it measured stops counting in aggregates, series and events too, once reindex has run',
      '--since TIME': 'what it measured from TIME on stops counting in aggregates, series and events too, once reindex has run',
    },
  },
};

function optionName(flag: string): string {
  return flag.slice(2).split(' ')[0]!;
}

/**
 * The help of one command. `owned` lists the options the command line accepts for it (the option
 * table in main.ts): one without a description here is still listed, by its name.
 */
export function commandHelp(command: string, owned: ReadonlyArray<{ name: string; type: 'string' | 'boolean' }>): string {
  // A command without its entry here still gets its usage and options (the test asks for an entry).
  const help: CommandHelp = COMMANDS[command] ?? { usage: `ashyq-collector ${command} [--config FILE]`, about: 'See `ashyq-collector --help`.', options: {} };
  const rows: Array<[string, string]> = Object.entries(help.options);
  const described = new Set(rows.map(([flag]) => optionName(flag)));
  for (const o of owned) if (!described.has(o.name)) rows.push([o.type === 'string' ? `--${o.name} VALUE` : `--${o.name}`, '']);
  if (help.config !== false) rows.push(['--config FILE', CONFIG]);
  rows.push(['--help', 'show this text']);
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 3;
  const pad = ' '.repeat(2 + width);
  const lines = rows.map(([flag, text]) => `  ${flag.padEnd(width)}${wrap(text, 100 - pad.length).join(`\n${pad}`)}`.trimEnd());
  const usage = (typeof help.usage === 'string' ? [help.usage] : help.usage).flatMap(usageLines).join('\n       ');
  return `Usage: ${usage}\n\n${help.about}\n\nOptions:\n${lines.join('\n')}\n${help.extra ? `\n${help.extra}\n` : ''}`;
}

/** One usage, wrapped at 100 characters (with "Usage: ") between groups ([…], (…)), continued under the command's arguments. */
function usageLines(usage: string): string[] {
  const groups: string[] = [];
  let depth = 0;
  let current = '';
  for (const c of usage) {
    if (c === ' ' && depth === 0) {
      groups.push(current);
      current = '';
      continue;
    }
    if (c === '[' || c === '(') depth++;
    if (c === ']' || c === ')') depth--;
    current += c;
  }
  groups.push(current);
  const head = `${groups[0]} ${groups[1]}`;
  const indent = ' '.repeat(head.length + 1);
  const lines: string[] = [];
  let line = head;
  for (const g of groups.slice(2)) {
    if ('Usage: '.length + line.length + 1 + g.length > 100) {
      lines.push(line);
      line = `${indent}${g}`;
    } else line = `${line} ${g}`;
  }
  lines.push(line);
  return lines;
}

/** Splits at the given newlines, then wraps each part at spaces to at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const out: string[] = [];
  for (const part of text.split('\n')) {
    let line = '';
    for (const word of part.split(' ')) {
      if (line !== '' && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else line = line === '' ? word : `${line} ${word}`;
    }
    out.push(line);
  }
  return out;
}

/** The commands with their own help. */
export const HELP_COMMANDS: readonly string[] = Object.keys(COMMANDS);

// The censor's on-path DNS injector: answers copies of DNS queries for poisoned names with a forged address, from the resolver's own address.
//
// Runs on the lab's `tap` host. The censor copies every DNS query it forwards or sends (iptables
// TEE) to this box; the box holds the honest resolver's address too, so a copy addressed to it is
// delivered here, and the forged answer leaves with that address as source. The query itself goes
// on to the real resolver, whose genuine answer arrives later: one query, two answers.
//
//   node --import tsx test/lab/injector.ts --listen 192.88.99.53:53 --poison twitter.com=192.88.99.66 [...]
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import dnsPacket from 'dns-packet';
import { InvalidArgumentError } from '../../common/errors.js';

export interface InjectorOptions {
  address: string;
  port: number;
  /** Domain (and its subdomains) → forged IPv4 address. */
  poison: Map<string, string>;
}

/** The forged address for `name`, when it or one of its parent domains is poisoned. */
export function forgedFor(name: string, poison: ReadonlyMap<string, string>): string | null {
  const labels = name.toLowerCase().replace(/\.$/, '').split('.');
  for (let i = 0; i < labels.length; i++) {
    const hit = poison.get(labels.slice(i).join('.'));
    if (hit !== undefined) return hit;
  }
  return null;
}

/** A forged response to `query` (an A question for a poisoned name), or null when there is nothing to forge. */
export function forgeResponse(query: Buffer, poison: ReadonlyMap<string, string>): Buffer | null {
  let decoded;
  try {
    decoded = dnsPacket.decode(query);
  } catch {
    return null;
  }
  const q = decoded.questions?.[0];
  if (decoded.type !== 'query' || q === undefined || q.type !== 'A') return null;
  const forged = forgedFor(q.name, poison);
  if (forged === null) return null;
  return dnsPacket.encode({
    type: 'response',
    id: decoded.id ?? 0,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: [q],
    answers: [{ type: 'A', name: q.name, class: 'IN', ttl: 300, data: forged }],
  });
}

export function startInjector(options: InjectorOptions): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const answer = forgeResponse(msg, options.poison);
    if (answer !== null) socket.send(answer, rinfo.port, rinfo.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(options.port, options.address, () => {
      socket.off('error', reject);
      socket.on('error', (err) => process.stderr.write(`injector: ${err.message}\n`));
      resolve(socket);
    });
  });
}

function parseCommandLine(argv: string[]): InjectorOptions {
  const { values } = parseArgs({ args: argv, options: { listen: { type: 'string' }, poison: { type: 'string', multiple: true } } });
  const [address, port] = (values.listen ?? '').split(':');
  if (address === undefined || port === undefined || address === '') throw new InvalidArgumentError('--listen IP:PORT is required');
  const poison = new Map<string, string>();
  for (const p of values.poison ?? []) {
    const [name, ip] = p.split('=');
    if (name === undefined || ip === undefined) throw new InvalidArgumentError(`--poison expects NAME=IP, got ${p}`);
    poison.set(name.toLowerCase(), ip);
  }
  return { address, port: Number(port), poison };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const options = parseCommandLine(process.argv.slice(2));
  await startInjector(options);
  process.stdout.write(`injector: listening on ${options.address}:${options.port}, poisoning ${[...options.poison.keys()].join(', ')}\n`);
  process.on('SIGTERM', () => process.exit(0));
}

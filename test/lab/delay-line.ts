// The honest resolver's distance: a UDP delay line on the internet host that relays DNS to dnsmasq and answers after a fixed delay.
//
// A resolver abroad is tens of milliseconds away while the censor's injector is next door; that gap
// is what an on-path injector wins its race with. The kernel the lab runs on may lack netem (tc's
// delay), so the distance is made here: the line owns the honest resolver's address, holds each
// query for `delayMs`, relays it to dnsmasq and sends dnsmasq's answer back from that address.
//
//   node --import tsx test/lab/delay-line.ts --listen 192.88.99.53:53 --to 127.0.0.1:5353 --delay 120
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '../../common/errors.js';

export interface DelayLineOptions {
  listen: { address: string; port: number };
  to: { address: string; port: number };
  delayMs: number;
  /** A relayed query with no answer from the backend is dropped after this long. */
  backendTimeoutMs?: number;
}

export function startDelayLine(options: DelayLineOptions): Promise<dgram.Socket> {
  const front = dgram.createSocket('udp4');
  front.on('message', (msg, client) => {
    setTimeout(() => {
      const back = dgram.createSocket('udp4');
      const done = () => {
        clearTimeout(timer);
        back.close();
      };
      const timer = setTimeout(done, options.backendTimeoutMs ?? 5000);
      back.on('error', done);
      back.once('message', (answer) => {
        done();
        front.send(answer, client.port, client.address);
      });
      back.send(msg, options.to.port, options.to.address);
    }, options.delayMs);
  });
  return new Promise((resolve, reject) => {
    front.once('error', reject);
    front.bind(options.listen.port, options.listen.address, () => {
      front.off('error', reject);
      front.on('error', (err) => process.stderr.write(`delay-line: ${err.message}\n`));
      resolve(front);
    });
  });
}

function hostPort(text: string | undefined, flag: string): { address: string; port: number } {
  const [address, port] = (text ?? '').split(':');
  if (address === undefined || address === '' || port === undefined || !/^\d+$/.test(port)) {
    throw new InvalidArgumentError(`${flag} IP:PORT is required`);
  }
  return { address, port: Number(port) };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { listen: { type: 'string' }, to: { type: 'string' }, delay: { type: 'string' } },
  });
  const options = { listen: hostPort(values.listen, '--listen'), to: hostPort(values.to, '--to'), delayMs: Number(values.delay ?? '0') };
  await startDelayLine(options);
  process.stdout.write(`delay-line: ${values.listen} -> ${values.to}, +${options.delayMs} ms\n`);
  process.on('SIGTERM', () => process.exit(0));
}

// The thread that parses the IP-to-ASN and country CSV files and hands the collector the frozen ranges (its own memory is given back when it ends).
import { parentPort, workerData } from 'node:worker_threads';
import { ConfigError } from '../../common/errors.js';
import { buildIpDatabase, type FromIpDbWorker, type IpDatabaseFiles } from './asn.js';

const port = parentPort!;
try {
  const data = await buildIpDatabase(workerData as IpDatabaseFiles);
  const buffers = [data.asn.v4, data.asn.v6, data.cc.v4, data.cc.v6].flatMap((r) => [r.starts.buffer, r.ends.buffer, r.values.buffer]);
  port.postMessage({ type: 'done', data } satisfies FromIpDbWorker, buffers as ArrayBuffer[]);
} catch (err) {
  const message: FromIpDbWorker =
    err instanceof ConfigError ? { type: 'fail', file: err.file, message: err.problem } : { type: 'fail', file: null, message: (err as Error).message };
  port.postMessage(message);
}

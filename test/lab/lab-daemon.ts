// The probe daemon running inside the lab's client host: start, watch its status file and log, stop it as systemd would.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { STATUS_FILE, type DaemonStatus } from '../../probe/daemon/status.js';
import { alive, LabCommandError, startService, stopService } from './shell.js';

export interface LabDaemonStart {
  ns: string;
  cmd: string;
  args: string[];
  stateDir: string;
  /** The daemon's log (appended to across starts) and pid file. */
  log: string;
  pidFile: string;
}

/** One measurement the daemon logged as taken (durably in its spool). */
export interface Taken {
  id: string;
  target: string;
  verdict: string;
}

/** How long a stop may take: the daemon gives a run and an upload in flight 10 s each, then exits. */
const STOP_GRACE_MS = 25_000;

export class LabDaemon {
  private constructor(
    private readonly start: LabDaemonStart,
    readonly pid: number,
    /** Where this start's lines begin in the log. */
    private readonly logOffset: number,
  ) {}

  static async start(start: LabDaemonStart): Promise<LabDaemon> {
    const offset = await stat(start.log).then(
      (s) => s.size,
      () => 0,
    );
    const pid = await startService(start.ns, start.cmd, start.args, { log: start.log, pidFile: start.pidFile });
    return new LabDaemon(start, pid, offset);
  }

  /** This start's part of the log. */
  async log(): Promise<string> {
    const text = await readFile(this.start.log).catch(() => Buffer.alloc(0));
    return text.subarray(this.logOffset).toString('utf8');
  }

  /** What this start logged as taken, in order. */
  async taken(): Promise<Taken[]> {
    const out: Taken[] = [];
    for (const line of (await this.log()).split('\n')) {
      const m = / taken (\S+) (\S+) ([^\s:]+)(?::|$)/.exec(line);
      if (m !== null) out.push({ id: m[1]!, target: m[2]!, verdict: m[3]! });
    }
    return out;
  }

  /** The status file, once this process has written it (an earlier start's file does not count). */
  async status(): Promise<DaemonStatus | null> {
    try {
      const st = JSON.parse(await readFile(join(this.start.stateDir, STATUS_FILE), 'utf8')) as DaemonStatus;
      return st.pid === this.pid ? st : null;
    } catch {
      return null; // not written yet, or caught between write and rename
    }
  }

  /** Poll the status until `check` holds; fails naming `what`, with the log's tail, after `timeoutMs` or if the daemon exits. */
  async until(what: string, check: (st: DaemonStatus) => boolean, timeoutMs: number): Promise<DaemonStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const st = await this.status();
      if (st !== null && check(st)) return st;
      const gone = !alive(this.pid);
      if (gone || Date.now() > deadline) {
        const tail = (await this.log()).split('\n').slice(-25).join('\n');
        const problem = gone ? 'the daemon exited' : `not after ${timeoutMs} ms`;
        throw new LabCommandError(`ashyq-probe daemon: ${what}`, `${problem}; last status: ${JSON.stringify(st)}`, tail);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** SIGTERM and wait for the exit (SIGKILL only past the daemon's own stop bound). */
  async stop(): Promise<void> {
    await stopService(this.start.pidFile, STOP_GRACE_MS);
  }

  get running(): boolean {
    return alive(this.pid);
  }
}

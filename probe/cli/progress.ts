// Progress display on stderr while a run is under way: a live line on a terminal, plain lines otherwise.
import type { ProgressEvent } from '../engine/options.js';

export function progressReporter(stream: NodeJS.WriteStream): (event: ProgressEvent) => void {
  const tty = stream.isTTY === true;
  return (event) => {
    if (event.type === 'remeasure') {
      const text = `measuring ${event.targets.length} again (a failure packet loss can cause): ${event.targets.map((t) => t.id).join(', ')}`;
      stream.write(tty ? `\r\x1b[2K${text}\n` : `${text}\n`);
      return;
    }
    if (event.type !== 'target-done') return;
    // Verdicts are final only once the canaries are judged, so progress names the target alone.
    const text = `[${event.done}/${event.total}] measured ${event.target.id}`;
    if (tty) {
      stream.write(`\r\x1b[2K${text}`);
      if (event.done === event.total) stream.write('\r\x1b[2K');
    } else {
      stream.write(`${text}\n`);
    }
  };
}

// Preloaded (node --import) into a benchmarked process: at exit, writes its resource usage as JSON
// to the file named by ASHYQ_USAGE_FILE (peak RSS, CPU of the process and of its main thread).
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.env.ASHYQ_USAGE_FILE;

/** CPU seconds of this process's main thread (Linux /proc), or null. */
function mainThreadCpu() {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return null;
  }
}

if (file !== undefined && file !== '') {
  process.once('exit', () => {
    const usage = process.resourceUsage();
    writeFileSync(file, JSON.stringify({ maxRssMb: usage.maxRSS / 1024, cpu: (usage.userCPUTime + usage.systemCPUTime) / 1e6, mainCpu: mainThreadCpu() }));
  });
}

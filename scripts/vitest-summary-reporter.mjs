// Vitest reporter for scripts/test.mjs: writes the run's test counts, failures and skip reasons as JSON to $ASHYQ_VITEST_SUMMARY.
import { writeFileSync } from 'node:fs';

/** A console line that says why tests skip: "SKIPPING tests that need a real influxd: …", "*** test/lab SKIPPED: …". */
const SKIP_LINE = /\bSKIPP(?:ING|ED)\b/;

export default class SummaryReporter {
  /** Console output by the id of the task (module, suite or test) that wrote it. */
  #logs = new Map();
  #unattributed = [];

  onUserConsoleLog(log) {
    if (typeof log.content !== 'string') return;
    const lines = log.content.split('\n').map((l) => l.replace(/^\s*\*+\s*/, '').trim()).filter((l) => SKIP_LINE.test(l));
    if (lines.length === 0) return;
    if (log.taskId === undefined) this.#unattributed.push(...lines);
    else this.#logs.set(log.taskId, [...(this.#logs.get(log.taskId) ?? []), ...lines]);
  }

  onTestRunEnd(testModules, unhandledErrors, reason) {
    const out = process.env.ASHYQ_VITEST_SUMMARY;
    if (out === undefined || out === '') return;
    const counts = { files: testModules.length, failedFiles: 0, tests: 0, passed: 0, failed: 0, skipped: 0, todo: 0 };
    const failures = [];
    const skips = [];
    for (const mod of testModules) {
      const file = mod.relativeModuleId;
      const reasons = new Set(this.#logs.get(mod.id) ?? []);
      for (const suite of mod.children.allSuites()) for (const l of this.#logs.get(suite.id) ?? []) reasons.add(l);
      const moduleErrors = mod.errors();
      if (moduleErrors.length > 0 || mod.state() === 'failed') counts.failedFiles += 1;
      for (const e of moduleErrors) failures.push({ file, test: null, message: firstLine(e.message) });
      let skippedHere = 0;
      let testsHere = 0;
      for (const test of mod.children.allTests()) {
        testsHere += 1;
        counts.tests += 1;
        const r = test.result();
        for (const l of this.#logs.get(test.id) ?? []) reasons.add(l);
        if (r.state === 'passed') counts.passed += 1;
        else if (r.state === 'failed') {
          counts.failed += 1;
          failures.push({ file, test: test.fullName, message: firstLine(r.errors?.[0]?.message ?? '') });
        } else if (r.state === 'skipped') {
          if (test.options.mode === 'todo') counts.todo += 1;
          else {
            counts.skipped += 1;
            skippedHere += 1;
            if (r.note !== undefined && r.note !== '') reasons.add(r.note);
          }
        }
      }
      if (skippedHere > 0) skips.push({ file, skipped: skippedHere, of: testsHere, reasons: [...reasons] });
    }
    const summary = {
      reason,
      counts,
      failures,
      skips,
      unattributedSkipLines: this.#unattributed,
      unhandledErrors: unhandledErrors.map((e) => firstLine(e.message ?? String(e))),
    };
    writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  }
}

function firstLine(text) {
  const s = String(text ?? '').trim();
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

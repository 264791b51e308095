// Each ashyq-probe command's own help (`ashyq-probe <command> --help`): its usage line, what it does and its options.

const CONFIG_DEFAULT = 'the probe config in F (default: embedded defaults)';

export const COMMAND_HELP: Readonly<Record<string, string>> = {
  run: `usage: ashyq-probe run --once [--json] [--targets F] [--config F]

Measure every target once, print one line per target (its verdict and the time each layer took)
and exit. Progress goes to stderr, results to stdout. Nothing is spooled or uploaded (with a
collector in the config, the run only fetches its control evidence).

options:
  --once        required: one run, then exit
  --json        print one measurement (JSON) per line instead
  --targets F   use the target list in F (default: the config's, else the packaged targets.yaml)
  --config F    use ${CONFIG_DEFAULT}
  --help        print this text

exit status: 0 done, 1 the run failed, 2 bad usage or config, 130 interrupted
`,
  daemon: `usage: ashyq-probe daemon [--config F] [--json]

Measure every target on the config's schedule, keep every measurement on disk until the collector
acknowledged it, and upload in the background. Runs until SIGTERM or SIGINT, then stops within
about 20 s and exits 0. The log goes to stderr. When the collector answers that its operator
revoked this probe, the daemon says so once, stops uploading and measuring (the spool is kept) and
stays up, idle; its next start asks the collector again.

options:
  --config F    the probe config (state_dir, collector, schedule, spool, upload sections;
                default: embedded defaults, which only measure and spool)
  --json        log one JSON object per line (time, level, kind, msg); else, on a terminal, a
                readable line per run and per upload with a live progress line; under journald
                (JOURNAL_STREAM) one line per event with its syslog priority; otherwise plain
                timestamped lines, one per event and per measurement taken (ASHYQ_LOG=text,
                lines or json in the environment chooses one of them)
  --help        print this text

exit status: 0 stopped, 1 failed, 2 bad usage or config
`,
  setup: `usage: ashyq-probe setup INVITE [--config F] [--no-start]

One command after installing the package: decode the invite an operator gave you (from
\`ashyq-collector invite\`), check the collector through the key pinned in it (and say so when a
certificate is being intercepted), enroll this probe with it, write the config (the collector
section; every other setting and comment of an existing file kept; a new file is mode 0640), measure
every target once into the spool, and enable and start the ashyq-probe service. Without systemd it
says how to run the daemon instead. Nothing is written when the collector cannot be enrolled with.

options:
  --config F    the probe config to write (default: /etc/ashyq/probe.yaml)
  --no-start    do not enable or start the service
  --help        print this text

exit status: 0 set up, 1 failed (the reason is printed), 2 bad usage, a bad invite or config
`,
  uninstall: `usage: ashyq-probe uninstall [--config F] [--yes]

Stop and disable the service, then remove this probe's identity and spool (its state_dir) and its
config, after asking (and saying how many measurements were never uploaded). The program itself is
removed by the package manager (sudo apt purge ashyq-probe).

options:
  --config F    the probe config (default: /etc/ashyq/probe.yaml)
  --yes         remove without asking (needed when there is no terminal)
  --help        print this text

exit status: 0 removed or kept as answered, 1 failed, 2 bad usage or no terminal to ask on
`,
  join: `usage: ashyq-probe join INVITE --config F

Write the collector an operator's invite names (its URL, key pin and a single-use enrollment
secret, from \`ashyq-collector invite\`) into the probe config, keeping the rest of the file. The
daemon registers with it at its next start.

options:
  --config F    the probe config to write (required; created when absent, mode 0640)
  --help        print this text

exit status: 0 written, 1 failed, 2 bad usage, a bad invite or a config that is not YAML
`,
  status: `usage: ashyq-probe status [--json] [--config F]

Show the daemon's schedule, last run, spool, last upload and last error, from the status file in
its state directory; when the collector revoked this probe, when that was seen, the collector's
reason and what to do.

options:
  --config F    the probe config the daemon runs with (to find its state_dir)
  --json        print the status file as JSON
  --help        print this text

exit status: 0 running, 3 not running, 4 never ran with that state directory, 2 bad usage or config
`,
};

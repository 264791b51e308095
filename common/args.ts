// The complaints of node:util's argument parser, in the command lines' own words ("unknown option --x").

/** What was wrong with the arguments, from an error parseArgs threw. */
export function argsProblem(err: unknown): string {
  const e = err as Error & { code?: string };
  const name = /'(?:-\w, )?(--?[^' ,<]+)/.exec(e.message ?? '')?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && name !== undefined) return `unknown option ${name}`;
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && name !== undefined) {
    return /argument missing/.test(e.message) ? `${name} needs a value` : `${name} takes no value`;
  }
  return e.message ?? String(err);
}

// Configuration and profile errors: they name the offending field path and make the CLI exit 2.
import type { ZodError } from 'zod';

export class ConfigError extends Error {
  /** Dotted field path, e.g. `phases[2].rate` or `transport.port`; '' for the document itself. */
  readonly fieldPath: string;
  /** The file the bad value came from, when there is one. */
  readonly file: string | undefined;
  constructor(fieldPath: string, message: string, file?: string) {
    const where = (file ? `${file}: ` : '') + (fieldPath ? `${fieldPath}: ` : '');
    super(`${where}${message}`);
    this.name = 'ConfigError';
    this.fieldPath = fieldPath;
    this.file = file;
  }
}

/** Renders a zod issue path the way users write it: `a.b[0].c`. */
export function formatFieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/** Turns the first issue of a zod error into a ConfigError naming its field. */
export function configErrorFromZod(err: ZodError, file?: string): ConfigError {
  const issue = err.issues[0];
  if (!issue) return new ConfigError('', 'invalid configuration', file);
  let path = issue.path as PropertyKey[];
  let message = issue.message;
  // zod reports unknown keys on the parent object; name the key itself.
  if (issue.code === 'unrecognized_keys' && 'keys' in issue && Array.isArray(issue.keys) && issue.keys.length > 0) {
    path = [...path, String(issue.keys[0])];
    message = 'unknown key';
  }
  return new ConfigError(formatFieldPath(path), message, file);
}

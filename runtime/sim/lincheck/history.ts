// Client histories in Porcupine's operation shape, so a history recorded here can be cross-checked
// by other linearizability tools: { clientId, input, call, output, return }.
//
// An operation whose outcome is unknown (the client gave up, or the run ended first) carries
// `output: { unknown: true }` and `return: null`: it may or may not have taken effect, at any point
// after its call. JSON has no infinity; exporters that need a number substitute one (see
// toPorcupineJson).

export type KvInput =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string }
  | { readonly op: 'delete'; readonly key: string };

export type KvOutput =
  | { readonly ok: true } // put, delete
  | { readonly value: string | null } // get (null: key absent)
  | { readonly ok: boolean } // cas (true: swapped)
  | { readonly unknown: true };

export interface Operation {
  readonly clientId: number;
  readonly input: KvInput;
  /** Invocation time. Any monotonic clock works; only the order of call/return times matters. */
  readonly call: number;
  readonly output: KvOutput;
  /** Response time, or null when the outcome is unknown. */
  readonly return: number | null;
}

export function isUnknown(out: KvOutput): out is { unknown: true } {
  return (out as { unknown?: boolean }).unknown === true;
}

/** Records a history as operations are invoked and completed. */
export class HistoryRecorder {
  private readonly ops: {
    clientId: number;
    input: KvInput;
    call: number;
    output: KvOutput;
    ret: number | null;
  }[] = [];

  /** Returns a handle for complete(). */
  invoke(clientId: number, input: KvInput, time: number): number {
    this.ops.push({ clientId, input, call: time, output: { unknown: true }, ret: null });
    return this.ops.length - 1;
  }

  complete(handle: number, output: KvOutput, time: number): void {
    const op = this.ops[handle];
    if (!op) throw new Error(`unknown history handle ${handle}`);
    if (op.ret !== null) throw new Error(`operation ${handle} completed twice`);
    if (time < op.call) throw new Error(`operation ${handle} returns (${time}) before its call (${op.call})`);
    op.output = output;
    op.ret = time;
  }

  get size(): number {
    return this.ops.length;
  }

  /** The history so far; operations still pending are reported with an unknown outcome. */
  operations(): Operation[] {
    return this.ops.map((o) => ({ clientId: o.clientId, input: o.input, call: o.call, output: o.output, return: o.ret }));
  }
}

/**
 * JSON text of a history in Porcupine's shape. Unknown outcomes get `return` = one past the
 * largest time in the history, which makes them concurrent with everything after their call
 * (what Porcupine expects of an operation that never returned).
 */
export function toPorcupineJson(ops: readonly Operation[]): string {
  let maxTime = 0;
  for (const o of ops) maxTime = Math.max(maxTime, o.call, o.return ?? 0);
  const out = ops.map((o) => ({
    clientId: o.clientId,
    input: o.input,
    call: o.call,
    output: o.output,
    return: o.return ?? maxTime + 1,
  }));
  return JSON.stringify(out);
}

/** Parses a history (ours or Porcupine-shaped JSON), with a clear error for bad input. */
export function parseHistoryJson(text: string): Operation[] {
  const raw: unknown = JSON.parse(text);
  if (!Array.isArray(raw)) throw new Error('history: expected a JSON array of operations');
  return raw.map((r: unknown, i: number) => parseOperation(r, i));
}

function parseOperation(r: unknown, i: number): Operation {
  const where = `history[${i}]`;
  if (typeof r !== 'object' || r === null) throw new Error(`${where}: expected an object`);
  const o = r as Record<string, unknown>;
  if (typeof o.clientId !== 'number') throw new Error(`${where}.clientId: expected a number`);
  if (typeof o.call !== 'number') throw new Error(`${where}.call: expected a number`);
  const input = o.input as Record<string, unknown> | undefined;
  if (typeof input !== 'object' || input === null || typeof input.key !== 'string') {
    throw new Error(`${where}.input: expected { op, key, ... }`);
  }
  const str = (v: unknown, f: string): string => {
    if (typeof v !== 'string') throw new Error(`${where}.input.${f}: expected a string`);
    return v;
  };
  let parsedInput: KvInput;
  switch (input.op) {
    case 'put':
      parsedInput = { op: 'put', key: input.key, value: str(input.value, 'value') };
      break;
    case 'get':
      parsedInput = { op: 'get', key: input.key };
      break;
    case 'cas':
      parsedInput = {
        op: 'cas',
        key: input.key,
        expected: input.expected === null ? null : str(input.expected, 'expected'),
        value: str(input.value, 'value'),
      };
      break;
    case 'delete':
      parsedInput = { op: 'delete', key: input.key };
      break;
    default:
      throw new Error(`${where}.input.op: expected put, get, cas or delete`);
  }
  const out = o.output as Record<string, unknown> | undefined;
  if (typeof out !== 'object' || out === null) throw new Error(`${where}.output: expected an object`);
  let output: KvOutput;
  if (out.unknown === true) output = { unknown: true };
  else if (parsedInput.op === 'get') {
    if (!('value' in out) || (out.value !== null && typeof out.value !== 'string')) {
      throw new Error(`${where}.output.value: expected a string or null`);
    }
    output = { value: out.value as string | null };
  } else {
    if (typeof out.ok !== 'boolean') throw new Error(`${where}.output.ok: expected a boolean`);
    output = parsedInput.op === 'cas' ? { ok: out.ok } : { ok: true };
  }
  const ret = o.return;
  if (ret !== null && typeof ret !== 'number') throw new Error(`${where}.return: expected a number or null`);
  if (typeof ret === 'number' && ret < o.call) throw new Error(`${where}: returns before its call`);
  return { clientId: o.clientId, input: parsedInput, call: o.call, output, return: isUnknown(output) ? null : (ret as number) };
}

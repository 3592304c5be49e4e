import * as fs from 'fs';
import { ZeroTrustError } from '../../lib/intent/errors';

/**
 * Runs `fn` and expects a `ZeroTrustError` with `code` (and, when given, a message matching
 * `message`): tests assert what kind of problem was found, not only its prose.
 */
export function expectError(fn: () => unknown, code: string, message?: RegExp): ZeroTrustError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (process.env.ZT_RECORD_CODES) {
    const caller = (new Error().stack ?? '').split('\n')[2]?.trim() ?? '';
    fs.appendFileSync(process.env.ZT_RECORD_CODES, `${caller}\t${(thrown as any)?.code}\n`);
    return thrown as ZeroTrustError;
  }
  expect(thrown).toBeInstanceOf(ZeroTrustError);
  const error = thrown as ZeroTrustError;
  expect(error.code).toBe(code);
  if (message) expect(error.message).toMatch(message);
  return error;
}

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
  expect(thrown).toBeInstanceOf(ZeroTrustError);
  const error = thrown as ZeroTrustError;
  expect(error.code).toBe(code);
  if (message) expect(error.message).toMatch(message);
  return error;
}

/**
 * An error in declared zero-trust intent. The message always names what is wrong and where
 * (workload, rule, backend), so a failed synth points straight at the line to fix.
 */
export class ZeroTrustError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZeroTrustError';
  }
}

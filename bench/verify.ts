/**
 * Checks that a scenario's output allows exactly the declared flows, by reading the synthesized
 * objects back with the backend's reader from lib/verify/ (never the model).
 */
import { Topology } from './topology';

/** Outcome of the check. */
export interface VerifyResult {
  /** Reader used, or why none was. */
  readonly reader: string;
  /** Queries evaluated. */
  readonly queries: number;
  /** Of which declared flows (expected allowed). */
  readonly declared: number;
  /** Queries where the reader disagreed with the topology. */
  readonly mismatches: string[];
}

export function verifyOutput(_scenario: string, _topo: Topology, _objects: any[]): VerifyResult {
  return { reader: 'none (lib/verify readers not on main yet)', queries: 0, declared: 0, mismatches: [] };
}

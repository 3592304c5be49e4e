/** The allowed connections of a universe under a backend, for reports and the CLI. */
import { compareStrings } from './inventory';
import { Universe, queries } from './universe';
import { PolicyEvaluator } from './types';

/** One allowed connection. */
export interface AllowedFlow {
  /** Source endpoint id. */
  readonly source: string;
  /** Destination endpoint id. */
  readonly destination: string;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
  /** The objects that allowed it. */
  readonly reasons: string[];
}

/** Every allowed query of the universe, sorted by source, destination, port, protocol. */
export function allowedFlows(evaluator: PolicyEvaluator, universe: Universe): AllowedFlow[] {
  const out: AllowedFlow[] = [];
  for (const q of queries(universe)) {
    const d = evaluator.evaluate(q);
    if (d.allowed) out.push({ source: q.source.id, destination: q.destination.id, port: q.port, protocol: q.protocol, reasons: d.reasons });
  }
  return out.sort((a, b) => compareStrings(a.source, b.source) || compareStrings(a.destination, b.destination) || a.port - b.port || compareStrings(a.protocol, b.protocol));
}

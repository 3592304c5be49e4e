/**
 * The vocabulary of the readers in `lib/verify/`: they take synthesized manifests (never the
 * model) and answer whether one endpoint may reach another on a port, and why.
 */

/** One YAML document with where it came from. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; namespace?: string; labels?: { [key: string]: string }; annotations?: { [key: string]: string } };
  readonly [field: string]: any;
}

/** A manifest and its origin, for error messages (`dist/istio/production.k8s.yaml#3`). */
export interface SourcedManifest {
  readonly manifest: Manifest;
  readonly file: string;
  /** 0-based index of the document in the file. */
  readonly index: number;
}

/** A container port of a pod endpoint. */
export interface EndpointPort {
  readonly name?: string;
  readonly number: number;
  readonly protocol: 'TCP' | 'UDP';
}

/** Something that can send or receive traffic. */
export interface Endpoint {
  /** Stable id: `production/hero` for a workload, `ingress-nginx/*` for a namespace probe, `ip:203.0.113.1`, `fqdn:api.example.com`. */
  readonly id: string;
  readonly kind: 'pod' | 'ip' | 'fqdn';
  /** Pod namespace. */
  readonly namespace?: string;
  /** Labels of the pod's namespace (always includes `kubernetes.io/metadata.name`). */
  readonly namespaceLabels?: { [key: string]: string };
  /** Namespace annotations (Linkerd reads its policy defaults there). */
  readonly namespaceAnnotations?: { [key: string]: string };
  /** Pod labels. */
  readonly labels?: { [key: string]: string };
  /** Pod annotations. */
  readonly annotations?: { [key: string]: string };
  /** ServiceAccount the pod runs as. */
  readonly serviceAccount?: string;
  /** Container ports (for named ports and mesh Servers). */
  readonly ports?: EndpointPort[];
  /** Name of the workload object the pod belongs to, when it came from the manifests. */
  readonly workload?: string;
  /** IP address of an `ip` endpoint. */
  readonly ip?: string;
  /** Host name of an `fqdn` endpoint. */
  readonly host?: string;
}

/** One connection attempt. */
export interface Query {
  readonly source: Endpoint;
  readonly destination: Endpoint;
  readonly port: number;
  readonly protocol: 'TCP' | 'UDP';
  /**
   * The request, for L7-capable backends. Absent: a plain connection, which is allowed when a
   * connection can be opened at all (some request would pass; an L7 proxy then judges each one).
   */
  readonly http?: { readonly method: string; readonly path: string };
}

/** Which layer of the data path gave an effect: a backend's policy layer, or the intent itself (`IntentEvaluator`). */
export type DecisionLayer = 'networkpolicy' | 'istio' | 'linkerd' | 'cilium' | 'kuma' | 'nsm' | 'intent';

/** What one step of a decision did to the connection. */
export type DecisionVerdict =
  /** The step let the connection through (a rule matched, or nothing restricts it here). */
  | 'allow'
  /** The step refused the connection. */
  | 'deny'
  /** A note that decided nothing itself (which port a layer sees, which waypoint a Service uses). */
  | 'info';

/** An object of the manifests that gave an effect, named as the manifest names it. */
export interface DecidingObject {
  readonly kind: string;
  /** Absent for cluster-scoped objects (CiliumClusterwideNetworkPolicy). */
  readonly namespace?: string;
  readonly name: string;
  /** The rule of the object that matched, as a list of its spec and an index: `{ list: 'ingress', index: 0 }` is `spec.ingress[0]`. */
  readonly rule?: { readonly list: string; readonly index: number };
}

/** One step of a decision: a layer's verdict, the objects that gave it, and the sentence that says so. */
export interface DecisionEffect {
  readonly layer: DecisionLayer;
  readonly verdict: DecisionVerdict;
  /** The objects the sentence names, in its order; empty when no object decided (no policy selects the pod). */
  readonly objects: readonly DecidingObject[];
  /** The sentence of `Decision.reasons` this effect renders as. */
  readonly detail: string;
  /**
   * True when an earlier effect already speaks for this one in the prose, which then leaves it
   * out: the Istio reader sums up a network hop it passed in one line
   * (`networkpolicy a -> b:15008/TCP: allowed`) and folds the network layer's own effects.
   */
  readonly folded?: boolean;
  /**
   * True on the effect of a policy in audit or dry-run (Istio `istio.io/dry-run`, Linkerd `audit`)
   * that would have denied the connection: it is allowed only because the policy is audited, and
   * enforcing the chart closes it ("would be denied").
   */
  readonly audited?: boolean;
}

/** The answer to a query, with the steps that decided it. */
export interface Decision {
  readonly allowed: boolean;
  /** Every step, in the order the reasons tell them; a reader composed over another layer includes that layer's effects. */
  readonly effects: readonly DecisionEffect[];
  /** The prose: the `detail` of each effect that is not folded (`NetworkPolicy production/hero-ingress allows ingress (...)`). */
  readonly reasons: string[];
}

/** A decision whose reasons are rendered from its effects. */
export function decision(allowed: boolean, effects: readonly DecisionEffect[]): Decision {
  // One loop, no intermediate array: readers decide millions of queries for a report.
  const reasons: string[] = [];
  for (const e of effects) if (!e.folded) reasons.push(e.detail);
  return { allowed, effects, reasons };
}

/** `NetworkPolicy production/hero-ingress`; `CiliumClusterwideNetworkPolicy allow-dns` for a cluster-scoped object. */
export function objectName(o: DecidingObject): string {
  return `${o.kind} ${o.namespace !== undefined ? `${o.namespace}/` : ''}${o.name}`;
}

/** A backend's semantics over a set of manifests. */
export interface PolicyEvaluator {
  /** Backend id (`networkpolicy`, `istio`, ...). */
  readonly backend: string;
  evaluate(query: Query): Decision;
}

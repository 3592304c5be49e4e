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

/** The answer to a query, with the objects that decided it (`NetworkPolicy production/hero-ingress`). */
export interface Decision {
  readonly allowed: boolean;
  readonly reasons: string[];
}

/** A backend's semantics over a set of manifests. */
export interface PolicyEvaluator {
  /** Backend id (`networkpolicy`, `istio`, ...). */
  readonly backend: string;
  evaluate(query: Query): Decision;
}

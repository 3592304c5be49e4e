/**
 * What the review and the CLI need to know of a backend, from the YAML side: how to recognise its
 * objects, how to build its reader, which parties it treats as enrolled, which deviations from the
 * plain intent its docs promise, and which namespaces are its own machinery. One descriptor per
 * backend (`lib/verify/backends/<backend>.ts`), listed once in `lib/verify/backends/index.ts`.
 * Descriptors import readers only, never renderers: the reader stays an independent check.
 */
import { BackendId } from '../../intent/backend';
import { IntentOptions } from '../expected';
import { IstioEvaluatorOptions } from '../istio';
import { KumaEvaluatorOptions } from '../kuma';
import { LinkerdEvaluatorOptions } from '../linkerd';
import { NAMESPACE_NAME_LABEL } from '../inventory';
import { NetworkPolicyEvaluator } from '../networkpolicy';
import { DecidingObject, DecisionEffect, Endpoint, Manifest, PolicyEvaluator, Query } from '../types';
import { NamedParty } from './parties';

/** Mesh families: backends of one family share objects (Istio sidecar and ambient). */
export type BackendFamily = 'networkpolicy' | 'istio' | 'linkerd' | 'cilium' | 'kuma' | 'nsm';

/** What a reader is built from. */
export interface ReaderInputs {
  /** The manifests, as plain objects. */
  readonly objects: Manifest[];
  /** The NetworkPolicy layer of the manifests, when the reader should be composed with it. */
  readonly networkLayer?: NetworkPolicyEvaluator;
  /** Namespaces the manifests do not define whose pods run in the mesh. */
  readonly enrolledNamespaces: readonly string[];
  /** Settings of the mesh where they are not the readers' defaults. */
  readonly settings: ReaderSettings;
}

/**
 * Settings of the mesh the manifests were rendered for, where they are not the defaults (an
 * Istio trust domain, a Kuma mesh created elsewhere, ...).
 */
export interface ReaderSettings {
  readonly istio?: Pick<IstioEvaluatorOptions, 'rootNamespace' | 'clusterDomain' | 'trustDomain'>;
  readonly linkerd?: Pick<LinkerdEvaluatorOptions, 'identityDomain' | 'controlPlaneNamespace'>;
  readonly kuma?: Pick<KumaEvaluatorOptions, 'systemNamespace' | 'meshes'>;
}

/** Options of a backend's intent semantics. */
export interface DeviationOptions {
  /** Namespaces the manifests do not define that run in the mesh. */
  readonly enrolledNamespaces: readonly string[];
  /** Linkerd control-plane namespace. */
  readonly linkerdControlPlaneNamespace?: string;
}

/** One backend as the readers see it. */
export interface ReaderBackend {
  /** Backend id. */
  readonly id: BackendId;
  /** The family whose objects this backend's manifests hold. */
  readonly family: BackendFamily;
  /**
   * What makes an object part of this family (`CiliumNetworkPolicy production/hero`,
   * `Namespace production (linkerd.io/inject)`), or undefined. NetworkPolicies belong to no family:
   * beside a mesh they are its L3/L4 layer.
   */
  recognise(m: Manifest): string | undefined;
  /**
   * Among the backends of one family, whether the manifests are this one's (Istio ambient: a
   * namespace in ambient mode). A family's backend without it is the family's default.
   */
  selects?(objects: readonly Manifest[]): boolean;
  /** Whether the backend keeps a NetworkPolicy layer under its own policies. */
  readonly keepsNetworkLayer: boolean;
  /** The backend's reader over the manifests. */
  reader(inputs: ReaderInputs): PolicyEvaluator;
  /**
   * A pod endpoint of a namespace the manifests do not define, marked as enrolled in the mesh with
   * what the reader looks at; the endpoint unchanged where the backend needs no enrolment.
   */
  enrol(endpoint: Endpoint, objects: readonly Manifest[]): Endpoint;
  /** The intent semantics the backend promises: the plain ones plus the deviations its docs state. */
  intentOptions(options: DeviationOptions): IntentOptions;
  /** Namespaces of the backend's own machinery (control plane, identity), never taken to be enrolled. */
  readonly infrastructureNamespaces: readonly string[];
  /**
   * The mTLS column: whether an allowed pod-to-pod TCP connection must be mutually authenticated,
   * given the effects of the decision that allowed it. Every backend answers; one that never
   * authenticates says so explicitly (`neverMtls`).
   */
  mtls(objects: Manifest[]): MtlsOf;
  /** Whether the mTLS answer reads the decision's effects (the others ignore them, so the report need not keep them). */
  readonly mtlsReadsEffects: boolean;
  /**
   * The parties the backend's own objects name by who they are (an Istio principal, a Linkerd
   * identity, a Cilium endpoint selector, Kuma tags), for the probe universe. NetworkPolicy
   * selectors are the universe's own (every backend may keep that layer), so plain NetworkPolicy
   * and NSM name none here.
   */
  parties(objects: readonly Manifest[]): NamedParty[];
  /**
   * What the backend's reports must say beside the rows, beyond what the rows show (NSM: clients
   * have no stable name for the endpoint). None when absent.
   */
  notes?(objects: readonly Manifest[]): BackendNote[];
}

/** A note a backend adds to reports (`reviewNotes`, kind `backend`). */
export interface BackendNote {
  /** The row name the note is about (`prod/hero`). */
  readonly party: string;
  /** What a table cell adds after the name. */
  readonly mark: string;
  /** The sentence. */
  readonly text: string;
}

/** Whether an allowed query requires mTLS, given the effects of the reader's decision that allowed it. */
export type MtlsOf = (q: Query, effects: readonly DecisionEffect[]) => boolean;

/** The mTLS answer of a backend that never authenticates connections (NetworkPolicy, NSM). */
export const neverMtls = (): MtlsOf => () => false;

/** The manifests, indexed by kind and name and by kind and namespace (the mTLS column is asked once per row). */
export class ManifestIndex {
  private readonly byName = new Map<string, Manifest[]>();
  private readonly byNamespace = new Map<string, Manifest[]>();

  public constructor(public readonly all: Manifest[]) {
    for (const o of all) {
      for (const [m, key] of [[this.byName, `${o.kind}\0${o.metadata.name}`], [this.byNamespace, `${o.kind}\0${o.metadata.namespace}`]] as const) {
        const l = m.get(key);
        if (l) l.push(o);
        else m.set(key, [o]);
      }
    }
  }

  /** Objects of a kind named `name`, in manifest order. */
  public named(kind: string, name: string): readonly Manifest[] {
    return this.byName.get(`${kind}\0${name}`) ?? [];
  }

  /** Objects of a kind in a namespace, in manifest order. */
  public inNamespace(kind: string, namespace: string | undefined): readonly Manifest[] {
    return this.byNamespace.get(`${kind}\0${namespace}`) ?? [];
  }
}

/** The manifest of `apiGroup` an effect names, if it is among the objects (a cluster-scoped reference matches by name). */
export function findManifest(objects: ManifestIndex, ref: DecidingObject, apiGroup: string): Manifest | undefined {
  return objects.named(ref.kind, ref.name).find((o) => o.apiVersion.startsWith(`${apiGroup}/`)
    && (ref.namespace === undefined || o.metadata.namespace === ref.namespace));
}

/** The objects named by the Linkerd or Cilium effects that allowed the connection. */
export function allowingObjects(effects: readonly DecisionEffect[], layer: 'linkerd' | 'cilium'): DecidingObject[] {
  return effects.filter((e) => e.layer === layer && e.verdict === 'allow').flatMap((e) => e.objects);
}



/** The API group of an object (`cilium.io`), empty for the core group. */
export function apiGroup(m: Manifest): string {
  return m.apiVersion.includes('/') ? m.apiVersion.split('/')[0] : '';
}

/** `Kind ns/name`, how detection names an object. */
export function describeObject(m: Manifest): string {
  return `${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}`;
}

/** True for a core `Namespace` object. */
export function isNamespace(m: Manifest): boolean {
  return m.apiVersion === 'v1' && m.kind === 'Namespace';
}

const POD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'];

/** The pod template of a workload object (or the pod itself), if it has one. */
export function podTemplate(m: Manifest): { metadata?: any; spec?: any } | undefined {
  if (m.kind === 'Pod') return { metadata: m.metadata, spec: m.spec };
  if (m.kind === 'CronJob') return m.spec?.jobTemplate?.spec?.template;
  return POD_KINDS.includes(m.kind) ? m.spec?.template : undefined;
}

/** The endpoint with extra namespace labels (and its namespace name label), as a namespace that enrols it would have. */
export function withNamespaceLabels(endpoint: Endpoint, labels: { [key: string]: string }): Endpoint {
  return { ...endpoint, namespaceLabels: { ...(endpoint.namespaceLabels ?? {}), ...labels, [NAMESPACE_NAME_LABEL]: endpoint.namespace ?? 'default' } };
}

/** Namespaces of the cluster's own machinery, whatever the backend. */
export const CLUSTER_NAMESPACES = ['kube-system', 'kube-public', 'kube-node-lease'];

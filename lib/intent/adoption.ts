/**
 * Checks of what a `SecureWorkload` is given, made where it is constructed: the props' shapes as
 * a plain JavaScript caller may pass them, the image, and the cdk8s-plus workload it adopts (in
 * its own namespace, adopted once).
 */
import { ApiObject } from 'cdk8s';
import { IConstruct } from 'constructs';
import { ZeroTrustError } from './errors';
import { shown } from './names';

const ADOPTED = new WeakMap<object, string>();

/** Throws unless `props` has the shapes `SecureWorkloadProps` declares (for callers without types). */
export function checkWorkloadProps(props: any, where: string, workload: string): void {
  const fail = (message: string) => new ZeroTrustError({ code: 'INVALID_ARGUMENT', workload, message: `${where}: ${message}` });
  if (typeof props !== 'object' || props === null || Array.isArray(props)) throw fail(`expected props { image or workload, ports?, ... }, got ${shown(props)}`);
  if (props.ports !== undefined && !Array.isArray(props.ports)) throw fail(`ports must be an array of Port (Port.http(8080), ...), got ${shown(props.ports)}`);
  if (props.podLabels !== undefined && (typeof props.podLabels !== 'object' || props.podLabels === null || Array.isArray(props.podLabels))) {
    throw fail(`podLabels must be an object of label keys to string values, got ${shown(props.podLabels)}`);
  }
  for (const k of ['name', 'serviceAccountName', 'image'] as const) {
    if (props[k] !== undefined && typeof props[k] !== 'string') throw fail(`${k} must be a string, got ${shown(props[k])}`);
  }
  for (const k of ['service'] as const) {
    if (props[k] !== undefined && typeof props[k] !== 'boolean') throw fail(`${k} must be true or false, got ${shown(props[k])}`);
  }
  if (props.image !== undefined) checkImage(props.image, where, workload);
}

/** Throws unless `image` could name a container image: not empty, no whitespace or control characters. */
function checkImage(image: string, where: string, workload: string): void {
  if (image.length === 0 || /[\s\x00-\x1f\x7f]/.test(image) || image !== image.trim()) {
    throw new ZeroTrustError({
      code: 'INVALID_IMAGE', workload,
      message: `${where}: image ${JSON.stringify(image)} is not a container image reference (${image.length === 0 ? 'it is empty' : 'it contains whitespace or control characters'})`,
    });
  }
}

/**
 * Throws when the cdk8s-plus workload `adopted` cannot be secured by `owner`: it lives in another
 * namespace (its pods would stay open while the policies go to the chart's namespace), in another
 * app, or another SecureWorkload adopted it already (the second name label would replace the
 * first's, so the first's flows would match no pod).
 */
export function checkAdoption(owner: IConstruct, adopted: IConstruct, namespace: string, where: string, workload: string): void {
  if (typeof adopted !== 'object' || adopted === null || typeof (adopted as any).node !== 'object') {
    throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', workload, message: `${where}: workload must be a cdk8s-plus-27 Deployment, StatefulSet or DaemonSet, got ${shown(adopted)}` });
  }
  if (adopted.node.root !== owner.node.root) {
    throw new ZeroTrustError({ code: 'ADOPTED_WORKLOAD_ELSEWHERE', workload, message: `${where}: the adopted workload ${adopted.node.path} belongs to another cdk8s App, whose output this app's policies do not reach` });
  }
  let theirs: string | undefined;
  try {
    theirs = ApiObject.of(adopted).metadata.namespace;
  } catch {
    throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', workload, message: `${where}: workload ${adopted.node.path} is not a cdk8s-plus workload (it has no ApiObject)` });
  }
  if (theirs !== namespace) {
    throw new ZeroTrustError({
      code: 'ADOPTED_WORKLOAD_ELSEWHERE', namespace, workload,
      message: `${where}: the adopted workload ${adopted.node.path} is in ${theirs === undefined ? 'no namespace (its chart sets none, so it lands in whatever namespace it is applied to)' : `namespace "${theirs}"`}, but its policies, Service and identity would be emitted in "${namespace}", leaving its pods unprotected; define it in this ZeroTrustChart (or a chart with namespace "${namespace}")`,
    });
  }
  const first = ADOPTED.get(adopted);
  if (first !== undefined) {
    throw new ZeroTrustError({
      code: 'WORKLOAD_ADOPTED_TWICE', namespace, workload,
      message: `${where}: the cdk8s-plus workload ${adopted.node.path} is already secured by SecureWorkload ${first}; a second one would overwrite its selector label, so the flows of ${first} would match no pod. Adopt each workload once`,
    });
  }
  ADOPTED.set(adopted, workload);
}

import { ZeroTrustError } from './errors';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const IANA_SVC_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** `"x"` for a string, the type for anything else: how a wrong value is shown in messages. */
export function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/** Throws unless `value` is a DNS-1123 label (namespaces, ServiceAccounts, object names). */
export function checkDnsLabel(value: string, what: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 63 || !DNS1123_LABEL.test(value)) {
    throw new ZeroTrustError({ code: 'INVALID_NAME', message: `${what} ${typeof value === 'string' ? `"${value}"` : shown(value)} is not a valid DNS-1123 label (lowercase letters, digits and '-', 1-63 characters, starting and ending with a letter or digit)` });
  }
}

/** Throws unless `value` is a DNS-1035 label, as Kubernetes requires of Service names (it must start with a letter). */
export function checkDns1035Label(value: string, what: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 63 || !DNS1035_LABEL.test(value)) {
    throw new ZeroTrustError({ code: 'INVALID_SERVICE_NAME', message: `${what} "${value}" is not a valid DNS-1035 label, which a Service name must be (lowercase letters, digits and '-', 1-63 characters, starting with a letter and ending with a letter or digit)` });
  }
}

/** Throws unless `value` is a DNS-1123 subdomain (every dot-separated label at most 63 characters). */
export function checkDnsSubdomain(value: string, what: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 253 || !DNS1123_SUBDOMAIN.test(value) || value.split('.').some((l) => l.length > 63)) {
    throw new ZeroTrustError({ code: 'INVALID_NAME', message: `${what} ${typeof value === 'string' ? `"${value}"` : shown(value)} is not a valid DNS-1123 subdomain (lowercase labels of letters, digits and '-' separated by dots, each at most 63 characters, 253 in all)` });
  }
}

/** Throws unless `key` is a valid Kubernetes label key (optional DNS prefix, then a name of up to 63 characters). */
function checkLabelKey(key: string, what: string): void {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) {
    if (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) {
      throw new ZeroTrustError({ code: 'INVALID_LABEL', message: `${what}: label key "${key}" has an invalid prefix (must be a DNS-1123 subdomain)` });
    }
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    throw new ZeroTrustError({ code: 'INVALID_LABEL', message: `${what}: label key "${key}" is invalid (name part: 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric)` });
  }
}

/** Throws unless `value` is a valid Kubernetes label value (may be empty). */
function checkLabelValue(value: string, what: string): void {
  if (typeof value !== 'string' || value.length > 63 || (value.length > 0 && !LABEL_NAME.test(value))) {
    throw new ZeroTrustError({ code: 'INVALID_LABEL', message: `${what}: label value ${typeof value === 'string' ? `"${value}"` : shown(value)} is invalid (a string of up to 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric)` });
  }
}

/** Throws unless `labels` is a plain object whose every key and value is valid. */
export function checkLabels(labels: { [key: string]: string }, what: string): void {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) {
    throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `${what}: expected an object of label keys to string values, got ${shown(labels)}` });
  }
  for (const [k, v] of Object.entries(labels)) {
    checkLabelKey(k, what);
    checkLabelValue(v, what);
  }
}

/** Throws unless `name` is an IANA service name, as Kubernetes requires for container and Service port names. */
export function checkPortName(name: string, what: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 15 || !IANA_SVC_NAME.test(name) || name.includes('--') || !/[a-z]/.test(name)) {
    throw new ZeroTrustError({ code: 'INVALID_PORT', message: `${what}: port name ${typeof name === 'string' ? `"${name}"` : shown(name)} is invalid (1-15 lowercase letters, digits and '-', at least one letter, no '--', not starting or ending with '-')` });
  }
}

/** Labels and annotations a mesh reserves on pods and namespaces: exact keys, and key prefixes. */
export interface ReservedKeys {
  /** Exact keys. */
  readonly keys: readonly string[];
  /** Key prefixes (`traffic.sidecar.istio.io/`). */
  readonly prefixes?: readonly string[];
  /** Pod ports the mesh's proxy listens on or passes by (a workload may not declare them). */
  readonly ports?: readonly number[];
}

/** The reserved key `key` is, or undefined. */
export function reservedKey(key: string, reserved: ReservedKeys | undefined): string | undefined {
  if (!reserved) return undefined;
  if (reserved.keys.includes(key)) return key;
  return reserved.prefixes?.find((p) => key.startsWith(p));
}

import { ZeroTrustError } from './errors';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const IANA_SVC_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Throws unless `value` is a DNS-1123 label (namespaces, Services, ServiceAccounts). */
export function checkDnsLabel(value: string, what: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 63 || !DNS1123_LABEL.test(value)) {
    throw new ZeroTrustError(`${what} "${value}" is not a valid DNS-1123 label (lowercase letters, digits and '-', 1-63 characters, starting and ending with a letter or digit)`);
  }
}

/** Throws unless `value` is a DNS-1123 subdomain. */
export function checkDnsSubdomain(value: string, what: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 253 || !DNS1123_SUBDOMAIN.test(value)) {
    throw new ZeroTrustError(`${what} "${value}" is not a valid DNS-1123 subdomain`);
  }
}

/** Throws unless `key` is a valid Kubernetes label key (optional DNS prefix, then a name of up to 63 characters). */
export function checkLabelKey(key: string, what: string): void {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined) {
    if (prefix.length === 0 || prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix)) {
      throw new ZeroTrustError(`${what}: label key "${key}" has an invalid prefix (must be a DNS-1123 subdomain)`);
    }
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    throw new ZeroTrustError(`${what}: label key "${key}" is invalid (name part: 1-63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric)`);
  }
}

/** Throws unless `value` is a valid Kubernetes label value (may be empty). */
export function checkLabelValue(value: string, what: string): void {
  if (typeof value !== 'string' || value.length > 63 || (value.length > 0 && !LABEL_NAME.test(value))) {
    throw new ZeroTrustError(`${what}: label value "${value}" is invalid (up to 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric)`);
  }
}

/** Throws unless every key and value of `labels` is valid. */
export function checkLabels(labels: { [key: string]: string }, what: string): void {
  for (const [k, v] of Object.entries(labels)) {
    checkLabelKey(k, what);
    checkLabelValue(v, what);
  }
}

/** Throws unless `name` is an IANA service name, as Kubernetes requires for container and Service port names. */
export function checkPortName(name: string, what: string): void {
  if (name.length === 0 || name.length > 15 || !IANA_SVC_NAME.test(name) || name.includes('--') || !/[a-z]/.test(name)) {
    throw new ZeroTrustError(`${what}: port name "${name}" is invalid (1-15 lowercase letters, digits and '-', at least one letter, no '--', not starting or ending with '-')`);
  }
}

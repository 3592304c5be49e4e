import { checkDnsLabel, checkLabels } from './names';
import { normalizeCidr, parseCidr } from './cidr';

/** The description of the cluster DNS that renderers read. */
export interface DnsSpec {
  /** Namespace of the DNS pods (pod-selected DNS). */
  readonly namespace?: string;
  /** Labels of the DNS pods (pod-selected DNS). */
  readonly labels?: { [key: string]: string };
  /** Address range of the DNS server (IP-addressed DNS such as NodeLocal DNSCache). */
  readonly cidr?: string;
}

/** Where workloads resolve names; every default-deny namespace keeps egress to it open on UDP and TCP 53. */
export class Dns {
  /** CoreDNS / kube-dns pods: namespace `kube-system`, label `k8s-app: kube-dns` (the default). */
  public static kubeDns(): Dns {
    return new Dns({ namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } });
  }

  /** NodeLocal DNSCache, which listens on a link-local address on every node. */
  public static nodeLocal(address: string = '169.254.20.10'): Dns {
    return new Dns({ cidr: normalizeCidr(parseCidr(`${address}/${address.includes(':') ? 128 : 32}`, 'Dns.nodeLocal')) });
  }

  /** DNS pods selected by namespace and labels. */
  public static pods(namespace: string, labels: { [key: string]: string }): Dns {
    checkDnsLabel(namespace, 'Dns.pods namespace');
    checkLabels(labels, 'Dns.pods');
    return new Dns({ namespace, labels: { ...labels } });
  }

  private constructor(public readonly spec: DnsSpec) {}
}

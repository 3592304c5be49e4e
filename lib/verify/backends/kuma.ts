import { KUMA_DP_PORTS, KumaEvaluator, KumaMtls } from '../kuma';
import { Manifest } from '../types';
import { NamedParty, eachObject } from './parties';
import { CLUSTER_NAMESPACES, ReaderBackend, apiGroup, describeObject, isNamespace, withNamespaceLabels } from './descriptor';

const INJECTION_LABEL = 'kuma.io/sidecar-injection';
const MESH_LABEL = 'kuma.io/mesh';

/** Kuma: `kuma.io` objects or the injection label on a Namespace. */
export const kumaBackend: ReaderBackend = {
  id: 'kuma',
  family: 'kuma',
  recognise: (m) => {
    const group = apiGroup(m);
    if (group === 'kuma.io' || group.endsWith('.kuma.io')) return describeObject(m);
    const injection = m.metadata.labels?.[INJECTION_LABEL];
    if (isNamespace(m) && injection !== undefined && injection !== 'disabled' && injection !== 'false') return `${describeObject(m)} (${INJECTION_LABEL})`;
    return undefined;
  },
  keepsNetworkLayer: true,
  reader: ({ objects, networkLayer, settings }) => new KumaEvaluator(objects, { ...settings.kuma, ...(networkLayer ? { networkPolicy: networkLayer } : {}) }),
  // Enrolled in the mesh the app's namespaces name (`default` when none says).
  enrol: (endpoint, objects) => {
    const mesh = objects.filter(isNamespace).map((n) => n.metadata.labels?.[MESH_LABEL]).find((x) => x !== undefined) ?? 'default';
    return withNamespaceLabels(endpoint, { [INJECTION_LABEL]: 'enabled', [MESH_LABEL]: mesh });
  },
  // kuma-dp reaches the control plane itself; app traffic to it leaves the mesh and meets passthrough None.
  intentOptions: ({ enrolledNamespaces }) => ({
    meshedNamespaces: [...enrolledNamespaces], tcpDnsBlocked: true, meshWideStrictMtls: true, permissiveAdmitsPlaintext: true, plaintextProxyPorts: [...KUMA_DP_PORTS],
  }),
  infrastructureNamespaces: [...CLUSTER_NAMESPACES, 'kuma-system'],
  // Required when the destination is a member of a mesh whose mTLS is STRICT and no MeshTLS makes it Permissive,
  // except on the ports kuma-dp serves itself (metrics, probe proxy), which are plaintext.
  mtlsReadsEffects: false,
  parties: (objects) => kumaParties(objects),
  mtls: (objects) => {
    const kuma = new KumaEvaluator(objects);
    return (q) => {
      if (q.protocol === 'TCP' && KUMA_DP_PORTS.has(q.port)) return false;
      const member = kuma.membership(q.destination);
      return member !== undefined && kuma.mtlsAt(q.destination, member.mesh) === KumaMtls.STRICT;
    };
  },
};

const KUMA_NS_TAG = 'k8s.kuma.io/namespace';

/** Tags of `MeshSubset`/`MeshServiceSubset` target references: the pod labels and namespace they ask for (`kuma.io/` tags name no label). */
function kumaParties(objects: readonly Manifest[]): NamedParty[] {
  const out: NamedParty[] = [];
  for (const m of objects) {
    const group = m.apiVersion.split('/')[0];
    if (group !== 'kuma.io' && !group.endsWith('.kuma.io')) continue;
    eachObject(m.spec, (o) => {
      if ((o.kind !== 'MeshSubset' && o.kind !== 'MeshServiceSubset') || typeof o.tags !== 'object' || o.tags === null) return;
      const labels: { [key: string]: string } = {};
      let namespace: string | undefined;
      for (const [k, v] of Object.entries(o.tags)) {
        if (typeof v !== 'string') continue;
        if (k === KUMA_NS_TAG) namespace = v;
        else if (!k.startsWith('kuma.io/') && !k.startsWith('k8s.kuma.io/')) labels[k] = v;
      }
      out.push({ ...(namespace !== undefined ? { namespace } : {}), labels });
    });
  }
  return out;
}

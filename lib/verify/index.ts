export * from './types';
export { ManifestError, AnyManifest, parseManifests, loadManifests, manifestOf, originOf } from './manifests';
export { Inventory, NamespaceInfo, NAMESPACE_NAME_LABEL, WORKLOAD_KINDS, inventory, implicitNamespace, podEndpoint } from './inventory';
export { NetworkPolicyEvaluator, CompiledPolicy, LabelSelector, compileNetworkPolicies, selectorMatches, ipInBlock, endpointIp, isNetworkPolicy } from './networkpolicy';
export { Universe, UniversePort, PROBE_LABEL, OUTSIDER_NAMESPACE, probeUniverse, queries, portsFor, probeIps, labelsSatisfying } from './universe';
export { IntentOptions, Mismatch, intentAllows, endpointMatches, flowPortMatches, compareWithIntent, describeQuery, describeMismatch } from './expected';
export { AllowedFlow, allowedFlows } from './flows';

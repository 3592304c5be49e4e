export * from './intent/chart';
export * from './intent/dns';
export * from './intent/peer';
export * from './intent/port';
export * from './intent/rules';
export * from './intent/workload';
export * from './meshes/mesh';
export { NetworkPolicyMeshProps } from './meshes/networkpolicy';
export * from './meshes/nsm/props';

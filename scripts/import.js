#!/usr/bin/env node
/**
 * Regenerates `imports/*.ts` with `cdk8s import` from the upstream CRDs the project emits.
 * CRD files are located with scripts/crds.js (CRD_DIR, ../shared/crds or .cache/crds).
 * Each CRD gets its own module name (`NAME:=file`) so files of the same API group do not
 * overwrite each other. Linkerd CRDs are Helm templates upstream: a cleaned temp copy is imported.
 *
 * Usage: node scripts/import.js   (npm run import)
 */
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { resolveCrdDir, cleanHelmTemplate } = require('./crds');

const REPO_ROOT = path.resolve(__dirname, '..');
const OUTPUT = 'imports';

/** module name -> CRD file (relative to the CRD dir) */
const IMPORTS = {
  'istio-security-authorizationpolicies': 'istio/security.istio.io_authorizationpolicies.yaml',
  'istio-security-peerauthentications': 'istio/security.istio.io_peerauthentications.yaml',
  'istio-networking-sidecars': 'istio/networking.istio.io_sidecars.yaml',
  'istio-networking-serviceentries': 'istio/networking.istio.io_serviceentries.yaml',
  'gateway-api-gateways': 'gateway-api/gateway.networking.k8s.io_gateways.yaml',
  'gateway-api-httproutes': 'gateway-api/gateway.networking.k8s.io_httproutes.yaml',
  'linkerd-policy-servers': 'linkerd/server.yaml',
  'linkerd-policy-authorizationpolicies': 'linkerd/authorization-policy.yaml',
  'linkerd-policy-meshtlsauthentications': 'linkerd/meshtls-authentication.yaml',
  'linkerd-policy-networkauthentications': 'linkerd/network-authentication.yaml',
  'linkerd-policy-httproutes': 'linkerd/httproute.yaml',
  'linkerd-policy-egressnetworks': 'linkerd/egress-network.yaml',
  'cilium-networkpolicies': 'cilium/ciliumnetworkpolicies.yaml',
  'cilium-clusterwidenetworkpolicies': 'cilium/ciliumclusterwidenetworkpolicies.yaml',
  'kuma-meshes': 'kuma/kuma.io_meshes.yaml',
  'kuma-meshtrafficpermissions': 'kuma/kuma.io_meshtrafficpermissions.yaml',
  'kuma-meshpassthroughs': 'kuma/kuma.io_meshpassthroughs.yaml',
  'nsm-networkservices': 'nsm/crd-ns.yaml',
  'spire-clusterspiffeids': 'spire/spire.spiffe.io_clusterspiffeids.yaml',
};

function main() {
  const crdDir = resolveCrdDir();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk8s-import-'));
  const cli = path.join(REPO_ROOT, 'node_modules', '.bin', 'cdk8s');
  // `cdk8s import` appends every spec (with absolute, temp paths) to cdk8s.yaml `imports:`; keep it unchanged
  const configFile = path.join(REPO_ROOT, 'cdk8s.yaml');
  const config = fs.existsSync(configFile) ? fs.readFileSync(configFile, 'utf8') : undefined;
  try {
    const specs = Object.entries(IMPORTS).map(([name, rel]) => {
      let file = path.join(crdDir, rel);
      if (rel.startsWith('linkerd/')) {
        const cleaned = path.join(tmp, path.basename(rel));
        fs.writeFileSync(cleaned, cleanHelmTemplate(fs.readFileSync(file, 'utf8')));
        file = cleaned;
      }
      return `${name}:=${file}`;
    });
    for (const spec of specs) {
      console.error(`cdk8s import ${spec}`);
      execFileSync(cli, ['import', spec, '--language', 'typescript', '--output', OUTPUT], {
        cwd: REPO_ROOT,
        stdio: 'inherit',
      });
    }
  } finally {
    if (config !== undefined) fs.writeFileSync(configFile, config);
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

module.exports = { IMPORTS };

if (require.main === module) {
  try {
    main();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
}

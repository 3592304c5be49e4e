/** FLOWS.md beside synthesized manifests. */
import * as fs from 'fs';
import * as path from 'path';
import { LoadManifestsOptions, ManifestError, loadManifests } from '../verify/manifests';
import { SourcedManifest } from '../verify/types';
import { readerOf } from './backend';
import { NotedMatrix, formatFlowsMarkdown } from './format';
import { flowMatrix } from './matrix';
import { reviewNotes } from './notes';
import { enforcementMarkdown, intentBeside, markWeakenedRows } from './weakened';
import { onceFor } from './universe';

/** Options of `writeFlowsMarkdown`. */
export interface FlowsFileOptions {
  /** Backend id; detected from the objects when absent. */
  readonly backend?: string;
  /** Page title. @default the backend (the mesh the manifests are read as) */
  readonly title?: string;
  /** Documents of files this process wrote, to skip parsing them (see `loadManifests`). */
  readonly documentsOf?: LoadManifestsOptions['documentsOf'];
  /**
   * Subfolders of `dir` whose files are the app's too (cdk8s's folder-per-chart output); other
   * subfolders are not read, as `kubectl apply -f <dir>` does not read them.
   * @default []
   */
  readonly subfolders?: readonly string[];
}

/** The matrix of a set of manifests with the notes of its report (assumed parties, hostNetwork pods). */
export function notedMatrix(manifests: readonly SourcedManifest[], backend?: string): NotedMatrix {
  // The reader's enrolled namespaces and the matrix's universe read the manifests' mentions once.
  return onceFor(manifests, () => {
    const chosen = readerOf(manifests, backend);
    const matrix = flowMatrix(manifests, { backend: chosen.backend, evaluator: chosen.evaluator });
    return { ...matrix, notes: reviewNotes(manifests, chosen.backend, chosen.enrolledNamespaces) };
  });
}

/**
 * Reads the manifests of `dir` (its own files, and those of `subfolders`), writes `dir/FLOWS.md`,
 * returns its path. A folder with no manifest of its own is refused with a `ManifestError` that
 * names its subfolders (a folder of per-mesh folders is read one folder at a time).
 */
export function writeFlowsMarkdown(dir: string, options: FlowsFileOptions = {}): string {
  const manifests = [dir, ...(options.subfolders ?? []).map((s) => path.join(dir, s))]
    .flatMap((d) => loadManifests(d, { documentsOf: options.documentsOf }));
  if (manifests.length === 0) {
    const subfolders = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    throw new ManifestError(`${dir}: no Kubernetes objects in its *.yaml, *.yml or *.json files${subfolders.length > 0 ? ` (its subfolders ${subfolders.join(', ')} are not read: write FLOWS.md into each)` : ''}`);
  }
  const file = path.join(dir, 'FLOWS.md');
  // Flows enforced in a weaker form than declared (Weaken) are marked, and summed up, from the intent file beside the manifests.
  const intent = intentBeside(dir);
  const weakened = intent?.flows.some((f) => f.weakened?.length) ? intent : undefined;
  const matrix = notedMatrix(manifests, options.backend);
  fs.writeFileSync(file, formatFlowsMarkdown(weakened ? markWeakenedRows(matrix, weakened) : matrix, options.title) + (weakened ? enforcementMarkdown(weakened) : ''));
  return file;
}

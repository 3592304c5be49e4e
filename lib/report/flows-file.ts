/** FLOWS.md beside synthesized manifests. */
import * as fs from 'fs';
import * as path from 'path';
import { LoadManifestsOptions, loadManifests } from '../verify/manifests';
import { formatFlowsMarkdown } from './format';
import { flowMatrix } from './matrix';

/** Options of `writeFlowsMarkdown`. */
export interface FlowsFileOptions {
  /** Backend id; detected from the objects when absent. */
  readonly backend?: string;
  /** Page title. @default the folder's name */
  readonly title?: string;
  /** Documents of files this process wrote, to skip parsing them (see `loadManifests`). */
  readonly documentsOf?: LoadManifestsOptions['documentsOf'];
}

/** Reads the YAML of `dir`, writes `dir/FLOWS.md`, returns its path. */
export function writeFlowsMarkdown(dir: string, options: FlowsFileOptions = {}): string {
  const manifests = loadManifests(dir, { documentsOf: options.documentsOf });
  const matrix = flowMatrix(manifests, { backend: options.backend });
  const file = path.join(dir, 'FLOWS.md');
  fs.writeFileSync(file, formatFlowsMarkdown(matrix, options.title ?? path.basename(path.resolve(dir))));
  return file;
}

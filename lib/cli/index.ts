/**
 * `cdk8s-zero-trust`: reads synthesized manifests back and reports the flows they allow.
 * Exit codes: 0 ok, 1 a finding (connection denied, flows added, intent mismatch), 2 usage or
 * input error (the message names the file and document). Heavy modules load per command.
 */
import * as fs from 'fs';
import * as path from 'path';
import { parseArgs } from 'util';

/** Where the CLI writes. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const NAME = 'cdk8s-zero-trust';

/** An error the user can fix: printed without a stack, exit code 2. */
class UsageError extends Error {
  constructor(message: string, public readonly help?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const MAIN_HELP = `Usage: ${NAME} <command> [options]

Read synthesized Kubernetes manifests back (any YAML: synthesized, edited by hand or from
elsewhere) and report the network flows they allow under the mesh they are written for.

Commands:
  flows <dir>                  List the allowed flows (table, json, mermaid, dot, svg, markdown)
  explain <dir>                Say whether one connection is allowed, and which objects decided it
  diff <old-dir> <new-dir>     Flows added and removed between two versions (exit 1 if any added)
  verify <dir>                 Check the manifests against the intent file synth wrote beside them

Options:
  -h, --help                   Show help
  -V, --version                Show the version number

Run '${NAME} <command> --help' for the options of a command.

<dir> is a folder or one file, read as 'kubectl apply -f <dir>' reads it: the folder's *.yaml,
*.yml and *.json files (its subfolders too with -R), JSON or YAML 1.1 (merge keys, 010 is 8),
every List expanded. What kubectl would read otherwise, or what cannot be read safely (a FIFO,
a device, a link out of the folder, a file past --max-bytes, SCTP ports, a field of the wrong
type), is refused with exit code 2 and the file and document named.
The backend is detected from the objects unless --backend is given.

Exit codes:
  0  success
  1  a finding: connection denied (explain), flows added (diff), intent mismatch (verify)
  2  usage error or unreadable input
`;

const BACKEND_HELP = '  -b, --backend <id>           Backend to read the manifests as (default: detected)';
const INPUT_HELP = `  -R, --recursive              Read the subfolders too, as kubectl apply -R does
      --max-bytes <size>       Largest manifest file read (default 64MiB; k, M, G suffixes)
      --max-total-bytes <size> Most bytes read in all (default 128MiB)
      --ignore-sctp            Read manifests with SCTP ports, leaving SCTP out (default: refuse them)`;

const HELP: { [command: string]: string } = {
  flows: `Usage: ${NAME} flows <dir> [options]

List every connection the manifests allow from or to a workload they define.

Options:
${BACKEND_HELP}
  -f, --format <format>        table (default), json, mermaid, dot, svg, markdown
  -o, --output <file>          Write to a file instead of standard output
${INPUT_HELP}
  -h, --help                   Show help

Parties the manifests do not define (the cluster DNS, peer namespaces taken to run in the mesh)
are marked (assumed), and hostNetwork pods (hostNetwork), with a note under the table.

Examples:
  ${NAME} flows dist/istio
  ${NAME} flows dist/istio --format svg --output flows.svg
`,
  explain: `Usage: ${NAME} explain <dir> --from <endpoint> --to <endpoint>:<port> [options]

Say whether one connection is allowed, with the reasons and the objects that decided it.
Exit code 0 when allowed, 1 when denied.

Endpoints: ns/workload (a workload of the manifests; ns/Kind/workload when objects of two
kinds share the name), ns/* (any pod of a namespace), ip:<address>, fqdn:<host>.

Options:
      --from <endpoint>        Source
      --to <endpoint>:<port>   Destination and port
      --protocol <TCP|UDP>     Transport protocol (default: TCP; SCTP is not modelled)
      --method <method>        HTTP method of the request (with --path)
      --path <path>            HTTP path of the request (with --method)
${BACKEND_HELP}
${INPUT_HELP}
  -h, --help                   Show help

Example:
  ${NAME} explain dist/istio --from production/hero --to production/lil-deebee:5432
`,
  diff: `Usage: ${NAME} diff <old-dir> <new-dir> [options]

Flows added and removed between two versions of the manifests, as Markdown for a pull-request
comment. A flow whose L7 rule or mTLS requirement changed counts as removed and added; a
port opened to every port is added as 'any (was <ports>)', its earlier ports not listed as
removed. Every cell is escaped, so no name can break out of the table.
Exit code 1 when any flow was added (a CI gate), 0 otherwise.

Options:
  -f, --format <format>        markdown (default), json
${BACKEND_HELP.replace('(default: detected)', 'for both folders (default: detected in each)')}
${INPUT_HELP}
  -h, --help                   Show help

Example:
  git worktree add ../base origin/main && ${NAME} diff ../base/dist/istio dist/istio
`,
  verify: `Usage: ${NAME} verify <dir> [options]

Check that the manifests allow exactly what the intent file declares: no more, no less.
Exit code 1, with every difference listed, when they disagree.

Options:
  -i, --intent <file>          Intent file (default: <dir>/zero-trust.intent.json)
${BACKEND_HELP.replace('(default: detected)', '(default: the intent\'s, else detected)')}
${INPUT_HELP}
  -h, --help                   Show help
`,
};

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  try {
    return await run(argv, io);
  } catch (e) {
    const err = e as Error;
    const detection = err?.name === 'BackendDetectionError' || err?.constructor?.name === 'BackendDetectionError';
    const known = detection || isKnown(err);
    const hint = detection && !/--backend/.test(err.message) ? ' (--backend <id>)' : '';
    io.stderr(`${NAME}: ${known ? `${err.message}${hint}` : `internal error: ${err?.message ?? String(e)}`}\n`);
    if (err instanceof UsageError && err.help) io.stderr(`\n${err.help}`);
    if (!known && process.env.CDK8S_ZERO_TRUST_DEBUG) io.stderr(`${err?.stack}\n`);
    return 2;
  }
}

function defaultIo(): CliIo {
  return { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help' || command === 'help') {
    if (command === 'help' && rest[0] && HELP[rest[0]]) { io.stdout(HELP[rest[0]]); return 0; }
    io.stdout(MAIN_HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === '-V' || command === '--version') {
    io.stdout(`${version()}\n`);
    return 0;
  }
  const help = HELP[command];
  if (!help) throw new UsageError(`unknown command "${command}"`, MAIN_HELP);
  if (rest.includes('-h') || rest.includes('--help')) {
    io.stdout(help);
    return 0;
  }
  switch (command) {
    case 'flows': return flows(rest, io);
    case 'explain': return explainCommand(rest, io);
    case 'diff': return diff(rest, io);
    case 'verify': return verify(rest, io);
  }
  return 2;
}

function version(): string {
  return (require(path.join(__dirname, '..', '..', 'package.json')) as { version: string }).version;
}

type Options = Parameters<typeof parseArgs>[0] extends infer T ? T extends { options?: infer O } ? O : never : never;

function parse(command: string, args: string[], options: Options, positionals: string[]) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0].replace(/\. To specify a positional argument.*$/, ''), HELP[command]);
  }
  if (parsed.positionals.length !== positionals.length) {
    const what = parsed.positionals.length < positionals.length
      ? `missing ${positionals.slice(parsed.positionals.length).map((p) => `<${p}>`).join(' ')}`
      : `unexpected argument "${parsed.positionals[positionals.length]}"`;
    throw new UsageError(`${command}: ${what}`, HELP[command]);
  }
  return { values: parsed.values as Values, positionals: parsed.positionals };
}

const backendOption = { backend: { type: 'string', short: 'b' } } as const;
const inputOptions = {
  'recursive': { type: 'boolean', short: 'R' },
  'max-bytes': { type: 'string' },
  'max-total-bytes': { type: 'string' },
  'ignore-sctp': { type: 'boolean' },
} as const;

type Values = { [key: string]: string | boolean | undefined };

/** `64MiB`, `1G`, `500k`, `1048576` to bytes. */
function parseSize(text: string, flag: string, command: string): number {
  const m = /^(\d+)\s*(?:([kKmMgG])(?:i?B)?|B)?$/.exec(text.trim());
  const unit = m?.[2]?.toLowerCase();
  const n = m ? Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${command}: ${flag} ${text}: expected a size in bytes, such as 64MiB, 500k or 1048576`, HELP[command]);
  return n;
}

/** A loaded folder: its manifests and what was left out of them (SCTP ports, with --ignore-sctp). */
interface Loaded {
  readonly dir: string;
  readonly manifests: import('../verify/types').SourcedManifest[];
}

/** Reads a folder or file of manifests as kubectl does; errors name the file and document. */
function load(dir: string, values: Values, command: string, io: CliIo): Loaded {
  const { loadManifests, ManifestError, MANIFEST_EXTENSIONS } = require('../verify/manifests') as typeof import('../verify/manifests');
  if (!fs.existsSync(dir) && !isBrokenLink(dir)) throw new ManifestError(`${dir}: no such file or directory`);
  const ignored: string[] = [];
  const manifests = loadManifests(dir, {
    recursive: values.recursive === true,
    maxFileBytes: typeof values['max-bytes'] === 'string' ? parseSize(values['max-bytes'], '--max-bytes', command) : undefined,
    maxTotalBytes: typeof values['max-total-bytes'] === 'string' ? parseSize(values['max-total-bytes'], '--max-total-bytes', command) : undefined,
    sctp: values['ignore-sctp'] === true ? 'ignore' : 'refuse',
    onSctp: (where) => ignored.push(where),
  });
  for (const where of ignored) io.stderr(`${NAME}: warning: ${where} is SCTP, left out (--ignore-sctp): no SCTP flow is in the report\n`);
  if (manifests.length === 0) {
    const sub = fs.statSync(dir).isDirectory() && values.recursive !== true
      ? fs.readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()
      : [];
    const hint = sub.length > 0 ? `; its subfolders (${sub.join(', ')}) are read only with -R, and one folder per mesh is read one at a time` : '';
    throw new ManifestError(`${dir}: no Kubernetes objects found (looked for ${MANIFEST_EXTENSIONS.map((e) => `*${e}`).join(', ')} files, as kubectl apply -f does)${hint}`);
  }
  return { dir, manifests };
}

function isBrokenLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function reader(manifests: Loaded['manifests'], backend: string | undefined) {
  const { readerOf } = require('../report/backend') as typeof import('../report/backend');
  return readerOf(manifests, backend);
}

/** Warnings on standard error for what the report cannot vouch for: hostNetwork pods. */
function warnNotes(notes: readonly import('../report/notes').ReviewNote[], io: CliIo) {
  for (const n of notes) {
    if (n.kind === 'host-network') io.stderr(`${NAME}: warning: ${n.party} ${n.text}\n`);
    if (n.kind === 'no-namespace') io.stderr(`${NAME}: warning: ${n.text}\n`);
  }
}

/**
 * Runs `work` over the manifests; if a reader fails on a field of an unexpected type (a
 * TypeError, say), runs it again with the fields traced (lib/cli/trace.ts) and answers with a
 * ManifestError that names the file, document and field.
 */
function guarded<T>(manifests: Loaded['manifests'], work: (manifests: Loaded['manifests']) => T): T {
  try {
    // One report's steps (the reader's enrolled namespaces, the universe, the row names) read the manifests' mentions once.
    const { onceFor } = require('../report/universe') as typeof import('../report/universe');
    return onceFor(manifests, () => work(manifests));
  } catch (e) {
    // A field of an unexpected type shows as a TypeError ("x.map is not a function"); anything else is ours.
    if (isKnown(e) || !(e instanceof TypeError)) throw e;
    const { lastReadBeforeFailure, describeValue } = require('./trace') as typeof import('./trace');
    const traced = lastReadBeforeFailure(manifests, work);
    const last = traced?.last;
    if (!last) throw e;
    const { ManifestError } = require('../verify/manifests') as typeof import('../verify/manifests');
    const what = last.member !== undefined
      ? `${last.path || 'the object'} is ${describeValue(last.value)}, where the reader looked for ${/^\d+$/.test(last.member) ? `item ${last.member}` : `"${last.member}"`}`
      : `${last.path} is ${describeValue(last.value)}`;
    throw new ManifestError(`${last.where}: ${last.subject}: ${what}, which the reader cannot read (${(e as Error)?.message ?? String(e)}); check the field's type against the object's schema`);
  }
}

function isKnown(e: unknown): boolean {
  const err = e as Error;
  return err?.name === 'BackendDetectionError' || ['UsageError', 'ManifestError', 'ZeroTrustError'].includes(err?.name) || (err as NodeJS.ErrnoException)?.code !== undefined;
}

async function flows(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse('flows', args, { ...backendOption, ...inputOptions, format: { type: 'string', short: 'f' }, output: { type: 'string', short: 'o' } }, ['dir']);
  const report = require('../report') as typeof import('../report');
  const format = (values.format as string | undefined) ?? 'table';
  if (!(report.FLOW_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`flows: unknown format "${format}"; expected one of ${report.FLOW_FORMATS.join(', ')}`, HELP.flows);
  }
  const { manifests } = load(positionals[0], values, 'flows', io);
  const intent = report.intentBeside(positionals[0]);
  const matrix = guarded(manifests, (ms) => {
    const chosen = reader(ms, values.backend as string | undefined);
    const read = { ...report.flowMatrix(ms, { backend: chosen.backend, evaluator: chosen.evaluator }), notes: report.reviewNotes(ms, chosen.backend, chosen.enrolledNamespaces) };
    return intent ? report.markWeakenedRows(read, intent) : read;
  });
  warnNotes(matrix.notes, io);
  let text = format === 'svg' ? await report.formatSvg(matrix) : report.formatMatrix(matrix, format);
  if (intent && (format === 'table' || format === 'markdown')) text += report.enforcementMarkdown(intent);
  if (values.output) fs.writeFileSync(values.output as string, text);
  else io.stdout(text);
  return 0;
}

function explainCommand(args: string[], io: CliIo): number {
  const { values, positionals } = parse('explain', args, {
    ...backendOption, ...inputOptions,
    from: { type: 'string' }, to: { type: 'string' }, protocol: { type: 'string' }, method: { type: 'string' }, path: { type: 'string' },
  }, ['dir']);
  const from = values.from as string | undefined;
  const toText = values.to as string | undefined;
  if (!from) throw new UsageError('explain: --from is required', HELP.explain);
  if (!toText) throw new UsageError('explain: --to is required', HELP.explain);
  if ((values.method === undefined) !== (values.path === undefined)) throw new UsageError('explain: give --method and --path together', HELP.explain);
  const protocol = ((values.protocol as string | undefined) ?? 'TCP').toUpperCase();
  if (protocol === 'SCTP') {
    throw new UsageError('explain: --protocol SCTP: the readers do not model SCTP (manifests with SCTP ports are refused, or read without them with --ignore-sctp), so no SCTP connection can be explained; use TCP or UDP', HELP.explain);
  }
  if (protocol !== 'TCP' && protocol !== 'UDP') throw new UsageError(`explain: --protocol must be TCP or UDP, not "${values.protocol}"`, HELP.explain);
  const report = require('../report') as typeof import('../report');
  const { manifests } = load(positionals[0], values, 'explain', io);
  const to = report.splitPort(toText, '--to');
  const method = values.method as string | undefined;
  const e = guarded(manifests, (ms) => {
    const chosen = reader(ms, values.backend as string | undefined);
    const query = {
      source: report.resolveEndpoint(ms, from, '--from'),
      destination: report.resolveEndpoint(ms, to.endpoint, '--to'),
      port: to.port,
      protocol: protocol as 'TCP' | 'UDP',
      ...(method ? { http: { method: method.toUpperCase(), path: values.path as string } } : {}),
    };
    return { ...report.explain(ms, chosen.backend, chosen.evaluator, query), notes: report.reviewNotes(ms, chosen.backend, chosen.enrolledNamespaces) };
  });
  warnNotes(e.notes, io);
  io.stdout(report.formatExplanation(e));
  return e.decision.allowed ? 0 : 1;
}

function diff(args: string[], io: CliIo): number {
  const { values, positionals } = parse('diff', args, { ...backendOption, ...inputOptions, format: { type: 'string', short: 'f' } }, ['old-dir', 'new-dir']);
  const format = (values.format as string | undefined) ?? 'markdown';
  if (format !== 'markdown' && format !== 'json') throw new UsageError(`diff: unknown format "${format}"; expected markdown or json`, HELP.diff);
  const report = require('../report') as typeof import('../report');
  // Both versions over one universe: the parties either names (lib/report/matrix.ts, comparedWith).
  const loaded = positionals.map((dir) => load(dir, values, 'diff', io).manifests);
  const matrices = loaded.map((manifests, i) => {
    // Rows only a weakened flow allows are marked from the intent file beside them: a change of enforcement strength is a change.
    const intent = report.intentBeside(positionals[i]);
    return guarded(manifests, (ms) => {
      const chosen = reader(ms, values.backend as string | undefined);
      const comparedWith = loaded[1 - i];
      const read = { ...report.flowMatrix(ms, { backend: chosen.backend, evaluator: chosen.evaluator, comparedWith }), notes: report.reviewNotes(ms, chosen.backend, chosen.enrolledNamespaces) };
      return intent ? report.markWeakenedRows(read, intent) : read;
    });
  });
  const notes = mergeNotes(matrices[0].notes, matrices[1].notes);
  warnNotes(matrices[1].notes, io);
  const d = report.diffMatrices(matrices[0], matrices[1]);
  io.stdout(format === 'json' ? report.formatDiffJson(d, notes) : report.formatDiffMarkdown(d, positionals[0], positionals[1], notes));
  return d.added.length > 0 ? 1 : 0;
}

/** The notes of both sides of a diff, the new side's first, once per party and kind. */
function mergeNotes(before: readonly import('../report/notes').ReviewNote[], after: readonly import('../report/notes').ReviewNote[]) {
  const out = new Map<string, import('../report/notes').ReviewNote>();
  for (const n of [...after, ...before]) if (!out.has(`${n.kind}\u0000${n.party}`)) out.set(`${n.kind}\u0000${n.party}`, n);
  return [...out.values()];
}

function verify(args: string[], io: CliIo): number {
  const { values, positionals } = parse('verify', args, { ...backendOption, ...inputOptions, intent: { type: 'string', short: 'i' } }, ['dir']);
  const dir = positionals[0];
  const { INTENT_FILE_NAME, parseIntentDocument } = require('../intent/document') as typeof import('../intent/document');
  const intentFile = (values.intent as string | undefined) ?? path.join(fs.existsSync(dir) && fs.statSync(dir).isFile() ? path.dirname(dir) : dir, INTENT_FILE_NAME);
  if (!fs.existsSync(intentFile)) {
    throw new UsageError(`verify: no intent file ${intentFile}; write it at synth with ZeroTrustIntent.write(app), or pass --intent <file>`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(fs.readFileSync(intentFile, 'utf-8'));
  } catch (e) {
    throw new UsageError(`${intentFile}: not valid JSON: ${(e as Error).message}`);
  }
  const intent = parseIntentDocument(doc, intentFile);
  const report = require('../report') as typeof import('../report');
  const { manifests } = load(dir, values, 'verify', io);
  const { v, notes } = guarded(manifests, (ms) => {
    const chosen = reader(ms, (values.backend as string | undefined) ?? report.intentBackend(intent));
    return { v: report.verifyAgainstIntent(ms, chosen.backend, chosen.evaluator, intent, chosen.enrolledNamespaces), notes: report.reviewNotes(ms, chosen.backend, chosen.enrolledNamespaces) };
  });
  warnNotes(notes, io);
  io.stdout(report.formatVerification(v, dir, intentFile));
  return v.mismatches.length === 0 ? 0 : 1;
}

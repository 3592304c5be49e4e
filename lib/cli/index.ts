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

<dir> is a folder of *.yaml/*.yml files (read recursively) or one file.
The backend is detected from the objects unless --backend is given.

Exit codes:
  0  success
  1  a finding: connection denied (explain), flows added (diff), intent mismatch (verify)
  2  usage error or unreadable input
`;

const BACKEND_HELP = '  -b, --backend <id>           Backend to read the manifests as (default: detected)';

const HELP: { [command: string]: string } = {
  flows: `Usage: ${NAME} flows <dir> [options]

List every connection the manifests allow from or to a workload they define.

Options:
${BACKEND_HELP}
  -f, --format <format>        table (default), json, mermaid, dot, svg, markdown
  -o, --output <file>          Write to a file instead of standard output
  -h, --help                   Show help

Examples:
  ${NAME} flows dist/istio
  ${NAME} flows dist/istio --format svg --output flows.svg
`,
  explain: `Usage: ${NAME} explain <dir> --from <endpoint> --to <endpoint>:<port> [options]

Say whether one connection is allowed, with the reasons and the objects that decided it.
Exit code 0 when allowed, 1 when denied.

Endpoints: ns/workload (a workload of the manifests), ns/* (any pod of a namespace),
ip:<address>, fqdn:<host>.

Options:
      --from <endpoint>        Source
      --to <endpoint>:<port>   Destination and port
      --protocol <TCP|UDP>     Transport protocol (default: TCP)
      --method <method>        HTTP method of the request (with --path)
      --path <path>            HTTP path of the request (with --method)
${BACKEND_HELP}
  -h, --help                   Show help

Example:
  ${NAME} explain dist/istio --from production/hero --to production/lil-deebee:5432
`,
  diff: `Usage: ${NAME} diff <old-dir> <new-dir> [options]

Flows added and removed between two versions of the manifests, as Markdown for a pull-request
comment. A flow whose L7 rule or mTLS requirement changed counts as removed and added.
Exit code 1 when any flow was added (a CI gate), 0 otherwise.

Options:
  -f, --format <format>        markdown (default), json
${BACKEND_HELP.replace('(default: detected)', 'for both folders (default: detected in each)')}
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
    const known = detection || ['UsageError', 'ManifestError', 'ZeroTrustError'].includes(err?.name) || (err as NodeJS.ErrnoException)?.code !== undefined;
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
  return { values: parsed.values as { [key: string]: string | undefined }, positionals: parsed.positionals };
}

const backendOption = { backend: { type: 'string', short: 'b' } } as const;

/** Reads a folder or file of manifests; errors name the file and document. */
function load(dir: string) {
  const { loadManifests, ManifestError } = require('../verify/manifests') as typeof import('../verify/manifests');
  if (!fs.existsSync(dir)) throw new ManifestError(`${dir}: no such file or directory`);
  const manifests = loadManifests(dir);
  if (manifests.length === 0) throw new ManifestError(`${dir}: no Kubernetes objects found (looked for *.yaml and *.yml files)`);
  return manifests;
}

function reader(manifests: ReturnType<typeof load>, backend: string | undefined) {
  const { readerOf } = require('../report/backend') as typeof import('../report/backend');
  return readerOf(manifests, backend);
}

async function flows(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse('flows', args, { ...backendOption, format: { type: 'string', short: 'f' }, output: { type: 'string', short: 'o' } }, ['dir']);
  const report = require('../report') as typeof import('../report');
  const format = values.format ?? 'table';
  if (!(report.FLOW_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`flows: unknown format "${format}"; expected one of ${report.FLOW_FORMATS.join(', ')}`, HELP.flows);
  }
  const manifests = load(positionals[0]);
  const chosen = reader(manifests, values.backend);
  const matrix = report.flowMatrix(manifests, { backend: chosen.backend, evaluator: chosen.evaluator });
  const text = format === 'svg' ? await report.formatSvg(matrix) : report.formatMatrix(matrix, format, positionals[0]);
  if (values.output) fs.writeFileSync(values.output, text);
  else io.stdout(text);
  return 0;
}

function explainCommand(args: string[], io: CliIo): number {
  const { values, positionals } = parse('explain', args, {
    ...backendOption,
    from: { type: 'string' }, to: { type: 'string' }, protocol: { type: 'string' }, method: { type: 'string' }, path: { type: 'string' },
  }, ['dir']);
  if (!values.from) throw new UsageError('explain: --from is required', HELP.explain);
  if (!values.to) throw new UsageError('explain: --to is required', HELP.explain);
  if ((values.method === undefined) !== (values.path === undefined)) throw new UsageError('explain: give --method and --path together', HELP.explain);
  const protocol = (values.protocol ?? 'TCP').toUpperCase();
  if (protocol !== 'TCP' && protocol !== 'UDP') throw new UsageError(`explain: --protocol must be TCP or UDP, not "${values.protocol}"`, HELP.explain);
  const report = require('../report') as typeof import('../report');
  const manifests = load(positionals[0]);
  const chosen = reader(manifests, values.backend);
  const to = report.splitPort(values.to, '--to');
  const query = {
    source: report.resolveEndpoint(manifests, values.from, '--from'),
    destination: report.resolveEndpoint(manifests, to.endpoint, '--to'),
    port: to.port,
    protocol: protocol as 'TCP' | 'UDP',
    ...(values.method ? { http: { method: values.method.toUpperCase(), path: values.path! } } : {}),
  };
  const e = report.explain(manifests, chosen.backend, chosen.evaluator, query);
  io.stdout(report.formatExplanation(e));
  return e.decision.allowed ? 0 : 1;
}

function diff(args: string[], io: CliIo): number {
  const { values, positionals } = parse('diff', args, { ...backendOption, format: { type: 'string', short: 'f' } }, ['old-dir', 'new-dir']);
  const format = values.format ?? 'markdown';
  if (format !== 'markdown' && format !== 'json') throw new UsageError(`diff: unknown format "${format}"; expected markdown or json`, HELP.diff);
  const report = require('../report') as typeof import('../report');
  const matrices = positionals.map((dir) => {
    const manifests = load(dir);
    const chosen = reader(manifests, values.backend);
    return report.flowMatrix(manifests, { backend: chosen.backend, evaluator: chosen.evaluator });
  });
  const d = report.diffMatrices(matrices[0], matrices[1]);
  io.stdout(format === 'json' ? report.formatDiffJson(d) : report.formatDiffMarkdown(d, positionals[0], positionals[1]));
  return d.added.length > 0 ? 1 : 0;
}

function verify(args: string[], io: CliIo): number {
  const { values, positionals } = parse('verify', args, { ...backendOption, intent: { type: 'string', short: 'i' } }, ['dir']);
  const dir = positionals[0];
  const { INTENT_FILE_NAME, parseIntentDocument } = require('../intent/document') as typeof import('../intent/document');
  const intentFile = values.intent ?? path.join(fs.existsSync(dir) && fs.statSync(dir).isFile() ? path.dirname(dir) : dir, INTENT_FILE_NAME);
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
  const manifests = load(dir);
  const chosen = reader(manifests, values.backend ?? report.intentBackend(intent));
  const v = report.verifyAgainstIntent(manifests, chosen.backend, chosen.evaluator, intent, chosen.enrolledNamespaces);
  io.stdout(report.formatVerification(v, dir, intentFile));
  return v.mismatches.length === 0 ? 0 : 1;
}

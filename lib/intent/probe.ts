import { ZeroTrustError } from './errors';

/** Options of `Probe.fromHttpGet()`. */
export interface HttpGetProbeOptions {
  /**
   * The container port kubelet probes.
   * @default - the workload's first declared port
   */
  readonly port?: number;
  /**
   * Seconds after the container starts before the first probe.
   * @default - Kubernetes' default (0)
   */
  readonly initialDelaySeconds?: number;
  /**
   * Seconds between probes.
   * @default - Kubernetes' default (10)
   */
  readonly periodSeconds?: number;
  /**
   * Consecutive failures before the probe counts as failed.
   * @default - Kubernetes' default (3)
   */
  readonly failureThreshold?: number;
}

/**
 * A kubelet health probe of a created workload's container (`readiness`, `liveness`, `startup`
 * on `SecureWorkload`), as cdk8s-plus's `Probe.fromHttpGet()` spells it. The meshes read it: a
 * Linkerd Server with HTTP routes authorizes exactly these paths for kubelet.
 */
export class Probe {
  /** An HTTP GET of `path` on a container port; any 2xx or 3xx answer is success. */
  public static fromHttpGet(path: string, options: HttpGetProbeOptions = {}): Probe {
    if (typeof path !== 'string' || !path.startsWith('/') || /[\s?#]/.test(path)) {
      throw new ZeroTrustError({ code: 'INVALID_PROBE', message: `Probe.fromHttpGet: path ${JSON.stringify(path)} must be an absolute path without spaces, query or fragment` });
    }
    if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535)) {
      throw new ZeroTrustError({ code: 'INVALID_PROBE', message: `Probe.fromHttpGet: port ${options.port} is not a port number` });
    }
    return new Probe(path, options);
  }

  private constructor(
    /** The probed path. */
    public readonly path: string,
    private readonly options: HttpGetProbeOptions,
  ) {}

  /** The probed port, if given. */
  public get port(): number | undefined {
    return this.options.port;
  }

  /** The Kubernetes probe object for a container whose default port is `defaultPort`. @internal */
  public _toKube(defaultPort: number): any {
    const o = this.options;
    return {
      httpGet: { path: this.path, port: o.port ?? defaultPort },
      ...(o.initialDelaySeconds !== undefined ? { initialDelaySeconds: o.initialDelaySeconds } : {}),
      ...(o.periodSeconds !== undefined ? { periodSeconds: o.periodSeconds } : {}),
      ...(o.failureThreshold !== undefined ? { failureThreshold: o.failureThreshold } : {}),
    };
  }
}

/** A probe as the renderers see it: kubelet's HTTP GET of a path on a container port. */
export interface ProbeModel {
  /** Container port number. */
  readonly port: number;
  /** Probed path. */
  readonly path: string;
  /** `HTTP` or `HTTPS`. */
  readonly scheme: 'HTTP' | 'HTTPS';
}

/** The httpGet probes of a pod spec's containers (named ports resolved); other probe kinds are left out. */
export function probesOfPodSpec(podSpec: any): ProbeModel[] {
  const out = new Map<string, ProbeModel>();
  for (const c of podSpec?.containers ?? []) {
    for (const key of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      const get = c?.[key]?.httpGet;
      if (!get) continue;
      const port = typeof get.port === 'number' ? get.port
        : /^\d+$/.test(String(get.port)) ? Number(get.port)
          : (c.ports ?? []).find((p: any) => p.name === get.port)?.containerPort;
      if (typeof port !== 'number') continue;
      const probe: ProbeModel = { port, path: typeof get.path === 'string' && get.path ? get.path : '/', scheme: get.scheme === 'HTTPS' ? 'HTTPS' : 'HTTP' };
      out.set(`${probe.port} ${probe.scheme} ${probe.path}`, probe);
    }
  }
  return [...out.values()].sort((a, b) => a.port - b.port || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

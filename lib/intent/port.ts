import { ZeroTrustError } from './errors';
import { checkPortName, shown } from './names';

/** Transport protocol of a port. */
export enum Protocol {
  /** TCP. */
  TCP = 'TCP',
  /** UDP. */
  UDP = 'UDP',
}

/**
 * What speaks on a port. Meshes use it to choose L7 handling (Istio protocol selection, Linkerd
 * `proxyProtocol`); HTTP rules are only allowed on HTTP, HTTP2 and GRPC ports.
 */
export enum PortKind {
  /** Opaque TCP. */
  TCP = 'tcp',
  /** UDP datagrams. */
  UDP = 'udp',
  /** HTTP/1.1. */
  HTTP = 'http',
  /** HTTP/2 (cleartext). */
  HTTP2 = 'http2',
  /** gRPC. */
  GRPC = 'grpc',
}

/** Options of a custom port. */
export interface PortOptions {
  /** The port number, 1-65535. */
  readonly number: number;
  /** What speaks on the port. */
  readonly kind: PortKind;
  /**
   * The port name (IANA service name, at most 15 characters).
   * @default `<kind>-<number>`, for example `http-8080`
   */
  readonly name?: string;
  /**
   * Last port of a range starting at `number` (egress to external peers only).
   * @default - a single port
   */
  readonly endPort?: number;
}

/** A port a workload listens on, or a port a rule allows. */
export class Port {
  /** An opaque TCP port. */
  public static tcp(port: number, name?: string): Port {
    return new Port({ number: port, kind: PortKind.TCP, name });
  }

  /** A UDP port. */
  public static udp(port: number, name?: string): Port {
    return new Port({ number: port, kind: PortKind.UDP, name });
  }

  /** An HTTP/1.1 port; HTTP rules (methods, paths) may be declared on it. */
  public static http(port: number, name?: string): Port {
    return new Port({ number: port, kind: PortKind.HTTP, name });
  }

  /** A cleartext HTTP/2 port; HTTP rules may be declared on it. */
  public static http2(port: number, name?: string): Port {
    return new Port({ number: port, kind: PortKind.HTTP2, name });
  }

  /** A gRPC port; HTTP rules (method POST, paths `/package.Service/Method`) may be declared on it. */
  public static grpc(port: number, name?: string): Port {
    return new Port({ number: port, kind: PortKind.GRPC, name });
  }

  /** A TCP port range, for egress to IP blocks. */
  public static tcpRange(from: number, to: number): Port {
    return new Port({ number: from, kind: PortKind.TCP, endPort: to });
  }

  /** The port number. */
  public readonly number: number;
  /** What speaks on the port. */
  public readonly kind: PortKind;
  /** The port name. */
  public readonly name: string;
  /** Last port of a range, if this is a range. */
  public readonly endPort?: number;

  public constructor(options: PortOptions) {
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `new Port(): expected { number, kind, name?, endPort? }, got ${shown(options)}` });
    }
    checkPortNumber(options.number, 'port');
    if (!(Object.values(PortKind) as string[]).includes(options.kind)) {
      // An unknown kind (SCTP, say) would otherwise be rendered as TCP.
      throw new ZeroTrustError({ code: 'INVALID_PORT_KIND', message: `port ${options.number}: kind ${shown(options.kind)} is not one of ${Object.values(PortKind).join(', ')} (SCTP and other protocols are not secured by any backend here)` });
    }
    if (options.endPort !== undefined) {
      checkPortNumber(options.endPort, 'endPort');
      if (options.endPort < options.number) {
        throw new ZeroTrustError({ code: 'INVALID_PORT', message: `port range ${options.number}-${options.endPort} ends before it starts` });
      }
    }
    this.number = options.number;
    this.kind = options.kind;
    this.endPort = options.endPort;
    this.name = options.name ?? `${options.kind}-${options.number}`;
    checkPortName(this.name, `port ${options.number}`);
  }

  /** The transport protocol. */
  public get protocol(): Protocol {
    return this.kind === PortKind.UDP ? Protocol.UDP : Protocol.TCP;
  }

  /** True when HTTP rules can apply to this port. */
  public get speaksHttp(): boolean {
    return this.kind === PortKind.HTTP || this.kind === PortKind.HTTP2 || this.kind === PortKind.GRPC;
  }

  /** `5432/TCP`, `8080-8090/TCP`. */
  public toString(): string {
    return `${this.number}${this.endPort !== undefined ? `-${this.endPort}` : ''}/${this.protocol}`;
  }
}

function checkPortNumber(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw new ZeroTrustError({ code: 'INVALID_PORT', message: `${what} ${typeof n === 'number' ? n : shown(n)} is ${typeof n === 'number' ? 'outside 1-65535' : 'not a whole number in 1-65535'}` });
  }
}

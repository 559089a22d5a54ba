import { ConfidentialClientApplication, LogLevel, type Configuration } from '@azure/msal-node';
import type { AuthenticationProvider } from '@microsoft/microsoft-graph-client';
import type { HttpsTransport, MsalHttpsNetwork } from './transport';

/** How the app proves who it is to Entra ID. */
export type GraphCredential =
  | { kind: 'secret'; clientSecret: string }
  | {
      kind: 'certificate';
      /** Hex thumbprint of the certificate: SHA-256 (64 digits, preferred) or SHA-1 (40). */
      thumbprint: string;
      /** PEM private key of the certificate. */
      privateKey: string;
      /** PEM certificate (chain); sent as `x5c` for subject-name/issuer authentication. */
      certificate?: string;
    };

export interface GraphTokenOptions {
  tenantId: string;
  clientId: string;
  credential: GraphCredential;
  /** The Entra ID sign-in host, e.g. https://login.microsoftonline.com (national clouds differ). */
  authorityHost: string;
  /** The Graph endpoint the tokens are for; the scope is `<its origin>/.default`. */
  graphBaseUrl: string;
  /**
   * The authority's OpenID configuration (JSON). Given, MSAL asks the authority nothing but
   * tokens; otherwise it reads the configuration from the authority once.
   */
  authorityMetadata?: string;
  /** Carries the token and metadata requests. */
  transport: HttpsTransport;
  /** Warnings and errors from MSAL (never personal data). */
  onLog?: (level: 'error' | 'warn', message: string) => void;
}

/** Hosts MSAL knows as Entra ID authorities (public and national clouds). */
const ENTRA_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
  'login.microsoftonline.de',
]);

/** Getting a token failed; the message says why (never the credential). */
export class GraphTokenError extends Error {
  constructor(
    message: string,
    /** The authority's error code, e.g. `invalid_client`, when it gave one. */
    readonly errorCode?: string,
  ) {
    super(message);
    this.name = 'GraphTokenError';
  }
}

/**
 * App-only (client credentials) tokens for Microsoft Graph, from MSAL's
 * `ConfidentialClientApplication` with a client secret or a certificate. MSAL caches each
 * token and gets a new one shortly before it expires, so most calls cost no round trip.
 */
export class GraphTokenProvider implements AuthenticationProvider {
  readonly scope: string;
  readonly authority: string;
  private readonly app: ConfidentialClientApplication;
  private readonly network: MsalHttpsNetwork;

  constructor(options: GraphTokenOptions) {
    this.network = options.transport.msalNetwork();
    const authorityUrl = new URL(options.authorityHost);
    this.authority = `${authorityUrl.origin}/${options.tenantId}`;
    this.scope = `${new URL(options.graphBaseUrl).origin}/.default`;
    const c = options.credential;
    const config: Configuration = {
      auth: {
        clientId: options.clientId,
        authority: this.authority,
        ...(c.kind === 'secret'
          ? { clientSecret: c.clientSecret }
          : {
              clientCertificate: {
                ...(c.thumbprint.length === 64 ? { thumbprintSha256: c.thumbprint } : { thumbprint: c.thumbprint }),
                privateKey: c.privateKey,
                ...(c.certificate ? { x5c: c.certificate } : {}),
              },
            }),
        // Another host (a sovereign deployment, a test authority) must be named as known, or
        // MSAL would ask the public cloud's instance discovery about it.
        ...(ENTRA_AUTHORITY_HOSTS.has(authorityUrl.hostname) ? {} : { knownAuthorities: [authorityUrl.host] }),
        ...(options.authorityMetadata ? { authorityMetadata: options.authorityMetadata } : {}),
      },
      system: {
        networkClient: this.network,
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (level, message) => {
            if (level === LogLevel.Error) options.onLog?.('error', message);
            else if (level === LogLevel.Warning) options.onLog?.('warn', message);
          },
        },
      },
    };
    this.app = new ConfidentialClientApplication(config);
  }

  /** A valid access token for Graph, from MSAL's cache when it has one. */
  async getAccessToken(): Promise<string> {
    let result;
    try {
      result = await this.app.acquireTokenByClientCredential({ scopes: [this.scope] });
    } catch (e) {
      const err = e as { errorCode?: string; errorMessage?: string; message?: string };
      const cause = err.errorCode === 'network_error' ? this.network.lastFailure : undefined;
      const detail = (cause ?? (err.errorMessage || err.message || String(e))).split('\n')[0]!.slice(0, 400);
      throw new GraphTokenError(
        `Could not get a Microsoft Graph token from ${this.authority}: ${err.errorCode ? `${err.errorCode}: ` : ''}${detail}`,
        err.errorCode,
      );
    }
    if (!result?.accessToken) throw new GraphTokenError(`${this.authority} returned no access token`);
    return result.accessToken;
  }
}

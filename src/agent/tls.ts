/**
 * TLS of the node API. The control plane serves `/agent/v1` over HTTPS with a self-signed
 * certificate it makes once (kept in `<dataDir>/agent-tls/`), and each agent pins that
 * certificate's SHA-256 fingerprint, given at join (`continuum nodes join-token` prints it), the
 * way SSH pins a host key or a kubeadm join pins the cluster CA's hash
 * (`--discovery-token-ca-cert-hash sha256:...`): no certificate authority is involved, and a
 * server with any other certificate is refused before a byte of the request is sent.
 *
 * Node's crypto reads X.509 certificates but cannot make one, so the certificate is made by the
 * `openssl` command (OpenSSL 1.1.1 or later: an ECDSA P-256 key, valid ten years).
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { Agent as HttpAgent } from 'undici';
import type { Dispatcher } from 'undici';
import { ContinuumError } from '../errors.js';

/** The node API's key, certificate and the fingerprint agents pin. */
export interface NodeApiCertificate {
  readonly keyPem: string;
  readonly certPem: string;
  /** `sha256:` and the certificate's SHA-256 digest in lower-case hex. */
  readonly fingerprint: string;
}

/** `sha256:<hex>` from a fingerprint written any common way (`AB:CD:...`, with or without the prefix). */
export function normalizeFingerprint(value: string): string {
  const hex = value.replace(/^sha256:/i, '').replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new ContinuumError('CONTINUUM_ERR_BAD_REQUEST', `'${value}' is not a SHA-256 certificate fingerprint: give the sha256:... value \`continuum nodes join-token\` printed`);
  return `sha256:${hex}`;
}

/** The certificate of `<dataDir>/agent-tls/`, made on first use; see the module comment. */
export function nodeApiCertificate(dataDir: string): NodeApiCertificate {
  const dir = join(dataDir, 'agent-tls');
  const keyPath = join(dir, 'key.pem');
  const certPath = join(dir, 'cert.pem');
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      execFileSync(
        'openssl',
        ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650', '-subj', '/CN=continuum-node-api', '-keyout', keyPath, '-out', certPath],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
    } catch (err) {
      throw new ContinuumError('CONTINUUM_ERR_INTERNAL', `cannot make the node API's TLS certificate with openssl (is it installed?): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
  const certPem = readFileSync(certPath, 'utf8');
  return { keyPem: readFileSync(keyPath, 'utf8'), certPem, fingerprint: normalizeFingerprint(new X509Certificate(certPem).fingerprint256) };
}

/**
 * An HTTP dispatcher whose TLS connections are accepted only when the server's certificate has
 * the pinned fingerprint (chain and host name are not checked: the pin is the trust).
 */
export function pinnedDispatcher(fingerprint: string): Dispatcher {
  const pin = normalizeFingerprint(fingerprint);
  return new HttpAgent({
    connect: (options, callback) => {
      const host = options.hostname;
      const socket = tlsConnect({
        host,
        port: Number(options.port) || 443,
        // Per RFC 6066 section 3, SNI carries host names only, never addresses.
        ...(isIP(host) === 0 ? { servername: host } : {}),
        rejectUnauthorized: false,
        ALPNProtocols: ['http/1.1'],
      });
      let settled = false;
      socket.once('secureConnect', () => {
        settled = true;
        const got = normalizeFingerprint(socket.getPeerCertificate().fingerprint256);
        if (got === pin) {
          callback(null, socket);
          return;
        }
        socket.destroy();
        callback(new ContinuumError('CONTINUUM_ERR_UNAUTHENTICATED', `the control plane's certificate (${got}) is not the pinned one (${pin}); refusing to talk to it`), null);
      });
      socket.once('error', (err) => {
        if (!settled) {
          settled = true;
          callback(err, null);
        }
      });
    },
  });
}

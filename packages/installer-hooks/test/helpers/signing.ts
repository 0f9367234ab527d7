import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface TestCert {
  certPem: string;
  keyPem: string;
  pfx: string;
  password: string;
}

/** A throwaway code-signing certificate (self-signed, RSA 3072), as PEM and PKCS#12. */
export function makeTestCert(dir: string): TestCert {
  const certPem = join(dir, 'cert.pem');
  const keyPem = join(dir, 'key.pem');
  const pfx = join(dir, 'cert.pfx');
  const password = 'test-only';
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:3072',
      '-nodes',
      '-keyout',
      keyPem,
      '-out',
      certPem,
      '-days',
      '2',
      '-subj',
      '/CN=llm-upgrade test signing',
      '-addext',
      'extendedKeyUsage=codeSigning',
    ],
    { stdio: 'pipe' },
  );
  execFileSync('openssl', ['pkcs12', '-export', '-inkey', keyPem, '-in', certPem, '-out', pfx, '-passout', `pass:${password}`], {
    stdio: 'pipe',
  });
  return { certPem, keyPem, pfx, password };
}

/** osslsigncode sign (no timestamp server: tests are offline). */
export function signPe(cert: TestCert, input: string, output: string): void {
  execFileSync(
    'osslsigncode',
    ['sign', '-pkcs12', cert.pfx, '-pass', cert.password, '-n', 'llm-upgrade test', '-h', 'sha256', '-in', input, '-out', output],
    { stdio: 'pipe' },
  );
}

export function verifyPe(cert: TestCert, file: string): { status: number | null; output: string } {
  const r = spawnSync('osslsigncode', ['verify', '-CAfile', cert.certPem, '-in', file], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

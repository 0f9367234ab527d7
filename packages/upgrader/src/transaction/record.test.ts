import { describe, expect, it } from 'vitest';
import type { RecordedProcess } from './journal.js';
import { healthUrlFor, parseHostPort } from './record.js';

const rec = (over: Partial<RecordedProcess>): RecordedProcess => ({
  pid: 1,
  startKey: '1',
  name: 'ollama',
  role: 'server',
  exe: '/opt/o/bin/ollama',
  argv: ['ollama', 'serve'],
  cwd: '/',
  env: {},
  uid: 0,
  gid: 0,
  listening: [],
  logFile: null,
  ...over,
});
const profile = {
  name: 'ollama',
  roots: {},
  processes: { supervisor: [], server: ['ollama'], engine: [] },
  healthUrl: 'http://127.0.0.1:11434/api/version',
};

describe('where the health gate asks', () => {
  it('parses OLLAMA_HOST in its forms', () => {
    expect(parseHostPort('0.0.0.0:11500', 11434)).toEqual({ host: '127.0.0.1', port: 11500 });
    expect(parseHostPort('http://localhost:9000', 11434)).toEqual({ host: 'localhost', port: 9000 });
    expect(parseHostPort('127.0.0.2', 11434)).toEqual({ host: '127.0.0.2', port: 11434 });
    expect(parseHostPort('[::]:8080', 11434)).toEqual({ host: '[::1]', port: 8080 });
  });

  it('prefers the sockets the server listened on, then OLLAMA_HOST, then the profile', () => {
    expect(healthUrlFor([rec({ listening: [{ address: '0.0.0.0', port: 12000 }] })], profile)).toEqual({
      url: 'http://127.0.0.1:12000/api/version',
      source: 'socket',
    });
    expect(
      healthUrlFor(
        [
          rec({
            listening: [
              { address: '127.0.0.1', port: 5000 },
              { address: '127.0.0.1', port: 12001 },
            ],
            env: { OLLAMA_HOST: ':12001' },
          }),
        ],
        profile,
      )?.url,
    ).toBe('http://127.0.0.1:12001/api/version');
    expect(healthUrlFor([rec({ env: { OLLAMA_HOST: '0.0.0.0:11600' } })], profile)).toEqual({
      url: 'http://127.0.0.1:11600/api/version',
      source: 'OLLAMA_HOST',
    });
    expect(healthUrlFor([rec({})], profile)).toEqual({ url: 'http://127.0.0.1:11434/api/version', source: 'profile' });
    expect(healthUrlFor([rec({})], undefined)).toBeNull();
    expect(healthUrlFor([rec({ listening: [{ address: '::', port: 7000 }] })], profile)?.url).toBe('http://[::1]:7000/api/version');
  });
});

import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { linuxListening, linuxProcessDetails, parseProcNetAddress } from './process-details.js';

describe('parseProcNetAddress', () => {
  it('reads /proc/net/tcp and tcp6 addresses', () => {
    expect(parseProcNetAddress('0100007F:2CA2')).toEqual({ address: '127.0.0.1', port: 11426 });
    expect(parseProcNetAddress('00000000:1F90')).toEqual({ address: '0.0.0.0', port: 8080 });
    expect(parseProcNetAddress('00000000000000000000000001000000:0050')).toEqual({ address: '::1', port: 80 });
    expect(parseProcNetAddress('00000000000000000000000000000000:0050')).toEqual({ address: '::', port: 80 });
    expect(parseProcNetAddress('0000000000000000FFFF00000100007F:0050')).toEqual({ address: '127.0.0.1', port: 80 });
  });
});

describe.skipIf(process.platform !== 'linux')('this process, read through /proc', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  it('argv, cwd, environment, user and the port it listens on', async () => {
    server = createServer();
    const port = await new Promise<number>((r) => server!.listen(0, '127.0.0.1', () => r((server!.address() as { port: number }).port)));
    const d = await linuxProcessDetails(process.pid);
    expect(d).not.toBeNull();
    expect(d!.argv[0]).toBe(process.argv0);
    expect(d!.cwd).toBe(process.cwd());
    expect(d!.env?.PATH).toBe(process.env.PATH);
    expect(d!.uid).toBe(process.getuid!());
    expect(d!.listening).toContainEqual({ address: '127.0.0.1', port });
    expect(await linuxListening(process.pid)).toContainEqual({ address: '127.0.0.1', port });
  });
});

import { createServer } from 'node:net';

/** Binds `port` on 127.0.0.1 (0: the kernel's pick) and releases it again; the port it got, or undefined. */
const tryPort = (port: number) =>
  new Promise<number | undefined>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : undefined));
    });
  });

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick), for a process the bench starts. */
export const freePort = async () => {
  const port = await tryPort(0);
  if (port === undefined) throw new Error('no free TCP port on 127.0.0.1');
  return port;
};

/**
 * A free TCP port on 127.0.0.1 in [from, to], picked at random: for a server that stores its port in a
 * column narrower than the kernel's picks (Linux hands out 32768–60999).
 * @throws Error when 200 tries found none free.
 */
export async function freePortBetween(from: number, to: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const candidate = from + Math.floor(Math.random() * (to - from + 1));
    if ((await tryPort(candidate)) !== undefined) return candidate;
  }
  throw new Error(`no free TCP port on 127.0.0.1 between ${from} and ${to}`);
}

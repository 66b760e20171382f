import { createConnection, createServer } from 'node:net';

export interface DevPort {
  port: number;
  /** What dev would run there, and the flag that moves it. */
  use: string;
}

/** True when something answers on the port, or it cannot be bound on loopback. */
async function taken(port: number): Promise<boolean> {
  const answers = await new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
  if (answers) return true;
  return new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)));
  });
}

export class DevPortsTaken extends Error {
  override readonly name = 'DevPortsTaken';
}

/**
 * Refuses to start when any port dev would use is already served: attaching to another hub's Temporal
 * server (or its sandboxes) would mix two setups, and the other hub's encrypted payloads cannot be read
 * with this one's keys. One sentence per taken port, naming the flag that moves it.
 */
export async function assertPortsFree(ports: DevPort[]): Promise<void> {
  const busy: DevPort[] = [];
  for (const entry of ports) if (await taken(entry.port)) busy.push(entry);
  if (busy.length === 0) return;
  throw new DevPortsTaken(
    [
      `consent-hub dev cannot start: ${busy.length === 1 ? 'a port it uses is' : 'ports it uses are'} already taken (another consent-hub dev or Temporal server?):`,
      ...busy.map((entry) => `  port ${entry.port}: ${entry.use}`),
      'Stop whatever serves them, or start on other ports.',
    ].join('\n'),
  );
}

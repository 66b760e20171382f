/**
 * A throwaway production-like Temporal for the benchmark: the Temporal server (built by
 * bench/temporal-server-build.ts) on a fresh cluster of Debian's PostgreSQL, on free ports, torn down
 * afterwards. docker-compose.yml runs the same server version on PostgreSQL; this does it without Docker.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import pg from 'pg';
import { waitUntil } from '../dev/wait-until.js';
import { ensureSearchAttributes } from '../temporal/ensure-search-attributes.js';
import { freePort, freePortBetween } from './free-port.js';
import { provideTemporalServer, temporalServerVersion } from './temporal-server-build.js';

/** Where the server's ports are picked: below 32768, for the SMALLINT column that stores them. */
export const smallintPorts = { from: 20_000, to: 32_767 } as const;

/** Every port one Temporal server process listens on: gRPC and ringpop membership per service. */
export interface TemporalServerPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

export interface ServerConfigOptions {
  ports: TemporalServerPorts;
  postgres: { host: string; port: number; user: string; password: string };
  /** Fixed for a cluster's life; docker-compose's auto-setup image defaults to 4. */
  historyShards: number;
  /** Absolute path of the dynamic config file (renderDynamicConfig). */
  dynamicConfigFile: string;
  /** Server log level: debug, info, warn, error. */
  logLevel?: string;
}

/**
 * The dynamic config the CLI's `start-dev` sets (temporalcli commands.server.go and devserver/server.go,
 * CLI v1.5.1), so that the two servers differ in their store, not in their limits: search attributes
 * visible at once, persistence QPS raised to match, 8,096 cached mutable states, 100 visibility RPS.
 */
export const devServerDynamicConfig: Record<string, unknown> = {
  'system.forceSearchAttributesCacheRefreshOnRead': true,
  'frontend.persistenceMaxQPS': 10_000,
  'history.persistenceMaxQPS': 45_000,
  'history.hostLevelCacheMaxSize': 8096,
  'frontend.namespaceRPS.visibility': 100,
};

/**
 * The dynamic config file's text: `key: [{value, constraints: {}}]` per key (Temporal's file-based
 * dynamic config). Written as JSON, which YAML (gopkg.in/yaml.v3, the server's parser) reads as is.
 */
export function renderDynamicConfig(values: Record<string, unknown>): string {
  return `${JSON.stringify(
    Object.fromEntries(Object.entries(values).map(([key, value]) => [key, [{ value, constraints: {} }]])),
    null,
    2,
  )}\n`;
}

/**
 * The server's static config: config/development-postgres12.yaml of the server module (persistence
 * `postgres12`, databases `temporal` and `temporal_visibility`), with every port given, no metrics or pprof
 * listener, and the dynamic config file named. JSON text, read by the server as YAML.
 */
export function renderServerConfig(options: ServerConfigOptions): string {
  const { ports, postgres } = options;
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${postgres.host}:${postgres.port}`,
      connectProtocol: 'tcp',
      user: postgres.user,
      password: postgres.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (grpcPort: number, membershipPort: number, extra: Record<string, number> = {}) => ({
    rpc: { grpcPort, membershipPort, bindOnLocalHost: true, ...extra },
  });
  const config = {
    log: { stdout: true, level: options.logLevel ?? 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: options.historyShards,
      datastores: {
        'postgres-default': store('temporal', 20),
        'postgres-visibility': store('temporal_visibility', 10),
      },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: {
      frontend: service(ports.frontend, ports.frontendMembership, { httpPort: ports.frontendHttp }),
      history: service(ports.history, ports.historyMembership),
      matching: service(ports.matching, ports.matchingMembership),
      worker: service(ports.worker, ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${ports.frontend}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: options.dynamicConfigFile, pollInterval: '10s' },
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/** The `temporal-sql-tool` runs that make both databases at the newest schema (as Temporal's auto-setup does). */
export function schemaToolRuns(postgres: { port: number; user: string; password: string }): string[][] {
  const common = (db: string) => [
    '--plugin',
    'postgres12',
    '--endpoint',
    '127.0.0.1',
    '--port',
    String(postgres.port),
    '--user',
    postgres.user,
    '--password',
    postgres.password,
    '--database',
    db,
  ];
  return [
    ['temporal', 'postgresql/v12/temporal'],
    ['temporal_visibility', 'postgresql/v12/visibility'],
  ].flatMap(([db, schema]) => [
    [...common(db as string), 'create-database'],
    [...common(db as string), 'setup-schema', '--version', '0.0'],
    [...common(db as string), 'update-schema', '--schema-name', schema as string],
  ]);
}

/** Debian's PostgreSQL binaries: the newest /usr/lib/postgresql/<major>/bin, else whatever PATH has. */
export function postgresBinDir(root = '/usr/lib/postgresql'): string | undefined {
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((name) => /^\d+$/.test(name) && existsSync(join(root, name, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], 'bin') : undefined;
}

export interface TemporalOnPostgres {
  address: string;
  namespace: string;
  /** What the bench prints: server version, PostgreSQL version, shards. */
  description: string;
  serverPid: number | undefined;
  /** The postmaster; its backends are its children. */
  postgresPid: number | undefined;
  stop(): Promise<void>;
}

function tailOf(child: ChildProcess, stream: 'stdout' | 'stderr', keep = 4000) {
  let text = '';
  child[stream]?.on('data', (chunk: Buffer) => {
    text = (text + chunk.toString()).slice(-keep);
  });
  return () => text.trim();
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await gone;
  clearTimeout(timer);
}

/**
 * Builds the server if needed, starts a fresh PostgreSQL cluster (initdb, trust auth on 127.0.0.1 only;
 * as root it runs as the `postgres` user, which PostgreSQL requires), makes the `temporal` and
 * `temporal_visibility` databases with the server's schema tool, starts the server on free ports, registers
 * `namespace` and the project's search attributes, and waits until every service knows the namespace.
 *
 * @throws Error naming the step that failed (build, initdb, schema tool, server start) with its output.
 */
export async function startTemporalOnPostgres(options: {
  namespace: string;
  print: (line: string) => void;
  historyShards?: number;
}): Promise<TemporalOnPostgres> {
  const binaries = await provideTemporalServer({ onStep: options.print });
  const bin = postgresBinDir();
  const pgExe = (name: string) => (bin ? join(bin, name) : name);
  const owner = process.getuid?.() === 0 ? postgresUser() : undefined;
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };

  try {
    // PostgreSQL's files belong to the user it runs as; the server's config stays with this process.
    const pgDir = mkdtempSync(join(tmpdir(), 'consent-hub-bench-pg-'));
    stops.push(async () => rmSync(pgDir, { recursive: true, force: true }));
    if (owner) chownSync(pgDir, owner.uid, owner.gid);
    const data = join(pgDir, 'data');
    const postgres = { host: '127.0.0.1', port: await freePort(), user: 'temporal', password: 'temporal' };
    try {
      execFileSync(
        pgExe('initdb'),
        ['-D', data, '-U', postgres.user, '--auth=trust', '-E', 'UTF8', '--no-sync'],
        { stdio: ['ignore', 'ignore', 'pipe'], cwd: pgDir, ...owner },
      );
    } catch (error) {
      const e = error as { code?: string; stderr?: Buffer; message: string };
      throw new Error(
        e.code === 'ENOENT'
          ? `PostgreSQL's initdb was not found (neither in /usr/lib/postgresql/<major>/bin nor on PATH): install Debian's postgresql package`
          : `initdb failed: ${String(e.stderr ?? e.message)
              .trim()
              .slice(-1500)}`,
      );
    }
    const version = execFileSync(pgExe('postgres'), ['--version'])
      .toString()
      .trim()
      .replace(/^postgres \(PostgreSQL\)/, 'PostgreSQL');
    const postmaster = spawn(
      pgExe('postgres'),
      [
        '-D',
        data,
        '-c',
        'listen_addresses=127.0.0.1',
        '-p',
        String(postgres.port),
        '-c',
        `unix_socket_directories=${pgDir}`,
        '-c',
        'max_connections=200',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], cwd: pgDir, ...owner },
    );
    const pgLog = tailOf(postmaster, 'stderr');
    // SIGINT is PostgreSQL's fast shutdown: no wait for clients.
    stops.push(() => stopChild(postmaster, 'SIGINT'));
    await waitUntil({
      what: `PostgreSQL on 127.0.0.1:${postgres.port}`,
      print: options.print,
      failed: () => (postmaster.exitCode !== null ? `it exited: ${pgLog()}` : undefined),
      probe: async () => {
        const client = new pg.Client({ ...postgres, database: 'postgres', connectionTimeoutMillis: 1000 });
        await client.connect();
        await client.end();
        return true;
      },
    });

    for (const args of schemaToolRuns(postgres)) {
      try {
        execFileSync(binaries.sqlTool, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (error) {
        const e = error as { stderr?: Buffer; stdout?: Buffer };
        throw new Error(
          `temporal-sql-tool ${args.slice(-3).join(' ')} failed: ${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim().slice(-1500)}`,
        );
      }
    }

    const serverDir = mkdtempSync(join(tmpdir(), 'consent-hub-bench-temporal-'));
    stops.push(async () => rmSync(serverDir, { recursive: true, force: true }));
    mkdirSync(join(serverDir, 'config'));
    const dynamicConfigFile = join(serverDir, 'dynamicconfig.yaml');
    writeFileSync(dynamicConfigFile, renderDynamicConfig(devServerDynamicConfig));
    // The server records its hosts' ports in cluster_membership.rpc_port, a SMALLINT in the PostgreSQL
    // schema: a port above 32767 (every port the kernel picks) stops it at start with "out of range".
    const port = () => freePortBetween(smallintPorts.from, smallintPorts.to);
    const ports: TemporalServerPorts = {
      frontend: await port(),
      frontendHttp: await port(),
      frontendMembership: await port(),
      history: await port(),
      historyMembership: await port(),
      matching: await port(),
      matchingMembership: await port(),
      worker: await port(),
      workerMembership: await port(),
    };
    const historyShards = options.historyShards ?? 4;
    writeFileSync(
      join(serverDir, 'config', 'bench.yaml'),
      renderServerConfig({ ports, postgres, historyShards, dynamicConfigFile }),
    );
    const server = spawn(
      binaries.server,
      ['--root', serverDir, '--config', 'config', '--env', 'bench', '--allow-no-auth', 'start'],
      { cwd: serverDir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const serverOut = tailOf(server, 'stdout');
    const serverErr = tailOf(server, 'stderr');
    stops.push(() => stopChild(server, 'SIGTERM'));

    const address = `127.0.0.1:${ports.frontend}`;
    await waitUntil({
      what: `the Temporal server on ${address}`,
      print: options.print,
      failed: () =>
        server.exitCode !== null ? `it exited: ${serverErr()} ${serverOut().slice(-1500)}` : undefined,
      probe: async () => {
        const connection = await Connection.connect({ address, connectTimeout: 1000 });
        try {
          await connection.workflowService
            .registerNamespace({
              namespace: options.namespace,
              // protobufjs encodes a plain number as int64; the generated type only names Long.
              workflowExecutionRetentionPeriod: { seconds: 24 * 3600 } as unknown as RetentionPeriod,
            })
            .catch((error: { code?: number }) => {
              // 6 = ALREADY_EXISTS: an earlier probe registered it.
              if (error.code !== 6) throw error;
            });
          await connection.workflowService.describeNamespace({ namespace: options.namespace });
          await ensureSearchAttributes(connection, options.namespace);
        } finally {
          await connection.close();
        }
        return true;
      },
    });
    // History and matching learn of a new namespace at their registry's next refresh
    // (system.namespaceCacheRefreshInterval, 2 s by default); a start before that is refused.
    await delay(5000);

    return {
      address,
      namespace: options.namespace,
      description: `Temporal server ${temporalServerVersion} on ${version} (${historyShards} history shards)`,
      serverPid: server.pid,
      postgresPid: postmaster.pid,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

type RetentionPeriod =
  temporal.api.workflowservice.v1.IRegisterNamespaceRequest['workflowExecutionRetentionPeriod'];

function postgresUser(): { uid: number; gid: number } {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
      gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
    };
  } catch {
    throw new Error(
      'running as root, PostgreSQL needs an unprivileged user to run as: there is no `postgres` user',
    );
  }
}

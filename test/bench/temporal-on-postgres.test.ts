import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { benchTemporalChoice } from '../../bench/bench-temporal.js';
import { freePortBetween } from '../../bench/free-port.js';
import {
  devServerDynamicConfig,
  renderDynamicConfig,
  renderServerConfig,
  schemaToolRuns,
  smallintPorts,
  type TemporalServerPorts,
} from '../../bench/temporal-on-postgres.js';
import { goInstallArgs, temporalServerVersion } from '../../bench/temporal-server-build.js';

const ports: TemporalServerPorts = {
  frontend: 41001,
  frontendHttp: 41002,
  frontendMembership: 41003,
  history: 41004,
  historyMembership: 41005,
  matching: 41006,
  matchingMembership: 41007,
  worker: 41008,
  workerMembership: 41009,
};
const postgres = { host: '127.0.0.1', port: 45432, user: 'temporal', password: 'pw' };

describe('the server config for a Temporal on PostgreSQL', () => {
  const config = JSON.parse(
    renderServerConfig({ ports, postgres, historyShards: 4, dynamicConfigFile: '/tmp/x/dynamicconfig.yaml' }),
  );

  it('stores history and visibility in their two PostgreSQL databases through the postgres12 plugin', () => {
    const stores = config.persistence.datastores;
    expect(stores[config.persistence.defaultStore].sql).toMatchObject({
      pluginName: 'postgres12',
      databaseName: 'temporal',
      connectAddr: '127.0.0.1:45432',
      user: 'temporal',
      password: 'pw',
    });
    expect(stores[config.persistence.visibilityStore].sql).toMatchObject({
      pluginName: 'postgres12',
      databaseName: 'temporal_visibility',
      connectAddr: '127.0.0.1:45432',
    });
    expect(config.persistence.numHistoryShards).toBe(4);
  });

  it('listens on exactly the given ports, each once, and the cluster points at its own frontend', () => {
    const rpc = Object.values(config.services).map((s) => (s as { rpc: Record<string, unknown> }).rpc);
    const used = rpc.flatMap((r) =>
      [r.grpcPort, r.membershipPort, r.httpPort].filter((p) => p !== undefined),
    );
    expect([...used].sort()).toEqual(Object.values(ports).sort());
    expect(config.services.frontend.rpc).toMatchObject({ grpcPort: 41001, httpPort: 41002 });
    expect(
      config.clusterMetadata.clusterInformation[config.clusterMetadata.currentClusterName].rpcAddress,
    ).toBe('127.0.0.1:41001');
    // No fixed metrics or pprof port that a second run (or another helper's server) would collide on.
    expect(config.global.metrics).toBeUndefined();
    expect(config.global.pprof).toBeUndefined();
    expect(config.dynamicConfigClient.filepath).toBe('/tmp/x/dynamicconfig.yaml');
  });

  it("writes the dev server's dynamic config as Temporal's key: [{value, constraints}] list", () => {
    const dynamic = JSON.parse(renderDynamicConfig(devServerDynamicConfig));
    expect(dynamic['system.forceSearchAttributesCacheRefreshOnRead']).toEqual([
      { value: true, constraints: {} },
    ]);
    expect(dynamic['history.persistenceMaxQPS']).toEqual([{ value: 45_000, constraints: {} }]);
    expect(Object.keys(dynamic).sort()).toEqual(Object.keys(devServerDynamicConfig).sort());
  });

  it('makes each database before its schema, at version 0.0 and then the embedded versioned schema', () => {
    const runs = schemaToolRuns(postgres);
    const step = (run: string[]) => {
      const db = run[run.indexOf('--database') + 1];
      const command = run.find((a) => ['create-database', 'setup-schema', 'update-schema'].includes(a));
      return `${db} ${command}`;
    };
    expect(runs.map(step)).toEqual([
      'temporal create-database',
      'temporal setup-schema',
      'temporal update-schema',
      'temporal_visibility create-database',
      'temporal_visibility setup-schema',
      'temporal_visibility update-schema',
    ]);
    expect(runs[2]?.slice(-2)).toEqual(['--schema-name', 'postgresql/v12/temporal']);
    expect(runs[5]?.slice(-2)).toEqual(['--schema-name', 'postgresql/v12/visibility']);
    for (const run of runs)
      expect(run).toEqual(expect.arrayContaining(['--plugin', 'postgres12', '--port', '45432']));
  });

  it("builds the server and its schema tool at docker-compose's version in one go install", () => {
    expect(temporalServerVersion).toBe('v1.29.1');
    expect(goInstallArgs()).toEqual([
      'install',
      'go.temporal.io/server/cmd/server@v1.29.1',
      'go.temporal.io/server/cmd/tools/sql@v1.29.1',
    ]);
  });
});

describe("the bench's choice of Temporal", () => {
  it('is the dev server unless told otherwise', () => {
    expect(benchTemporalChoice({})).toEqual({ kind: 'dev' });
    expect(benchTemporalChoice({ temporal: 'postgres' })).toEqual({ kind: 'postgres', historyShards: 4 });
    expect(benchTemporalChoice({ temporal: 'postgres', 'history-shards': '1' })).toEqual({
      kind: 'postgres',
      historyShards: 1,
    });
  });

  it('takes a running server by host:port, in TEMPORAL_NAMESPACE or default', () => {
    expect(benchTemporalChoice({ 'temporal-address': 'localhost:7233' }, {})).toEqual({
      kind: 'address',
      address: 'localhost:7233',
      namespace: 'default',
    });
    expect(
      benchTemporalChoice({ 'temporal-address': '127.0.0.1:7233' }, { TEMPORAL_NAMESPACE: 'consent-hub' }),
    ).toMatchObject({ namespace: 'consent-hub' });
  });

  it('refuses an unknown kind, a malformed address, or two choices at once, naming the flag', () => {
    expect(() => benchTemporalChoice({ temporal: 'mysql' })).toThrow(
      /--temporal mysql: expected dev .* or postgres/,
    );
    expect(() => benchTemporalChoice({ 'temporal-address': 'localhost' })).toThrow(/expected host:port/);
    expect(() => benchTemporalChoice({ 'temporal-address': 'h:99999' })).toThrow(/expected host:port/);
    expect(() => benchTemporalChoice({ temporal: 'dev', 'temporal-address': 'h:7233' })).toThrow(
      /give one of them/,
    );
    expect(() => benchTemporalChoice({ 'history-shards': '2' })).toThrow(
      /--history-shards 2: only for --temporal postgres/,
    );
    expect(() => benchTemporalChoice({ temporal: 'postgres', 'history-shards': '0' })).toThrow(
      /whole number/,
    );
  });
});

describe('ports for a server that stores them in a SMALLINT', () => {
  it('are picked below 32768, where the kernel never picks, and are free to bind', async () => {
    expect(smallintPorts.to).toBeLessThanOrEqual(32_767);
    const port = await freePortBetween(smallintPorts.from, smallintPorts.to);
    expect(port).toBeGreaterThanOrEqual(smallintPorts.from);
    expect(port).toBeLessThanOrEqual(smallintPorts.to);
    const server = createServer();
    await new Promise<void>((listening, failed) => {
      server.once('error', failed);
      server.listen(port, '127.0.0.1', listening);
    });
    await new Promise((closed) => server.close(closed));
  });

  it('says so when none in the range is free', async () => {
    const server = createServer();
    await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
    const taken = (server.address() as { port: number }).port;
    try {
      await expect(freePortBetween(taken, taken)).rejects.toThrow(
        `no free TCP port on 127.0.0.1 between ${taken} and ${taken}`,
      );
    } finally {
      await new Promise((closed) => server.close(closed));
    }
  });
});

import type { z } from 'zod';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(`Configuration is invalid:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

/**
 * Parses the environment with a zod schema whose keys are variable names. Each problem becomes one line that
 * names the variable; values are never echoed, since many are secrets.
 */
export function parseEnv<Schema extends z.ZodType>(
  schema: Schema,
  env: NodeJS.ProcessEnv = process.env,
): z.output<Schema> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`),
  );
}

import { ApplicationFailure } from '@temporalio/common';
import type {
  ApplyConsentResult,
  Connector,
  ConsentChange,
  ConsentReading,
  EraseResult,
  FindResult,
  SubjectIdentifiers,
} from '../connectors/connector.js';
import type { Logger } from '../logging/logger.js';
import { failureTypes, toActivityFailure } from './vendor-failure.js';

export type ConnectorName = Connector['system'] | 'noop';
export type ConnectorSet = Partial<
  Record<ConnectorName, Pick<Connector, 'find' | 'erase' | 'readConsent' | 'applyConsent'>>
>;

/** What every connector activity receives. The email inside `subject` reaches Temporal only encrypted. */
export interface ConnectorActivityInput {
  system: ConnectorName;
  /** For logs and correlation: the only person identifier that may be logged. */
  subjectKey: string;
  subject: SubjectIdentifiers;
}

export interface ActivityDependencies {
  connectors: ConnectorSet;
  logger: Logger;
}

/**
 * The activities, bound to connectors the worker builds once at start-up. They only pick the connector, call
 * it, and translate its errors into Temporal's retry decisions; the decisions about order and waiting are
 * the workflows'.
 */
export function createActivities({ connectors, logger }: ActivityDependencies) {
  async function call<T>(
    input: ConnectorActivityInput,
    operation: string,
    run: (connector: NonNullable<ConnectorSet[ConnectorName]>) => Promise<T>,
  ): Promise<T> {
    const connector = connectors[input.system];
    const log = logger.child({ system: input.system, operation, subjectKey: input.subjectKey });
    if (!connector) {
      throw ApplicationFailure.create({
        message: `${input.system} is not configured on this worker; set its environment variables and restart the worker`,
        type: failureTypes.notConfigured,
        nonRetryable: true,
        details: [
          { system: input.system, operation, reason: 'not configured on this worker', retryable: false },
        ],
      });
    }
    try {
      const result = await run(connector);
      log.info('connector call succeeded');
      return result;
    } catch (error) {
      const failure = toActivityFailure(error);
      log.warn({ err: failure }, 'connector call failed');
      throw failure;
    }
  }

  return {
    findInSystem(input: ConnectorActivityInput): Promise<FindResult> {
      return call(input, 'find', (c) => c.find(input.subject));
    },
    eraseInSystem(input: ConnectorActivityInput): Promise<EraseResult> {
      return call(input, 'erase', (c) => c.erase(input.subject));
    },
    readConsentInSystem(input: ConnectorActivityInput): Promise<ConsentReading> {
      return call(input, 'readConsent', (c) => c.readConsent(input.subject));
    },
    applyConsentInSystem(
      input: ConnectorActivityInput & { change: ConsentChange },
    ): Promise<ApplyConsentResult> {
      return call(input, 'applyConsent', (c) => c.applyConsent(input.subject, input.change));
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

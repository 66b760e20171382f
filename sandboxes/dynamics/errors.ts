import type { VendorErrorReply } from '../framework/sandbox-definition.js';

/**
 * Dataverse's error codes for the statuses the sandbox answers with. The service-protection codes are the
 * documented ones (-2147015902 requests, -2147015898 concurrency) written in hex as Dataverse sends them.
 */
export const dataverseCodes = {
  badRequest: '0x80060888',
  unauthorized: '0x80072560',
  privilegeDenied: '0x80040220',
  notFound: '0x80040217',
  concurrency: '0x80060882',
  requestLimit: '0x80072322',
  concurrencyLimit: '0x80072326',
  unavailable: '0x80040216',
  /**
   * ExpiredVersionStamp, Dataverse's answer to a `$deltatoken` older than the org's change-tracking
   * retention or otherwise unusable. The code is recalled from Dataverse's error list, not confirmed.
   */
  expiredVersionStamp: '0x80044352',
} as const;

const codeByStatus: Record<number, string> = {
  400: dataverseCodes.badRequest,
  401: dataverseCodes.unauthorized,
  403: dataverseCodes.privilegeDenied,
  404: dataverseCodes.notFound,
  412: dataverseCodes.concurrency,
  429: dataverseCodes.requestLimit,
};

/** Dataverse's error body: `{"error":{"code":"0x8004...","message":"..."}}`. */
export function dataverseError(status: number, message: string, code?: string): VendorErrorReply {
  return {
    contentType: 'application/json; odata.metadata=minimal',
    headers: { 'odata-version': '4.0' },
    body: { error: { code: code ?? codeByStatus[status] ?? dataverseCodes.unavailable, message } },
  };
}

/** Entra ID's OAuth error body, as login.microsoftonline.com sends it. */
export function entraError(error: string, description: string, errorCode: number) {
  return {
    error,
    error_description: `AADSTS${errorCode}: ${description}`,
    error_codes: [errorCode],
    timestamp: new Date().toISOString().replace('T', ' '),
    trace_id: crypto.randomUUID(),
    correlation_id: crypto.randomUUID(),
    error_uri: `https://login.microsoftonline.com/error?code=${errorCode}`,
  };
}

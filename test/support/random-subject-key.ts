import { randomUUID } from 'node:crypto';

/** A fresh subject key of the hub's shape (64 hex characters) that names no address: for ledger rows. */
export const randomSubjectKey = (): string => randomUUID().replaceAll('-', '').repeat(2);

import { Option } from 'commander';

/** `--received-at`: for a request that came by letter or email and is entered later (its deadline runs from it). */
export const receivedAtOption = () =>
  new Option(
    '--received-at <iso>',
    'when the request reached you, if earlier than now (a letter, an email): ISO 8601 with a zone; its one-month deadline runs from it (not in the future, at most CONSENT_HUB_RECEIVED_AT_FLOOR_DAYS days back, default 90)',
  );

import { Argument, InvalidArgumentError } from 'commander';
import { requestIdSchema } from '../../hub-client/find-by-request-id.js';

/** `<request-id>`, checked before anything is opened: one line saying what is wrong and what is expected. */
export function requestIdArgument(
  description = 'the request id that `erase`, `consent` or `opt-out` printed',
) {
  return new Argument('<request-id>', description).argParser((value: string) => {
    const parsed = requestIdSchema.safeParse(value.trim());
    if (!parsed.success)
      throw new InvalidArgumentError(`${JSON.stringify(value)} is not a request id; expected a UUID.`);
    return parsed.data;
  });
}

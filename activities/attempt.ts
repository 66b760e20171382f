import { Context } from '@temporalio/activity';

/**
 * The attempt this activity execution is on (1 for the first), as Temporal's server counts it
 * (`Info.attempt`), so a worker killed mid-attempt does not reset it. Outside an activity (a function
 * called directly) it is 1. Vendor activities return it in their result and put it in their failure's
 * details, so the workflow's receipt counts vendor call attempts (workflows/operator-gate.ts).
 */
export function currentAttempt(): number {
  try {
    return Math.max(1, Context.current().info.attempt);
  } catch {
    return 1;
  }
}

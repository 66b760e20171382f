let counter = 0;

/** A fresh address `<name>.<now>.<n>@example.com`, unique within the test process. */
export const uniqueEmail = (name: string): string => `${name}.${Date.now()}.${counter++}@example.com`;

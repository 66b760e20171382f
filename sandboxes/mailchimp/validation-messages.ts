import type { z } from 'zod';

/**
 * The per-field messages of Mailchimp's 400 "Invalid Resource" answers, in the wording Mailchimp uses (its
 * validator's: "This value should not be blank.", "This value should be a valid email."), so that no zod
 * default text reaches a client. Passed as the `error` of a parse: a message a schema sets itself still wins.
 * Source of the answer's shape: https://mailchimp.com/developer/marketing/docs/errors/ (`errors[{field, message}]`).
 */
export const mailchimpFieldMessages: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_value':
      return 'The value you selected is not a valid choice.';
    case 'invalid_type':
      return issue.input === undefined || issue.input === null
        ? 'This value should not be blank.'
        : `This value should be of type ${issue.expected}.`;
    case 'too_small':
      return issue.origin === 'string' && Number(issue.minimum) <= 1
        ? 'This value should not be blank.'
        : issue.origin === 'array'
          ? `This collection should contain ${issue.minimum} elements or more.`
          : issue.origin === 'string'
            ? `This value is too short. It should have ${issue.minimum} characters or more.`
            : `This value should be greater than or equal to ${issue.minimum}.`;
    case 'too_big':
      return issue.origin === 'array'
        ? `This collection should contain ${issue.maximum} elements or less.`
        : issue.origin === 'string'
          ? `This value is too long. It should have ${issue.maximum} characters or less.`
          : `This value should be less than or equal to ${issue.maximum}.`;
    case 'invalid_format':
      return 'This value is not valid.';
    case 'unrecognized_keys':
      return 'This field was not expected.';
    default:
      return 'This value is not valid.';
  }
};

import { z } from 'zod';
import { channelEvents, channelName, channelUrl, emailAddresses, HTTP_CHANNEL_TYPES, NOTIFY_EVENTS } from '../notify.config.js';

const secretValue = z.string().min(1, 'must not be empty').max(512);

/** A new channel: a webhook or robot (`url`, `secret?`) or email (`to`: addresses), with the events it wants. */
export const createChannelSchema = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ name: channelName, type: z.enum(HTTP_CHANNEL_TYPES), url: channelUrl, secret: secretValue.optional(), events: channelEvents.default([...NOTIFY_EVENTS]) }),
    z.strictObject({ name: channelName, type: z.literal('email'), to: emailAddresses, events: channelEvents.default([...NOTIFY_EVENTS]) }),
  ],
  { error: `expected one of ${[...HTTP_CHANNEL_TYPES, 'email'].join(', ')}` },
);

/** A change: any of these; `secret: null` removes the signing secret. The type stays. */
export const updateChannelSchema = z.strictObject({
  name: channelName.optional(),
  events: channelEvents.optional(),
  url: channelUrl.optional(),
  secret: secretValue.nullable().optional(),
  to: emailAddresses.optional(),
});

export const channelIdParam = z.uuid({ error: 'expected a channel id (UUID)' });

export type CreateChannelInput = z.output<typeof createChannelSchema>;
export type UpdateChannelInput = z.output<typeof updateChannelSchema>;

const address = z.email({ error: 'expected an email address (name@example.com)' });
/** The code mailed to an address: 8 digits, as mailed (1234-5678) or without the dash. */
export const confirmAddressSchema = z.strictObject({ address, code: z.string().trim().regex(/^\d{4}-?\d{4}$/, 'expected the 8-digit code from the email (1234-5678)') });
/** A new code for one address of a channel. */
export const codeRequestSchema = z.strictObject({ address });

export type ConfirmAddressInput = z.output<typeof confirmAddressSchema>;

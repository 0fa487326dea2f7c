/**
 * The `clientIdMetadataDocuments` section: a `client_id` that is an https URL is resolved by
 * fetching the client's metadata from it (no registration step): on/off, cache and size bounds,
 * fetch deadline and per-host rate.
 */
import * as z from 'zod'

export const ClientIDMetadataDocumentsSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /**
   * Development only: also accept documents on loopback hosts, over http too
   * (`gatehouse dev` and tests). Never in production.
   */
  dangerouslyAllowLoopback: z.boolean().default(false),
  /** Cache lifetime bounds; within them the document's Cache-Control max-age applies. */
  minCacheSeconds: z.number().int().min(0).max(3600).default(60),
  maxCacheSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 86_400)
    .default(86_400),
  /** Largest document accepted (the draft recommends 5 KB). */
  maxDocumentBytes: z.number().int().min(1024).max(65_536).default(5120),
  /** Deadline of one document fetch. */
  timeoutSeconds: z.number().min(0.5).max(10).default(3),
  /** Document fetches per target host per minute, per instance. */
  fetchesPerHostPerMinute: z.number().int().min(1).default(60),
})

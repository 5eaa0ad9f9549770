import { DomainError } from '../common/errors.js';
import { ChecksumMismatch, NotAppendable, ObjectExists, ObjectNotFound, PartTooSmall, StoreUnavailable, UploadNotFound } from './object-store.js';

/** An error as ali-oss throws it: the HTTP status (negative for a network failure) and OSS's error code. */
export interface OssError extends Error {
  status?: number;
  code?: string;
}

/** Which request of the OSS API, on which key (and upload), for errors a person can read. */
export interface RequestContext {
  request: string;
  key: string;
  uploadId?: string;
}

/** The port's error for an OSS failure; PositionNotEqualToLength is returned as it is (the adapter reads it). */
export function domainErrorOf(context: RequestContext, error: OssError): Error {
  const { status, code } = error;
  const { key, uploadId } = context;
  // A request on an upload (UploadPart, ListParts, Complete, Abort) that finds nothing lost the upload, not the object.
  if (uploadId && (code === 'NoSuchUpload' || (status === 404 && code !== 'NoSuchBucket'))) return new UploadNotFound(uploadId);
  if (code === 'NoSuchKey' || (status === 404 && code !== 'NoSuchUpload' && code !== 'NoSuchBucket')) return new ObjectNotFound(key);
  if (code === 'FileAlreadyExists') return new ObjectExists(key);
  if (code === 'InvalidDigest') return new ChecksumMismatch('Content-MD5', 'the sent MD5', 'another');
  if (code === 'EntityTooSmall') return new PartTooSmall(null);
  if (code === 'PositionNotEqualToLength') return error;
  if (code === 'ObjectNotAppendable') return new NotAppendable(key, false);
  // AppendObject's documentation gives its 5 GB limit but not the error; EntityTooLarge is OSS's for an upload past a size limit.
  if (context.request === 'AppendObject' && code === 'EntityTooLarge') return new NotAppendable(key, true);
  const what = describeFailure(context, error);
  // A network failure or a server error is an outage, worth retrying; 501 says the server lacks the feature, which no retry changes.
  if (status === undefined || status < 0 || (status >= 500 && status !== 501)) return new StoreUnavailable(`the store did not answer ${what}`);
  return new DomainError(502, 'store_error', `the store refused ${what}`);
}

/**
 * `<request> <key>: <cause>`. ali-oss's message of a network failure is the cause, then the URL and
 * its HTTP agent's whole state (hundreds of characters): keep the cause. An OSS error keeps its status, code and message.
 */
function describeFailure(context: RequestContext, error: OssError): string {
  const target = `${context.request} ${JSON.stringify(context.key)}${context.uploadId ? ` (upload ${context.uploadId})` : ''}`;
  const firstLine = (error.message ?? '').split('\n')[0];
  if (error.status === undefined || error.status < 0) return `${target}: ${firstLine.split(/, (?:GET|PUT|POST|DELETE|HEAD) /)[0].slice(0, 200)}`;
  return `${target}: ${error.status} ${error.code ?? ''}${firstLine ? `: ${firstLine.slice(0, 200)}` : ''}`;
}

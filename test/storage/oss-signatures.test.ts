import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkV1, checkV4, type SignedRequest } from '../support/oss-signatures.js';

/*
 * The stand-in's signature checks against vectors an official SDK publishes
 * (aliyun/alibabacloud-oss-go-sdk-v2, oss/signer/signer_test.go: TestV1AuthHeader,
 * TestV4AuthHeader, TestV4AuthHeaderWithAdditionalHeaders), so the checks are
 * proven against a third implementation, not only against ali-oss.
 */
const credentials = { accessKeyId: 'ak', accessKeySecret: 'sk', region: 'cn-hangzhou' };

function v4Vector(time: number, authorization: string): { request: SignedRequest; now: number } {
  const date = new Date(time * 1000);
  return {
    now: date.getTime(),
    request: {
      method: 'PUT',
      bucket: 'bucket',
      key: '1234+-/123/1.txt',
      // Go's url.Values.Encode of param1=value1, +param1=value3, |param1=value4, +param2=, |param2=, param2=.
      rawQuery: '%2Bparam1=value3&%2Bparam2=&param1=value1&param2=&%7Cparam1=value4&%7Cparam2=',
      headers: {
        'x-oss-head1': 'value',
        abc: 'value',
        zabc: 'value',
        xyz: 'value',
        'content-type': 'text/plain',
        'x-oss-content-sha256': 'UNSIGNED-PAYLOAD',
        'x-oss-date': date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, ''),
        date: date.toUTCString(),
        authorization,
      },
    },
  };
}

const v4Plain = v4Vector(1702743657, 'OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,Signature=e21d18daa82167720f9b1047ae7e7f1ce7cb77a31e8203a7d5f4624fa0284afe');
const v4Additional = v4Vector(
  1702747512,
  'OSS4-HMAC-SHA256 Credential=ak/20231216/cn-hangzhou/oss/aliyun_v4_request,AdditionalHeaders=abc;zabc,Signature=4a4183c187c07c8947db7620deb0a6b38d9fbdd34187b6dbaccb316fa251212f',
);

const v1Request = (rawQuery: string, authorization: string): SignedRequest => ({
  method: 'PUT',
  bucket: 'examplebucket',
  key: 'nelson',
  rawQuery,
  headers: {
    'content-md5': 'eB5eJF1ptWaXm4bijSPyxw==',
    'content-type': 'text/html',
    'x-oss-meta-author': 'alice',
    'x-oss-meta-magic': 'abracadabra',
    'x-oss-date': 'Wed, 28 Dec 2022 10:27:41 GMT',
    authorization,
  },
});
const v1Now = Date.parse('Wed, 28 Dec 2022 10:27:41 GMT');

describe('the OSS stand-in signature checks', () => {
  it('accept the V4 vectors of the official Go SDK, with and without additional headers', () => {
    assert.equal(checkV4(v4Plain.request, credentials, v4Plain.now), null);
    assert.equal(checkV4(v4Additional.request, credentials, v4Additional.now), null);
  });

  it('refuse a V4 vector with a signed part changed: SignatureDoesNotMatch', () => {
    const changes: [string, (request: SignedRequest) => void][] = [
      ['another secret', () => undefined],
      ['a query value', (request) => void (request.rawQuery = request.rawQuery.replace('value1', 'value2'))],
      ['a query name without value dropped', (request) => void (request.rawQuery = request.rawQuery.replace('&param2=', ''))],
      ['the key', (request) => void (request.key = '1234 -/123/1.txt')],
      ['the method', (request) => void (request.method = 'POST')],
      ['an x-oss header', (request) => void (request.headers['x-oss-head1'] = 'other')],
      ['an additional header', (request) => void (request.headers.zabc = 'other')],
    ];
    for (const [what, change] of changes) {
      const vector = what === 'an additional header' ? v4Additional : v4Plain;
      const request = structuredClone(vector.request);
      change(request);
      const secret = what === 'another secret' ? 'not-sk' : 'sk';
      assert.equal(checkV4(request, { ...credentials, accessKeySecret: secret }, vector.now)?.code, 'SignatureDoesNotMatch', what);
    }
    // A header that is neither x-oss-*, content-* nor additional is not signed.
    const unsigned = structuredClone(v4Plain.request);
    unsigned.headers.xyz = 'other';
    assert.equal(checkV4(unsigned, credentials, v4Plain.now), null);
  });

  it('refuse a V4 request from another region, day or time, or without UNSIGNED-PAYLOAD', () => {
    assert.match(checkV4(v4Plain.request, { ...credentials, region: 'cn-beijing' }, v4Plain.now)?.message ?? '', /region/);
    assert.equal(checkV4(v4Plain.request, credentials, v4Plain.now + 16 * 60_000)?.code, 'RequestTimeTooSkewed');
    const otherDay = structuredClone(v4Plain.request);
    otherDay.headers.authorization = String(otherDay.headers.authorization).replace('20231216', '20231215');
    assert.match(checkV4(otherDay, credentials, v4Plain.now)?.message ?? '', /date in Credential/);
    const hashed = structuredClone(v4Plain.request);
    hashed.headers['x-oss-content-sha256'] = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
    assert.match(checkV4(hashed, credentials, v4Plain.now)?.message ?? '', /UNSIGNED-PAYLOAD/);
    const missing = structuredClone(v4Additional.request);
    delete missing.headers.zabc;
    assert.match(checkV4(missing, credentials, v4Additional.now)?.message ?? '', /additional header zabc/);
  });

  it('accept the V1 vectors of the official Go SDK and refuse them with another secret', () => {
    assert.equal(checkV1(v1Request('', 'OSS ak:kSHKmLxlyEAKtZPkJhG9bZb5k7M='), credentials, v1Now), null);
    assert.equal(checkV1(v1Request('acl', 'OSS ak:/afkugFbmWDQ967j1vr6zygBLQk='), credentials, v1Now), null);
    assert.equal(checkV1(v1Request('', 'OSS ak:kSHKmLxlyEAKtZPkJhG9bZb5k7M='), { ...credentials, accessKeySecret: 'not-sk' }, v1Now)?.code, 'SignatureDoesNotMatch');
    assert.equal(checkV1(v1Request('acl', 'OSS ak:kSHKmLxlyEAKtZPkJhG9bZb5k7M='), credentials, v1Now)?.code, 'SignatureDoesNotMatch');
  });
});

// An independent eddsa-rdfc-2022 implementation (Digital Bazaar's libraries) for tests/interop.
//
// Reads {"requests": [...]} as JSON on stdin and writes {"results": [...]} on stdout, one result per request:
//   {"op": "canonize", "document": {...}}                          -> {"nquads": "..."}
//     (jsonld.js safe mode, as the cryptosuite runs it; a refusal also gives {"code": "<event code>"})
//   {"op": "sign", "document": {...}, "seed": "<hex>", "created": "...",
//    "purpose": "assertionMethod" | "authentication", "challenge": "...", "domain": "..."}
//                                                                   -> {"document": {...}}
//   {"op": "verify", "document": {...}, "purpose": ..., "challenge": ..., "domain": ...,
//    "didDocuments": {"did:web:...": {...}}, "statusLists": {"https://.../status/revocation/1": {...}}}
//                                                                   -> {"verified": bool, "error": "..."}
// didDocuments (optional) are did:web documents the caller fetched from a node; statusLists (optional) are the
// status list credentials a credential's credentialStatus names: each list is verified here with vc.verifyCredential
// and its bit read from the GZIP bitstring (Bitstring Status List 1.0), so a revoked credential does not verify.
// Any failure becomes {"error": "..."} for that request.
//
// The document loader serves ONLY the contexts bundled in schemas/contexts (read through its index.json,
// including the test-only ones), did:key documents built locally from the key, and the did:web documents a request
// passes; every other URL throws.
import {readFileSync} from 'node:fs';
import {gunzipSync} from 'node:zlib';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';

import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import jsigs from 'jsonld-signatures';

const {AssertionProofPurpose, AuthenticationProofPurpose} = jsigs.purposes;
const here = dirname(fileURLToPath(import.meta.url));
const contextDir = join(here, '..', '..', '..', 'schemas', 'contexts');
const index = JSON.parse(readFileSync(join(contextDir, 'index.json'), 'utf8'));
const contexts = new Map(Object.entries(index).map(
  ([url, entry]) => [url, JSON.parse(readFileSync(join(contextDir, entry.file), 'utf8'))]));

const DID_V1 = 'https://www.w3.org/ns/did/v1';
const MULTIKEY_V1 = 'https://w3id.org/security/multikey/v1';

function didKeyDocument(did) {
  const multikey = did.slice('did:key:'.length);
  if(!/^z6Mk[1-9A-HJ-NP-Za-km-z]{44}$/.test(multikey)) {
    throw new Error(`not an Ed25519 did:key: ${did}`);
  }
  const method = {id: `${did}#${multikey}`, type: 'Multikey', controller: did, publicKeyMultibase: multikey};
  return {
    '@context': [DID_V1, MULTIKEY_V1], id: did, verificationMethod: [method],
    assertionMethod: [method.id], authentication: [method.id],
  };
}

function loaderWith(didDocuments = {}) {
  return async function loader(url) {
    if(contexts.has(url)) {
      return {contextUrl: null, documentUrl: url, document: structuredClone(contexts.get(url))};
    }
    const [did, fragment] = url.split('#');
    let document;
    if(did.startsWith('did:key:')) {
      document = didKeyDocument(did);
    } else if(did.startsWith('did:web:') && didDocuments[did]) {
      document = structuredClone(didDocuments[did]);
    } else {
      throw new Error(`refusing to load ${url}: not bundled`);
    }
    if(fragment === undefined) {
      return {contextUrl: null, documentUrl: url, document};
    }
    const method = document.verificationMethod.find(m => m.id === url);
    if(!method) {
      throw new Error(`no verification method ${url}`);
    }
    return {contextUrl: null, documentUrl: url, document: {'@context': MULTIKEY_V1, ...method}};
  };
}

const documentLoader = loaderWith();

function statusChecker(statusLists = {}) {
  return async function checkStatus({credential, suite, documentLoader: loader}) {
    const issuer = credential.issuer?.id ?? credential.issuer;
    for(const entry of [].concat(credential.credentialStatus ?? [])) {
      const list = statusLists[entry.statusListCredential];
      if(!list) {
        return {verified: false, error: new Error(`status list ${entry.statusListCredential} not provided`)};
      }
      const listResult = await vc.verifyCredential({credential: list, suite, documentLoader: loader});
      if(!listResult.verified) {
        return {verified: false, error: new Error('the status list credential does not verify')};
      }
      const subject = list.credentialSubject;
      if((list.issuer?.id ?? list.issuer) !== issuer || subject.statusPurpose !== entry.statusPurpose) {
        return {verified: false, error: new Error('the status list does not match the entry')};
      }
      const bits = gunzipSync(Buffer.from(subject.encodedList.slice(1), 'base64url'));
      const index = Number.parseInt(entry.statusListIndex, 10);
      if(bits.length * 8 < 131072 || index >= bits.length * 8) {
        return {verified: false, error: new Error('status list too short')};
      }
      if((bits[index >> 3] >> (7 - (index & 7))) & 1) {
        return {verified: false, error: new Error(`credential status is set: ${entry.statusPurpose}`)};
      }
    }
    return {verified: true};
  };
}

function purposeFor({purpose = 'assertionMethod', challenge, domain}) {
  return purpose === 'authentication' ?
    new AuthenticationProofPurpose({challenge, domain}) : new AssertionProofPurpose();
}

function isPresentation(document) {
  const types = [].concat(document.type || []);
  return types.includes('VerifiablePresentation');
}

async function sign({document, seed, created, purpose, challenge, domain}) {
  const keyPair = await Ed25519Multikey.generate({seed: Buffer.from(seed, 'hex')});
  const did = `did:key:${keyPair.publicKeyMultibase}`;
  keyPair.id = `${did}#${keyPair.publicKeyMultibase}`;
  keyPair.controller = did;
  const suite = new DataIntegrityProof({
    signer: keyPair.signer(), cryptosuite: eddsaRdfc2022CryptoSuite,
    date: created ? new Date(created) : undefined,
  });
  if(isPresentation(document)) {
    return {document: await vc.signPresentation(
      {presentation: document, suite, challenge, domain, documentLoader})};
  }
  if(purpose === 'authentication' || !document.type) {
    return {document: await jsigs.sign(
      document, {suite, purpose: purposeFor({purpose, challenge, domain}), documentLoader})};
  }
  return {document: await vc.issue({credential: document, suite, documentLoader})};
}

async function verify({document, purpose, challenge, domain, now, didDocuments, statusLists}) {
  const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite});
  const options = {suite, documentLoader: loaderWith(didDocuments), now: now ? new Date(now) : undefined};
  if(statusLists) {
    options.checkStatus = statusChecker(statusLists);
  }
  let result;
  if(isPresentation(document)) {
    result = await vc.verify({presentation: document, challenge, domain, ...options});
  } else if(purpose === 'authentication' || !document.type) {
    result = await jsigs.verify(document, {...options, purpose: purposeFor({purpose, challenge, domain})});
  } else {
    result = await vc.verifyCredential({credential: document, ...options});
  }
  const statusError = result.statusResult?.error;
  const error = result.error ? String(result.error.errors?.[0]?.message ?? result.error.message ?? result.error) :
    (statusError ? String(statusError.message ?? statusError) : undefined);
  return {verified: result.verified, error};
}

async function canonize({document}) {
  return {nquads: await eddsaRdfc2022CryptoSuite.canonize(document, {documentLoader})};
}

const operations = {canonize, sign, verify};

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  const {requests} = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const results = [];
  for(const request of requests) {
    try {
      results.push(await operations[request.op](request));
    } catch(e) {
      // jsonld.js wraps loader errors; keep the cause so tests can see our loader refused.
      const cause = e?.details?.cause?.message ?? e?.cause?.message;
      const result = {error: String(e?.message ?? e) + (cause ? ` (cause: ${cause})` : '')};
      // jsonld.js safe mode names the event it refused ("object with only @id", "empty object"...).
      const code = e?.details?.event?.code ?? e?.details?.code;
      if(typeof code === 'string') {
        result.code = code;
      }
      results.push(result);
    }
  }
  process.stdout.write(JSON.stringify({results}));
}

await main();

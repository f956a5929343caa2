// The JavaScript side of bench/credentials.py: Digital Bazaar's eddsa-rdfc-2022 stack timed on its own.
//
// Reads one JSON object on stdin and writes one on stdout:
//   in:  {"seed": "<hex>", "created": "...", "now": "...", "iterations": N, "rounds": R,
//         "credentials": {"<name>": {...unsigned...}}, "corpus": [{...}, ...]}
//   out: {"node": "v20...", "timings": {"<name>": {"sign": [ms/op per round], "verify": [ms/op per round]}},
//         "signed": {"<name>": {...}}, "corpus": [{"nquads": "..."} | {"error": "..."}]}
// Each round runs N operations one after the other (awaited, as a server would) after a warm-up of N; the
// caller picks the best or the median round. Signing is vc.issue() with a DataIntegrityProof/eddsa-rdfc-2022
// suite, verification vc.verifyCredential() (did:key resolved by the document loader), as in interop.mjs.
// The corpus is canonicalized with the cryptosuite's canonize (jsonld.js toRDF + rdf-canonize RDFC-1.0, safe
// mode). The document loader serves only schemas/contexts and did:key documents built from the key.
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {performance} from 'node:perf_hooks';

import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022CryptoSuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';

const here = dirname(fileURLToPath(import.meta.url));
const contextDir = join(here, '..', '..', '..', 'schemas', 'contexts');
const index = JSON.parse(readFileSync(join(contextDir, 'index.json'), 'utf8'));
const contexts = new Map(Object.entries(index).map(
  ([url, entry]) => [url, JSON.parse(readFileSync(join(contextDir, entry.file), 'utf8'))]));
const MULTIKEY_V1 = 'https://w3id.org/security/multikey/v1';

async function documentLoader(url) {
  if(contexts.has(url)) {
    return {contextUrl: null, documentUrl: url, document: contexts.get(url)};
  }
  if(url.startsWith('did:key:')) {
    const [did] = url.split('#');
    const multikey = did.slice('did:key:'.length);
    const method = {id: `${did}#${multikey}`, type: 'Multikey', controller: did, publicKeyMultibase: multikey};
    if(url.includes('#')) {
      return {contextUrl: null, documentUrl: url, document: {'@context': MULTIKEY_V1, ...method}};
    }
    return {contextUrl: null, documentUrl: url, document: {
      '@context': ['https://www.w3.org/ns/did/v1', MULTIKEY_V1], id: did, verificationMethod: [method],
      assertionMethod: [method.id], authentication: [method.id],
    }};
  }
  throw new Error(`refusing to load ${url}: not bundled`);
}

async function timeRounds(rounds, iterations, operation) {
  for(let i = 0; i < iterations; i++) {
    await operation();
  }
  const perRound = [];
  for(let r = 0; r < rounds; r++) {
    const start = performance.now();
    for(let i = 0; i < iterations; i++) {
      await operation();
    }
    perRound.push((performance.now() - start) / iterations);
  }
  return perRound;
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const keyPair = await Ed25519Multikey.generate({seed: Buffer.from(request.seed, 'hex')});
  const did = `did:key:${keyPair.publicKeyMultibase}`;
  keyPair.id = `${did}#${keyPair.publicKeyMultibase}`;
  keyPair.controller = did;
  const date = new Date(request.created);
  const now = new Date(request.now);
  const signer = keyPair.signer();

  const timings = {};
  const signed = {};
  for(const [name, credential] of Object.entries(request.credentials)) {
    const sign = () => vc.issue({
      credential: structuredClone(credential),
      suite: new DataIntegrityProof({signer, cryptosuite: eddsaRdfc2022CryptoSuite, date}),
      documentLoader,
    });
    signed[name] = await sign();
    const verify = async () => {
      const result = await vc.verifyCredential({
        credential: signed[name],
        suite: new DataIntegrityProof({cryptosuite: eddsaRdfc2022CryptoSuite}),
        documentLoader, now,
        // Status is checked elsewhere on both sides (vc.js requires a function when credentialStatus is present).
        checkStatus: async () => ({verified: true}),
      });
      if(!result.verified) {
        throw new Error(`verification failed: ${JSON.stringify(result.error?.errors?.[0]?.message ?? result)}`);
      }
    };
    timings[name] = {
      sign: await timeRounds(request.rounds, request.iterations, sign),
      verify: await timeRounds(request.rounds, request.iterations, verify),
    };
  }

  const corpus = [];
  for(const document of request.corpus || []) {
    try {
      corpus.push({nquads: await eddsaRdfc2022CryptoSuite.canonize(document, {documentLoader})});
    } catch(e) {
      corpus.push({error: String(e?.message ?? e)});
    }
  }
  process.stdout.write(JSON.stringify({node: process.version, timings, signed, corpus}));
}

await main();

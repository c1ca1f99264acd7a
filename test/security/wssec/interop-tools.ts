/**
 * Other people's WS-Security implementations, driven the way their users drive them: node-soap's
 * WSSecurityCert client (its request captured off the wire by a local HTTP server), Python zeep with
 * xmlsec, and the xmlsec1 command line signing a template and verifying our output.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { createClientAsync, WSSecurityCert } from 'soap';
import { FRONTEND_WSDL, HELPERS_DIR, PYTHON, scratch, tokenOf, type Identity } from './helpers.js';

const run = promisify(execFile);

type CertOptions = NonNullable<ConstructorParameters<typeof WSSecurityCert>[3]>;

const FAULT =
  '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>' +
  '<faultcode>soap:Client</faultcode><faultstring>captured</faultstring></soap:Fault></soap:Body></soap:Envelope>';

/** The CreateVolume request a node-soap client with WSSecurityCert puts on the wire. */
export async function nodeSoapRequest(who: Identity, certOptions: CertOptions = {}): Promise<string> {
  let captured: string | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      captured = Buffer.concat(chunks).toString('utf8');
      res.writeHead(500, { 'content-type': 'text/xml' });
      res.end(FAULT);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const client = await createClientAsync(FRONTEND_WSDL, { endpoint: `http://127.0.0.1:${port}/` });
    client.setSecurity(new WSSecurityCert(who.keyPem, who.certPem, '', certOptions));
    const call = client['CreateVolumeAsync'] as (args: object) => Promise<unknown>;
    await call({ size: '1', availabilityZone: 'zone-a' }).catch(() => undefined);
  } finally {
    server.close();
  }
  if (captured === undefined) throw new Error('node-soap sent nothing');
  return captured;
}

/** zeep's BinarySignature + Timestamp plugin request, rendered without sending (rsa-sha256, or rsa-sha1). */
export async function zeepRequest(who: Identity, sha1 = false): Promise<string> {
  return zeepSigned(who, sha1 ? 'sha1' : 'sha256');
}

/** The same with zeep's DEFAULT signer: BinarySignature(key, cert), no methods given (rsa-sha1, sha1 digests). */
export async function zeepDefaultRequest(who: Identity): Promise<string> {
  return zeepSigned(who, 'default');
}

/** The same signed with ecdsa-sha256 by xmlsec: `who` holds an EC P-256 key. */
export async function zeepEcdsaRequest(who: Identity): Promise<string> {
  return zeepSigned(who, 'ecdsa');
}

type ZeepAlgorithm = 'sha256' | 'sha1' | 'ecdsa' | 'default';

async function zeepSigned(who: Identity, algorithm: ZeepAlgorithm): Promise<string> {
  const files = scratch({ 'key.pem': who.keyPem, 'cert.pem': who.certPem });
  try {
    const args = [
      `${HELPERS_DIR}/zeep_wssec.py`,
      'sign',
      FRONTEND_WSDL,
      files.path('key.pem'),
      files.path('cert.pem'),
      algorithm,
    ];
    const { stdout } = await run(PYTHON, args);
    return stdout;
  } finally {
    files.done();
  }
}

/** zeep's own verification of a signed envelope against `certPem`. */
export async function zeepVerifies(xml: string, certPem: string): Promise<boolean> {
  const files = scratch({ 'msg.xml': xml, 'cert.pem': certPem });
  try {
    const { stdout } = await run(PYTHON, [
      `${HELPERS_DIR}/zeep_wssec.py`,
      'verify',
      files.path('msg.xml'),
      files.path('cert.pem'),
    ]);
    return stdout === 'ok';
  } catch {
    return false;
  } finally {
    files.done();
  }
}

/**
 * A zeep client calling `url`: signs its request (rsa-sha256 unless told), checks the answer against
 * `serverCertPem`; over HTTPS it trusts `caPem` only (requests' REQUESTS_CA_BUNDLE).
 */
export async function zeepCall(
  url: string,
  who: Identity,
  serverCertPem: string,
  options: { readonly algorithm?: ZeepAlgorithm; readonly caPem?: string } = {},
): Promise<string> {
  const files = scratch({
    'key.pem': who.keyPem,
    'cert.pem': who.certPem,
    'server.pem': serverCertPem,
    'ca.pem': options.caPem ?? '',
  });
  try {
    const args = [
      `${HELPERS_DIR}/zeep_wssec.py`,
      'call',
      FRONTEND_WSDL,
      url,
      files.path('key.pem'),
      files.path('cert.pem'),
      files.path('server.pem'),
      options.algorithm ?? 'sha256',
    ];
    const env =
      options.caPem === undefined ? process.env : { ...process.env, REQUESTS_CA_BUNDLE: files.path('ca.pem') };
    const { stdout } = await run(PYTHON, args, { env });
    return stdout;
  } finally {
    files.done();
  }
}

/** `xmlsec1 --verify` of a signed envelope with the signer's certificate; true when it prints OK. */
export async function xmlsec1Verifies(xml: string, certPem: string): Promise<boolean> {
  const files = scratch({ 'msg.xml': xml, 'cert.pem': certPem });
  try {
    await run('xmlsec1', [
      '--verify',
      '--pubkey-cert-pem',
      files.path('cert.pem'),
      '--id-attr:Id',
      'Body',
      '--id-attr:Id',
      'Timestamp',
      files.path('msg.xml'),
    ]);
    return true;
  } catch {
    return false;
  } finally {
    files.done();
  }
}

/** `xmlsec1 --sign` of a pretty-printed template with InclusiveNamespaces, as a Java-era client writes it. */
export async function xmlsec1Signed(who: Identity, now = new Date()): Promise<string> {
  const iso = (d: Date): string => d.toISOString();
  const files = scratch({ 'key.pem': who.keyPem, 'cert.pem': who.certPem, 'tmpl.xml': xmlsecTemplate(who, now, iso) });
  try {
    const { stdout } = await run('xmlsec1', [
      '--sign',
      '--privkey-pem',
      `${files.path('key.pem')},${files.path('cert.pem')}`,
      '--id-attr:Id',
      'Body',
      '--id-attr:Id',
      'Timestamp',
      files.path('tmpl.xml'),
    ]);
    return stdout;
  } finally {
    files.done();
  }
}

function xmlsecTemplate(who: Identity, now: Date, iso: (d: Date) => string): string {
  const wss = 'http://docs.oasis-open.org/wss/2004/01';
  const exc = 'http://www.w3.org/2001/10/xml-exc-c14n#';
  return `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">
  <soapenv:Header>
    <wsse:Security xmlns:wsse="${wss}/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="${wss}/oasis-200401-wss-wssecurity-utility-1.0.xsd" soapenv:mustUnderstand="1">
      <wsse:BinarySecurityToken EncodingType="${wss}/oasis-200401-wss-soap-message-security-1.0#Base64Binary" ValueType="${wss}/oasis-200401-wss-x509-token-profile-1.0#X509v3" wsu:Id="cert-1">${tokenOf(who.certPem)}</wsse:BinarySecurityToken>
      <wsu:Timestamp wsu:Id="ts-1">
        <wsu:Created>${iso(now)}</wsu:Created>
        <wsu:Expires>${iso(new Date(now.getTime() + 300_000))}</wsu:Expires>
      </wsu:Timestamp>
      <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:SignedInfo>
          <ds:CanonicalizationMethod Algorithm="${exc}">
            <ec:InclusiveNamespaces xmlns:ec="${exc}" PrefixList="soapenv"/>
          </ds:CanonicalizationMethod>
          <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>
          <ds:Reference URI="#ts-1">
            <ds:Transforms>
              <ds:Transform Algorithm="${exc}"><ec:InclusiveNamespaces xmlns:ec="${exc}" PrefixList="wsse soapenv"/></ds:Transform>
            </ds:Transforms>
            <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
            <ds:DigestValue/>
          </ds:Reference>
          <ds:Reference URI="#body-1">
            <ds:Transforms><ds:Transform Algorithm="${exc}"/></ds:Transforms>
            <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
            <ds:DigestValue/>
          </ds:Reference>
        </ds:SignedInfo>
        <ds:SignatureValue/>
        <ds:KeyInfo>
          <wsse:SecurityTokenReference>
            <wsse:Reference URI="#cert-1" ValueType="${wss}/oasis-200401-wss-x509-token-profile-1.0#X509v3"/>
          </wsse:SecurityTokenReference>
        </ds:KeyInfo>
      </ds:Signature>
    </wsse:Security>
  </soapenv:Header>
  <soapenv:Body Id="body-1">
    <ec2:CreateVolume xmlns:ec2="http://ec2.amazonaws.com/doc/2010-08-31/">
      <ec2:size>1</ec2:size>
      <ec2:availabilityZone>zone-a &amp; &lt;b&gt; "q"&#13;</ec2:availabilityZone>
    </ec2:CreateVolume>
  </soapenv:Body>
</soapenv:Envelope>
`;
}
